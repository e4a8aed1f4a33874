//! Accounts: the list (searched and paged on the server), one account with its attributes,
//! effective roles, memberships and keys, and the caller's own account for everyone.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use keycard_core::attributes::Attributes;
use keycard_core::decision;
use keycard_core::ids::{AccountId, ApiKeyId, GroupId, RoleId};
use keycard_core::model::{Account, AccountPatch, Link, NewAccount};
use keycard_core::names::{Email, Username};
use keycard_core::snapshot::OrgSnapshot;
use maud::{Markup, html};

use super::{
    Console, ConsoleError, ListQuery, Listing, csrf_field, deletion, group_name, listing, page,
    parse_id, role_name, via_names, written,
};
use crate::app::{Operation, hash_password};
use crate::state::AppState;

/// `GET /console/accounts`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let snapshot = state
        .app
        .read_snapshot(&console.caller, Operation::ListAccounts)?;
    let org = console.org(&snapshot)?;
    let wanted = query.search();
    // Found by username or email, listed by username.
    let found = org
        .accounts()
        .filter(|account| {
            account
                .email
                .as_ref()
                .is_some_and(|email| wanted.finds(email.as_str()))
                || wanted.finds(account.username.as_str())
        })
        .map(|account| (account.username.as_str(), account));
    let Listing {
        items: accounts,
        search,
        pages,
    } = listing("/console/accounts", &query, found);
    let body = html! {
        p class="hint" { (org.account_count()) " accounts in this organization." }
        (search)
        div class="scroll" {
            table {
                caption class="hint" { "Accounts, by username" }
                thead { tr { th scope="col" { "Username" } th scope="col" { "Email" } th scope="col" { "Groups" } th scope="col" { "Roles" } th scope="col" { "Status" } } }
                tbody {
                    @for account in &accounts {
                        tr {
                            td { a href=(format!("/console/accounts/{}", account.id)) { (account.username) } }
                            td { (account.email.as_ref().map(ToString::to_string).unwrap_or_default()) }
                            td { (names(account.groups.iter().map(|id| group_name(org, *id)))) }
                            td { (names(account.roles.iter().map(|id| role_name(org, *id)))) }
                            td { (status(account)) }
                        }
                    }
                }
            }
        }
        (pages)
        @if console.may_write() {
            (create_form(&console, org))
        }
    };
    Ok(page(
        &console,
        &snapshot,
        "/console/accounts",
        "Accounts",
        body,
    ))
}

fn names(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn status(account: &Account) -> &'static str {
    match (account.inactive, account.service_account) {
        (true, _) => "inactive",
        (false, true) => "service account",
        (false, false) => "active",
    }
}

/// Options for every group of the organization, by name.
pub fn group_options(org: &OrgSnapshot, selected: &[GroupId]) -> Markup {
    let mut groups: Vec<_> = org.groups().collect();
    groups.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    html! {
        @for group in groups {
            option value=(group.id) selected[selected.contains(&group.id)] { (group.name) }
        }
    }
}

/// Options for every role of the organization, by name.
pub fn role_options(org: &OrgSnapshot, selected: &[RoleId]) -> Markup {
    let mut roles: Vec<_> = org.roles().collect();
    roles.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    html! {
        @for role in roles {
            option value=(role.id) selected[selected.contains(&role.id)] { (role.name) }
        }
    }
}

fn create_form(console: &Console, org: &OrgSnapshot) -> Markup {
    html! {
        form method="post" action="/console/accounts" class="card" aria-labelledby="new-account" {
            h2 id="new-account" { "New account" }
            (csrf_field(console))
            label for="new-username" { "Username" }
            input id="new-username" type="text" name="username" required autocomplete="off";
            label for="new-email" { "Email" }
            input id="new-email" type="email" name="email" autocomplete="off";
            label for="new-password" { "Password" }
            input id="new-password" type="password" name="password" autocomplete="new-password" aria-describedby="new-password-hint";
            p id="new-password-hint" class="hint" { "Optional: 8 characters or more. Without one, the account signs in with keys only." }
            label for="new-groups" { "Groups" }
            select id="new-groups" name="groups" multiple { (group_options(org, &[])) }
            label for="new-roles" { "Roles" }
            select id="new-roles" name="roles" multiple { (role_options(org, &[])) }
            p { button type="submit" { "Create account" } }
        }
    }
}

