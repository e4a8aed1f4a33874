//! Policies: roles by actions as a grid, the resources they are attached to, and their
//! conditions, checked by the server as they are typed.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use keycard_core::condition::Condition;
use keycard_core::ids::{PolicyId, RoleId};
use keycard_core::model::{NewPolicy, Policy, PolicyAction, ResourceRef};
use keycard_core::names::{ActionName, PolicyName};
use keycard_core::snapshot::OrgSnapshot;
use maud::{Markup, html};
use serde::Serialize;

use super::accounts::role_options;
use super::{
    Console, ConsoleError, ListQuery, Listing, csrf_field, deletion, listing, page, parse_id,
    role_name, written,
};
use crate::app::Operation;
use crate::state::AppState;

/// `GET /console/policies`.
pub async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let snapshot = state
        .app
        .read_snapshot(&console.caller, Operation::ListPolicies)?;
    let org = console.org(&snapshot)?;
    let wanted = query.search();
    let found = org
        .policies()
        .filter(|policy| wanted.finds(policy.name.as_str()))
        .map(|policy| (policy.name.as_str(), policy));
    let Listing {
        items: policies,
        search,
        pages,
    } = listing("/console/policies", &query, found);
    let body = html! {
        (search)
        div class="scroll" {
            table {
                thead { tr { th scope="col" { "Policy" } th scope="col" { "Actions" } th scope="col" { "Attached to" } } }
                tbody {
                    @for policy in &policies {
                        tr {
                            td { a href=(format!("/console/policies/{}", policy.id)) { (policy.name) } }
                            td { (policy.actions.iter().map(|a| a.action.to_string()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")) }
                            td { (attached(&policy.resources)) }
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
        "/console/policies",
        "Policies",
        body,
    ))
}

fn attached(resources: &[ResourceRef]) -> String {
    resources
        .iter()
        .map(|resource| format!("{}:{}", resource.resource_type, resource.id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_form(console: &Console, org: &OrgSnapshot) -> Markup {
    html! {
        form method="post" action="/console/policies" class="card" aria-labelledby="new-policy" {
            h2 id="new-policy" { "New policy" }
            (csrf_field(console))
            label for="policy-name" { "Name" }
            input id="policy-name" type="text" name="name" required autocomplete="off";
            label for="policy-action" { "Action" }
            input id="policy-action" type="text" name="action" required autocomplete="off";
            label for="policy-roles" { "Granted to roles" }
            select id="policy-roles" name="roles" multiple { (role_options(org, &[])) }
            label for="policy-condition" { "Condition (optional)" }
            textarea id="policy-condition" name="condition" rows="2"
                data-check-condition="condition-status" aria-describedby="condition-status condition-hint" {}
            p id="condition-hint" class="hint" { "A CEL expression over " code { "subject" } ", " code { "resource" } ", " code { "action" } " and " code { "context" } ", such as " code { "resource.owner == subject.id" } "." }
            p id="condition-status" aria-live="polite" {}
            label for="policy-type" { "On resources of type" }
            input id="policy-type" type="text" name="resource_type" required autocomplete="off";
            label for="policy-resource" { "Resource id" }
            input id="policy-resource" type="text" name="resource_id" value="*" required autocomplete="off" aria-describedby="resource-hint";
            p id="resource-hint" class="hint" { code { "*" } " attaches the policy to every resource of the type." }
            p { button type="submit" { "Create policy" } }
        }
    }
}

/// `POST /console/policies`: a policy granting one action to roles, maybe under a condition.
pub async fn create(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let fields = console.form(&body)?;
    let action = PolicyAction {
        action: ActionName::try_from(fields.required("action")?.to_owned())?,
        role_ids: fields
            .all("roles")
            .into_iter()
            .map(parse_id::<RoleId>)
            .collect::<Result<_, _>>()?,
        condition: fields
            .optional("condition")
            .map(|text| Condition::try_from(text.to_owned()))
            .transpose()?,
    };
    let resource = ResourceRef {
        resource_type: fields.required("resource_type")?.to_owned(),
        id: fields.required("resource_id")?.to_owned(),
    };
    let new = NewPolicy {
        name: PolicyName::try_from(fields.required("name")?.to_owned())?,
        system: false,
        actions: vec![action],
        resources: vec![resource],
    };
    let created = state.app.create_policy(&console.caller, new).await?;
    Ok(written(
        &format!("/console/policies/{}", created.value.id),
        created.revision,
    ))
}

/// `GET /console/policies/{id}`: roles by actions.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let id = parse_id::<PolicyId>(&id)?;
    let policy = state.app.read_policy(&console.caller, id).await?;
    let snapshot = state.app.snapshot();
    let org = console.org(&snapshot)?;
    let body = html! {
        (grid(org, &policy))
        h2 { "Attached to" }
        ul {
            @for resource in &policy.resources {
                li { code { (resource.resource_type) ":" (resource.id) } @if resource.id == ResourceRef::ANY_ID { " (every resource of the type)" } }
            }
        }
        @if !policy.system {
            (deletion::button(&console, "policies", policy.id, policy.name.as_str()))
        }
    };
    let title = format!("Policy {}", policy.name);
    Ok(page(&console, &snapshot, "/console/policies", &title, body))
}

/// Rows: the roles the policy names; columns: its actions; a cell says whether the role gets
/// the action, outright or under which condition.
fn grid(org: &OrgSnapshot, policy: &Policy) -> Markup {
    let actions: BTreeSet<&str> = policy.actions.iter().map(|a| a.action.as_str()).collect();
    let roles: BTreeSet<RoleId> = policy
        .actions
        .iter()
        .flat_map(|a| a.role_ids.iter().copied())
        .collect();
    html! {
        div class="scroll" {
            table {
                caption class="hint" { "Roles by actions" }
                thead { tr { th scope="col" { "Role" } @for action in &actions { th scope="col" { (action) } } } }
                tbody {
                    @for role in &roles {
                        tr {
                            th scope="row" { a href=(format!("/console/roles/{role}")) { (role_name(org, *role)) } }
                            @for action in &actions {
                                @let grants: Vec<&PolicyAction> = policy.actions.iter().filter(|a| a.action.as_str() == *action && a.role_ids.contains(role)).collect();
                                @if grants.is_empty() {
                                    td { span class="skip" { "not granted" } }
                                } @else {
                                    td class="yes" {
                                        @for grant in grants {
                                            @match &grant.condition {
                                                None => { span { "✓ always" } br; }
                                                Some(condition) => { span { "when " code { (condition.as_str()) } } br; }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What the condition check answers the page's script.
#[derive(Serialize)]
pub struct ConditionCheck {
    ok: bool,
    message: String,
}

/// `POST /console/conditions/check`: the check a write makes, as the condition is typed.
pub async fn check_condition(
    console: Console,
    body: Bytes,
) -> Result<Json<ConditionCheck>, ConsoleError> {
    let fields = console.form(&body)?;
    let text = fields.get("condition").unwrap_or_default().trim();
    Ok(Json(if text.is_empty() {
        ConditionCheck {
            ok: true,
            message: "No condition: the grant applies always.".into(),
        }
    } else {
        match Condition::try_from(text.to_owned()) {
            Ok(_) => ConditionCheck {
                ok: true,
                message: "The condition is valid.".into(),
            },
            Err(err) => ConditionCheck {
                ok: false,
                message: err.to_string(),
            },
        }
    }))
}
