//! `/authorization/roles`: only `Custom` roles may be changed here.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use keycard_core::ids::RoleId;
use keycard_core::model::{self, MethodRef, NewRole, RolePatch, ViewRef};
use keycard_core::names::{Description, Provenance, RoleName};
use serde::Deserialize;
use serde_json::Value;

use super::{Updates, id_of, listed, unwrap_updates};
use crate::app::{Caller, Operation};
use crate::iap::query::ListSpec;
use crate::iap::{IapCaller, IapError, IapJson, documents, ok_message_at, ok_with_data};
use crate::state::AppState;

const ROLE_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "description", "inactive"],
    default_field: "name",
    extras: &[],
};

#[derive(Debug, Deserialize)]
pub(super) struct RoleBody {
    role: RoleFields,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RoleFields {
    name: RoleName,
    #[serde(default)]
    provenance: Option<String>,
    #[serde(default)]
    description: Option<Description>,
    #[serde(default)]
    allowed_methods: Vec<MethodRef>,
    #[serde(default)]
    allowed_views: Vec<ViewRef>,
    #[serde(default, rename = "_id")]
    _id: Option<Value>,
    #[serde(default, rename = "_meta")]
    _meta: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RoleUpdates {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    provenance: Option<String>,
    #[serde(default)]
    description: Option<Description>,
    #[serde(default)]
    allowed_methods: Option<Vec<MethodRef>>,
    #[serde(default)]
    allowed_views: Option<Vec<ViewRef>>,
    #[serde(default, rename = "_id")]
    _id: Option<Value>,
    #[serde(default, rename = "_meta")]
    _meta: Option<Value>,
}

pub(super) async fn list_roles(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    listed(
        &state,
        &caller.caller,
        Operation::ListRoles,
        &ROLE_LIST,
        raw.as_deref(),
        |org| org.roles().map(documents::role).collect(),
    )
}

pub(super) async fn get_role(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let role = state
        .app
        .read_role(&caller.caller, id_of("role", &id)?)
        .await?;
    Ok(axum::Json(documents::role(&role)).into_response())
}

pub(super) async fn create_role(
    State(state): State<AppState>,
    caller: IapCaller,
    IapJson(body): IapJson<RoleBody>,
) -> Result<Response, IapError> {
    let fields = body.role;
    if let Some(provenance) = fields
        .provenance
        .as_deref()
        .filter(|p| *p != model::CUSTOM_PROVENANCE)
    {
        return Err(Error::invalid(
            "provenance",
            format!("roles made through this API are `Custom`, not `{provenance}`"),
        )
        .into());
    }
    let new = NewRole {
        name: fields.name,
        description: fields.description.unwrap_or_default(),
        provenance: Provenance::custom(),
        system: false,
        inactive: false,
        methods: fields.allowed_methods,
        views: fields.allowed_views,
    };
    let written = state.app.create_role(&caller.caller, new).await?;
    Ok(ok_with_data(
        written.revision,
        "role created",
        documents::role(&written.value),
    ))
}

/// Only `Custom` roles may be changed here: the rest are built in.
pub(super) async fn editable_role(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    id: RoleId,
) -> Result<model::Role, IapError> {
    state.app.authorize(caller, operation)?;
    let role = state.app.read_role(caller, id).await?;
    if role.provenance.as_str() != model::CUSTOM_PROVENANCE || role.system {
        return Err(Error::BuiltIn {
            what: "role",
            name: role.name.to_string(),
        }
        .into());
    }
    Ok(role)
}

pub(super) async fn update_role(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    IapJson(body): IapJson<Updates<RoleUpdates>>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let updates = unwrap_updates(body)?;
    let role = editable_role(&state, &caller, Operation::UpdateRole, id_of("role", &id)?).await?;
    if updates
        .name
        .as_deref()
        .is_some_and(|name| name != role.name.as_str())
    {
        return Err(Error::invalid("name", "a role's name cannot be changed").into());
    }
    if updates
        .provenance
        .as_deref()
        .is_some_and(|provenance| provenance != role.provenance.as_str())
    {
        return Err(Error::invalid("provenance", "a role's provenance cannot be changed").into());
    }
    let patch = RolePatch {
        name: None,
        description: updates.description,
        inactive: None,
        methods: updates.allowed_methods,
        views: updates.allowed_views,
    };
    let written = state.app.update_role(&caller, role.id, patch).await?;
    Ok(ok_with_data(
        written.revision,
        "role updated",
        documents::role(&written.value),
    ))
}

pub(super) async fn delete_role(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let role = editable_role(&state, &caller, Operation::DeleteRole, id_of("role", &id)?).await?;
    let revision = state.app.delete_role(&caller, role.id).await?;
    Ok(ok_message_at(revision, "role deleted"))
}
