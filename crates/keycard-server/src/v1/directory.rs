//! Declarative directories: `POST /v1/directory/batch` applies a slice of one (what
//! `keycard apply` sends) as one write.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keycard_core::change::Revision;
use keycard_core::directory::{Applied, DirectoryBatch};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::with_revision;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(apply_batch))
}

/// What a batch changed, or in a dry run would change.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchApplied {
    /// The revision that holds the batch; in a dry run, or when nothing changed, the revision it
    /// was judged at.
    pub revision: Revision,
    pub dry_run: bool,
    #[serde(flatten)]
    pub applied: Applied,
}

impl IntoResponse for BatchApplied {
    fn into_response(self) -> Response {
        with_revision(self.revision, axum::Json(&self).into_response())
    }
}

/// Applies a slice of a directory as one write: deletions first, then each role, group,
/// account, policy and resource created, changed, or left alone when it matches already.
/// Entries refer to each other by name, and may name what earlier batches made. With `dry_run`,
/// the batch is judged as the write would be and nothing is written.
#[utoipa::path(post, path = "/v1/directory/batch", tag = "directory", request_body = DirectoryBatch,
    responses((status = 200, body = BatchApplied), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn apply_batch(
    State(state): State<AppState>,
    caller: Caller,
    Json(batch): Json<DirectoryBatch>,
) -> Result<BatchApplied, ApiError> {
    let dry_run = batch.dry_run;
    let written = state.app.apply_directory(&caller, batch).await?;
    Ok(BatchApplied {
        revision: written.revision,
        dry_run,
        applied: written.value,
    })
}
