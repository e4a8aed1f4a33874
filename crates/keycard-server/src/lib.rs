//! Keycard's HTTP server: one [`app`] shared by `keycard serve` and the tests, with the native `/v1`
//! face, operational endpoints and the OpenAPI document.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod app;
pub mod auth;
mod authzen;
mod console;
pub mod decision_log;
pub mod error;
mod iap;
mod layers;
pub mod metrics;
mod ops;
mod origin;
pub(crate) mod polytomic;
mod redact;
pub mod revision;
pub mod state;
pub mod v1;
pub mod webhook_delivery;

pub use layers::MIN_REVISION_HEADER;
pub use origin::PublicUrl;
pub use state::{AppState, Settings, bootstrap, spawn_follower};

use crate::error::ApiError;
use crate::error::Code;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    let request_timeout = settings.request_timeout;
    let context_state = state.clone();
    let routes = routes(state);
    // The layers every request passes through wrap the router once. Added with `Router::layer`,
    // each would wrap every route, and a request would clone and box the service once per layer
    // (about a fifth of a decision request's time under load).
    let service = tower::ServiceBuilder::new()
        .layer(layers::request_context(context_state))
        .layer(TraceLayer::new_for_http().make_span_with(redact::request_span))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(Code::Internal, "the server failed to handle this request")
                .into_response()
        }))
        .map_response(move |response| explain_timeout(response, request_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(settings.body_limit))
        .service(routes);
    Router::new().fallback_service(service)
}

/// Every route of every face, without the layers [`app`] puts around them all. Its `Debug` form
/// lists each route's path and methods: the access-matrix test reads the routes from it.
pub fn routes(state: AppState) -> Router {
    let (api, openapi) = v1::router().split_for_parts();
    let openapi = v1::document(openapi);
    api.merge(ops::router(openapi))
        .merge(iap::router())
        .merge(authzen::router())
        .merge(console::router())
        .merge(polytomic::router(state.clone()))
        .route_layer(layers::route_metrics(state.metrics.clone()))
        .fallback(|| async { ApiError::new(Code::RouteNotFound, "no route matches this path") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "this path does not accept that method",
            )
        })
        .with_state(state)
}

/// Gives the bare 503 of a request that ran out of time a body in the native shape, and
/// `Retry-After`. Every other 503 already has a body.
fn explain_timeout(
    response: axum::response::Response,
    limit: std::time::Duration,
) -> axum::response::Response {
    if response.status() != StatusCode::SERVICE_UNAVAILABLE
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let mut error = ApiError::new(
        Code::Unavailable,
        format!(
            "the request took longer than the {} seconds the server allows; retry shortly",
            limit.as_secs()
        ),
    );
    error.retry_after = Some(1);
    error.into_response()
}

/// The OpenAPI document of the native API, as `keycard openapi` prints it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1::document(v1::router().into_openapi())
}
