//! Deleting an account, a group, a role or a policy from its page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use keycard_core::Error;
use maud::{Markup, html};

use super::{Console, ConsoleError, csrf_field, parse_id, written};
use crate::state::AppState;

/// The delete button of an entity's page, for those who may write.
pub fn button(console: &Console, kind: &str, id: impl std::fmt::Display, name: &str) -> Markup {
    html! {
        @if console.may_write() {
            form method="post" action=(format!("/console/{kind}/{id}/delete")) class="card" {
                (csrf_field(console))
                p class="hint" { "Deleting cannot be undone; the change log keeps what it was." }
                button type="submit" class="danger" { "Delete " (name) }
            }
        }
    }
}

/// `POST /console/{kind}/{id}/delete`, then back to the list.
pub async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    console.form(&body)?;
    let caller = &console.caller;
    let revision = match kind.as_str() {
        "accounts" => state.app.delete_account(caller, parse_id(&id)?).await?,
        "groups" => state.app.delete_group(caller, parse_id(&id)?).await?,
        "roles" => state.app.delete_role(caller, parse_id(&id)?).await?,
        "policies" => state.app.delete_policy(caller, parse_id(&id)?).await?,
        _ => return Err(Error::not_found("console screen", kind).into()),
    };
    Ok(written(&format!("/console/{kind}"), revision))
}
