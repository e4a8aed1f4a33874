//! The permission catalogue: the methods and views an organization knows, loadable from a manifest.

use axum::extract::State;
use keycard_core::names::Provenance;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{Manifest, Method, View};
use super::{Committed, List, ListQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_manifest))
        .routes(routes!(list_methods))
        .routes(routes!(delete_method))
        .routes(routes!(list_views, delete_view))
}

/// Adds or replaces every method and view of a manifest, in one write.
#[utoipa::path(post, path = "/v1/catalogue", tag = "catalogue", request_body = Manifest,
    responses((status = 200, body = Committed), (status = 422, body = ErrorBody)))]
async fn import_manifest(
    State(state): State<AppState>,
    caller: Caller,
    Json(manifest): Json<Manifest>,
) -> Result<Committed, ApiError> {
    let revision = state.app.import_manifest(&caller, manifest.into()).await?;
    Ok(Committed { revision })
}

/// Lists the catalogue's methods, by provenance then name.
#[utoipa::path(get, path = "/v1/catalogue/methods", tag = "catalogue", params(ListQuery), responses((status = 200, body = List<Method>)))]
async fn list_methods(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<Method>>, ApiError> {
    Ok(axum::Json(
        state
            .app
            .list_methods(&caller, &query.page()?)
            .await?
            .into(),
    ))
}

/// Removes a method from the catalogue (roles keep listing it).
#[utoipa::path(delete, path = "/v1/catalogue/methods/{provenance}/{name}", tag = "catalogue",
    params(("provenance" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_method(
    State(state): State<AppState>,
    caller: Caller,
    Path((provenance, name)): Path<(Provenance, String)>,
) -> Result<Committed, ApiError> {
    let revision = state.app.delete_method(&caller, &provenance, &name).await?;
    Ok(Committed { revision })
}

/// Lists the catalogue's views, by provenance then path.
#[utoipa::path(get, path = "/v1/catalogue/views", tag = "catalogue", params(ListQuery), responses((status = 200, body = List<View>)))]
async fn list_views(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<List<View>>, ApiError> {
    Ok(axum::Json(
        state.app.list_views(&caller, &query.page()?).await?.into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ViewKey {
    pub provenance: Provenance,
    pub path: String,
}

/// Removes a view from the catalogue; views are named in the query since paths contain slashes.
#[utoipa::path(delete, path = "/v1/catalogue/views", tag = "catalogue", params(ViewKey),
    responses((status = 200, body = Committed), (status = 404, body = ErrorBody)))]
async fn delete_view(
    State(state): State<AppState>,
    caller: Caller,
    Query(key): Query<ViewKey>,
) -> Result<Committed, ApiError> {
    let revision = state
        .app
        .delete_view(&caller, &key.provenance, &key.path)
        .await?;
    Ok(Committed { revision })
}
