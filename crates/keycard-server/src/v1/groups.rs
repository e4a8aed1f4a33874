//! Groups, their nesting and their roles.

use axum::extract::State;
use keycard_core::ids::{AccountId, GroupId, RoleId};
use keycard_core::model::{GroupPatch, Link, NewGroup, Principal};
use keycard_core::names::{Description, GroupName, Provenance};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::Group;
use super::{Committed, List, ListQuery, Saved, change_link};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(group_members))
        .routes(routes!(add_parent, remove_parent))
        .routes(routes!(add_group_role, remove_group_role))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: GroupName,
    #[serde(default)]
    pub description: Description,
    /// `Local` when absent.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    #[serde(default)]
    pub inactive: bool,
    #[serde(default)]
    pub roles: Vec<RoleId>,
    /// Groups this group is a member of.
    #[serde(default)]
    pub parents: Vec<GroupId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    pub name: Option<GroupName>,
    pub description: Option<Description>,
    pub inactive: Option<bool>,
    /// Replaces the directly assigned roles.
    pub roles: Option<Vec<RoleId>>,
    /// Replaces the parent groups; a cycle is refused with 409.
    pub parents: Option<Vec<GroupId>>,
}

/// Direct members of a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Members {
    pub accounts: Vec<AccountId>,
    pub groups: Vec<GroupId>,
}

/// Lists the organization's groups.
#[utoipa::path(get, path = "/v1/groups", tag = "groups", params(ListQuery), responses((status = 200, body = List<Group>)))]
async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Group>>, ApiError> {
    Ok(axum::Json(
        state.app.list_groups(&caller, &query.page()?).await?.into(),
    ))
}

/// Creates a group.
#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = CreateGroup,
    responses((status = 201, body = Saved<Group>), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateGroup>,
) -> Result<Saved<Group>, ApiError> {
    let new = NewGroup {
        name: body.name,
        description: body.description,
        provenance: body.provenance.unwrap_or_else(Provenance::local),
        inactive: body.inactive,
        roles: body.roles,
        parents: body.parents,
    };
    Ok(Saved::created(state.app.create_group(&caller, new).await?))
}

/// Reads a group.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups", params(("id" = GroupId, Path)),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
) -> Result<axum::Json<Group>, ApiError> {
    Ok(axum::Json(state.app.read_group(&caller, id).await?.into()))
}

/// Changes a group; lists replace wholesale.
#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups", params(("id" = GroupId, Path)), request_body = UpdateGroup,
    responses((status = 200, body = Saved<Group>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
    Json(body): Json<UpdateGroup>,
) -> Result<Saved<Group>, ApiError> {
    let patch = GroupPatch {
        name: body.name,
        description: body.description,
        inactive: body.inactive,
        roles: body.roles,
        parents: body.parents,
    };
    Ok(Saved::updated(
        state.app.update_group(&caller, id, patch).await?,
    ))
}

/// Deletes a group; its members and child groups lose the membership.
#[utoipa::path(delete, path = "/v1/groups/{id}", tag = "groups", params(("id" = GroupId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_group(&caller, id).await?;
    Ok(Committed { revision })
}

/// Lists a group's direct members: accounts and child groups.
#[utoipa::path(get, path = "/v1/groups/{id}/members", tag = "groups", params(("id" = GroupId, Path)),
    responses((status = 200, body = Members), (status = 404, body = ErrorBody)))]
async fn group_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<GroupId>,
) -> Result<axum::Json<Members>, ApiError> {
    let members = state.app.group_members(&caller, id).await?;
    Ok(axum::Json(Members {
        accounts: members.accounts,
        groups: members.groups,
    }))
}

/// Makes the group a member of `parent_id`; a cycle is refused with 409.
#[utoipa::path(put, path = "/v1/groups/{id}/parents/{parent_id}", tag = "groups", params(("id" = GroupId, Path), ("parent_id" = GroupId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_parent(
    State(state): State<AppState>,
    caller: Caller,
    Path((child, parent)): Path<(GroupId, GroupId)>,
) -> Result<Committed, ApiError> {
    change_link(&state, &caller, Link::GroupInGroup { child, parent }, true).await
}

/// Removes the group from `parent_id`.
#[utoipa::path(delete, path = "/v1/groups/{id}/parents/{parent_id}", tag = "groups", params(("id" = GroupId, Path), ("parent_id" = GroupId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn remove_parent(
    State(state): State<AppState>,
    caller: Caller,
    Path((child, parent)): Path<(GroupId, GroupId)>,
) -> Result<Committed, ApiError> {
    change_link(&state, &caller, Link::GroupInGroup { child, parent }, false).await
}

/// Assigns the role to the group.
#[utoipa::path(put, path = "/v1/groups/{id}/roles/{role_id}", tag = "groups", params(("id" = GroupId, Path), ("role_id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn add_group_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(GroupId, RoleId)>,
) -> Result<Committed, ApiError> {
    change_link(
        &state,
        &caller,
        Link::RoleOf(Principal::Group(id), role),
        true,
    )
    .await
}

/// Takes the role from the group.
#[utoipa::path(delete, path = "/v1/groups/{id}/roles/{role_id}", tag = "groups", params(("id" = GroupId, Path), ("role_id" = RoleId, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn remove_group_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, role)): Path<(GroupId, RoleId)>,
) -> Result<Committed, ApiError> {
    change_link(
        &state,
        &caller,
        Link::RoleOf(Principal::Group(id), role),
        false,
    )
    .await
}
