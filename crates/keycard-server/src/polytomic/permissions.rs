//! `/api/permissions/roles` and `/api/permissions/policies`.

use axum::extract::{Path, State};
use axum::response::Response;
use keycard_core::Error;
use keycard_core::ids::{OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    self, NewPolicy, NewRole, Policy, PolicyAction, PolicyPatch, Role, RolePatch,
};
use keycard_core::names::{ActionName, PolicyName, Provenance, RoleName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PolyCaller, PolyError, PolyJson, data};
use crate::state::{AppState, org_of};

fn role_document(role: &Role) -> Value {
    json!({"id": role.id, "name": role.name, "organization_id": role.organization_id, "system": role.system})
}

/// A policy with the organization's complete action list: actions it does not bind come back with
/// empty `role_ids`, in the organization's order, followed by any other actions it binds.
fn policy_document(policy: &Policy, org_actions: &[ActionName]) -> Value {
    let mut actions: Vec<Value> = org_actions
        .iter()
        .map(|name| {
            let roles = policy
                .actions
                .iter()
                .find(|a| &a.action == name)
                .map(|a| a.role_ids.clone())
                .unwrap_or_default();
            json!({"action": name, "role_ids": roles})
        })
        .collect();
    for extra in policy
        .actions
        .iter()
        .filter(|a| !org_actions.contains(&a.action))
    {
        actions.push(json!({"action": extra.action, "role_ids": extra.role_ids}));
    }
    json!({"id": policy.id, "name": policy.name, "organization_id": policy.organization_id, "policy_actions": actions, "system": policy.system})
}

fn path_id<T: std::str::FromStr>(what: &'static str, raw: &str) -> Result<T, PolyError> {
    raw.parse().map_err(|_| Error::not_found(what, raw).into())
}

fn org_actions(state: &AppState, org: OrganizationId) -> Result<Vec<ActionName>, PolyError> {
    let snapshot = state.snapshot.current();
    Ok(org_of(&snapshot, org)?.organization.actions.clone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: RoleName,
    #[serde(default)]
    organization_id: Option<OrganizationId>,
}

pub async fn list_roles(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let snapshot = state.snapshot.current();
    let org = org_of(&snapshot, caller.0.organization)?;
    let mut roles: Vec<&Role> = org.roles().collect();
    roles.sort_by_key(|role| role.id);
    Ok(data(Value::Array(
        roles.into_iter().map(role_document).collect(),
    )))
}

pub async fn create_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    PolyJson(body): PolyJson<RoleBody>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let org = caller.target_organization(&state, body.organization_id)?;
    let new = NewRole {
        name: body.name,
        description: String::new(),
        provenance: Provenance::try_from(model::CUSTOM_PROVENANCE)?,
        system: false,
        inactive: false,
        methods: Vec::new(),
        views: Vec::new(),
    };
    let written = state.store.create_role(&caller.0.actor(), org, new).await?;
    state.visible(written.revision).await?;
    Ok(data(role_document(&written.value)))
}

pub async fn get_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let role = state
        .store
        .get_role(caller.0.organization, path_id::<RoleId>("role", &id)?)
        .await?;
    Ok(data(role_document(&role)))
}

/// A full replacement: a role here has only its name.
pub async fn update_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    PolyJson(body): PolyJson<RoleBody>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let org = caller.target_organization(&state, body.organization_id)?;
    let patch = RolePatch {
        name: Some(body.name),
        ..RolePatch::default()
    };
    let written = state
        .store
        .update_role(&caller.0.actor(), org, path_id("role", &id)?, patch)
        .await?;
    state.visible(written.revision).await?;
    Ok(data(role_document(&written.value)))
}

/// Deleting a role leaves its id in policies, where it grants nothing.
pub async fn delete_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let revision = state
        .store
        .delete_role(
            &caller.0.actor(),
            caller.0.organization,
            path_id("role", &id)?,
        )
        .await?;
    state.visible(revision).await?;
    Ok(data(json!({"id": id})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    name: PolicyName,
    #[serde(default)]
    policy_actions: Option<Vec<PolicyAction>>,
    #[serde(default)]
    organization_id: Option<OrganizationId>,
}

/// Every action must be one the organization's policies offer.
fn checked_actions(
    actions: Option<Vec<PolicyAction>>,
    org_actions: &[ActionName],
) -> Result<Vec<PolicyAction>, PolyError> {
    let actions = actions.unwrap_or_default();
    if let Some(unknown) = actions.iter().find(|a| !org_actions.contains(&a.action)) {
        let known: Vec<&str> = org_actions.iter().map(ActionName::as_str).collect();
        return Err(Error::invalid(
            "policy_actions",
            format!(
                "`{}` is not one of this organization's actions: {}",
                unknown.action,
                known.join(", ")
            ),
        )
        .into());
    }
    Ok(actions)
}

pub async fn list_policies(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let org_id = caller.0.organization;
    let actions = org_actions(&state, org_id)?;
    let store = state.store.clone();
    let policies = keycard_core::page::read_all(|page| {
        let store = store.clone();
        async move { store.list_policies(org_id, &page).await }
    })
    .await?;
    let policies = policies
        .iter()
        .map(|policy| policy_document(policy, &actions))
        .collect();
    Ok(data(Value::Array(policies)))
}

pub async fn create_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    PolyJson(body): PolyJson<PolicyBody>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let org = caller.target_organization(&state, body.organization_id)?;
    let offered = org_actions(&state, org)?;
    let new = NewPolicy {
        name: body.name,
        system: false,
        actions: checked_actions(body.policy_actions, &offered)?,
        resources: Vec::new(),
    };
    let written = state
        .store
        .create_policy(&caller.0.actor(), org, new)
        .await?;
    state.visible(written.revision).await?;
    Ok(data(policy_document(&written.value, &offered)))
}

pub async fn get_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let policy = state
        .store
        .get_policy(caller.0.organization, path_id::<PolicyId>("policy", &id)?)
        .await?;
    Ok(data(policy_document(
        &policy,
        &org_actions(&state, policy.organization_id)?,
    )))
}

/// A full replacement of the name and the action bindings (attachments stay as they are).
pub async fn update_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    PolyJson(body): PolyJson<PolicyBody>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let org = caller.target_organization(&state, body.organization_id)?;
    let offered = org_actions(&state, org)?;
    let patch = PolicyPatch {
        name: Some(body.name),
        actions: Some(checked_actions(body.policy_actions, &offered)?),
        resources: None,
    };
    let written = state
        .store
        .update_policy(&caller.0.actor(), org, path_id("policy", &id)?, patch)
        .await?;
    state.visible(written.revision).await?;
    Ok(data(policy_document(&written.value, &offered)))
}

/// Deleting a policy revokes what it granted at once.
pub async fn delete_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    caller.require_admin()?;
    let revision = state
        .store
        .delete_policy(
            &caller.0.actor(),
            caller.0.organization,
            path_id("policy", &id)?,
        )
        .await?;
    state.visible(revision).await?;
    Ok(data(json!({"id": id})))
}
