//! `/api/events` and `/api/events_types`, fed by the change log: role, policy, user and
//! organization changes, each with the change (before and after) as its payload. The change log is
//! never pruned, so events are kept well beyond the 48 hours Polytomic promises.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use keycard_core::Error;
use keycard_core::change::{Change, EntityKind, Operation, Revision};
use serde_json::{Value, json};

use super::{PolyCaller, PolyError, data};
use crate::state::AppState;

const KINDS: &[(EntityKind, &str)] = &[
    (EntityKind::Role, "role"),
    (EntityKind::Policy, "policy"),
    (EntityKind::Account, "user"),
    (EntityKind::Organization, "organization"),
];
const OPERATIONS: &[(Operation, &str)] = &[
    (Operation::Create, "created"),
    (Operation::Update, "updated"),
    (Operation::Delete, "deleted"),
];

fn event_types() -> Vec<String> {
    KINDS
        .iter()
        .flat_map(|(_, kind)| OPERATIONS.iter().map(move |(_, op)| format!("{kind}.{op}")))
        .collect()
}

/// The kinds of entity whose changes are events.
pub(crate) fn event_kinds() -> Vec<EntityKind> {
    KINDS.iter().map(|(entity, _)| *entity).collect()
}

pub(crate) fn event_type(change: &Change) -> Option<String> {
    let kind = KINDS.iter().find(|(entity, _)| *entity == change.entity)?.1;
    let op = OPERATIONS
        .iter()
        .find(|(operation, _)| *operation == change.operation)?
        .1;
    Some(format!("{kind}.{op}"))
}

pub(crate) fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn event(change: &Change, kind: String) -> Value {
    json!({
        "id": format!("{}.{}", change.revision, change.seq),
        "organization_id": change.organization_id,
        "type": kind,
        "created_at": timestamp(&change.at),
        "event": {
            "entity_id": change.entity_id,
            "revision": change.revision,
            "actor": change.actor,
            "before": change.before,
            "after": change.after,
        },
    })
}

/// `GET /api/events_types`.
pub async fn list_event_types(_caller: PolyCaller) -> Response {
    data(json!(event_types()))
}

pub(crate) fn invalid(message: String) -> PolyError {
    Error::invalid("query", message).into()
}

pub(crate) fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, PolyError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| invalid(format!("`{name}` must be an RFC 3339 time, not `{value}`")))
}

/// `GET /api/events?type=&starting_after=&ending_before=&limit=`, oldest first. The answer's
/// `pagination.next_page_token` may be passed back as `page_token` (a Keycard extension) to read on
/// without missing changes made in the same instant.
pub async fn list_events(
    State(state): State<AppState>,
    caller: PolyCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, PolyError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|err| invalid(format!("the query string is malformed: {err}")))?;
    let (mut wanted, mut after, mut before, mut resume, mut limit) =
        (None, None, None, None, 10u32);
    for (name, value) in pairs {
        match name.as_str() {
            "type" => {
                if !event_types().contains(&value) {
                    return Err(invalid(format!(
                        "`{value}` is not an event type; see /api/events_types"
                    )));
                }
                wanted = Some(value);
            }
            "starting_after" => after = Some(parse_time(&name, &value)?),
            "ending_before" => before = Some(parse_time(&name, &value)?),
            "page_token" => resume = Some(parse_position(&value)?),
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| invalid(format!("`limit` must be 1 to 100, not `{value}`")))?;
            }
            // Only system callers may name another organization; everyone else is scoped to their own.
            "organization_id" => {
                value
                    .parse::<keycard_core::ids::OrganizationId>()
                    .map_err(|_| invalid(format!("`organization_id` `{value}` is not a uuid")))?;
            }
            other => return Err(invalid(format!("unknown query parameter `{other}`"))),
        }
    }
    let kinds: Vec<EntityKind> = match &wanted {
        Some(kind) => KINDS
            .iter()
            .filter(|(_, name)| kind.starts_with(&format!("{name}.")))
            .map(|(entity, _)| *entity)
            .collect(),
        None => event_kinds(),
    };
    // Read until one event more than the page holds (it proves another page exists) or the log ends;
    // several reads only when a `type` filter skips changes of the same entity kind.
    let mut changes: Vec<Change> = Vec::new();
    let mut matched = 0usize;
    let mut position = resume;
    loop {
        let batch = state
            .app
            .organization_events(&caller.0, &kinds, after, before, position, limit + 1)
            .await?;
        let exhausted = batch.len() <= limit as usize;
        position = batch
            .last()
            .map(|change| (change.revision, change.seq))
            .or(position);
        matched += batch
            .iter()
            .filter(|change| {
                event_type(change).is_some_and(|kind| wanted.as_ref().is_none_or(|w| *w == kind))
            })
            .count();
        changes.extend(batch);
        if exhausted || matched > limit as usize {
            break;
        }
    }
    let mut events: Vec<(&Change, String)> = changes
        .iter()
        .filter_map(|change| {
            event_type(change)
                .filter(|kind| wanted.as_ref().is_none_or(|w| w == kind))
                .map(|kind| (change, kind))
        })
        .collect();
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_page_token = if more {
        events
            .last()
            .map(|(change, _)| format!("{}.{}", change.revision, change.seq))
    } else {
        None
    };
    let data: Vec<Value> = events
        .into_iter()
        .map(|(change, kind)| event(change, kind))
        .collect();
    Ok(
        axum::Json(json!({"data": data, "pagination": {"next_page_token": next_page_token}}))
            .into_response(),
    )
}

fn parse_position(value: &str) -> Result<(Revision, i32), PolyError> {
    let invalid_token = || invalid(format!("`page_token` `{value}` is not a page token"));
    let (revision, seq) = value.split_once('.').ok_or_else(invalid_token)?;
    Ok((
        Revision(revision.parse().map_err(|_| invalid_token())?),
        seq.parse().map_err(|_| invalid_token())?,
    ))
}
