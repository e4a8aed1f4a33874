//! Logging in and out with a password, and describing the caller.

use axum::extract::State;
use axum::http::StatusCode;
use keycard_core::Error;
use keycard_core::decision::{self, EffectiveRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{Account, Organization, Session};
use crate::app::Operation;
use crate::auth::{Caller, ClientIp};
use crate::error::{ApiError, ErrorBody, Json};
use crate::state::{AppState, org_of};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
    /// The organization's id or name; the default organization when absent.
    #[serde(default)]
    pub organization: Option<String>,
}

/// A new session: `token` is a bearer token shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub token: String,
    pub session: Session,
}

/// Who the caller is, and what they hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub account: Account,
    pub organization: Organization,
    pub admin: bool,
    pub partner: bool,
    pub effective_roles: Vec<EffectiveRole>,
}

/// Logs in with a username and password and opens a session. Needs no other authentication;
/// failed attempts are rate limited per username and client address.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = Login, security(()),
    responses((status = 201, body = LoggedIn), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Login>,
) -> Result<(StatusCode, axum::Json<LoggedIn>), ApiError> {
    let org = match body.organization.as_deref() {
        None => state.app.default_organization(),
        // An unknown organization is a failed login, not a way to learn which ones exist.
        Some(named) => state
            .app
            .organization_named(named)
            .map_err(|_| Error::Unauthenticated("invalid username or password".into()))?,
    };
    let account = state
        .app
        .verify_password(org, &body.username, &body.password, ip)
        .await?;
    let (session, token) = state.app.open_session(&account).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(LoggedIn {
            token,
            session: session.into(),
        }),
    ))
}

/// Ends the session the request authenticated with.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "sessions",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    if state.app.end_own_session(&caller).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::invalid(
            "credential",
            "the request was not authenticated with a session token",
        )
        .into())
    }
}

/// Describes the caller: account, organization, standing and effective roles.
#[utoipa::path(get, path = "/v1/me", tag = "sessions", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Me>, ApiError> {
    let snapshot = state.app.read_snapshot(&caller, Operation::DescribeSelf)?;
    let account = caller.require_account()?;
    let home = org_of(&snapshot, account.organization_id)?;
    let organization = org_of(&snapshot, caller.organization)?
        .organization
        .as_ref()
        .clone();
    let effective_roles = decision::effective_roles(home, account);
    Ok(axum::Json(Me {
        admin: caller.admin,
        partner: caller.partner,
        organization: organization.into(),
        effective_roles,
        account: account.as_ref().clone().into(),
    }))
}
