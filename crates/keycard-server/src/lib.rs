//! Keycard's HTTP server: one [`app`] shared by `keycard serve` and the tests, with the native `/v1`
//! face, operational endpoints and the OpenAPI document.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod auth;
mod authzen;
pub mod error;
mod iap;
pub mod metrics;
mod ops;
mod polytomic;
pub mod state;
pub mod v1;

pub use state::{AppState, Settings, bootstrap, spawn_follower};

use crate::error::{ApiError, REQUEST_ID};
use crate::metrics::RequestLabels;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = v1::router().split_for_parts();
    let settings = state.settings.clone();
    let min_revision_state = state.clone();
    let routes = api
        .merge(ops::router(openapi))
        .merge(iap::router())
        .merge(authzen::router())
        .merge(polytomic::router(state.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .fallback(|| async { ApiError::new("route_not_found", "no route matches this path") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                "method_not_allowed",
                "this path does not accept that method",
            )
        })
        .with_state(state);
    // The layers every request passes through wrap the router once. Added with `Router::layer`,
    // each would wrap every route, and a request would clone and box the service once per layer
    // (about a fifth of a decision request's time under load).
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(request_context))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(
            min_revision_state,
            min_revision,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new("internal", "the server failed to handle this request").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(settings.body_limit))
        .service(routes);
    Router::new().fallback_service(service)
}

/// Gives every request an id (the client's `x-request-id` when it is sane), available to error
/// bodies while the request runs and echoed in the response.
async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty() && value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The header a client sends its consistency token in: the revision a write answered with.
pub const MIN_REVISION_HEADER: &str = "keycard-min-revision";

/// Honours `Keycard-Min-Revision` on every face: the request is served only once this node's
/// snapshot includes that revision (503 with `Retry-After` if it does not get there in time).
async fn min_revision(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(value) = req.headers().get(MIN_REVISION_HEADER) {
        let Some(revision) = value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|r| *r >= 0)
        else {
            return ApiError::new(
                "invalid_header",
                "Keycard-Min-Revision must be a revision number",
            )
            .into_response();
        };
        if let Err(err) = state
            .at_least(keycard_core::change::Revision(revision))
            .await
        {
            return ApiError::from(err).into_response();
        }
    }
    next.run(req).await
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let response = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The OpenAPI document of the native API, as `keycard openapi` prints it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1::router().into_openapi()
}
