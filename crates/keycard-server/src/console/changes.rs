//! Changes: who changed what and when, each with what it changed.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use keycard_core::change::{Change, Revision};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{Console, ConsoleError, page};
use crate::state::AppState;

/// Revisions a page shows.
const REVISIONS: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ChangesQuery {
    after: Option<i64>,
}

/// `GET /console/changes`: the changes of the revisions after `after` (by default, the latest
/// ones), newest first.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ChangesQuery>,
) -> Result<Markup, ConsoleError> {
    let latest = state.app.snapshot().revision().0;
    let after = query
        .after
        .unwrap_or(latest - REVISIONS)
        .clamp(0, latest.max(0));
    let changes = state
        .app
        .organization_changes(&console.caller, Revision(after), 500)
        .await?;
    // Newest first: what changed last is what a reader looks for.
    let changes: Vec<&Change> = changes
        .iter()
        .filter(|change| change.revision.0 <= after + REVISIONS)
        .rev()
        .collect();
    let snapshot = state.app.snapshot();
    let body = html! {
        nav aria-label="Revisions" class="search" {
            @if after > 0 {
                a href=(format!("/console/changes?after={}", after.saturating_sub(REVISIONS))) { "Older" }
            }
            @if after + REVISIONS < latest {
                a href=(format!("/console/changes?after={}", after + REVISIONS)) { "Newer" }
            }
            span class="hint" { "Revisions " (after + 1) " to " ((after + REVISIONS).min(latest)) " of " (latest) }
        }
        @if changes.is_empty() { p { "No change in these revisions." } }
        @for change in &changes {
            section class="card" {
                h2 {
                    (change.operation.as_str()) " " (change.entity.as_str()) " "
                    code { (label(change)) }
                }
                p class="hint" {
                    "Revision " (change.revision.0) " · " (change.at.format("%Y-%m-%d %H:%M:%S UTC")) " · by " strong { (change.actor) }
                }
                (diff(change.before.as_ref(), change.after.as_ref()))
            }
        }
    };
    Ok(page(
        &console,
        &snapshot,
        "/console/changes",
        "Changes",
        body,
    ))
}

/// What a change is about, by name where its record has one.
fn label(change: &Change) -> String {
    let record = change.after.as_ref().or(change.before.as_ref());
    ["name", "username", "path"]
        .iter()
        .find_map(|key| record.and_then(|r| r.get(*key)).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| change.entity_id.clone())
}

/// The fields that differ between the record before and after.
fn diff(before: Option<&Value>, after: Option<&Value>) -> Markup {
    let field = |value: Option<&Value>, key: &str| value.and_then(|v| v.get(key)).cloned();
    let keys: BTreeSet<&str> = [before, after]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|object| object.keys().map(String::as_str))
        .filter(|key| !matches!(*key, "updated_at" | "created_at"))
        .collect();
    let rows: Vec<(&str, Option<Value>, Option<Value>)> = keys
        .into_iter()
        .map(|key| (key, field(before, key), field(after, key)))
        .filter(|(_, was, is)| was != is)
        .collect();
    html! {
        table {
            thead { tr { th scope="col" { "Field" } th scope="col" { "Before" } th scope="col" { "After" } } }
            tbody {
                @for (key, was, is) in rows {
                    tr {
                        th scope="row" { (key) }
                        td { @if let Some(was) = was { del { code { (was) } } } }
                        td { @if let Some(is) = is { ins { code { (is) } } } }
                    }
                }
            }
        }
    }
}
