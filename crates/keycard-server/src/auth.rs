//! Authentication shared by every face: HTTP Basic with a username and password, and bearer tokens
//! (API keys and login sessions). Failed password logins are rate limited per username and client
//! address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keycard_core::ids::OrganizationId;
use keycard_core::{Error, Result};

use crate::error::ApiError;
use crate::state::AppState;

/// The header that names the organization a request acts in (id or name).
pub const ORGANIZATION_HEADER: &str = "keycard-organization";

pub use crate::app::{Caller, Credential, Identity, LoginLimiter};

/// The address a request came from, when the server knows it.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    client_ip_of(&parts.extensions)
}

pub fn client_ip_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Credentials found in a request, before they are checked.
pub enum Presented {
    Basic { username: String, password: String },
    Token(String),
}

/// Reads the `Authorization` header: `Basic` or `Bearer`.
pub fn presented_credentials(headers: &HeaderMap) -> Result<Option<Presented>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the authorization header is not text".into()))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .map_err(|_| Error::Unauthenticated("malformed basic credentials".into()))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| Error::Unauthenticated("malformed basic credentials".into()))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| Error::Unauthenticated("malformed basic credentials".into()))?;
        Ok(Some(Presented::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Ok(Some(Presented::Token(rest.to_owned())))
    } else {
        Err(Error::Unauthenticated(
            "unsupported authorization scheme; use Basic or Bearer".into(),
        ))
    }
}

/// Checks presented credentials and builds the caller.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    presented: Presented,
    ip: Option<IpAddr>,
) -> Result<Caller> {
    let named_org = named_organization(state, headers)?;
    let (principal, credential) = match presented {
        Presented::Basic { username, password } => {
            let org = named_org.unwrap_or(state.app.default_organization());
            let account = state
                .app
                .verify_password(org, &username, &password, ip)
                .await?;
            (Identity::Account(Arc::new(account)), Credential::Password)
        }
        Presented::Token(token) => state.app.verify_token(&token).await?,
    };
    state.app.caller_for(principal, credential, named_org)
}

/// Checks a bearer token presented some other way than the `Authorization` header (a cookie, a
/// query parameter) and builds the caller.
pub async fn token_caller(state: &AppState, headers: &HeaderMap, token: &str) -> Result<Caller> {
    let named_org = named_organization(state, headers)?;
    let (principal, credential) = state.app.verify_token(token).await?;
    state.app.caller_for(principal, credential, named_org)
}

/// The organization a password login acts in: the one named by `Keycard-Organization`, else the
/// default organization.
pub fn login_organization(state: &AppState, headers: &HeaderMap) -> Result<OrganizationId> {
    Ok(named_organization(state, headers)?.unwrap_or(state.app.default_organization()))
}

/// The organization named by the `Keycard-Organization` header, if any.
fn named_organization(state: &AppState, headers: &HeaderMap) -> Result<Option<OrganizationId>> {
    let Some(value) = headers.get(ORGANIZATION_HEADER) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::invalid("keycard-organization header", "is not text"))?;
    state.app.organization_named(value).map(Some)
}

impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(presented) = presented_credentials(&parts.headers)? else {
            return Ok(None);
        };
        let caller = authenticate(state, &parts.headers, presented, client_ip(parts)).await?;
        Ok(Some(caller))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller =
            <Caller as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(
                parts, state,
            )
            .await?;
        caller.ok_or_else(|| {
            Error::Unauthenticated("authentication required: use Basic or Bearer".into()).into()
        })
    }
}

/// The client's address, when the server was started with connection info.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}
