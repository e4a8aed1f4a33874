//! Prometheus metrics, served at `/metrics` in the text exposition format.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: RouteLabel,
    pub status: u16,
}

/// A route template, shared by every request on the route.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RouteLabel(pub Arc<str>);

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.0.as_ref(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub allowed: bool,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The server's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub decisions: Family<DecisionLabels, Counter>,
    pub snapshot_revision: Gauge<i64, AtomicI64>,
    /// Decision log lines dropped because its queue was full.
    pub decision_log_dropped: Counter,
    allowed: Counter,
    denied: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("keycard");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        let snapshot_revision = Gauge::<i64, AtomicI64>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "decisions",
            "Authorization decisions answered",
            decisions.clone(),
        );
        registry.register(
            "snapshot_revision",
            "Revision of the published decision snapshot",
            snapshot_revision.clone(),
        );
        let decision_log_dropped = Counter::default();
        registry.register(
            "decision_log_dropped",
            "Decision log lines dropped because the writer fell behind",
            decision_log_dropped.clone(),
        );
        let allowed = decisions
            .get_or_create(&DecisionLabels { allowed: true })
            .clone();
        let denied = decisions
            .get_or_create(&DecisionLabels { allowed: false })
            .clone();
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            decisions,
            snapshot_revision,
            decision_log_dropped,
            allowed,
            denied,
        }
    }
}

impl Metrics {
    /// Counts one decision without touching the family's lock.
    pub fn decided(&self, allowed: bool) {
        if allowed {
            self.allowed.inc();
        } else {
            self.denied.inc();
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock()
            && prometheus_client::encoding::text::encode(&mut out, &registry).is_err()
        {
            out.clear();
        }
        out
    }
}
