//! Groups (nesting as a tree, members), roles (methods and views as a matrix), and the read-only
//! screens: resources, the catalogue and, for partners, the organizations.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use keycard_core::ids::{GroupId, RoleId};
use keycard_core::model::{Group, MethodRef, NewGroup, NewRole, Role, ViewRef};
use keycard_core::names::{GroupName, ResourceType, RoleName};
use keycard_core::page::PageRequest;
use keycard_core::snapshot::OrgSnapshot;
use maud::{Markup, html};
use serde::Deserialize;

use super::accounts::{group_options, role_options};
use super::{
    Console, ConsoleError, Fields, ListQuery, Listing, csrf_field, deletion, group_name, listing,
    page, parse_id, role_name, written,
};
use crate::app::Operation;
use crate::state::AppState;

/// `GET /console/groups`.
pub async fn groups(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let snapshot = state
        .app
        .read_snapshot(&console.caller, Operation::ListGroups)?;
    let org = console.org(&snapshot)?;
    let wanted = query.search();
    let found = org
        .groups()
        .filter(|group| wanted.finds(group.name.as_str()))
        .map(|group| (group.name.as_str(), group));
    let Listing {
        items: groups,
        search,
        pages,
    } = listing("/console/groups", &query, found);
    let body = html! {
        (search)
        div class="scroll" {
            table {
                thead { tr { th scope="col" { "Group" } th scope="col" { "Roles" } th scope="col" { "Inside" } } }
                tbody {
                    @for group in &groups {
                        tr {
                            td { a href=(format!("/console/groups/{}", group.id)) { (group.name) } }
                            td { (joined(group.roles.iter().map(|id| role_name(org, *id)))) }
                            td { (joined(group.parents.iter().map(|id| group_name(org, *id)))) }
                        }
                    }
                }
            }
        }
        (pages)
        @if console.may_write() {
            form method="post" action="/console/groups" class="card" aria-labelledby="new-group" {
                h2 id="new-group" { "New group" }
                (csrf_field(&console))
                label for="group-name" { "Name" }
                input id="group-name" type="text" name="name" required autocomplete="off";
                label for="group-roles" { "Roles" }
                select id="group-roles" name="roles" multiple { (role_options(org, &[])) }
                label for="group-parents" { "Inside groups" }
                select id="group-parents" name="parents" multiple { (group_options(org, &[])) }
                p { button type="submit" { "Create group" } }
            }
        }
    };
    Ok(page(&console, &snapshot, "/console/groups", "Groups", body))
}

