//! `/authorization/...`: roles, groups, accounts, methods, views and the CSV export, one module per
//! resource, and what they share: list answers, ids from paths, membership links and the
//! `{"updates": ...}` wrapper of every PATCH.
//!
//! Lists are rendered from the decision snapshot (which every write on this node waits for), then
//! filtered, sorted and paged; single documents and writes go through the application layer.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keycard_core::Error;
use keycard_core::ids::{GroupId, RoleId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::IapError;
use super::query::ListSpec;
use crate::error::Code;
use keycard_core::snapshot::OrgSnapshot;

use crate::app::{Caller, Operation};
use crate::state::{AppState, org_of};

mod accounts;
mod catalogue;
mod export;
mod groups;
mod roles;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/roles",
            get(roles::list_roles).post(roles::create_role),
        )
        .route(
            "/authorization/roles/{id}",
            get(roles::get_role)
                .patch(roles::update_role)
                .delete(roles::delete_role),
        )
        .route(
            "/authorization/groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route(
            "/authorization/groups/list",
            get(groups::list_group_summaries),
        )
        .route(
            "/authorization/groups/{id}",
            get(groups::get_group)
                .patch(groups::update_group)
                .delete(groups::delete_group),
        )
        .route("/authorization/accounts", get(accounts::list_accounts))
        .route(
            "/authorization/accounts/{id}",
            get(accounts::get_account).patch(accounts::update_account),
        )
        .route(
            "/authorization/accounts/{id}/forceLogout",
            post(accounts::force_logout),
        )
        .route("/authorization/methods", get(catalogue::list_methods))
        .route("/authorization/views", get(catalogue::list_views))
        .route("/authorization/csv/export", get(export::export_csv))
}

/// A list answered whole from the snapshot, once the caller may perform `operation`: the
/// organization's documents, filtered, sorted and paged as the query asks.
pub(super) fn listed(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    spec: &ListSpec,
    raw: Option<&str>,
    documents: impl FnOnce(&OrgSnapshot) -> Vec<Value>,
) -> Result<Response, IapError> {
    let snapshot = state.app.read_snapshot(caller, operation)?;
    let org = org_of(&snapshot, caller.organization)?;
    let query = spec.parse(raw)?;
    let (results, total) = query.apply(documents(org));
    Ok(axum::Json(json!({"results": results, "total": total})).into_response())
}

/// An id from a path or body; a malformed one names nothing, so it is not found.
pub(super) fn id_of<T: std::str::FromStr>(what: &'static str, raw: &str) -> Result<T, IapError> {
    raw.parse().map_err(|_| Error::not_found(what, raw).into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct GroupLink {
    group_id: String,
    /// Accepted and ignored: groups here are not managed by an external AAA service.
    #[serde(default, rename = "aaaManaged")]
    _aaa_managed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RoleLink {
    role_id: String,
}

pub(super) fn group_ids(links: Vec<GroupLink>) -> Result<Vec<GroupId>, IapError> {
    links
        .into_iter()
        .map(|link| id_of("group", &link.group_id))
        .collect()
}

pub(super) fn role_ids(links: Vec<RoleLink>) -> Result<Vec<RoleId>, IapError> {
    links
        .into_iter()
        .map(|link| id_of("role", &link.role_id))
        .collect()
}

/// `{"updates": {...}}`: every PATCH body is wrapped.
#[derive(Debug, Deserialize)]
pub(super) struct Updates<T> {
    updates: Option<T>,
}

pub(super) fn unwrap_updates<T>(body: Updates<T>) -> Result<T, IapError> {
    body.updates.ok_or_else(|| {
        IapError::new(
            Code::InvalidBody,
            "No applicable updates requested: send {\"updates\": {...}}",
        )
    })
}
