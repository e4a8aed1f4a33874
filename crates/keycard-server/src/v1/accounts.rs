//! Accounts, their passwords, role assignments, group memberships and sessions (their API keys are
//! in `keys`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keycard_core::attributes::Attributes;
use keycard_core::ids::{AccountId, GroupId, RoleId};
use keycard_core::model::{AccountPatch, Link, NewAccount, Principal};
use keycard_core::names::{Email, FirstName, Provenance, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Account;
use super::{Committed, List, ListQuery, Saved, change_link, double_option};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::revision::with_revision;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(set_attributes))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(set_password))
        .routes(routes!(add_account_group, remove_account_group))
        .routes(routes!(add_account_role, remove_account_role))
        .routes(routes!(revoke_sessions))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub username: Username,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub first_name: FirstName,
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
    /// What conditions read in `subject.properties` (over the request's): a JSON object of at most 16 KiB, nested at
    /// most 8 levels.
    #[serde(default)]
    pub attributes: Attributes,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    /// `null` clears the email.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<Email>>,
    pub first_name: Option<FirstName>,
    pub inactive: Option<bool>,
    /// Replaces the directly assigned roles.
    pub roles: Option<Vec<RoleId>>,
    /// Replaces the direct group memberships.
    pub groups: Option<Vec<GroupId>>,
    /// Replaces the attributes wholesale (`{}` clears them).
    pub attributes: Option<Attributes>,
}

/// Attributes for many accounts at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAttributes {
    /// Up to 10,000 accounts, each named once.
    pub accounts: Vec<AccountAttributes>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountAttributes {
    pub id: AccountId,
    /// Replaces the account's attributes wholesale.
    pub attributes: Attributes,
}

/// What a bulk attributes write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributesSet {
    /// The write's revision; the current one when nothing changed.
    pub revision: keycard_core::change::Revision,
    pub updated: usize,
    /// Accounts whose attributes were already as given.
    pub unchanged: usize,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    pub revoked: u64,
}

/// Lists the organization's accounts.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(ListQuery), responses((status = 200, body = List<Account>)))]
async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Account>>, ApiError> {
    Ok(axum::Json(
        state
            .app
            .list_accounts(&caller, &query.page()?)
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
    let password_hash = match body.password {
        Some(password) => Some(crate::app::hash_password(password).await?),
        None => None,
    };
    let new = NewAccount {
        username: body.username,
        email: body.email,
        first_name: body.first_name,
        provenance: body.provenance.unwrap_or_else(Provenance::local),
        inactive: body.inactive,
        service_account: body.service_account,
        password_hash,
        roles: body.roles,
        groups: body.groups,
        attributes: body.attributes,
    };
    Ok(Saved::created(
        state.app.create_account(&caller, new).await?,
    ))
}

/// Replaces the attributes of up to 10,000 accounts in one write: all of them, or none when one
/// is not the organization's. Administrators only.
#[utoipa::path(put, path = "/v1/accounts/attributes", tag = "accounts", request_body = BulkAttributes,
    responses((status = 200, body = AttributesSet)))]
async fn set_attributes(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<BulkAttributes>,
) -> Result<Response, ApiError> {
    let total = body.accounts.len();
    let attributes = body
        .accounts
        .into_iter()
        .map(|account| (account.id, account.attributes))
        .collect();
    let written = state
        .app
        .set_account_attributes(&caller, attributes)
        .await?;
    let answer = AttributesSet {
        revision: written.revision,
        updated: written.value,
        unchanged: total - written.value,
    };
    Ok(with_revision(
        written.revision,
        axum::Json(answer).into_response(),
    ))
}

/// Reads an account.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = Account), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<axum::Json<Account>, ApiError> {
    Ok(axum::Json(
        state.app.read_account(&caller, id).await?.into(),
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
    let patch = AccountPatch {
        email: body.email,
        first_name: body.first_name,
        inactive: body.inactive,
        roles: body.roles,
        groups: body.groups,
        attributes: body.attributes,
    };
    Ok(Saved::updated(
        state.app.update_account(&caller, id, patch).await?,
    ))
}

/// Deletes an account with its API keys and sessions.
#[utoipa::path(delete, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_account(&caller, id).await?;
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
    let written = state
        .app
        .set_password(&caller, id, body.password, body.current_password.as_deref())
        .await?;
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

/// Ends every login session of the account at once.
#[utoipa::path(delete, path = "/v1/accounts/{id}/sessions", tag = "accounts", params(("id" = AccountId, Path)),
    responses((status = 200, body = RevokedSessions), (status = 404, body = ErrorBody)))]
async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<Response, ApiError> {
    let ended = state.app.end_sessions(&caller, id).await?;
    Ok(with_revision(
        ended.revision,
        axum::Json(RevokedSessions {
            revoked: ended.value.1,
        })
        .into_response(),
    ))
}
