//! Keycard's HTTP server: one [`app`] shared by `keycard serve` and the tests, with the native `/v1`
//! face, operational endpoints and the OpenAPI document.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod auth;
mod authzen;
pub mod error;
mod iap;
mod layers;
pub mod metrics;
mod ops;
mod polytomic;
mod redact;
pub mod state;
pub mod v1;

pub use layers::MIN_REVISION_HEADER;
pub use state::{AppState, Settings, bootstrap, spawn_follower};

use crate::error::ApiError;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = v1::router().split_for_parts();
    let settings = state.settings.clone();
    let context_state = state.clone();
    let routes = api
        .merge(ops::router(openapi))
        .merge(iap::router())
        .merge(authzen::router())
        .merge(polytomic::router(state.clone()))
        .route_layer(layers::route_metrics(state.metrics.clone()))
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
        .layer(layers::request_context(context_state))
        .layer(TraceLayer::new_for_http().make_span_with(redact::request_span))
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

/// The OpenAPI document of the native API, as `keycard openapi` prints it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1::router().into_openapi()
}
