//! Roles and the methods and views they grant. System roles cannot be changed or deleted.

use axum::extract::State;
use keycard_core::ids::RoleId;
use keycard_core::model::{MethodRef, NewRole, RolePatch, ViewRef};
use keycard_core::names::{Description, Provenance, RoleName};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Role;
use super::{Committed, List, ListQuery, Saved};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: RoleName,
    #[serde(default)]
    pub description: Description,
    /// `Custom` when absent.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    #[serde(default)]
    pub inactive: bool,
    #[serde(default)]
    pub methods: Vec<MethodRef>,
    #[serde(default)]
    pub views: Vec<ViewRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    pub name: Option<RoleName>,
    pub description: Option<Description>,
    pub inactive: Option<bool>,
    /// Replaces the granted methods.
    pub methods: Option<Vec<MethodRef>>,
    /// Replaces the granted views.
    pub views: Option<Vec<ViewRef>>,
}

/// Lists the organization's roles, system roles included.
#[utoipa::path(get, path = "/v1/roles", tag = "roles", params(ListQuery), responses((status = 200, body = List<Role>)))]
async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Role>>, ApiError> {
    Ok(axum::Json(
        state.app.list_roles(&caller, &query.page()?).await?.into(),
    ))
}

/// Creates a role.
#[utoipa::path(post, path = "/v1/roles", tag = "roles", request_body = CreateRole,
    responses((status = 201, body = Saved<Role>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateRole>,
) -> Result<Saved<Role>, ApiError> {
    let new = NewRole {
        name: body.name,
        description: body.description,
        provenance: body.provenance.unwrap_or_else(Provenance::custom),
        system: false,
        inactive: body.inactive,
        methods: body.methods,
        views: body.views,
    };
    Ok(Saved::created(state.app.create_role(&caller, new).await?))
}

/// Reads a role.
#[utoipa::path(get, path = "/v1/roles/{id}", tag = "roles", params(("id" = RoleId, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<RoleId>,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(state.app.read_role(&caller, id).await?.into()))
}

/// Changes a role; lists replace wholesale. System roles answer 403.
#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "roles", params(("id" = RoleId, Path)), request_body = UpdateRole,
    responses((status = 200, body = Saved<Role>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<RoleId>,
    Json(body): Json<UpdateRole>,
) -> Result<Saved<Role>, ApiError> {
    let patch = RolePatch {
        name: body.name,
        description: body.description,
        inactive: body.inactive,
        methods: body.methods,
        views: body.views,
    };
    Ok(Saved::updated(
        state.app.update_role(&caller, id, patch).await?,
    ))
}

/// Deletes a role: accounts and groups lose it; policies keep its id, which then grants nothing.
#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "roles", params(("id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<RoleId>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_role(&caller, id).await?;
    Ok(Committed { revision })
}
