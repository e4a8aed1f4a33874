//! The decision log (off by default): one JSON line per decision, on every face that decides,
//! with the request's id, the time, who asked about whom, the decision and its reasons, the
//! revision it was made at and how long the request had taken by then. Lines go to standard error
//! or a file, sampled and optionally only the denials.
//!
//! A decision pays for the log only when its line is kept: the sampling and the filter come
//! first, the reasons are worked out only for a kept line (a plain check does not compute them),
//! and the line is handed to a writer thread through a bounded queue. A full queue drops the line
//! and counts it (`keycard_decision_log_dropped_total`): a slow disk never slows decisions.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::Duration;

use keycard_core::change::Revision;
use keycard_core::decision::{self, Query, Reason};
use keycard_core::ids::OrganizationId;
use keycard_core::snapshot::OrgSnapshot;
use serde::Serialize;

/// Where the lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    File(PathBuf),
}

impl LogTarget {
    /// `stderr`, or a file's path.
    pub fn parse(text: &str) -> Self {
        match text {
            "stderr" | "-" => LogTarget::Stderr,
            path => LogTarget::File(PathBuf::from(path)),
        }
    }
}

/// How the decision log is configured.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionLogSettings {
    pub target: LogTarget,
    /// The share of decisions written, 0 to 1.
    pub sample: f64,
    /// Write only the denials.
    pub only_denied: bool,
}

impl DecisionLogSettings {
    pub fn validate(&self) -> keycard_core::Result<()> {
        if !(0.0..=1.0).contains(&self.sample) {
            return Err(keycard_core::Error::invalid(
                "decision log sample",
                format!("must be between 0 and 1, not {}", self.sample),
            ));
        }
        Ok(())
    }
}

/// Lines waiting for the writer: past this, lines are dropped.
const QUEUE: usize = 65_536;

/// A running decision log.
pub struct DecisionLog {
    lines: SyncSender<String>,
    sample: f64,
    only_denied: bool,
    /// Lines dropped because the queue was full.
    dropped: prometheus_client::metrics::counter::Counter,
}

/// One decision, as the face that made it knows it.
pub struct Decided<'a> {
    /// `v1`, `authzen`, `console`.
    pub face: &'static str,
    pub organization: &'a OrgSnapshot,
    pub query: &'a Query<'a>,
    pub allowed: bool,
    /// The reasons, when the face worked them out.
    pub reasons: Option<&'a [Reason]>,
    pub revision: Revision,
}

#[derive(Serialize)]
struct Line<'a> {
    request_id: String,
    time: chrono::DateTime<chrono::Utc>,
    face: &'static str,
    organization: OrganizationId,
    subject: &'a str,
    action: &'a str,
    resource: Resource<'a>,
    decision: &'static str,
    reasons: &'a [Reason],
    revision: Revision,
    /// Microseconds since the request arrived.
    latency_us: u64,
}

#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "type")]
    resource_type: &'a str,
    id: &'a str,
}

impl DecisionLog {
    /// Opens the target (a file is appended to) and starts the writer.
    pub fn start(
        settings: &DecisionLogSettings,
        dropped: prometheus_client::metrics::counter::Counter,
    ) -> std::io::Result<Self> {
        let sink: Box<dyn std::io::Write + Send> = match &settings.target {
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let (lines, received) = std::sync::mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || write_lines(received, sink))?;
        Ok(Self {
            lines,
            sample: settings.sample,
            only_denied: settings.only_denied,
            dropped,
        })
    }

    /// Writes the decision's line, if it is one to keep.
    pub fn record(&self, decided: &Decided<'_>) {
        if self.only_denied && decided.allowed {
            return;
        }
        if self.sample < 1.0 && rand::random::<f64>() >= self.sample {
            return;
        }
        let computed;
        let reasons = match decided.reasons {
            Some(reasons) => reasons,
            None => {
                computed = decision::decide(decided.organization, decided.query).reasons;
                &computed
            }
        };
        let (request_id, latency_us) = crate::error::REQUEST
            .try_with(|request| {
                (
                    request.id.to_str().unwrap_or_default().to_owned(),
                    u64::try_from(request.started.elapsed().as_micros()).unwrap_or(u64::MAX),
                )
            })
            .unwrap_or_default();
        let query = decided.query;
        let line = Line {
            request_id,
            time: chrono::Utc::now(),
            face: decided.face,
            organization: decided.organization.organization.id,
            subject: query.subject,
            action: query.action,
            resource: Resource {
                resource_type: query.resource_type,
                id: query.resource_id,
            },
            decision: if decided.allowed { "allow" } else { "deny" },
            reasons,
            revision: decided.revision,
            latency_us,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.lines.try_send(text)
        {
            self.dropped.inc();
        }
    }
}

/// How often the writer wakes to write what has queued: it never waits on the queue, so that a
/// decision's send wakes nobody (a wake-up and a write per line cost the server a third of its
/// throughput in a first version).
const WRITE_EVERY: Duration = Duration::from_millis(20);

/// The writer: every [`WRITE_EVERY`], what has queued, then one flush.
fn write_lines(received: Receiver<String>, sink: Box<dyn std::io::Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, sink);
    loop {
        std::thread::sleep(WRITE_EVERY);
        let mut wrote = false;
        loop {
            match received.try_recv() {
                Ok(line) => {
                    let _ = writeln!(out, "{line}");
                    wrote = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            }
        }
        if wrote {
            let _ = out.flush();
        }
    }
}
