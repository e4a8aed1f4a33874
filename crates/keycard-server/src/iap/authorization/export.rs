//! `/authorization/csv/export`: accounts, groups and roles as one CSV.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::ids::{GroupId, RoleId};

use crate::app::Operation;
use crate::iap::{IapCaller, IapError};
use crate::state::{AppState, org_of};

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
pub(super) async fn export_csv(
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
