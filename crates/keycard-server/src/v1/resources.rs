//! The resource registry: resources by type and id, with an owner and attributes, one at a time or
//! thousands in one write.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keycard_core::attributes::Attributes;
use keycard_core::ids::AccountId;
use keycard_core::model::{NewResource, ResourcePatch};
use keycard_core::names::{ResourceId, ResourceType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::RegisteredResource;
use super::{Committed, List, Saved, double_option};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};
use crate::revision::with_revision;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_resources, create_resource, upsert_resources))
        .routes(routes!(get_resource, update_resource, delete_resource))
}

/// A resource to register (or, in a bulk upsert, to register or replace whole).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
    /// An account of the organization.
    #[serde(default)]
    pub owner: Option<AccountId>,
    /// A JSON object of at most 16 KiB, nested at most 8 levels.
    #[serde(default)]
    pub attributes: Attributes,
}

impl From<ResourceBody> for NewResource {
    fn from(body: ResourceBody) -> Self {
        NewResource {
            resource_type: body.resource_type,
            id: body.id,
            owner: body.owner,
            attributes: body.attributes,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResource {
    /// `null` clears the owner.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner: Option<Option<AccountId>>,
    /// Replaces the attributes wholesale.
    pub attributes: Option<Attributes>,
}

/// Up to 10,000 resources, registered or replaced in one write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Upsert {
    pub resources: Vec<ResourceBody>,
}

/// What a bulk upsert did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Upserted {
    /// The write's revision; the current one when nothing changed.
    pub revision: keycard_core::change::Revision,
    pub created: usize,
    pub updated: usize,
    /// Resources that were already as given.
    pub unchanged: usize,
}

/// Paging and the type to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// Only resources of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub resource_type: Option<ResourceType>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Lists the organization's resources by type, then id.
#[utoipa::path(get, path = "/v1/resources", tag = "resources", params(ResourceQuery),
    responses((status = 200, body = List<RegisteredResource>)))]
async fn list_resources(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ResourceQuery>,
) -> Result<axum::Json<List<RegisteredResource>>, ApiError> {
    let page = keycard_core::page::PageRequest::parse(query.cursor.as_deref(), query.limit)?;
    let found = state
        .app
        .list_resources(&caller, query.resource_type.as_ref(), &page)
        .await?;
    Ok(axum::Json(found.into()))
}

/// Registers a resource; its type and id must be free.
#[utoipa::path(post, path = "/v1/resources", tag = "resources", request_body = ResourceBody,
    responses((status = 201, body = Saved<RegisteredResource>)))]
async fn create_resource(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ResourceBody>,
) -> Result<Saved<RegisteredResource>, ApiError> {
    let written = state.app.create_resource(&caller, body.into()).await?;
    Ok(Saved::created(written))
}

/// Registers or replaces whole up to 10,000 resources in one write: all of them, or none. Resources
/// already as given are left alone.
#[utoipa::path(put, path = "/v1/resources", tag = "resources", request_body = Upsert,
    responses((status = 200, body = Upserted)))]
async fn upsert_resources(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Upsert>,
) -> Result<Response, ApiError> {
    let resources = body.resources.into_iter().map(NewResource::from).collect();
    let written = state.app.upsert_resources(&caller, resources).await?;
    let answer = Upserted {
        revision: written.revision,
        created: written.value.created,
        updated: written.value.updated,
        unchanged: written.value.unchanged,
    };
    Ok(with_revision(
        written.revision,
        axum::Json(answer).into_response(),
    ))
}

/// Reads a resource. An id with `/` in it is sent percent-encoded (`%2F`).
#[utoipa::path(get, path = "/v1/resources/{type}/{id}", tag = "resources",
    params(("type" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RegisteredResource)))]
async fn get_resource(
    State(state): State<AppState>,
    caller: Caller,
    Path((resource_type, id)): Path<(ResourceType, ResourceId)>,
) -> Result<axum::Json<RegisteredResource>, ApiError> {
    let resource = state
        .app
        .read_resource(&caller, &resource_type, &id)
        .await?;
    Ok(axum::Json(resource.into()))
}

/// Changes a resource's owner or attributes.
#[utoipa::path(patch, path = "/v1/resources/{type}/{id}", tag = "resources",
    params(("type" = String, Path), ("id" = String, Path)), request_body = UpdateResource,
    responses((status = 200, body = Saved<RegisteredResource>)))]
async fn update_resource(
    State(state): State<AppState>,
    caller: Caller,
    Path((resource_type, id)): Path<(ResourceType, ResourceId)>,
    Json(body): Json<UpdateResource>,
) -> Result<Saved<RegisteredResource>, ApiError> {
    let patch = ResourcePatch {
        owner: body.owner,
        attributes: body.attributes,
    };
    let written = state
        .app
        .update_resource(&caller, &resource_type, &id, patch)
        .await?;
    Ok(Saved::updated(written))
}

/// Deletes a resource.
#[utoipa::path(delete, path = "/v1/resources/{type}/{id}", tag = "resources",
    params(("type" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Committed)))]
async fn delete_resource(
    State(state): State<AppState>,
    caller: Caller,
    Path((resource_type, id)): Path<(ResourceType, ResourceId)>,
) -> Result<Committed, ApiError> {
    let revision = state
        .app
        .delete_resource(&caller, &resource_type, &id)
        .await?;
    Ok(Committed { revision })
}