fn joined(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// `POST /console/groups`.
pub async fn create_group(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let fields = console.form(&body)?;
    let mut new = NewGroup::local(GroupName::try_from(fields.required("name")?.to_owned())?);
    new.roles = ids(&fields, "roles")?;
    new.parents = ids(&fields, "parents")?;
    let created = state.app.create_group(&console.caller, new).await?;
    Ok(written(
        &format!("/console/groups/{}", created.value.id),
        created.revision,
    ))
}

fn ids<T: std::str::FromStr<Err = keycard_core::Error>>(
    fields: &Fields,
    name: &str,
) -> Result<Vec<T>, keycard_core::Error> {
    fields.all(name).into_iter().map(parse_id).collect()
}

/// `GET /console/groups/{id}`: where the group sits among the others, its roles and members.
pub async fn group(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let id = parse_id::<GroupId>(&id)?;
    let group = state.app.read_group(&console.caller, id).await?;
    let members = state.app.group_members(&console.caller, id).await?;
    let snapshot = state.app.snapshot();
    let org = console.org(&snapshot)?;
    let body = html! {
        h2 { "Nesting" }
        p class="hint" { "The groups it is inside, and the groups inside it (members of an inner group hold the outer group's roles)." }
        ul class="tree" aria-label="Groups around this one" {
            (ancestors(org, &group, &mut BTreeSet::new()))
        }
        h2 { "Roles" }
        @if group.roles.is_empty() { p { "None." } }
        ul { @for role in &group.roles { li { a href=(format!("/console/roles/{role}")) { (role_name(org, *role)) } } } }
        h2 { "Member accounts" }
        @if members.accounts.is_empty() { p { "None." } }
        ul {
            @for account in &members.accounts {
                li { a href=(format!("/console/accounts/{account}")) {
                    (org.account(*account).map(|a| a.username.to_string()).unwrap_or_else(|| account.to_string()))
                } }
            }
        }
        (deletion::button(&console, "groups", group.id, group.name.as_str()))
    };
    let title = format!("Group {}", group.name);
    Ok(page(&console, &snapshot, "/console/groups", &title, body))
}

/// The group under each of its parents, up to the roots, and its own subtree.
fn ancestors(org: &OrgSnapshot, group: &Group, seen: &mut BTreeSet<GroupId>) -> Markup {
    let subtree = subtree(org, group.id, &mut BTreeSet::new(), true);
    let mut chain: Vec<&Group> = Vec::new();
    let mut at = group;
    // The first parent chain, for a path from a root; every parent is listed beside it.
    while let Some(parent) = at.parents.first().and_then(|id| org.group(*id)) {
        if !seen.insert(parent.id) {
            break;
        }
        chain.push(parent);
        at = parent;
    }
    chain.reverse();
    let mut markup = subtree;
    for outer in chain.iter().rev() {
        markup = html! { li { a href=(format!("/console/groups/{}", outer.id)) { (outer.name) } ul { (markup) } } };
    }
    markup
}

/// A group and, nested under it, the groups inside it.
fn subtree(org: &OrgSnapshot, id: GroupId, seen: &mut BTreeSet<GroupId>, current: bool) -> Markup {
    let name = group_name(org, id);
    if !seen.insert(id) {
        return html! { li { (name) " (already shown)" } };
    }
    let mut children: Vec<&Group> = org
        .groups()
        .filter(|group| group.parents.contains(&id))
        .collect();
    children.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    html! {
        li {
            @if current { strong aria-current="page" { (name) } } @else { a href=(format!("/console/groups/{id}")) { (name) } }
            @if !children.is_empty() {
                ul { @for child in children { (subtree(org, child.id, seen, false)) } }
            }
        }
    }
}

/// `GET /console/roles`: the roles, and their methods and views as a matrix.
pub async fn roles(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let snapshot = state
        .app
        .read_snapshot(&console.caller, Operation::ListRoles)?;
    let org = console.org(&snapshot)?;
    let wanted = query.search();
    let found = org
        .roles()
        .filter(|role| wanted.finds(role.name.as_str()))
        .map(|role| (role.name.as_str(), role));
    let Listing {
        items: roles,
        search,
        pages,
    } = listing("/console/roles", &query, found);
    let body = html! {
        (search)
        (matrix(&roles))
        (pages)
        @if console.may_write() {
            (create_role_form(&console, org))
        }
    };
    Ok(page(&console, &snapshot, "/console/roles", "Roles", body))
}

/// Rows: every method and view any of `roles` grants; columns: the roles.
fn matrix(roles: &[&Role]) -> Markup {
    let methods: BTreeSet<&MethodRef> = roles.iter().flat_map(|role| &role.methods).collect();
    let views: BTreeSet<&ViewRef> = roles.iter().flat_map(|role| &role.views).collect();
    html! {
        div class="scroll" {
            table {
                caption class="hint" { "Methods and views each role grants (the Admin role grants everything)" }
                thead {
                    tr {
                        th scope="col" { "Method or view" }
                        @for role in roles {
                            th scope="col" { a href=(format!("/console/roles/{}", role.id)) { (role.name) } }
                        }
                    }
                }
                tbody {
                    @for method in &methods {
                        tr {
                            th scope="row" { "method " code { (method.provenance) "/" (method.name) } }
                            @for role in roles { (cell(role.methods.contains(method))) }
                        }
                    }
                    @for view in &views {
                        tr {
                            th scope="row" { "view " code { (view.provenance) " " (view.path) } }
                            @for role in roles { (cell(role.views.contains(view))) }
                        }
                    }
                }
            }
        }
    }
}

fn cell(granted: bool) -> Markup {
    html! {
        @if granted { td class="yes" { span aria-hidden="true" { "✓" } span class="skip" { "granted" } } }
        @else { td { span class="skip" { "not granted" } } }
    }
}

fn create_role_form(console: &Console, org: &OrgSnapshot) -> Markup {
    let mut methods: Vec<_> = org.methods().collect();
    methods.sort_by_key(|method| method.key());
    let mut views: Vec<_> = org.views().collect();
    views.sort_by_key(|view| view.key());
    html! {
        form method="post" action="/console/roles" class="card" aria-labelledby="new-role" {
            h2 id="new-role" { "New role" }
            (csrf_field(console))
            label for="role-name" { "Name" }
            input id="role-name" type="text" name="name" required autocomplete="off";
            label for="role-methods" { "Methods" }
            select id="role-methods" name="methods" multiple size="6" {
                @for method in methods { option value=(method.key()) { (method.key()) } }
            }
            label for="role-views" { "Views" }
            select id="role-views" name="views" multiple size="4" {
                @for view in views { option value=(view.key()) { (view.key()) } }
            }
            p { button type="submit" { "Create role" } }
        }
    }
}

/// `POST /console/roles`.
pub async fn create_role(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let fields = console.form(&body)?;
    let mut new = NewRole::custom(RoleName::try_from(fields.required("name")?.to_owned())?);
    new.methods = fields
        .all("methods")
        .into_iter()
        .map(|key| {
            let (provenance, name) = split_key(key, "method")?;
            Ok(MethodRef {
                provenance: provenance.to_owned().try_into()?,
                name: name.to_owned(),
            })
        })
        .collect::<Result<_, keycard_core::Error>>()?;
    new.views = fields
        .all("views")
        .into_iter()
        .map(|key| {
            let (provenance, path) = split_key(key, "view")?;
            Ok(ViewRef {
                provenance: provenance.to_owned().try_into()?,
                path: path.to_owned(),
            })
        })
        .collect::<Result<_, keycard_core::Error>>()?;
    let created = state.app.create_role(&console.caller, new).await?;
    Ok(written(
        &format!("/console/roles/{}", created.value.id),
        created.revision,
    ))
}

/// `provenance/name` of a catalogue entry.
fn split_key<'k>(key: &'k str, what: &str) -> Result<(&'k str, &'k str), keycard_core::Error> {
    key.split_once('/').ok_or_else(|| {
        keycard_core::Error::invalid(what, format!("`{key}` is not `provenance/name`"))
    })
}

