//! `GET /v1/changes`: the organization's change log.

use axum::extract::State;
use keycard_core::change::Revision;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Change;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_changes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Return changes with a revision strictly greater than this (default 0).
    pub after: Option<i64>,
    /// At most this many revisions' changes, 1 to 1000 (default 100); a revision is never split.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    pub items: Vec<Change>,
    /// Pass as `after` to read on; absent when this page reached the end of the log.
    pub next_after: Option<Revision>,
}

/// Lists the organization's changes, oldest first.
#[utoipa::path(get, path = "/v1/changes", tag = "changes", params(ChangesQuery),
    responses((status = 200, body = ChangesPage), (status = 403, body = ErrorBody)))]
async fn list_changes(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ChangesQuery>,
) -> Result<axum::Json<ChangesPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(keycard_core::Error::invalid("limit", "must be between 1 and 1000").into());
    }
    let after = Revision(query.after.unwrap_or(0));
    // One extra revision tells whether another page exists.
    let mut items = state
        .app
        .organization_changes(&caller, after, limit + 1)
        .await?;
    let mut revisions: Vec<Revision> = items.iter().map(|change| change.revision).collect();
    revisions.dedup();
    let next_after = if revisions.len() > limit as usize {
        let last_kept = revisions[limit as usize - 1];
        items.retain(|change| change.revision <= last_kept);
        Some(last_kept)
    } else {
        None
    };
    Ok(axum::Json(ChangesPage {
        items: items.into_iter().map(Change::from).collect(),
        next_after,
    }))
}
