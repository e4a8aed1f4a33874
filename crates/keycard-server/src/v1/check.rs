//! Decisions on the native API: `POST /v1/check` (and its batch form), `POST /v1/explain`, and the
//! lookups (an account's effective permissions, the resources a subject may act on, the subjects
//! that may act on a resource). All answer from the snapshot.

use axum::extract::State;
use keycard_core::Error;
use keycard_core::change::Revision;
use keycard_core::decision::{self, EffectiveRole, Facts, Query, Reason};
use keycard_core::ids::AccountId;
use keycard_core::model::{MethodRef, ViewRef};
use keycard_core::page::{Page, PageRequest};
use keycard_core::snapshot::{OrgSnapshot, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::app::Operation;
use crate::auth::Caller;
use crate::decision_log::Decided;
use crate::error::{ApiError, ErrorBody, Json, Path};
use crate::state::{AppState, org_of};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(check_batch))
        .routes(routes!(explain))
        .routes(routes!(effective_permissions))
        .routes(routes!(lookup_resources))
        .routes(routes!(lookup_subjects))
}

/// The subject: an account's id, username or email.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Subject {
    /// `user` (the default), `account` or `identity`.
    #[serde(rename = "type", default)]
    pub subject_type: Option<String>,
    pub id: String,
    /// What conditions read as `subject.properties`, beneath the account's stored attributes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Action {
    pub name: String,
    /// What conditions read as `action.properties`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Map<String, Value>>,
}

/// An action, as `{"name": ...}` or a bare string.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ActionInput {
    Named(Action),
    Bare(String),
}

impl ActionInput {
    fn name(&self) -> &str {
        match self {
            ActionInput::Named(action) => &action.name,
            ActionInput::Bare(name) => name,
        }
    }

