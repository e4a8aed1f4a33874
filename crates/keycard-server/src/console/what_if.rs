//! What-if: a subject, an action, a resource, properties and context in; the decision and why,
//! by name.

use axum::extract::{Query, State};
use keycard_core::condition::ReadValue;
use keycard_core::decision::{self, Facts, Reason};
use keycard_core::snapshot::OrgSnapshot;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Console, ConsoleError, page, role_name, via_names};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct WhatIf {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    subject_properties: String,
    #[serde(default)]
    resource_properties: String,
    #[serde(default)]
    action_properties: String,
    #[serde(default)]
    context: String,
}

/// A JSON object typed into a field; empty is none.
fn object(field: &str, text: &str) -> Result<Option<Map<String, Value>>, keycard_core::Error> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|err| keycard_core::Error::invalid(field, format!("is not a JSON object: {err}")))
}

/// The form, and with a subject the answer.
async fn render(
    state: &AppState,
    console: &Console,
    query: &WhatIf,
) -> Result<Markup, ConsoleError> {
    let asked = !query.subject.trim().is_empty();
    let snapshot = if asked {
        state
            .app
            .decisions_about(&console.caller, [query.subject.trim()])?
    } else {
        state.app.snapshot()
    };
    let org = console.org(&snapshot)?;
    let answer = if asked {
        let subject = object("subject properties", &query.subject_properties)?;
        let resource = object("resource properties", &query.resource_properties)?;
        let action = object("action properties", &query.action_properties)?;
        let context = object("context", &query.context)?;
        let asked = decision::Query {
            subject: query.subject.trim(),
            action: query.action.trim(),
            resource_type: query.resource_type.trim(),
            resource_id: query.resource_id.trim(),
            facts: Facts {
                subject: subject.as_ref(),
                resource: resource.as_ref(),
                action: action.as_ref(),
                context: context.as_ref(),
            },
        };
        let decision = decision::decide(org, &asked);
        state.decided(&crate::decision_log::Decided {
            face: "console",
            organization: org,
            query: &asked,
            allowed: decision.allowed,
            reasons: Some(&decision.reasons),
            revision: snapshot.revision(),
        });
        Some(decision)
    } else {
        None
    };
    let body = html! {
        form method="get" action="/console/what-if" class="card" {
            label for="subject" { "Subject (username, email or account id)" }
            input id="subject" type="text" name="subject" value=(query.subject) required;
            label for="action" { "Action" }
            input id="action" type="text" name="action" value=(query.action) required;
            label for="resource-type" { "Resource type" }
            input id="resource-type" type="text" name="resource_type" value=(query.resource_type) required;
            label for="resource-id" { "Resource id" }
            input id="resource-id" type="text" name="resource_id" value=(query.resource_id) required;
            details {
                summary { "Properties and context" }
                label for="subject-properties" { "Subject properties (JSON object)" }
                textarea id="subject-properties" name="subject_properties" rows="2" { (query.subject_properties) }
                label for="resource-properties" { "Resource properties (JSON object)" }
                textarea id="resource-properties" name="resource_properties" rows="2" { (query.resource_properties) }
                label for="action-properties" { "Action properties (JSON object)" }
                textarea id="action-properties" name="action_properties" rows="2" { (query.action_properties) }
                label for="context" { "Context (JSON object)" }
                textarea id="context" name="context" rows="2" { (query.context) }
            }
            p { button type="submit" { "Decide" } }
        }
        @if let Some(decision) = &answer {
            section aria-labelledby="decision" aria-live="polite" {
                h2 id="decision" {
                    @if decision.allowed { span class="allowed" data-decision="allowed" { "Allowed" } }
                    @else { span class="denied" data-decision="denied" { "Denied" } }
                }
                ol class="reasons" {
                    @for reason in &decision.reasons { li { (explain(org, reason)) } }
                }
            }
        }
    };
    Ok(page(
        console,
        &snapshot,
        "/console/what-if",
        "What-if",
        body,
    ))
}

/// `GET /console/what-if`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<WhatIf>,
) -> Result<Markup, ConsoleError> {
    render(&state, &console, &query).await
}

/// A reason in words, naming roles, groups and policies.
fn explain(org: &OrgSnapshot, reason: &Reason) -> Markup {
    let held = |role, via: &[keycard_core::ids::GroupId]| {
        html! {
            "role " strong { (role_name(org, role)) }
            @if via.is_empty() { ", assigned directly" } @else { ", through group " strong data-via { (via_names(org, via)) } }
        }
    };
    match reason {
        Reason::UnknownSubject => html! { "No account matches the subject." },
        Reason::InactiveSubject => html! { "The account is inactive." },
        Reason::Admin { role, via, .. } => html! { "Administrator: " (held(*role, via)) "." },
        Reason::RoleGrant { role, via, .. } => html! { "Granted by " (held(*role, via)) "." },
        Reason::PolicyGrant {
            role, via, names, ..
        } => html! {
            "Policy " strong { (names.policy_name.clone().unwrap_or_default()) } " grants it to " (held(*role, via)) "."
        },
        Reason::ConditionalGrant {
            role,
            via,
            condition,
            read,
            names,
            ..
        } => html! {
            "Policy " strong { (names.policy_name.clone().unwrap_or_default()) } " grants it to " (held(*role, via))
            " when " code { (condition) } ", which held." (values(read))
        },
        Reason::ConditionNotMet {
            role,
            condition,
            error,
            read,
            names,
            ..
        } => html! {
            "Policy " strong { (names.policy_name.clone().unwrap_or_default()) } " grants it to role " strong { (role_name(org, *role)) }
            " only when " code { (condition) } ", which "
            @if let Some(error) = error { "could not be evaluated: " (error) "." } @else { "did not hold." }
            (values(read))
        },
        Reason::UnknownRoute => html! { "No catalogue method has this route." },
        Reason::NoGrant => html! { "No role or policy grants the action." },
    }
}

/// The values a condition read.
fn values(read: &[ReadValue]) -> Markup {
    html! {
        @if !read.is_empty() {
            ul {
                @for value in read {
                    li { code { (value.path) } " = "
                        @match &value.value { Some(value) => code { (value) }, None => em { "absent" } }
                    }
                }
            }
        }
    }
}
