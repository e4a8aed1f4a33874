//! `/authorization/...`: roles, groups, accounts, methods, views and the CSV export.
//!
//! Lists are rendered from the decision snapshot (which every write on this node waits for), then
//! filtered, sorted and paged; single documents and writes go through the store.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keycard_core::Error;
use keycard_core::ids::{AccountId, GroupId, RoleId};
use keycard_core::model::{
    self, AccountPatch, GroupPatch, MethodRef, NewGroup, NewRole, RolePatch, ViewRef,
};
use keycard_core::names::{Description, Email, GroupName, Provenance, RoleName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::query::{ListSpec, boolean};
use super::{IapCaller, IapError, IapJson, documents, ok_message_at, ok_with_data};
use crate::app::{Caller, Operation};
use crate::error::Code;
use crate::state::{AppState, org_of};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorization/roles", get(list_roles).post(create_role))
        .route(
            "/authorization/roles/{id}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .route("/authorization/groups", get(list_groups).post(create_group))
        .route("/authorization/groups/list", get(list_group_summaries))
        .route(
            "/authorization/groups/{id}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route("/authorization/accounts", get(list_accounts))
        .route(
            "/authorization/accounts/{id}",
            get(get_account).patch(update_account),
        )
        .route(
            "/authorization/accounts/{id}/forceLogout",
            post(force_logout),
        )
        .route("/authorization/methods", get(list_methods))
        .route("/authorization/views", get(list_views))
        .route("/authorization/csv/export", get(export_csv))
}

const ROLE_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "description", "inactive"],
    default_field: "name",
    extras: &[],
};
const GROUP_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "description", "inactive"],
    default_field: "name",
    extras: &["refresh"],
};
const ACCOUNT_LIST: ListSpec = ListSpec {
    fields: &[
        "username",
        "firstname",
        "email",
        "provenance",
        "inactive",
        "isServiceAccount",
        "loggedIn",
    ],
    default_field: "username",
    extras: &["isServiceAccount", "groupId"],
};
const METHOD_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "deprecated"],
    default_field: "name",
    extras: &[],
};
const VIEW_LIST: ListSpec = ListSpec {
    fields: &["path", "provenance"],
    default_field: "path",
    extras: &[],
};

fn listed(spec: &ListSpec, raw: Option<&str>, documents: Vec<Value>) -> Result<Response, IapError> {
    let query = spec.parse(raw)?;
    let (results, total) = query.apply(documents);
    Ok(axum::Json(json!({"results": results, "total": total})).into_response())
}

