//! Users (Keycard accounts: `role_ids` are their directly assigned roles), organizations, API keys
//! and `/api/me`.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use keycard_core::Error;
use keycard_core::builtin::standard_organization;
use keycard_core::ids::{AccountId, OrganizationId, RoleId};
use keycard_core::model::{
    self, Account, AccountPatch, NewAccount, Organization, OrganizationPatch, SsoSettings,
};
use keycard_core::names::{Email, OrganizationName, Username};
use keycard_core::snapshot::OrgSnapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PolyCaller, PolyError, PolyJson, data, data_at, path_id};
use crate::app::{Caller, Operation};
use crate::auth::Credential;
use crate::error::Code;
use crate::revision::with_revision;
use crate::state::{AppState, org_of};

/// The legacy single role name: `admin` for holders of the system `Admin` role, else `user`.
fn legacy_role(org: &OrgSnapshot, account: &Account) -> &'static str {
    match org.system_role(model::ADMIN_ROLE) {
        Some(admin) if account.roles.contains(&admin) => "admin",
        _ => "user",
    }
}

fn user_document(org: &OrgSnapshot, account: &Account) -> Value {
    json!({
        "id": account.id,
        "email": account.email.as_ref().map(ToString::to_string).unwrap_or_else(|| account.username.to_string()),
        "organization_id": account.organization_id,
        "role": legacy_role(org, account),
        "role_ids": account.roles,
    })
}

fn organization_document(org: &Organization) -> Value {
    json!({"id": org.id, "name": org.name, "issuer": org.sso.issuer, "sso_domain": org.sso.sso_domain, "sso_org_id": org.sso.sso_org_id})
}

/// Renders a user from the current snapshot (which includes every write this node acknowledged).
fn render_user(state: &AppState, account: &Account) -> Result<Value, PolyError> {
    let snapshot = state.app.snapshot();
    Ok(user_document(
        org_of(&snapshot, account.organization_id)?,
        account,
    ))
}

/// `GET /api/me`.
pub async fn me(State(state): State<AppState>, caller: PolyCaller) -> Result<Response, PolyError> {
    let caller = caller.0;
    let snapshot = state.app.read_snapshot(&caller, Operation::DescribeSelf)?;
    let org = org_of(&snapshot, caller.organization)?;
    let account = caller.require_account()?;
    let home = org_of(&snapshot, account.organization_id)?;
    let method = match caller.credential {
        Credential::ApiKey(_) => "api_key",
        Credential::Session(_) => "session",
        Credential::Password => "password",
        Credential::Operator => "operator",
    };
    Ok(data(json!({
        "id": account.id,
        "email": account.email.as_ref().map(ToString::to_string).unwrap_or_else(|| account.username.to_string()),
        "organization_id": org.organization.id,
        "organization_name": org.organization.name,
        "is_user": true,
        "is_partner": caller.partner,
        "is_organization": false,
        "is_system": false,
        "role": if caller.admin { "admin" } else { legacy_role(home, account) },
        "credential": {"method": method},
    })))
}

/// `GET /api/organization`: the caller's organization.
pub async fn current_organization(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    let organization = state
        .app
        .read_organization(&caller.0, caller.0.organization)
        .await?;
    Ok(data(organization_document(&organization)))
}

// ---- users

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: Email,
    /// Deprecated legacy role name (`admin`, `user`, or a role's name).
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    role_ids: Option<Vec<RoleId>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    email: Option<Email>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    role_ids: Option<Vec<RoleId>>,
}

