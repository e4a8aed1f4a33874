//! The Itential Automation Platform face: `/login`, `/logout`, `/oauth/token`, `/whoami`,
//! `/health/applications` and the `/authorization/...` API, wire-compatible with IAP clients.
//!
//! This face only translates: documents are rendered from the core's entities, writes go through
//! the store traits, and permission checks through the decision engine against the Authorization
//! application's method catalogue (see `keycard_core::builtin`).

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keycard_core::Error;
use serde_json::json;

use crate::auth::{self, Caller};
use crate::error::{ApiError, Code};
use crate::revision::with_revision;
use crate::state::AppState;
use keycard_core::change::Revision;

mod authorization;
mod documents;
mod query;
mod session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(session::login))
        .route("/login/", post(session::login))
        .route("/logout", get(session::logout))
        .route("/oauth/token", post(session::oauth_token))
        .route(
            "/oauth/serviceAccounts",
            post(session::create_service_account),
        )
        .route("/whoami", get(session::whoami))
        .route("/health/applications", get(session::health_applications))
        .merge(authorization::router())
}

/// An error in the IAP shape: `{"status": <reason>, "message": ...}` (plus the stable `code`).
#[derive(Debug)]
pub struct IapError {
    pub code: Code,
    pub message: String,
    retry_after: Option<u64>,
}

impl IapError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidQuery, message)
    }
}

impl From<Error> for IapError {
    fn from(err: Error) -> Self {
        ApiError::from(err).into()
    }
}

impl From<ApiError> for IapError {
    fn from(err: ApiError) -> Self {
        Self {
            code: err.code,
            message: err.message,
            retry_after: err.retry_after,
        }
    }
}

impl IntoResponse for IapError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = json!({
            "status": status.canonical_reason().unwrap_or("Error"),
            "code": self.code.as_str(),
            "message": self.message,
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

crate::error::json_body!(
    /// A JSON body whose rejections use the IAP error shape.
    IapJson,
    IapError
);

/// The authenticated caller on this face: HTTP Basic or `Authorization: Bearer`, else the `token`
/// cookie, else the `token` query parameter.
pub struct IapCaller {
    pub caller: Caller,
}

/// The value of the `token` cookie.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "token")
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value)
}

impl FromRequestParts<AppState> for IapCaller {
    type Rejection = IapError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(presented) = auth::presented_credentials(&parts.headers)? {
            let caller =
                auth::authenticate(state, &parts.headers, presented, auth::client_ip(parts))
                    .await?;
            return Ok(Self { caller });
        }
        let Some(token) = cookie_token(&parts.headers).or_else(|| query_token(parts)) else {
            return Err(
                Error::Unauthenticated("authentication required: log in at /login".into()).into(),
            );
        };
        let caller = auth::token_caller(state, &parts.headers, &token).await?;
        Ok(Self { caller })
    }
}

/// `{"status": "OK", "message": ..., "data": ...}`, the answer to creates and updates, with the
/// write's revision in `Keycard-Revision`.
pub fn ok_with_data(revision: Revision, message: &str, data: serde_json::Value) -> Response {
    with_revision(
        revision,
        (
            StatusCode::OK,
            axum::Json(json!({"status": "OK", "message": message, "data": data})),
        )
            .into_response(),
    )
}

/// `{"status": "OK", "message": ...}`, the answer to actions that change no authorization state.
pub fn ok_message(message: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"status": "OK", "message": message})),
    )
        .into_response()
}

/// [`ok_message`] for a write: deletes and account actions, with `Keycard-Revision`.
pub fn ok_message_at(revision: Revision, message: &str) -> Response {
    with_revision(revision, ok_message(message))
}
