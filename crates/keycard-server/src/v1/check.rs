//! `POST /v1/check`: may this subject do this action on this resource? Answered from the snapshot.

use axum::extract::State;
use keycard_core::Error;
use keycard_core::change::Revision;
use keycard_core::decision::{self, Query, Reason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json};
use crate::metrics::DecisionLabels;
use crate::state::{AppState, org_of};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check))
}

/// The subject: an account's id, username or email.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Subject {
    /// `user` (the default), `account` or `identity`.
    #[serde(rename = "type", default)]
    pub subject_type: Option<String>,
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Action {
    pub name: String,
}

/// An action, as `{"name": ...}` or a bare string.
#[derive(Debug, Deserialize, ToSchema)]
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
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Resource {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckRequest {
    pub subject: Subject,
    pub action: ActionInput,
    pub resource: Resource,
    /// Include the reasons for the decision.
    #[serde(default)]
    pub explain: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub allowed: bool,
    /// The snapshot revision the decision was made at.
    pub revision: Revision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
}

/// Decides whether the subject may perform the action on the resource. Administrators may ask about
/// any subject of their organization; other accounts only about themselves.
#[utoipa::path(post, path = "/v1/check", tag = "decisions", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CheckRequest>,
) -> Result<axum::Json<CheckResponse>, ApiError> {
    if let Some(kind) = request.subject.subject_type.as_deref()
        && !matches!(kind, "user" | "account" | "identity")
    {
        return Err(Error::invalid(
            "subject type",
            format!("`{kind}` is not one of `user`, `account`, `identity`"),
        )
        .into());
    }
    let snapshot = state.snapshot.current();
    let org = org_of(&snapshot, caller.organization)?;
    if !caller.admin {
        let asks_about_self = decision::resolve_subject(org, &request.subject.id)
            .is_some_and(|account| account.id == caller.account.id);
        if !asks_about_self {
            return Err(
                Error::Forbidden("only administrators may check other subjects".into()).into(),
            );
        }
    }
    let query = Query {
        subject: &request.subject.id,
        action: request.action.name(),
        resource_type: &request.resource.resource_type,
        resource_id: &request.resource.id,
    };
    let decision = decision::decide(org, &query);
    state
        .metrics
        .decisions
        .get_or_create(&DecisionLabels {
            allowed: decision.allowed,
        })
        .inc();
    Ok(axum::Json(CheckResponse {
        allowed: decision.allowed,
        revision: snapshot.revision(),
        reasons: request.explain.then_some(decision.reasons),
    }))
}
