//! Policies: actions bound to roles, attached to resources.

use axum::extract::State;
use keycard_core::ids::PolicyId;
use keycard_core::model::{NewPolicy, PolicyAction, PolicyPatch, ResourceRef};
use keycard_core::names::PolicyName;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Policy;
use super::{Committed, List, ListQuery, Saved};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .routes(routes!(attach, detach))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    pub name: PolicyName,
    #[serde(default)]
    pub actions: Vec<PolicyAction>,
    #[serde(default)]
    pub resources: Vec<ResourceRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    pub name: Option<PolicyName>,
    /// Replaces the actions.
    pub actions: Option<Vec<PolicyAction>>,
    /// Replaces the attachments.
    pub resources: Option<Vec<ResourceRef>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The resource id, or `*` for every resource of the type.
    pub id: String,
}

/// Lists the organization's policies.
#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(ListQuery), responses((status = 200, body = List<Policy>)))]
async fn list_policies(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Policy>>, ApiError> {
    Ok(axum::Json(
        state
            .app
            .list_policies(&caller, &query.page()?)
            .await?
            .into(),
    ))
}

/// Creates a policy; every role it names must exist.
#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicy,
    responses((status = 201, body = Saved<Policy>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_policy(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreatePolicy>,
) -> Result<Saved<Policy>, ApiError> {
    let new = NewPolicy {
        name: body.name,
        system: false,
        actions: body.actions,
        resources: body.resources,
    };
    Ok(Saved::created(state.app.create_policy(&caller, new).await?))
}

/// Reads a policy.
#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", params(("id" = PolicyId, Path)),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)))]
async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PolicyId>,
) -> Result<axum::Json<Policy>, ApiError> {
    Ok(axum::Json(state.app.read_policy(&caller, id).await?.into()))
}

/// Changes a policy; lists replace wholesale.
#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", params(("id" = PolicyId, Path)), request_body = UpdatePolicy,
    responses((status = 200, body = Saved<Policy>), (status = 404, body = ErrorBody)))]
async fn update_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PolicyId>,
    Json(body): Json<UpdatePolicy>,
) -> Result<Saved<Policy>, ApiError> {
    let patch = PolicyPatch {
        name: body.name,
        actions: body.actions,
        resources: body.resources,
        keep_conditional_actions: false,
    };
    Ok(Saved::updated(
        state.app.update_policy(&caller, id, patch).await?,
    ))
}

/// Deletes a policy; what it granted is revoked at once.
#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", params(("id" = PolicyId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PolicyId>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_policy(&caller, id).await?;
    Ok(Committed { revision })
}

/// Attaches the policy to a resource (`id` `*`: every resource of the type).
#[utoipa::path(post, path = "/v1/policies/{id}/resources", tag = "policies", params(("id" = PolicyId, Path)), request_body = ResourceRef,
    responses((status = 200, body = Saved<Policy>), (status = 404, body = ErrorBody)))]
async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PolicyId>,
    Json(resource): Json<ResourceRef>,
) -> Result<Saved<Policy>, ApiError> {
    Ok(Saved::updated(
        state
            .app
            .set_attachment(&caller, id, resource, true)
            .await?,
    ))
}

/// Detaches the policy from a resource.
#[utoipa::path(delete, path = "/v1/policies/{id}/resources", tag = "policies", params(("id" = PolicyId, Path), ResourceQuery),
    responses((status = 200, body = Saved<Policy>), (status = 404, body = ErrorBody)))]
async fn detach(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PolicyId>,
    Query(query): Query<ResourceQuery>,
) -> Result<Saved<Policy>, ApiError> {
    let resource = ResourceRef {
        resource_type: query.resource_type,
        id: query.id,
    };
    Ok(Saved::updated(
        state
            .app
            .set_attachment(&caller, id, resource, false)
            .await?,
    ))
}