/// Roles from `role_ids` plus the legacy `role` name.
fn assigned_roles(
    state: &AppState,
    caller: &Caller,
    legacy: Option<&str>,
    role_ids: Option<Vec<RoleId>>,
) -> Result<Option<Vec<RoleId>>, PolyError> {
    let Some(legacy) = legacy else {
        return Ok(role_ids);
    };
    let snapshot = state.app.snapshot();
    let org = org_of(&snapshot, caller.organization)?;
    let named = match legacy.to_ascii_lowercase().as_str() {
        "admin" => org.system_role(model::ADMIN_ROLE),
        "user" | "member" => org.system_role(model::MEMBER_ROLE),
        other => org
            .roles()
            .find(|role| role.name.as_str().eq_ignore_ascii_case(other))
            .map(|role| role.id),
    }
    .ok_or_else(|| {
        Error::invalid(
            "role",
            format!("`{legacy}` names no role of this organization"),
        )
    })?;
    let mut roles = role_ids.unwrap_or_default();
    roles.push(named);
    Ok(Some(roles))
}

/// Administrators manage their own organization's users; partners any organization's.
/// The caller acting in the organization a path names (partners act in any).
fn organization_of_path(caller: &PolyCaller, raw: &str) -> Result<Caller, PolyError> {
    let id: OrganizationId = path_id("organization", raw)?;
    Ok(caller.0.acting_in(id)?)
}

async fn list_in(state: &AppState, caller: &Caller) -> Result<Response, PolyError> {
    let snapshot = state.app.read_snapshot(caller, Operation::ListAccounts)?;
    let org = org_of(&snapshot, caller.organization)?;
    let mut accounts: Vec<&Account> = org.accounts().collect();
    accounts.sort_by_key(|account| account.id);
    Ok(data(Value::Array(
        accounts
            .into_iter()
            .map(|account| user_document(org, account))
            .collect(),
    )))
}

async fn create_in(
    state: &AppState,
    caller: &Caller,
    body: CreateUser,
) -> Result<Response, PolyError> {
    let roles =
        assigned_roles(state, caller, body.role.as_deref(), body.role_ids)?.unwrap_or_default();
    let new = NewAccount {
        email: Some(body.email.clone()),
        roles,
        ..NewAccount::local(Username::try_from(body.email.to_string())?)
    };
    let written = state.app.create_account(caller, new).await?;
    Ok(data_at(
        written.revision,
        render_user(state, &written.value)?,
    ))
}

async fn get_in(state: &AppState, caller: &Caller, id: &str) -> Result<Response, PolyError> {
    let account = state
        .app
        .read_account(caller, path_id::<AccountId>("user", id)?)
        .await?;
    Ok(data(render_user(state, &account)?))
}

/// Changes the user's role assignments (and email, when given).
async fn update_in(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: UpdateUser,
) -> Result<Response, PolyError> {
    let roles = assigned_roles(state, caller, body.role.as_deref(), body.role_ids)?;
    let patch = AccountPatch {
        email: body.email.map(Some),
        roles,
        ..AccountPatch::default()
    };
    let written = state
        .app
        .update_account(caller, path_id("user", id)?, patch)
        .await?;
    Ok(data_at(
        written.revision,
        render_user(state, &written.value)?,
    ))
}

async fn delete_in(state: &AppState, caller: &Caller, id: &str) -> Result<Response, PolyError> {
    let revision = state
        .app
        .delete_account(caller, path_id("user", id)?)
        .await?;
    Ok(data_at(revision, json!({"id": id})))
}

pub async fn list_own_users(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    list_in(&state, &caller.0).await
}

pub async fn create_own_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    PolyJson(body): PolyJson<CreateUser>,
) -> Result<Response, PolyError> {
    create_in(&state, &caller.0, body).await
}

pub async fn get_own_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    get_in(&state, &caller.0, &id).await
}

pub async fn update_own_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    PolyJson(body): PolyJson<UpdateUser>,
) -> Result<Response, PolyError> {
    update_in(&state, &caller.0, &id, body).await
}

pub async fn delete_own_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    delete_in(&state, &caller.0, &id).await
}

pub async fn list_users(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(org): Path<String>,
) -> Result<Response, PolyError> {
    list_in(&state, &organization_of_path(&caller, &org)?).await
}

pub async fn create_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(org): Path<String>,
    PolyJson(body): PolyJson<CreateUser>,
) -> Result<Response, PolyError> {
    create_in(&state, &organization_of_path(&caller, &org)?, body).await
}

