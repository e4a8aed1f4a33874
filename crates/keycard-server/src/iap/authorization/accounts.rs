//! `/authorization/accounts`: listed, read, updated and logged out; accounts are created elsewhere.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use keycard_core::ids::{AccountId, GroupId};
use keycard_core::model::AccountPatch;
use keycard_core::names::Email;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GroupLink, RoleLink, group_ids, id_of, role_ids};
use crate::app::Operation;
use crate::error::Code;
use crate::iap::query::{ListSpec, boolean};
use crate::iap::{IapCaller, IapError, IapJson, documents, ok_message_at, ok_with_data};
use crate::state::{AppState, org_of};

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

pub(super) async fn list_accounts(
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

pub(super) async fn get_account(
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
pub(super) async fn update_account(
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
        attributes: None,
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
pub(super) async fn force_logout(
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