/// `GET /console/roles/{id}`.
pub async fn role(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let id = parse_id::<RoleId>(&id)?;
    let role = state.app.read_role(&console.caller, id).await?;
    let snapshot = state.app.snapshot();
    let org = console.org(&snapshot)?;
    let groups: Vec<&Group> = org.groups().filter(|g| g.roles.contains(&id)).collect();
    let body = html! {
        dl {
            dt { "Provenance" } dd { (role.provenance) }
            dt { "Kind" } dd { @if role.system { "system (cannot be changed)" } @else { "custom" } }
            dt { "Description" } dd { (role.description) }
        }
        (matrix(&[&role]))
        h2 { "Held by groups" }
        @if groups.is_empty() { p { "None." } }
        ul { @for group in groups { li { a href=(format!("/console/groups/{}", group.id)) { (group.name) } } } }
        @if !role.system {
            (deletion::button(&console, "roles", role.id, role.name.as_str()))
        }
    };
    let title = format!("Role {}", role.name);
    Ok(page(&console, &snapshot, "/console/roles", &title, body))
}

#[derive(Debug, Default, Deserialize)]
pub struct ResourceQuery {
    #[serde(default, rename = "type")]
    resource_type: String,
    cursor: Option<String>,
}

/// `GET /console/resources`: registered resources of a type, paged by the store.
pub async fn resources(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ResourceQuery>,
) -> Result<Markup, ConsoleError> {
    let resource_type = match query.resource_type.trim() {
        "" => None,
        text => Some(ResourceType::try_from(text.to_owned())?),
    };
    let page_request = PageRequest::parse(query.cursor.as_deref(), Some(super::PAGE_SIZE as u32))?;
    let found = state
        .app
        .list_resources(&console.caller, resource_type.as_ref(), &page_request)
        .await?;
    let snapshot = state.app.snapshot();
    let org = console.org(&snapshot)?;
    let body = html! {
        form method="get" action="/console/resources" role="search" class="search" {
            label for="type" { "Type" }
            input id="type" type="search" name="type" value=(query.resource_type);
            button type="submit" { "Show" }
        }
        div class="scroll" {
            table {
                thead { tr { th scope="col" { "Type" } th scope="col" { "Id" } th scope="col" { "Owner" } th scope="col" { "Attributes" } } }
                tbody {
                    @for resource in &found.items {
                        tr {
                            td { (resource.resource_type) }
                            td { code { (resource.id) } }
                            td { (resource.owner.and_then(|id| org.account(id)).map(|a| a.username.to_string()).unwrap_or_else(|| "—".into())) }
                            td { code { (serde_json::to_string(resource.attributes.as_map()).unwrap_or_default()) } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &found.next_cursor {
            p { a rel="next" href=(format!("/console/resources?{}", serde_urlencoded::to_string([("type", query.resource_type.as_str()), ("cursor", next.as_str())]).unwrap_or_default())) { "Next page" } }
        }
    };
    Ok(page(
        &console,
        &snapshot,
        "/console/resources",
        "Resources",
        body,
    ))
}

/// `GET /console/catalogue`: the organization's methods and views.
pub async fn catalogue(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let snapshot = state
        .app
        .read_snapshot(&console.caller, Operation::ListMethods)?;
    let org = console.org(&snapshot)?;
    let wanted = query.search();
    let entries = org
        .methods()
        .map(|method| {
            (
                "method",
                method.key(),
                method
                    .route
                    .as_ref()
                    .map(|route| format!("{} {}", route.verb, route.path))
                    .unwrap_or_default(),
            )
        })
        .chain(org.views().map(|view| ("view", view.key(), String::new())))
        .filter(|(_, key, _)| wanted.finds(key))
        .map(|entry| (entry.1.clone(), entry));
    let Listing {
        items: entries,
        search,
        pages,
    } = listing("/console/catalogue", &query, entries);
    let body = html! {
        (search)
        table {
            thead { tr { th scope="col" { "Kind" } th scope="col" { "Entry" } th scope="col" { "Route" } } }
            tbody {
                @for (kind, key, route) in &entries {
                    tr { td { (kind) } td { code { (key) } } td { code { (route) } } }
                }
            }
        }
        (pages)
    };
    Ok(page(
        &console,
        &snapshot,
        "/console/catalogue",
        "Catalogue",
        body,
    ))
}

/// `GET /console/organizations`: every organization, for partners.
pub async fn organizations(
    State(state): State<AppState>,
    console: Console,
) -> Result<Markup, ConsoleError> {
    let mut organizations = state.app.all_organizations(&console.caller).await?;
    organizations.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    let snapshot = state.app.snapshot();
    let body = html! {
        table {
            thead { tr { th scope="col" { "Organization" } th scope="col" { "Accounts" } th scope="col" { "Created" } } }
            tbody {
                @for org in &organizations {
                    tr {
                        td { (org.name) }
                        td { (snapshot.organization(org.id).map(|o| o.account_count()).unwrap_or_default()) }
                        td { (org.created_at.format("%Y-%m-%d")) }
                    }
                }
            }
        }
        p class="hint" { "Switch the organization you act in with the selector at the top." }
    };
    Ok(page(
        &console,
        &snapshot,
        "/console/organizations",
        "Organizations",
        body,
    ))
}
