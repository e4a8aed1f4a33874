//! The Polytomic face: `/api/permissions/roles`, `/api/permissions/policies`, users, organizations,
//! API keys, `/api/me` and events, wire-compatible with the official `polytomic` SDKs.
//!
//! Cross-cutting rules live in this module's middleware: `X-Polytomic-Version` negotiation (echoed
//! on every response) and `Idempotency-Key` replay, stored in the database.

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use keycard_core::Error;
use keycard_core::ids::OrganizationId;
use keycard_core::secret;
use serde_json::json;

use crate::auth::{self, Caller, Presented};
use crate::error::{ApiError, Code, current_request_id};
use crate::state::AppState;

pub(crate) mod events;
pub(crate) mod idempotency;
mod permissions;
mod users;
mod webhooks;

/// API versions this face serves, newest first. A request without the header gets the newest.
pub const VERSIONS: &[&str] = &[
    "2025-09-18",
    "2024-02-08",
    "2023-04-25",
    "2022-12-12",
    "2021-05-23",
];
pub const VERSION_HEADER: &str = "x-polytomic-version";

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/permissions/roles",
            get(permissions::list_roles).post(permissions::create_role),
        )
        .route(
            "/api/permissions/roles/{id}",
            get(permissions::get_role)
                .put(permissions::update_role)
                .patch(permissions::update_role)
                .delete(permissions::delete_role),
        )
        .route(
            "/api/permissions/policies",
            get(permissions::list_policies).post(permissions::create_policy),
        )
        .route(
            "/api/permissions/policies/{id}",
            get(permissions::get_policy)
                .put(permissions::update_policy)
                .patch(permissions::update_policy)
                .delete(permissions::delete_policy),
        )
        .route("/api/me", get(users::me))
        .route("/api/organization", get(users::current_organization))
        .route(
            "/api/organization/users",
            get(users::list_own_users).post(users::create_own_user),
        )
        .route(
            "/api/organization/users/{id}",
            get(users::get_own_user)
                .put(users::update_own_user)
                .patch(users::update_own_user)
                .delete(users::delete_own_user),
        )
        .route(
            "/api/organizations",
            get(users::list_organizations).post(users::create_organization),
        )
        .route(
            "/api/organizations/{org}",
            get(users::get_organization)
                .put(users::update_organization)
                .patch(users::update_organization)
                .delete(users::delete_organization),
        )
        .route(
            "/api/organizations/{org}/users",
            get(users::list_users).post(users::create_user),
        )
        .route(
            "/api/organizations/{org}/users/{id}",
            get(users::get_user)
                .put(users::update_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route(
            "/api/organizations/{org}/users/{id}/keys",
            post(users::create_user_key),
        )
        .route(
            "/api/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/api/webhooks/{id}",
            get(webhooks::get_webhook)
                .put(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route(
            "/api/webhooks/{id}/disable",
            post(webhooks::disable_webhook),
        )
        .route("/api/webhooks/{id}/enable", post(webhooks::enable_webhook))
        .route(
            "/api/webhooks/{id}/deliveries",
            get(webhooks::list_deliveries),
        )
        .route("/api/events", get(events::list_events))
        .route("/api/events_types", get(events::list_event_types))
        .route(
            "/api/{*rest}",
            any(|| async { PolyError::from(Error::not_found("route", "this path")) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state,
            idempotency::middleware,
        ))
        .layer(axum::middleware::from_fn(negotiate_version))
}

/// An error in Polytomic's shape: `{"key", "message", "status", "metadata"}`.
#[derive(Debug)]
pub struct PolyError {
    pub code: Code,
    pub message: String,
    retry_after: Option<u64>,
}

impl PolyError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for PolyError {
    fn from(err: Error) -> Self {
        ApiError::from(err).into()
    }
}

impl From<ApiError> for PolyError {
    fn from(err: ApiError) -> Self {
        Self {
            code: err.code,
            message: err.message,
            retry_after: err.retry_after,
        }
    }
}

impl IntoResponse for PolyError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = json!({
            "key": self.code.as_str(),
            "message": self.message,
            "status": status.as_u16(),
            "metadata": {"request_id": current_request_id()},
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

crate::error::json_body!(
    /// A JSON body whose rejections use Polytomic's error shape.
    PolyJson,
    PolyError
);

/// Picks the API version (the newest when the header is absent), refuses unknown ones, and echoes
/// the served version on every response.
async fn negotiate_version(req: Request, next: Next) -> Response {
    let newest = VERSIONS[0];
    let requested = req
        .headers()
        .get(VERSION_HEADER)
        .map(|value| value.to_str().unwrap_or("").trim().to_owned());
    let served = match requested.as_deref() {
        None | Some("") => Ok(newest),
        Some(value) => VERSIONS
            .iter()
            .find(|known| **known == value)
            .copied()
            .ok_or(value.to_owned()),
    };
    let (version, mut response) = match served {
        // No behaviour differs between the versions this face serves: the old PATCH updates and
        // the new PUT ones are both accepted.
        Ok(version) => (version, next.run(req).await),
        Err(unknown) => (
            newest,
            PolyError::new(
                Code::InvalidHeader,
                format!(
                    "unsupported X-Polytomic-Version `{unknown}`; supported: {}",
                    VERSIONS.join(", ")
                ),
            )
            .into_response(),
        ),
    };
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(version));
    response
}

/// The authenticated caller on this face. Besides `Bearer` and a username and password, `Basic`
/// accepts an API key as the username (the password is ignored), as Polytomic's organization keys do.
pub struct PolyCaller(pub Caller);

pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Result<Caller, Error> {
    let presented = match auth::presented_credentials(headers)? {
        Some(Presented::Basic { username, .. }) if secret::parse_token(&username).is_some() => {
            Presented::Token(username)
        }
        Some(presented) => presented,
        None => {
            return Err(Error::Unauthenticated(
                "authentication required: send `Authorization: Bearer <api key>`".into(),
            ));
        }
    };
    auth::authenticate(state, headers, presented, ip).await
}

impl FromRequestParts<AppState> for PolyCaller {
    type Rejection = PolyError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The idempotency middleware may have authenticated the request already.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(PolyCaller(caller.clone()));
        }
        Ok(PolyCaller(
            authenticate(state, &parts.headers, auth::client_ip(parts)).await?,
        ))
    }
}

impl PolyCaller {
    /// The caller acting in the organization a body's `organization_id` names: absent, null or
    /// the caller's own means the caller's; another one only for partners.
    pub fn in_organization(&self, requested: Option<OrganizationId>) -> Result<Caller, PolyError> {
        match requested {
            None => Ok(self.0.clone()),
            Some(org) => Ok(self.0.acting_in(org)?),
        }
    }
}

/// An id in a path; one that does not parse names nothing there is.
pub fn path_id<T: std::str::FromStr>(what: &'static str, raw: &str) -> Result<T, PolyError> {
    raw.parse().map_err(|_| Error::not_found(what, raw).into())
}

/// `{"data": ...}` with 200.
pub fn data(value: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(json!({"data": value}))).into_response()
}

/// [`data`] for a write, with its revision in `Keycard-Revision`.
pub fn data_at(revision: keycard_core::change::Revision, value: serde_json::Value) -> Response {
    crate::revision::with_revision(revision, data(value))
}
