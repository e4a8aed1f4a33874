//! `/api/permissions/roles` and `/api/permissions/policies`.

use axum::extract::{Path, State};
use axum::response::Response;
use keycard_core::Error;
use keycard_core::ids::{OrganizationId, PolicyId, RoleId};
use keycard_core::model::{NewPolicy, NewRole, Policy, PolicyAction, PolicyPatch, Role, RolePatch};
use keycard_core::names::{ActionName, PolicyName, RoleName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PolyCaller, PolyError, PolyJson, data, data_at, path_id};
use crate::app::{Caller, Operation};
use crate::state::{AppState, org_of};

fn role_document(role: &Role) -> Value {
    json!({"id": role.id, "name": role.name, "organization_id": role.organization_id, "system": role.system})
}

/// A policy with the organization's complete action list: actions it does not bind come back with
/// empty `role_ids`, in the organization's order, followed by any other actions it binds. Only
/// unconditional grants show: this API has no conditions, and an update through it keeps them.
fn policy_document(policy: &Policy, org_actions: &[ActionName]) -> Value {
    let unconditional = || policy.actions.iter().filter(|a| a.condition.is_none());
    let mut actions: Vec<Value> = org_actions
        .iter()
        .map(|name| {
            let roles = unconditional()
                .find(|a| &a.action == name)
                .map(|a| a.role_ids.clone())
                .unwrap_or_default();
            json!({"action": name, "role_ids": roles})
        })
        .collect();
    for extra in unconditional().filter(|a| !org_actions.contains(&a.action)) {
        actions.push(json!({"action": extra.action, "role_ids": extra.role_ids}));
    }
    json!({"id": policy.id, "name": policy.name, "organization_id": policy.organization_id, "policy_actions": actions, "system": policy.system})
}

/// The actions the caller's organization offers, in its order.
fn org_actions(state: &AppState, caller: &Caller) -> Result<Vec<ActionName>, PolyError> {
    Ok(state.app.acting_organization(caller)?.actions.clone())
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
    let snapshot = state.app.read_snapshot(&caller.0, Operation::ListRoles)?;
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
    let caller = caller.in_organization(body.organization_id)?;
    let new = NewRole::custom(body.name);
    let written = state.app.create_role(&caller, new).await?;
    Ok(data_at(written.revision, role_document(&written.value)))
}

pub async fn get_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    let role = state
        .app
        .read_role(&caller.0, path_id::<RoleId>("role", &id)?)
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
    let caller = caller.in_organization(body.organization_id)?;
    let patch = RolePatch {
        name: Some(body.name),
        ..RolePatch::default()
    };
    let written = state
        .app
        .update_role(&caller, path_id("role", &id)?, patch)
        .await?;
    Ok(data_at(written.revision, role_document(&written.value)))
}

/// Deleting a role leaves its id in policies, where it grants nothing.
pub async fn delete_role(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    let revision = state
        .app
        .delete_role(&caller.0, path_id("role", &id)?)
        .await?;
    Ok(data_at(revision, json!({"id": id})))
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
    if actions.iter().any(|a| a.condition.is_some()) {
        return Err(Error::invalid(
            "policy_actions",
            "conditions are set through the native API (/v1/policies)",
        )
        .into());
    }
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
    let policies = state.app.all_policies(&caller.0).await?;
    let actions = org_actions(&state, &caller.0)?;
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
    let caller = caller.in_organization(body.organization_id)?;
    let offered = org_actions(&state, &caller)?;
    let new = NewPolicy {
        name: body.name,
        system: false,
        actions: checked_actions(body.policy_actions, &offered)?,
        resources: Vec::new(),
    };
    let written = state.app.create_policy(&caller, new).await?;
    Ok(data_at(
        written.revision,
        policy_document(&written.value, &offered),
    ))
}

pub async fn get_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    let policy = state
        .app
        .read_policy(&caller.0, path_id::<PolicyId>("policy", &id)?)
        .await?;
    Ok(data(policy_document(
        &policy,
        &org_actions(&state, &caller.0)?,
    )))
}

/// A full replacement of the name and the action bindings (attachments stay as they are).
pub async fn update_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    PolyJson(body): PolyJson<PolicyBody>,
) -> Result<Response, PolyError> {
    let caller = caller.in_organization(body.organization_id)?;
    let offered = org_actions(&state, &caller)?;
    let patch = PolicyPatch {
        name: Some(body.name),
        actions: Some(checked_actions(body.policy_actions, &offered)?),
        resources: None,
        keep_conditional_actions: true,
    };
    let written = state
        .app
        .update_policy(&caller, path_id("policy", &id)?, patch)
        .await?;
    Ok(data_at(
        written.revision,
        policy_document(&written.value, &offered),
    ))
}

/// Deleting a policy revokes what it granted at once.
pub async fn delete_policy(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    let revision = state
        .app
        .delete_policy(&caller.0, path_id("policy", &id)?)
        .await?;
    Ok(data_at(revision, json!({"id": id})))
}