pub async fn get_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, PolyError> {
    get_in(&state, &organization_of_path(&caller, &org)?, &id).await
}

pub async fn update_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path((org, id)): Path<(String, String)>,
    PolyJson(body): PolyJson<UpdateUser>,
) -> Result<Response, PolyError> {
    update_in(&state, &organization_of_path(&caller, &org)?, &id, body).await
}

pub async fn delete_user(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, PolyError> {
    delete_in(&state, &organization_of_path(&caller, &org)?, &id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    /// Revoke the user's other keys first.
    #[serde(default)]
    force: Option<bool>,
}

/// `POST /api/organizations/{org}/users/{id}/keys`: a new API key for the user, shown once.
pub async fn create_user_key(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path((org, id)): Path<(String, String)>,
    query: Result<Query<KeyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PolyError> {
    let Query(query) =
        query.map_err(|rejection| PolyError::new(Code::InvalidQuery, rejection.body_text()))?;
    let caller = organization_of_path(&caller, &org)?;
    let account: AccountId = path_id("user", &id)?;
    let written = state
        .app
        .replace_api_keys(
            &caller,
            account,
            "polytomic".into(),
            query.force.unwrap_or(false),
        )
        .await?;
    let mut response = with_revision(
        written.revision,
        data(json!({"value": written.value.secret})),
    );
    response
        .extensions_mut()
        .insert(super::idempotency::CarriesSecret);
    Ok(response)
}

// ---- organizations (partners)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    name: OrganizationName,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    sso_domain: Option<String>,
    #[serde(default)]
    sso_org_id: Option<String>,
}

impl OrganizationBody {
    /// SSO settings to keep; OAuth client credentials are refused rather than silently dropped.
    fn sso(&self) -> Result<SsoSettings, PolyError> {
        if self.client_id.is_some() || self.client_secret.is_some() {
            return Err(Error::invalid(
                "client_id",
                "SSO client credentials are not supported by Keycard",
            )
            .into());
        }
        Ok(SsoSettings {
            issuer: self.issuer.clone(),
            sso_domain: self.sso_domain.clone(),
            sso_org_id: self.sso_org_id.clone(),
        })
    }
}

pub async fn list_organizations(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    let organizations = state.app.all_organizations(&caller.0).await?;
    let organizations = organizations.iter().map(organization_document).collect();
    Ok(data(Value::Array(organizations)))
}

pub async fn create_organization(
    State(state): State<AppState>,
    caller: PolyCaller,
    PolyJson(body): PolyJson<OrganizationBody>,
) -> Result<Response, PolyError> {
    let sso = body.sso()?;
    let mut new = standard_organization(body.name)?;
    new.sso = sso;
    let written = state.app.create_organization(&caller.0, new).await?;
    Ok(data_at(
        written.revision,
        organization_document(&written.value),
    ))
}

pub async fn get_organization(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(org): Path<String>,
) -> Result<Response, PolyError> {
    let id: OrganizationId = path_id("organization", &org)?;
    Ok(data(organization_document(
        &state.app.read_organization(&caller.0, id).await?,
    )))
}

pub async fn update_organization(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(org): Path<String>,
    PolyJson(body): PolyJson<OrganizationBody>,
) -> Result<Response, PolyError> {
    let id: OrganizationId = path_id("organization", &org)?;
    let sso = body.sso()?;
    let patch = OrganizationPatch {
        name: Some(body.name),
        actions: None,
        sso: Some(sso),
    };
    let written = state.app.update_organization(&caller.0, id, patch).await?;
    Ok(data_at(
        written.revision,
        organization_document(&written.value),
    ))
}

pub async fn delete_organization(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(org): Path<String>,
) -> Result<Response, PolyError> {
    let id: OrganizationId = path_id("organization", &org)?;
    let revision = state.app.delete_organization(&caller.0, id).await?;
    Ok(data_at(revision, json!({"id": org})))
}
