//! `GET /v1/watch`: the change log as it grows, as Server-Sent Events. Each event's data is one
//! change record (as `/v1/changes` lists them), oldest first; the last event of a revision has
//! that revision as its `id`, so that a client that reconnects with `Last-Event-ID` (or
//! `?after=`) resumes after the last revision it saw whole. Every node answers it the same: it
//! reads the shared log, woken as its snapshot follows the log.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use keycard_core::Error;
use keycard_core::change::{Change, EntityKind, Revision};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, WatchScope};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(watch))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    /// Stream the changes after this revision (default: from now on). `Last-Event-ID` wins.
    pub after: Option<i64>,
    /// Only these kinds of entity, comma-separated (`account,group,role,policy,resource,...`).
    pub kinds: Option<String>,
    /// `all`: every organization's changes (partners only).
    pub organizations: Option<String>,
    /// Seconds between heartbeats (a comment line) while nothing changes, 1 to 300 (default 15).
    #[param(minimum = 1, maximum = 300)]
    pub heartbeat: Option<u64>,
}

/// How many revisions one read of the log takes.
const READ_REVISIONS: u32 = 100;

/// Streams the organization's change log as Server-Sent Events, from after a revision, then as
/// it grows. Administrators watch their organization; partners may watch every organization
/// (`organizations=all`). A revision the log is not at yet, or no longer holds, is refused.
#[utoipa::path(get, path = "/v1/watch", tag = "changes", params(WatchQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The last revision seen: resume after it")),
    responses((status = 200, description = "`text/event-stream` of change records", content_type = "text/event-stream"),
        (status = 403, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<WatchQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        crate::error::Code::InvalidHeader,
                        "`Last-Event-ID` must be a revision".to_owned(),
                    )
                })?,
        ),
        None => None,
    };
    let everything = match query.organizations.as_deref() {
        None => false,
        Some("all") => true,
        Some(other) => {
            return Err(Error::invalid("organizations", format!("`{other}` is not `all`")).into());
        }
    };
    let kinds = match &query.kinds {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|kind| {
                    EntityKind::parse(kind.trim()).ok_or_else(|| {
                        Error::invalid("kinds", format!("`{kind}` is no kind of entity"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let heartbeat = query.heartbeat.unwrap_or(15);
    if !(1..=300).contains(&heartbeat) {
        return Err(Error::invalid("heartbeat", "must be between 1 and 300 seconds").into());
    }
    let app = state.app.clone();
    let after = match resume.or(query.after) {
        Some(after) => Revision(after),
        None => app.snapshot().revision(),
    };
    let scope = app.open_watch(&caller, everything, after).await?;
    let watching = Watching {
        revisions: app.revisions(),
        app,
        caller,
        scope,
        kinds,
        position: after,
        pending: VecDeque::new(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(watching, |mut watching| async move {
        let event = watching.next().await?;
        Some((Ok(event), watching))
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(heartbeat))
            .text("heartbeat"),
    ))
}

/// One client's watch.
struct Watching {
    app: App,
    caller: Caller,
    scope: WatchScope,
    kinds: Option<Vec<EntityKind>>,
    /// The last revision read.
    position: Revision,
    revisions: tokio::sync::watch::Receiver<Revision>,
    pending: VecDeque<Event>,
    ended: bool,
}

impl Watching {
    /// The next event; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            // Marked seen before the read: a commit after it wakes the wait below.
            self.revisions.borrow_and_update();
            match self
                .app
                .watched_changes(&self.caller, self.scope, self.position, READ_REVISIONS)
                .await
            {
                Ok(changes) if !changes.is_empty() => self.queue(changes),
                Ok(_) => {
                    if self.revisions.changed().await.is_err() {
                        return None;
                    }
                }
                Err(err) => {
                    // Refused now (the caller lost the right to watch) or the store failed: said
                    // once, in the API's error shape, and the stream ends.
                    let err = ApiError::from(err);
                    let body =
                        serde_json::json!({"code": err.code().as_str(), "message": err.message()});
                    self.pending
                        .push_back(Event::default().event("error").data(body.to_string()));
                    self.ended = true;
                }
            }
        }
    }

    /// Queues the events of `changes` (whole revisions), the last event of each revision carrying
    /// the revision as its id.
    fn queue(&mut self, changes: Vec<Change>) {
        let mut changes = changes.into_iter().peekable();
        // The revision's latest event to show, held back until it is known whether it is the last.
        let mut held: Option<Event> = None;
        while let Some(change) = changes.next() {
            let revision = change.revision;
            self.position = revision;
            let wanted = self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&change.entity));
            if wanted {
                let data =
                    serde_json::to_string(&super::wire::Change::from(change)).unwrap_or_default();
                self.pending
                    .extend(held.replace(Event::default().data(data)));
            }
            if changes.peek().is_none_or(|next| next.revision != revision) {
                // On the revision's last event shown; a revision none of whose changes is shown
                // moves no id, and is read again after a reconnect, to show nothing again.
                self.pending
                    .extend(held.take().map(|last| last.id(revision.to_string())));
            }
        }
    }
}
