//! Accounts, their passwords, role assignments, group memberships, API keys and sessions.

use axum::extract::State;
use axum::http::StatusCode;
use keycard_core::Error;
use keycard_core::ids::{AccountId, ApiKeyId, GroupId, RoleId};
use keycard_core::model::{self, Account, AccountPatch, ApiKey, Link, NewAccount, Principal};
use keycard_core::names::{Email, Provenance, Username};
use keycard_core::secret::{self, TokenKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Committed, List, ListQuery, Saved, change_link, double_option, hash_password};
use crate::auth::{self, Caller, Credential};
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(set_password))
        .routes(routes!(add_account_group, remove_account_group))
        .routes(routes!(add_account_role, remove_account_role))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(revoke_sessions))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub username: Username,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub first_name: String,
    /// Where the account comes from; `Local` when absent.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    #[serde(default)]
    pub inactive: bool,
    #[serde(default)]
    pub service_account: bool,
    /// Stored as an Argon2id hash; 8 characters to 1024 bytes.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleId>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    /// `null` clears the email.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<Email>>,
    pub first_name: Option<String>,
    pub inactive: Option<bool>,
    /// Replaces the directly assigned roles.
    pub roles: Option<Vec<RoleId>>,
    /// Replaces the direct group memberships.
    pub groups: Option<Vec<GroupId>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The new password (8 characters to 1024 bytes); `null` removes password login.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// Required when changing one's own password without being an administrator.
    #[serde(default)]
    pub current_password: Option<String>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    pub revoked: u64,
}

fn validate_first_name(value: &str) -> Result<(), ApiError> {
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "first name",
            "must be at most 200 characters without control characters",
        )
        .into());
    }
    Ok(())
}

/// Administrators act on any account of the organization; others only on their own.
fn require_self_or_admin(caller: &Caller, id: AccountId) -> Result<(), ApiError> {
    if caller.admin
        || (caller.account.id == id && caller.organization == caller.account.organization_id)
    {
        Ok(())
    } else {
        caller.require_admin()
    }
}

/// Lists the organization's accounts.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(ListQuery), responses((status = 200, body = List<Account>)))]
async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Account>>, ApiError> {
    caller.require_admin()?;
    Ok(axum::Json(
        state
            .store
            .list_accounts(caller.organization, &query.page()?)
            .await?
            .into(),
    ))
}

/// Creates an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, body = Saved<Account>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateAccount>,
) -> Result<Saved<Account>, ApiError> {
    caller.require_admin()?;
    validate_first_name(&body.first_name)?;
    let password_hash = match body.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let provenance = match body.provenance {
        Some(provenance) => provenance,
        None => Provenance::try_from(model::LOCAL_PROVENANCE)?,
    };
    let new = NewAccount {
        username: body.username,
        email: body.email,
        first_name: body.first_name,
        provenance,
        inactive: body.inactive,
        service_account: body.service_account,
        password_hash,
        roles: body.roles,
        groups: body.groups,
    };
    let written = state
        .store
        .create_account(&caller.actor(), caller.organization, new)
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::created(written))
}

/// Reads an account.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = Account), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<axum::Json<Account>, ApiError> {
    require_self_or_admin(&caller, id)?;
    Ok(axum::Json(
        state.store.get_account(caller.organization, id).await?,
    ))
}

/// Changes an account; lists replace wholesale.
#[utoipa::path(patch, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = AccountId, Path)), request_body = UpdateAccount,
    responses((status = 200, body = Saved<Account>), (status = 404, body = ErrorBody)))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
    Json(body): Json<UpdateAccount>,
) -> Result<Saved<Account>, ApiError> {
    caller.require_admin()?;
    if let Some(first_name) = &body.first_name {
        validate_first_name(first_name)?;
    }
    let patch = AccountPatch {
        email: body.email,
        first_name: body.first_name,
        inactive: body.inactive,
        roles: body.roles,
        groups: body.groups,
    };
    let written = state
        .store
        .update_account(&caller.actor(), caller.organization, id, patch)
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::updated(written))
}

/// Deletes an account with its API keys and sessions.
#[utoipa::path(delete, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<Committed, ApiError> {
    caller.require_admin()?;
    if id == caller.account.id {
        return Err(Error::Forbidden("an account cannot delete itself".into()).into());
    }
    let revision = state
        .store
        .delete_account(&caller.actor(), caller.organization, id)
        .await?;
    state.visible(revision).await?;
    Ok(Committed { revision })
}

