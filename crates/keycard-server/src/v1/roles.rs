//! Roles and the methods and views they grant. System roles cannot be changed or deleted.

use axum::extract::State;
use keycard_core::ids::RoleId;
use keycard_core::model::{self, MethodRef, NewRole, Role, RolePatch, ViewRef};
use keycard_core::names::{Provenance, RoleName, validate_description};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    pub description: String,
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
    pub description: Option<String>,
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
    caller.require_admin()?;
    Ok(axum::Json(
        state
            .store
            .list_roles(caller.organization, &query.page()?)
            .await?
            .into(),
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
    caller.require_admin()?;
    validate_description(&body.description)?;
    let provenance = match body.provenance {
        Some(provenance) => provenance,
        None => Provenance::try_from(model::CUSTOM_PROVENANCE)?,
    };
    let new = NewRole {
        name: body.name,
        description: body.description,
        provenance,
        system: false,
        inactive: body.inactive,
        methods: body.methods,
        views: body.views,
    };
    let written = state
        .store
        .create_role(&caller.actor(), caller.organization, new)
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::created(written))
}

/// Reads a role.
#[utoipa::path(get, path = "/v1/roles/{id}", tag = "roles", params(("id" = RoleId, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<RoleId>,
) -> Result<axum::Json<Role>, ApiError> {
    caller.require_admin()?;
    Ok(axum::Json(
        state.store.get_role(caller.organization, id).await?,
    ))
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
    caller.require_admin()?;
    if let Some(description) = &body.description {
        validate_description(description)?;
    }
    let patch = RolePatch {
        name: body.name,
        description: body.description,
        inactive: body.inactive,
        methods: body.methods,
        views: body.views,
    };
    let written = state
        .store
        .update_role(&caller.actor(), caller.organization, id, patch)
        .await?;
    state.visible(written.revision).await?;
    Ok(Saved::updated(written))
}

/// Deletes a role: accounts and groups lose it; policies keep its id, which then grants nothing.
#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "roles", params(("id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<RoleId>,
) -> Result<Committed, ApiError> {
    caller.require_admin()?;
    let revision = state
        .store
        .delete_role(&caller.actor(), caller.organization, id)
        .await?;
    state.visible(revision).await?;
    Ok(Committed { revision })
}