    fn properties(&self) -> Option<&Map<String, Value>> {
        match self {
            ActionInput::Named(action) => action.properties.as_ref(),
            ActionInput::Bare(_) => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Resource {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    /// What conditions read as `resource.properties`, beneath a registered resource's attributes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckRequest {
    pub subject: Subject,
    pub action: ActionInput,
    pub resource: Resource,
    /// Include the reasons for the decision.
    #[serde(default)]
    pub explain: bool,
    /// Decide only once this node has reached this revision (a write's consistency token), as the
    /// `Keycard-Min-Revision` header does.
    #[serde(default)]
    pub min_revision: Option<i64>,
    /// What conditions read as `context`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

impl CheckRequest {
    fn facts(&self) -> Facts<'_> {
        Facts {
            subject: self.subject.properties.as_ref(),
            resource: self.resource.properties.as_ref(),
            action: self.action.properties(),
            context: self.context.as_ref(),
        }
    }

    fn query(&self) -> Query<'_> {
        Query {
            subject: &self.subject.id,
            action: self.action.name(),
            resource_type: &self.resource.resource_type,
            resource_id: &self.resource.id,
            facts: self.facts(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub allowed: bool,
    /// The snapshot revision the decision was made at.
    pub revision: Revision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 1000 checks, answered in order.
    pub checks: Vec<CheckRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub revision: Revision,
    pub results: Vec<BatchResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    pub allowed: bool,
    pub revision: Revision,
    pub reasons: Vec<Reason>,
    /// The subject's effective roles with the group path that gave each (empty for an unknown subject).
    pub effective_roles: Vec<EffectiveRole>,
    /// The subject's stored attributes, which conditions read in `subject.properties` (empty for
    /// an unknown subject).
    pub subject_attributes: keycard_core::attributes::Attributes,
}

fn validate_subject_type(subject: &Subject) -> Result<(), ApiError> {
    match subject.subject_type.as_deref() {
        None | Some("user" | "account" | "identity") => Ok(()),
        Some(kind) => Err(Error::invalid(
            "subject type",
            format!("`{kind}` is not one of `user`, `account`, `identity`"),
        )
        .into()),
    }
}

fn answer(
    state: &AppState,
    snapshot: &Snapshot,
    org: &OrgSnapshot,
    request: &CheckRequest,
) -> (bool, Option<Vec<Reason>>) {
    let query = request.query();
    let result = if request.explain {
        let decision = decision::decide(org, &query);
        (decision.allowed, Some(decision.reasons))
    } else {
        (
            decision::check_with(
                org,
                query.subject,
                query.action,
                query.resource_type,
                query.resource_id,
                &query.facts,
            ),
            None,
        )
    };
    state.decided(&Decided {
        face: "v1",
        organization: org,
        query: &query,
        allowed: result.0,
        reasons: result.1.as_deref(),
        revision: snapshot.revision(),
    });
    result
}

/// Decides whether the subject may perform the action on the resource.
#[utoipa::path(post, path = "/v1/check", tag = "decisions", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CheckRequest>,
) -> Result<axum::Json<CheckResponse>, ApiError> {
    validate_subject_type(&request.subject)?;
    if let Some(revision) = request.min_revision {
        state.app.at_least(Revision(revision)).await?;
    }
    let snapshot = state
        .app
        .decisions_about(&caller, [request.subject.id.as_str()])?;
    let org = org_of(&snapshot, caller.organization)?;
    let (allowed, reasons) = answer(&state, &snapshot, org, &request);
    Ok(axum::Json(CheckResponse {
        allowed,
        revision: snapshot.revision(),
        reasons,
    }))
}

/// Decides several checks at one revision, in order.
#[utoipa::path(post, path = "/v1/check/batch", tag = "decisions", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check_batch(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<BatchRequest>,
) -> Result<axum::Json<BatchResponse>, ApiError> {
    if request.checks.len() > 1000 {
        return Err(Error::invalid("checks", "at most 1000 checks per batch").into());
    }
    for check in &request.checks {
        validate_subject_type(&check.subject)?;
    }
    let snapshot = state.app.decisions_about(
        &caller,
        request.checks.iter().map(|check| check.subject.id.as_str()),
    )?;
    let org = org_of(&snapshot, caller.organization)?;
    let results = request
        .checks
        .iter()
        .map(|check| {
            let (allowed, reasons) = answer(&state, &snapshot, org, check);
            BatchResult { allowed, reasons }
        })
        .collect();
    Ok(axum::Json(BatchResponse {
        revision: snapshot.revision(),
        results,
    }))
}

/// Decides and explains: which role, group path and policy granted it, or why nothing did.
#[utoipa::path(post, path = "/v1/explain", tag = "decisions", request_body = CheckRequest,
    responses((status = 200, body = ExplainResponse), (status = 403, body = ErrorBody)))]
async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CheckRequest>,
) -> Result<axum::Json<ExplainResponse>, ApiError> {
    validate_subject_type(&request.subject)?;
    let snapshot = state
        .app
        .decisions_about(&caller, [request.subject.id.as_str()])?;
    let org = org_of(&snapshot, caller.organization)?;
    let query = request.query();
    let decision = decision::decide(org, &query);
    state.decided(&Decided {
        face: "v1",
        organization: org,
        query: &query,
        allowed: decision.allowed,
        reasons: Some(&decision.reasons),
        revision: snapshot.revision(),
    });
    let subject = decision::resolve_subject(org, &request.subject.id);
    Ok(axum::Json(ExplainResponse {
        allowed: decision.allowed,
        revision: snapshot.revision(),
        reasons: decision.reasons,
        effective_roles: subject
            .map(|account| decision::effective_roles(org, account))
            .unwrap_or_default(),
        subject_attributes: subject
            .map(|account| account.attributes.clone())
            .unwrap_or_default(),
    }))
}

/// A role held, with its name and the group path that gave it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldRole {
    pub id: keycard_core::ids::RoleId,
    pub name: String,
    pub via: Vec<keycard_core::ids::GroupId>,
}

/// Everything an account holds, complete (it is bounded by the organization's roles and catalogue).
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectivePermissions {
    pub revision: Revision,
    /// Holds the organization's `Admin` role: every catalogue method and view is included.
    pub admin: bool,
    pub roles: Vec<HeldRole>,
    pub methods: Vec<MethodRef>,
    pub views: Vec<ViewRef>,
}

/// The effective roles (with the group path of each), methods and views of an account.
#[utoipa::path(get, path = "/v1/accounts/{id}/permissions", tag = "decisions", params(("id" = AccountId, Path)),
    responses((status = 200, body = EffectivePermissions), (status = 404, body = ErrorBody)))]
