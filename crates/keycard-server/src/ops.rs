//! Operational endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

pub fn router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}

/// Ready when the store answers, would take a write, and the snapshot is loaded. A node that can
/// read but not write (unwritable files, a lock held elsewhere) is not ready: it would refuse
/// every write with 503.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot_revision = state.snapshot.current().revision();
    // Probes time out quickly: answer within two seconds even when the database hangs.
    let latest = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        state.store.writable().await?;
        state.store.latest_revision().await
    })
    .await
    .unwrap_or_else(|_| {
        Err(keycard_core::Error::Unavailable(
            "the database did not answer within 2 s".into(),
        ))
    });
    match latest {
        Ok(revision) => (
            StatusCode::OK,
            axum::Json(
                json!({"status": "ready", "store": state.store.backend(), "revision": revision, "snapshot_revision": snapshot_revision}),
            ),
        ),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "unavailable", "store": state.store.backend(), "error": err.to_string(), "snapshot_revision": snapshot_revision}),
            ),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .snapshot_revision
        .set(state.snapshot.current().revision().0);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
