//! IAP documents rendered from the core's entities: `_id`, camelCase fields and `_meta`.

use chrono::{DateTime, SecondsFormat, Utc};
use keycard_core::model::{Account, Group, Method, Role, View};
use serde_json::{Value, json};

fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn meta(created: &DateTime<Utc>, updated: &DateTime<Utc>) -> Value {
    json!({"created": timestamp(created), "updated": timestamp(updated)})
}

pub fn role(role: &Role) -> Value {
    json!({
        "_id": role.id,
        "provenance": role.provenance,
        "name": role.name,
        "description": role.description,
        "allowedMethods": role.methods.iter().map(|m| json!({"name": m.name, "provenance": m.provenance})).collect::<Vec<_>>(),
        "allowedViews": role.views.iter().map(|v| json!({"path": v.path, "provenance": v.provenance})).collect::<Vec<_>>(),
        "inactive": role.inactive,
        "_meta": meta(&role.created_at, &role.updated_at),
    })
}

fn member_of(groups: &[keycard_core::ids::GroupId]) -> Vec<Value> {
    groups
        .iter()
        .map(|id| json!({"groupId": id, "aaaManaged": false}))
        .collect()
}

fn assigned_roles(roles: &[keycard_core::ids::RoleId]) -> Vec<Value> {
    roles.iter().map(|id| json!({"roleId": id})).collect()
}

pub fn group(group: &Group) -> Value {
    json!({
        "_id": group.id,
        "provenance": group.provenance,
        "name": group.name,
        "description": group.description,
        "memberOf": member_of(&group.parents),
        "assignedRoles": assigned_roles(&group.roles),
        "inactive": group.inactive,
        "_meta": meta(&group.created_at, &group.updated_at),
    })
}

/// The short form served by `/authorization/groups/list`.
pub fn group_summary(group: &Group) -> Value {
    json!({
        "_id": group.id,
        "name": group.name,
        "provenance": group.provenance,
        "description": group.description,
        "inactive": group.inactive,
    })
}

pub fn account(account: &Account, logged_in: bool) -> Value {
    json!({
        "_id": account.id,
        "provenance": account.provenance,
        "username": account.username,
        "firstname": account.first_name,
        "email": account.email,
        "memberOf": member_of(&account.groups),
        "assignedRoles": assigned_roles(&account.roles),
        "inactive": account.inactive,
        "isServiceAccount": account.service_account,
        "loggedIn": logged_in,
        "gitTokens": {},
        "_meta": meta(&account.created_at, &account.updated_at),
    })
}

pub fn method(method: &Method) -> Value {
    let route = method
        .route
        .as_ref()
        .map(|route| json!({"verb": route.verb, "path": route.path, "fullPath": route.path}));
    json!({"name": method.name, "provenance": method.provenance, "deprecated": method.deprecated, "route": route})
}

pub fn view(view: &View) -> Value {
    json!({"provenance": view.provenance, "path": view.path})
}
