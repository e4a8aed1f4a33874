//! `/authorization/groups`, and the short list of group names.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use keycard_core::model::{self, GroupPatch, NewGroup};
use keycard_core::names::{Description, GroupName, Provenance};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GroupLink, RoleLink, Updates, group_ids, id_of, role_ids, unwrap_updates};
use crate::app::Operation;
use crate::iap::query::{ListSpec, boolean};
use crate::iap::{IapCaller, IapError, IapJson, documents, ok_message_at, ok_with_data};
use crate::state::{AppState, org_of};

const GROUP_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "description", "inactive"],
    default_field: "name",
    extras: &["refresh"],
};

#[derive(Debug, Deserialize)]
pub(super) struct GroupBody {
    group: GroupFields,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GroupFields {
    name: GroupName,
    #[serde(default)]
    provenance: Option<Provenance>,
    #[serde(default)]
    description: Option<Description>,
    #[serde(default)]
    member_of: Vec<GroupLink>,
    #[serde(default)]
    assigned_roles: Vec<RoleLink>,
    #[serde(default)]
    inactive: bool,
    #[serde(default, rename = "_id")]
    _id: Option<Value>,
    #[serde(default, rename = "_meta")]
    _meta: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GroupUpdates {
    #[serde(default)]
    name: Option<GroupName>,
    #[serde(default)]
    description: Option<Description>,
    #[serde(default)]
    member_of: Option<Vec<GroupLink>>,
    #[serde(default)]
    assigned_roles: Option<Vec<RoleLink>>,
    #[serde(default)]
    inactive: Option<bool>,
    #[serde(default, rename = "provenance")]
    _provenance: Option<Value>,
    #[serde(default, rename = "_id")]
    _id: Option<Value>,
    #[serde(default, rename = "_meta")]
    _meta: Option<Value>,
}

pub(super) async fn list_groups(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    group_list(
        &state,
        &caller,
        Operation::ListGroups,
        raw.as_deref(),
        documents::group,
    )
}

pub(super) async fn list_group_summaries(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    group_list(
        &state,
        &caller,
        Operation::ListGroupNames,
        raw.as_deref(),
        documents::group_summary,
    )
}

fn group_list(
    state: &AppState,
    caller: &IapCaller,
    operation: Operation,
    raw: Option<&str>,
    render: fn(&model::Group) -> Value,
) -> Result<Response, IapError> {
    let snapshot = state.app.read_snapshot(&caller.caller, operation)?;
    let query = GROUP_LIST.parse(raw)?;
    if let Some(refresh) = query.extra("refresh") {
        // Groups live here, not in an external AAA service: there is nothing to refresh from.
        boolean("refresh", refresh)?;
    }
    let org = org_of(&snapshot, caller.caller.organization)?;
    let (results, total) = query.apply(org.groups().map(render).collect());
    Ok(axum::Json(json!({"results": results, "total": total})).into_response())
}

pub(super) async fn get_group(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let group = state
        .app
        .read_group(&caller.caller, id_of("group", &id)?)
        .await?;
    Ok(axum::Json(documents::group(&group)).into_response())
}

pub(super) async fn create_group(
    State(state): State<AppState>,
    caller: IapCaller,
    IapJson(body): IapJson<GroupBody>,
) -> Result<Response, IapError> {
    let fields = body.group;
    let new = NewGroup {
        name: fields.name,
        description: fields.description.unwrap_or_default(),
        provenance: fields.provenance.unwrap_or_else(Provenance::local),
        inactive: fields.inactive,
        roles: role_ids(fields.assigned_roles)?,
        parents: group_ids(fields.member_of)?,
    };
    let written = state.app.create_group(&caller.caller, new).await?;
    Ok(ok_with_data(
        written.revision,
        "group created",
        documents::group(&written.value),
    ))
}

pub(super) async fn update_group(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    IapJson(body): IapJson<Updates<GroupUpdates>>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let updates = unwrap_updates(body)?;
    let patch = GroupPatch {
        name: updates.name,
        description: updates.description,
        inactive: updates.inactive,
        roles: updates.assigned_roles.map(role_ids).transpose()?,
        parents: updates.member_of.map(group_ids).transpose()?,
    };
    let written = state
        .app
        .update_group(&caller, id_of("group", &id)?, patch)
        .await?;
    Ok(ok_with_data(
        written.revision,
        "group updated",
        documents::group(&written.value),
    ))
}

pub(super) async fn delete_group(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let revision = state
        .app
        .delete_group(&caller.caller, id_of("group", &id)?)
        .await?;
    Ok(ok_message_at(revision, "group deleted"))
}
