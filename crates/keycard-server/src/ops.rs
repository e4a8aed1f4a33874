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

/// Ready when the store answers, would take a write, and the snapshot is loaded (see
/// `App::readiness`); probes answer within two seconds even when the database hangs.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = state.app.readiness().await;
    let snapshot_revision = readiness.snapshot_revision;
    match readiness.latest {
        Ok(revision) => (
            StatusCode::OK,
            axum::Json(
                json!({"status": "ready", "store": readiness.store, "revision": revision, "snapshot_revision": snapshot_revision}),
            ),
        ),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"status": "unavailable", "store": readiness.store, "error": err.to_string(), "snapshot_revision": snapshot_revision}),
            ),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .snapshot_revision
        .set(state.app.snapshot().revision().0);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
