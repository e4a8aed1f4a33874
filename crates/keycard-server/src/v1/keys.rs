//! API keys: an account's, which act as the account, and the organization's decision keys, which
//! its policy enforcement points ask for decisions with. A decision key is no account, so it is
//! never a subject: a subject search lists the directory's accounts only.

use axum::extract::State;
use keycard_core::ids::{AccountId, ApiKeyId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::ApiKey;
use super::{List, Saved};
use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody, Path};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(list_decision_keys, create_decision_key))
        .routes(routes!(revoke_decision_key))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub name: String,
}

/// A new API key: `secret` is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Lists an account's API keys (metadata only; secrets are never shown again).
#[utoipa::path(get, path = "/v1/accounts/{id}/keys", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = List<ApiKey>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<axum::Json<List<ApiKey>>, ApiError> {
    list(&state, &caller, Some(id)).await
}

/// Mints an API key for the account; the secret is in this response only.
#[utoipa::path(post, path = "/v1/accounts/{id}/keys", tag = "accounts", params(("id" = AccountId, Path)), request_body = CreateKey,
    responses((status = 201, body = Saved<NewKey>), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
    body: axum::body::Bytes,
) -> Result<Saved<NewKey>, ApiError> {
    issue(&state, &caller, Some(id), &body).await
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/v1/accounts/{id}/keys/{key_id}", tag = "accounts", params(("id" = AccountId, Path), ("key_id" = ApiKeyId, Path)),
    responses((status = 200, body = Saved<ApiKey>), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(AccountId, ApiKeyId)>,
) -> Result<Saved<ApiKey>, ApiError> {
    revoke(&state, &caller, Some(id), key).await
}

/// Lists the organization's decision keys, revoked ones too (metadata only). Administrators only.
#[utoipa::path(get, path = "/v1/decision-keys", tag = "decision keys",
    responses((status = 200, body = List<ApiKey>), (status = 403, body = ErrorBody)))]
async fn list_decision_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<List<ApiKey>>, ApiError> {
    list(&state, &caller, None).await
}

/// Mints a decision key: a bearer credential for a policy enforcement point. It may ask for
/// checks, lookups and AuthZEN evaluations and searches about any subject of the organization,
/// and nothing else; it is no account, so no search lists it. The secret is in this response
/// only. Administrators only.
#[utoipa::path(post, path = "/v1/decision-keys", tag = "decision keys", request_body = CreateKey,
    responses((status = 201, body = Saved<NewKey>), (status = 403, body = ErrorBody)))]
async fn create_decision_key(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Saved<NewKey>, ApiError> {
    issue(&state, &caller, None, &body).await
}

/// Revokes a decision key at once, on every node. Administrators only.
#[utoipa::path(delete, path = "/v1/decision-keys/{key_id}", tag = "decision keys", params(("key_id" = ApiKeyId, Path)),
    responses((status = 200, body = Saved<ApiKey>), (status = 404, body = ErrorBody)))]
async fn revoke_decision_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<ApiKeyId>,
) -> Result<Saved<ApiKey>, ApiError> {
    revoke(&state, &caller, None, key).await
}

/// The keys of an account, or with none the decision keys.
async fn list(
    state: &AppState,
    caller: &Caller,
    account: Option<AccountId>,
) -> Result<axum::Json<List<ApiKey>>, ApiError> {
    let items = state.app.list_api_keys(caller, account).await?;
    Ok(axum::Json(List {
        items: items.into_iter().map(ApiKey::from).collect(),
        next_cursor: None,
    }))
}

/// Mints a key of an account, or with none a decision key.
async fn issue(
    state: &AppState,
    caller: &Caller,
    account: Option<AccountId>,
    body: &[u8],
) -> Result<Saved<NewKey>, ApiError> {
    // The body is optional: an empty one names no key.
    let name = if body.is_empty() {
        String::new()
    } else {
        serde_json::from_slice::<CreateKey>(body)
            .map_err(|err| ApiError::new(Code::InvalidBody, err.to_string()))?
            .name
    };
    let written = state.app.issue_api_key(caller, account, name).await?;
    Ok(Saved::created(keycard_core::store::Written {
        revision: written.revision,
        value: NewKey {
            key: written.value.key.into(),
            secret: written.value.secret,
        },
    }))
}

/// Revokes a key of an account, or with none a decision key.
async fn revoke(
    state: &AppState,
    caller: &Caller,
    account: Option<AccountId>,
    key: ApiKeyId,
) -> Result<Saved<ApiKey>, ApiError> {
    Ok(Saved::updated(
        state.app.revoke_api_key(caller, account, key).await?,
    ))
}