async fn effective_permissions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<AccountId>,
) -> Result<axum::Json<EffectivePermissions>, ApiError> {
    let snapshot = state
        .app
        .decisions_about(&caller, [id.to_string().as_str()])?;
    let org = org_of(&snapshot, caller.organization)?;
    let account = org
        .account(id)
        .ok_or_else(|| Error::not_found("account", id))?;
    let permissions = decision::effective_permissions(org, account);
    let roles = permissions
        .roles
        .iter()
        .map(|held| HeldRole {
            id: held.role,
            name: org
                .role(held.role)
                .map(|role| role.name.to_string())
                .unwrap_or_default(),
            via: held.via.clone(),
        })
        .collect();
    Ok(axum::Json(EffectivePermissions {
        revision: snapshot.revision(),
        admin: permissions.admin,
        roles,
        methods: permissions.methods.into_iter().collect(),
        views: permissions.views.into_iter().collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceLookup {
    pub subject: Subject,
    pub action: ActionInput,
    /// The resource type to list.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// What conditions read as `context`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Resource ids of the type the subject may act on; `*` means every resource of the type.
#[utoipa::path(post, path = "/v1/lookup/resources", tag = "decisions", request_body = ResourceLookup,
    responses((status = 200, body = List<String>), (status = 403, body = ErrorBody)))]
async fn lookup_resources(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ResourceLookup>,
) -> Result<axum::Json<List<String>>, ApiError> {
    validate_subject_type(&request.subject)?;
    let page = PageRequest::parse(request.cursor.as_deref(), request.limit)?;
    let snapshot = state
        .app
        .decisions_about(&caller, [request.subject.id.as_str()])?;
    let org = org_of(&snapshot, caller.organization)?;
    let facts = Facts {
        subject: request.subject.properties.as_ref(),
        resource: None,
        action: request.action.properties(),
        context: request.context.as_ref(),
    };
    let ids = decision::resources_for(
        org,
        &request.subject.id,
        request.action.name(),
        &request.resource_type,
        &facts,
    );
    Ok(axum::Json(paged(ids, &page, Clone::clone).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectLookup {
    pub action: ActionInput,
    pub resource: Resource,
    /// What conditions read as `context`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// An account allowed by a lookup.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectRef {
    pub id: AccountId,
    pub username: String,
    /// The account's stored attributes, which conditions read in `subject.properties`.
    pub attributes: keycard_core::attributes::Attributes,
}

/// The accounts that may perform the action on the resource, by id.
#[utoipa::path(post, path = "/v1/lookup/subjects", tag = "decisions", request_body = SubjectLookup,
    responses((status = 200, body = List<SubjectRef>), (status = 403, body = ErrorBody)))]
async fn lookup_subjects(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SubjectLookup>,
) -> Result<axum::Json<List<SubjectRef>>, ApiError> {
    let page = PageRequest::parse(request.cursor.as_deref(), request.limit)?;
    let snapshot = state
        .app
        .read_snapshot(&caller, Operation::LookupSubjects)?;
    let org = org_of(&snapshot, caller.organization)?;
    let facts = Facts {
        subject: None,
        resource: request.resource.properties.as_ref(),
        action: request.action.properties(),
        context: request.context.as_ref(),
    };
    let ids = decision::subjects_for(
        org,
        request.action.name(),
        &request.resource.resource_type,
        &request.resource.id,
        &facts,
    );
    let subjects: Vec<SubjectRef> = ids
        .into_iter()
        .filter_map(|id| {
            org.account(id).map(|account| SubjectRef {
                id,
                username: account.username.to_string(),
                attributes: account.attributes.clone(),
            })
        })
        .collect();
    Ok(axum::Json(
        paged(subjects, &page, |subject| subject.id.to_string()).into(),
    ))
}

/// One page of a sorted list, after the cursor's key.
fn paged<T>(items: Vec<T>, page: &PageRequest, key: impl Fn(&T) -> String) -> Page<T> {
    let start = match &page.after {
        Some(after) => items.partition_point(|item| key(item) <= *after),
        None => 0,
    };
    let window: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(page.limit as usize + 1)
        .collect();
    Page::from_overfetch(window, page.limit, key)
}