/// An id from a path or body; a malformed one names nothing, so it is not found.
fn id_of<T: std::str::FromStr>(what: &'static str, raw: &str) -> Result<T, IapError> {
    raw.parse().map_err(|_| Error::not_found(what, raw).into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupLink {
    group_id: String,
    /// Accepted and ignored: groups here are not managed by an external AAA service.
    #[serde(default, rename = "aaaManaged")]
    _aaa_managed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RoleLink {
    role_id: String,
}

fn group_ids(links: Vec<GroupLink>) -> Result<Vec<GroupId>, IapError> {
    links
        .into_iter()
        .map(|link| id_of("group", &link.group_id))
        .collect()
}

fn role_ids(links: Vec<RoleLink>) -> Result<Vec<RoleId>, IapError> {
    links
        .into_iter()
        .map(|link| id_of("role", &link.role_id))
        .collect()
}

/// `{"updates": {...}}`: every PATCH body is wrapped.
#[derive(Debug, Deserialize)]
struct Updates<T> {
    updates: Option<T>,
}

fn unwrap_updates<T>(body: Updates<T>) -> Result<T, IapError> {
    body.updates.ok_or_else(|| {
        IapError::new(
            Code::InvalidBody,
            "No applicable updates requested: send {\"updates\": {...}}",
        )
    })
}

// ---- roles

#[derive(Debug, Deserialize)]
struct RoleBody {
    role: RoleFields,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RoleFields {
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
struct RoleUpdates {
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

async fn list_roles(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListRoles)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    listed(
        &ROLE_LIST,
        raw.as_deref(),
        org.roles().map(documents::role).collect(),
    )
}

async fn get_role(
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

async fn create_role(
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
async fn editable_role(
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

async fn update_role(
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

async fn delete_role(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let role = editable_role(&state, &caller, Operation::DeleteRole, id_of("role", &id)?).await?;
    let revision = state.app.delete_role(&caller, role.id).await?;
    Ok(ok_message_at(revision, "role deleted"))
}

// ---- groups

#[derive(Debug, Deserialize)]
struct GroupBody {
    group: GroupFields,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupFields {
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
struct GroupUpdates {
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

async fn list_groups(
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

async fn list_group_summaries(
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

async fn get_group(
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

async fn create_group(
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

async fn update_group(
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

async fn delete_group(
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

// ---- accounts

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountUpdates {
    #[serde(default)]
    member_of: Option<Vec<GroupLink>>,
    #[serde(default)]
    assigned_roles: Option<Vec<RoleLink>>,
    #[serde(default)]
    inactive: Option<bool>,
    #[serde(default)]
    email: Option<Email>,
}

async fn list_accounts(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    let query = ACCOUNT_LIST.parse(raw.as_deref())?;
    let service = query
        .extra("isServiceAccount")
        .map(|value| boolean("isServiceAccount", value))
        .transpose()?;
    let in_group: Option<GroupId> = query
        .extra("groupId")
        .map(|value| id_of("group", value))
        .transpose()?;
    let logged_in = state.app.logged_in(&caller.caller).await?;
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListAccounts)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    let documents = org
        .accounts()
        .filter(|account| service.is_none_or(|flag| account.service_account == flag))
        .filter(|account| in_group.is_none_or(|group| account.groups.contains(&group)))
        .map(|account| documents::account(account, logged_in.contains(&account.id)))
        .collect();
    let (results, total) = query.apply(documents);
    Ok(axum::Json(json!({"results": results, "total": total})).into_response())
}

async fn get_account(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let account = state
        .app
        .read_account(&caller.caller, id_of("account", &id)?)
        .await?;
    let logged_in = state.app.is_logged_in(&caller.caller, account.id).await?;
    Ok(axum::Json(documents::account(&account, logged_in)).into_response())
}

/// Accepts `{"updates": {...}}` and, as some clients send it, a bare `{"inactive": bool}`.
async fn update_account(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
    IapJson(body): IapJson<Value>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let updates_value = match body {
        Value::Object(mut object) if object.contains_key("updates") && object.len() == 1 => {
            object.remove("updates").unwrap_or_default()
        }
        Value::Object(object)
            if object.len() == 1 && object.get("inactive").is_some_and(Value::is_boolean) =>
        {
            Value::Object(object)
        }
        _ => {
            return Err(IapError::new(
                Code::InvalidBody,
                "No applicable updates requested: send {\"updates\": {...}}",
            ));
        }
    };
    let updates: AccountUpdates = serde_json::from_value(updates_value)
        .map_err(|err| IapError::new(Code::InvalidBody, err.to_string()))?;
    let patch = AccountPatch {
        email: updates.email.map(Some),
        first_name: None,
        inactive: updates.inactive,
        roles: updates.assigned_roles.map(role_ids).transpose()?,
        groups: updates.member_of.map(group_ids).transpose()?,
    };
    let account_id: AccountId = id_of("account", &id)?;
    let written = state.app.update_account(&caller, account_id, patch).await?;
    let logged_in = state.app.is_logged_in(&caller, account_id).await?;
    Ok(ok_with_data(
        written.revision,
        "account updated",
        documents::account(&written.value, logged_in),
    ))
}

/// Ends every session and token of the account at once.
async fn force_logout(
    State(state): State<AppState>,
    caller: IapCaller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, IapError> {
    let ended = state
        .app
        .end_sessions(&caller.caller, id_of("account", &id)?)
        .await?;
    let (account, revoked) = ended.value;
    Ok(ok_message_at(
        ended.revision,
        &format!(
            "logged out `{}` ({revoked} sessions ended)",
            account.username
        ),
    ))
}

// ---- catalogue

async fn list_methods(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListMethods)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    listed(
        &METHOD_LIST,
        raw.as_deref(),
        org.methods().map(documents::method).collect(),
    )
}

async fn list_views(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListViews)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    listed(
        &VIEW_LIST,
        raw.as_deref(),
        org.views().map(documents::view).collect(),
    )
}

// ---- CSV export

/// Column layout of `/authorization/csv/export` (documented in docs/iap.md).
pub const CSV_COLUMNS: &[&str] = &[
    "type",
    "_id",
    "name",
    "provenance",
    "description",
    "inactive",
    "email",
    "memberOf",
    "assignedRoles",
    "allowedMethods",
    "allowedViews",
];

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv_row(fields: &[String]) -> String {
    let mut row = fields
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

/// One CSV of accounts, groups and roles; memberships and assignments are `;`-separated names.
async fn export_csv(
    State(state): State<AppState>,
    caller: IapCaller,
) -> Result<Response, IapError> {
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ExportDirectory)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    let group_names = |ids: &[GroupId]| {
        ids.iter()
            .filter_map(|id| org.group(*id))
            .map(|g| g.name.to_string())
            .collect::<Vec<_>>()
            .join(";")
    };
    let role_names = |ids: &[RoleId]| {
        ids.iter()
            .filter_map(|id| org.role(*id))
            .map(|r| r.name.to_string())
            .collect::<Vec<_>>()
            .join(";")
    };
    let mut out = csv_row(
        &CSV_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>(),
    );
    let mut accounts: Vec<_> = org.accounts().collect();
    accounts.sort_by_key(|a| a.id);
    for account in accounts {
        out.push_str(&csv_row(&[
            "account".into(),
            account.id.to_string(),
            account.username.to_string(),
            account.provenance.to_string(),
            String::new(),
            account.inactive.to_string(),
            account
                .email
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            group_names(&account.groups),
            role_names(&account.roles),
            String::new(),
            String::new(),
        ]));
    }
    let mut groups: Vec<_> = org.groups().collect();
    groups.sort_by_key(|g| g.id);
    for group in groups {
        out.push_str(&csv_row(&[
            "group".into(),
            group.id.to_string(),
            group.name.to_string(),
            group.provenance.to_string(),
            group.description.to_string(),
            group.inactive.to_string(),
            String::new(),
            group_names(&group.parents),
            role_names(&group.roles),
            String::new(),
            String::new(),
        ]));
    }
    let mut roles: Vec<_> = org.roles().collect();
    roles.sort_by_key(|r| r.id);
    for role in roles {
        out.push_str(&csv_row(&[
            "role".into(),
            role.id.to_string(),
            role.name.to_string(),
            role.provenance.to_string(),
            role.description.to_string(),
            role.inactive.to_string(),
            String::new(),
            String::new(),
            String::new(),
            role.methods
                .iter()
                .map(|m| format!("{}:{}", m.provenance, m.name))
                .collect::<Vec<_>>()
                .join(";"),
            role.views
                .iter()
                .map(|v| format!("{}:{}", v.provenance, v.path))
                .collect::<Vec<_>>()
                .join(";"),
        ]));
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"authorization.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