/// `POST /console/accounts`.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let fields = console.form(&body)?;
    let mut new = NewAccount::local(Username::try_from(fields.required("username")?.to_owned())?);
    new.email = fields
        .optional("email")
        .map(|email| Email::try_from(email.to_owned()))
        .transpose()?;
    new.groups = fields
        .all("groups")
        .into_iter()
        .map(parse_id::<GroupId>)
        .collect::<Result<_, _>>()?;
    new.roles = fields
        .all("roles")
        .into_iter()
        .map(parse_id::<RoleId>)
        .collect::<Result<_, _>>()?;
    if let Some(password) = fields.get("password").filter(|p| !p.is_empty()) {
        new.password_hash = Some(hash_password(password.to_owned()).await?);
    }
    let created = state.app.create_account(&console.caller, new).await?;
    Ok(written(
        &format!("/console/accounts/{}", created.value.id),
        created.revision,
    ))
}

/// `GET /console/me`: the caller's own account, for everyone.
pub async fn me(State(state): State<AppState>, console: Console) -> Result<Response, ConsoleError> {
    let id = console.caller.require_account()?.id;
    render(&state, &console, id, "/console/me", None).await
}

/// `GET /console/accounts/{id}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = parse_id::<AccountId>(&id)?;
    render(&state, &console, id, "/console/accounts", None).await
}

