//! Organizations (tenants). Only partners, the administrators of the default organization, manage them.

use axum::extract::State;
use keycard_core::builtin::standard_organization;
use keycard_core::ids::OrganizationId;
use keycard_core::model::{OrganizationPatch, SsoSettings};
use keycard_core::names::{ActionName, OrganizationName};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Organization;
use super::{Committed, List, ListQuery, Saved};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(
            get_organization,
            update_organization,
            delete_organization
        ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    pub name: OrganizationName,
    /// The actions its policies offer; the default list when absent.
    #[serde(default)]
    pub actions: Option<Vec<ActionName>>,
    #[serde(default)]
    pub sso: Option<SsoSettings>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    pub name: Option<OrganizationName>,
    /// Replaces the actions its policies offer.
    pub actions: Option<Vec<ActionName>>,
    pub sso: Option<SsoSettings>,
}

/// Lists organizations.
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations", params(ListQuery),
    responses((status = 200, body = List<Organization>), (status = 403, body = crate::error::ErrorBody)))]
async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Organization>>, ApiError> {
    Ok(axum::Json(
        state
            .app
            .list_organizations(&caller, &query.page()?)
            .await?
            .into(),
    ))
}

/// Creates an organization with its system roles `Admin` and `Member`.
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations", request_body = OrganizationBody,
    responses((status = 201, body = Saved<Organization>), (status = 409, body = crate::error::ErrorBody)))]
async fn create_organization(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<OrganizationBody>,
) -> Result<Saved<Organization>, ApiError> {
    let mut new = standard_organization(body.name)?;
    if let Some(actions) = body.actions {
        new.actions = actions;
    }
    if let Some(sso) = body.sso {
        new.sso = sso;
    }
    Ok(Saved::created(
        state.app.create_organization(&caller, new).await?,
    ))
}

/// Reads an organization: partners read any, others only their own.
#[utoipa::path(get, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = OrganizationId, Path)),
    responses((status = 200, body = Organization), (status = 404, body = crate::error::ErrorBody)))]
async fn get_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<OrganizationId>,
) -> Result<axum::Json<Organization>, ApiError> {
    Ok(axum::Json(
        state.app.read_organization(&caller, id).await?.into(),
    ))
}

/// Renames an organization.
#[utoipa::path(patch, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = OrganizationId, Path)), request_body = OrganizationUpdate,
    responses((status = 200, body = Saved<Organization>), (status = 404, body = crate::error::ErrorBody)))]
async fn update_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<OrganizationId>,
    Json(body): Json<OrganizationUpdate>,
) -> Result<Saved<Organization>, ApiError> {
    let patch = OrganizationPatch {
        name: body.name,
        actions: body.actions,
        sso: body.sso,
    };
    Ok(Saved::updated(
        state.app.update_organization(&caller, id, patch).await?,
    ))
}

/// Deletes an organization and everything in it. The default organization cannot be deleted.
#[utoipa::path(delete, path = "/v1/organizations/{id}", tag = "organizations", params(("id" = OrganizationId, Path)),
    responses((status = 200, body = Committed), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<OrganizationId>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_organization(&caller, id).await?;
    Ok(Committed { revision })
}