/// Sets or clears an account's password. Non-administrators may change only their own, giving the
/// current one.
#[utoipa::path(put, path = "/v1/accounts/{id}/password", tag = "accounts", params(("id" = AccountId, Path)), request_body = SetPassword,
    responses((status = 200, body = Saved<Account>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
    Json(body): Json<SetPassword>,
) -> Result<Saved<Account>, ApiError> {
    require_self_or_admin(&caller, id)?;
    if !caller.admin {
        let current = body.current_password.as_deref().unwrap_or_default();
        auth::verify_password(
            &state,
            caller.organization,
            caller.account.username.as_str(),
            current,
            None,
        )
        .await
        .map_err(|_| ApiError::from(Error::Forbidden("the current password is wrong".into())))?;
    }
    let hash = match body.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let written = state
        .store
        .set_password_hash(
            &caller.actor(),
            caller.organization,
            id,
            hash,
            match caller.credential {
                Credential::Session(session) if caller.account.id == id => Some(session),
                _ => None,
            },
        )
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::updated(written))
}

/// Makes the account a member of the group.
#[utoipa::path(put, path = "/v1/accounts/{id}/groups/{group_id}", tag = "accounts", params(("id" = AccountId, Path), ("group_id" = GroupId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn add_account_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, group)): Path<(AccountId, GroupId)>,
) -> Result<Committed, ApiError> {
    change_link(&state, &caller, Link::AccountInGroup(id, group), true).await
}

/// Removes the account from the group.
#[utoipa::path(delete, path = "/v1/accounts/{id}/groups/{group_id}", tag = "accounts", params(("id" = AccountId, Path), ("group_id" = GroupId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn remove_account_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, group)): Path<(AccountId, GroupId)>,
) -> Result<Committed, ApiError> {
    change_link(&state, &caller, Link::AccountInGroup(id, group), false).await
}

/// Assigns the role to the account.
#[utoipa::path(put, path = "/v1/accounts/{id}/roles/{role_id}", tag = "accounts", params(("id" = AccountId, Path), ("role_id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn add_account_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(AccountId, RoleId)>,
) -> Result<Committed, ApiError> {
    change_link(
        &state,
        &caller,
        Link::RoleOf(Principal::Account(id), role),
        true,
    )
    .await
}

/// Takes the role from the account.
#[utoipa::path(delete, path = "/v1/accounts/{id}/roles/{role_id}", tag = "accounts", params(("id" = AccountId, Path), ("role_id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn remove_account_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(AccountId, RoleId)>,
) -> Result<Committed, ApiError> {
    change_link(
        &state,
        &caller,
        Link::RoleOf(Principal::Account(id), role),
        false,
    )
    .await
}

/// Lists an account's API keys (metadata only; secrets are never shown again).
#[utoipa::path(get, path = "/v1/accounts/{id}/keys", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = List<ApiKey>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<axum::Json<List<ApiKey>>, ApiError> {
    require_self_or_admin(&caller, id)?;
    let items = state.store.list_api_keys(caller.organization, id).await?;
    Ok(axum::Json(List {
        items,
        next_cursor: None,
    }))
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
    require_self_or_admin(&caller, id)?;
    // The body is optional: an empty one names no key.
    let name = if body.is_empty() {
        String::new()
    } else {
        serde_json::from_slice::<CreateKey>(&body)
            .map_err(|err| ApiError::new("invalid_body", err.to_string()))?
            .name
    };
    let key_id = ApiKeyId::new();
    let minted = secret::mint_token(TokenKind::ApiKey, key_id.as_uuid());
    let written = state
        .store
        .create_api_key(
            &caller.actor(),
            caller.organization,
            id,
            key_id,
            name,
            minted.hash,
        )
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::created(keycard_core::store::Written {
        revision: written.revision,
        value: NewKey {
            key: written.value,
            secret: minted.value,
        },
    }))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/v1/accounts/{id}/keys/{key_id}", tag = "accounts", params(("id" = AccountId, Path), ("key_id" = ApiKeyId, Path)),
    responses((status = 200, body = Saved<ApiKey>), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(AccountId, ApiKeyId)>,
) -> Result<Saved<ApiKey>, ApiError> {
    require_self_or_admin(&caller, id)?;
    let written = state
        .store
        .revoke_api_key(&caller.actor(), caller.organization, id, key)
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::updated(written))
}

/// Ends every login session of the account at once.
#[utoipa::path(delete, path = "/v1/accounts/{id}/sessions", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = RevokedSessions), (status = 404, body = ErrorBody)))]
async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<(StatusCode, axum::Json<RevokedSessions>), ApiError> {
    require_self_or_admin(&caller, id)?;
    state.store.get_account(caller.organization, id).await?;
    let revoked = state.store.revoke_sessions(caller.organization, id).await?;
    Ok((StatusCode::OK, axum::Json(RevokedSessions { revoked })))
}