/// An account's page; `secret` is a key just issued, shown this once.
async fn render(
    state: &AppState,
    console: &Console,
    id: AccountId,
    current: &str,
    secret: Option<(&str, &str)>,
) -> Result<Response, ConsoleError> {
    let account = state.app.read_account(&console.caller, id).await?;
    let keys = state.app.list_api_keys(&console.caller, Some(id)).await?;
    let snapshot = state.app.snapshot();
    let org = console.org(&snapshot)?;
    let effective = decision::effective_roles(org, &account);
    let permissions = decision::effective_permissions(org, &account);
    let write = console.may_write();
    let base = format!("/console/accounts/{id}");
    let body = html! {
        @if let Some((name, secret)) = secret {
            section class="card" role="status" aria-labelledby="new-key" {
                h2 id="new-key" { "Key “" (name) "” created" }
                p { "Copy the secret now: it is shown only this once." }
                p class="secret" data-secret { (secret) }
            }
        }
        dl {
            dt { "Username" } dd { (account.username) }
            dt { "Email" } dd { (account.email.as_ref().map(ToString::to_string).unwrap_or_else(|| "—".into())) }
            dt { "Status" } dd { (status(&account)) }
            dt { "Id" } dd { code { (account.id) } }
        }
        h2 { "Effective roles" }
        @if effective.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr { th scope="col" { "Role" } th scope="col" { "Given by" } } }
                tbody {
                    @for held in &effective {
                        tr {
                            td { (role_name(org, held.role)) }
                            td { @if held.via.is_empty() { "assigned directly" } @else { "group " (via_names(org, &held.via)) } }
                        }
                    }
                }
            }
        }
        h2 { "Effective permissions" }
        @if permissions.admin {
            p { "Administrator: every method and view of the catalogue." }
        } @else if permissions.methods.is_empty() && permissions.views.is_empty() {
            p { "No method or view." }
        } @else {
            ul {
                @for method in &permissions.methods { li { "method " code { (method.provenance) "/" (method.name) } } }
                @for view in &permissions.views { li { "view " code { (view.provenance) " " (view.path) } } }
            }
        }
        h2 { "Groups" }
        @if account.groups.is_empty() { p { "In no group." } }
        ul {
            @for group in &account.groups {
                li {
                    a href=(format!("/console/groups/{group}")) { (group_name(org, *group)) }
                    @if write {
                        " "
                        form method="post" action=(format!("{base}/membership")) class="inline" {
                            (csrf_field(console))
                            input type="hidden" name="group" value=(group);
                            input type="hidden" name="change" value="remove";
                            button type="submit" class="danger" aria-label=(format!("Remove from group {}", group_name(org, *group))) { "Remove" }
                        }
                    }
                }
            }
        }
        @if write {
            form method="post" action=(format!("{base}/membership")) class="inline" {
                (csrf_field(console))
                input type="hidden" name="change" value="add";
                label for="add-group" { "Add to group" }
                select id="add-group" name="group" { (group_options(org, &[])) }
                button type="submit" { "Add" }
            }
        }
        h2 { "Attributes" }
        p class="hint" { "What conditions read in " code { "subject.properties" } "." }
        @if write {
            form method="post" action=(format!("{base}/attributes")) class="card" {
                (csrf_field(console))
                label for="attributes" { "Attributes (a JSON object)" }
                textarea id="attributes" name="attributes" rows="4" { (pretty(&account.attributes)) }
                p { button type="submit" { "Save attributes" } }
            }
        } @else {
            pre { (pretty(&account.attributes)) }
        }
        h2 { "API keys" }
        @if keys.is_empty() { p { "No key." } } @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "State" } } }
                tbody {
                    @for key in &keys {
                        tr {
                            td { (key.name) }
                            td { (key.created_at.format("%Y-%m-%d %H:%M")) }
                            td { (key.last_used_at.map(|at| at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())) }
                            td {
                                @if key.revoked_at.is_some() { "revoked" } @else {
                                    "live"
                                    @if write {
                                        " "
                                        form method="post" action=(format!("{base}/keys/revoke")) class="inline" {
                                            (csrf_field(console))
                                            input type="hidden" name="key" value=(key.id);
                                            button type="submit" class="danger" aria-label=(format!("Revoke key {}", key.name)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if write {
            form method="post" action=(format!("{base}/keys")) class="inline" {
                (csrf_field(console))
                label for="key-name" { "New key named" }
                input id="key-name" type="text" name="name" autocomplete="off";
                button type="submit" { "Create key" }
            }
        }
        @if console.caller.account().is_none_or(|me| me.id != account.id) {
            (deletion::button(console, "accounts", account.id, account.username.as_str()))
        }
    };
    let title = format!("Account {}", account.username);
    Ok(page(console, &snapshot, current, &title, body).into_response())
}

fn pretty(attributes: &Attributes) -> String {
    serde_json::to_string_pretty(attributes.as_map()).unwrap_or_default()
}

/// `POST /console/accounts/{id}/attributes`: replaces them wholesale.
pub async fn set_attributes(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let id = parse_id::<AccountId>(&id)?;
    let fields = console.form(&body)?;
    let text = fields.optional("attributes").unwrap_or("{}");
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        keycard_core::Error::invalid("attributes", format!("are not JSON: {err}"))
    })?;
    let patch = AccountPatch {
        attributes: Some(Attributes::try_from(value)?),
        ..AccountPatch::default()
    };
    let saved = state.app.update_account(&console.caller, id, patch).await?;
    Ok(written(&format!("/console/accounts/{id}"), saved.revision))
}

/// `POST /console/accounts/{id}/membership`: adds the account to a group or removes it.
pub async fn change_membership(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let id = parse_id::<AccountId>(&id)?;
    let fields = console.form(&body)?;
    let group = parse_id::<GroupId>(fields.required("group")?)?;
    let add = match fields.required("change")? {
        "add" => true,
        "remove" => false,
        other => {
            return Err(keycard_core::Error::invalid(
                "change",
                format!("`{other}` is not `add` or `remove`"),
            )
            .into());
        }
    };
    let revision = state
        .app
        .change_link(&console.caller, Link::AccountInGroup(id, group), add)
        .await?;
    Ok(written(&format!("/console/accounts/{id}"), revision))
}

/// `POST /console/accounts/{id}/keys`: the page again, with the new secret shown once.
pub async fn issue_key(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let id = parse_id::<AccountId>(&id)?;
    let fields = console.form(&body)?;
    let name = fields.optional("name").unwrap_or_default().to_owned();
    let issued = state
        .app
        .issue_api_key(&console.caller, Some(id), name)
        .await?;
    let mut response = render(
        &state,
        &console,
        id,
        "/console/accounts",
        Some((&issued.value.key.name, &issued.value.secret)),
    )
    .await?;
    *response.status_mut() = axum::http::StatusCode::CREATED;
    Ok(crate::revision::with_revision(issued.revision, response))
}

/// `POST /console/accounts/{id}/keys/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let id = parse_id::<AccountId>(&id)?;
    let fields = console.form(&body)?;
    let key = parse_id::<ApiKeyId>(fields.required("key")?)?;
    let revoked = state
        .app
        .revoke_api_key(&console.caller, Some(id), key)
        .await?;
    Ok(written(
        &format!("/console/accounts/{id}"),
        revoked.revision,
    ))
}
