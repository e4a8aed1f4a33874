//! The native API, `/v1`: JSON, documented in OpenAPI, used by the CLI and the admin console.
//!
//! Writes answer with the new revision in the body and in the `Keycard-Revision` header, after the
//! decision snapshot includes it: a check made after a write sees the write.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keycard_core::change::Revision;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

mod accounts;
mod catalogue;
mod changes;
mod check;
mod directory;
mod document;
mod groups;
mod keys;
mod organizations;
mod policies;
mod resources;
mod roles;
mod sessions;
mod watch;
mod wire;

pub use crate::revision::REVISION_HEADER;
use crate::revision::with_revision;

#[derive(OpenApi)]
#[openapi(
    info(title = "Keycard native API", description = "Accounts, groups, roles, permissions, policies and decisions."),
    modifiers(&SecuritySchemes),
    security(("basic" = []), ("bearer" = [])),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The native API's document: the routes' own annotations, completed (see `document`).
pub fn document(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    document::complete(doc)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(organizations::router())
        .merge(accounts::router())
        .merge(keys::router())
        .merge(groups::router())
        .merge(roles::router())
        .merge(catalogue::router())
        .merge(policies::router())
        .merge(resources::router())
        .merge(sessions::router())
        .merge(check::router())
        .merge(changes::router())
        .merge(directory::router())
        .merge(watch::router())
}

/// A write's result: the entity as stored and the revision that made it visible.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saved<T> {
    pub revision: Revision,
    pub data: T,
    #[serde(skip)]
    status: StatusCode,
}

impl<T> Saved<T> {
    /// A creation's answer: 201 with what was stored, as this API shows it.
    pub fn created<D>(written: Written<D>) -> Self
    where
        T: From<D>,
    {
        Self {
            revision: written.revision,
            data: written.value.into(),
            status: StatusCode::CREATED,
        }
    }

    /// A change's answer: 200 with what was stored, as this API shows it.
    pub fn updated<D>(written: Written<D>) -> Self
    where
        T: From<D>,
    {
        Self {
            revision: written.revision,
            data: written.value.into(),
            status: StatusCode::OK,
        }
    }
}

impl<T: Serialize> IntoResponse for Saved<T> {
    fn into_response(self) -> Response {
        let status = self.status;
        with_revision(self.revision, (status, axum::Json(self)).into_response())
    }
}

/// A write that returns no entity: a deletion or a link change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Committed {
    pub revision: Revision,
}

impl IntoResponse for Committed {
    fn into_response(self) -> Response {
        with_revision(self.revision, axum::Json(&self).into_response())
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T, D> From<Page<D>> for List<T>
where
    T: From<D>,
{
    fn from(page: Page<D>) -> Self {
        Self {
            items: page.items.into_iter().map(T::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Paging parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl ListQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(self.cursor.as_deref(), self.limit)?)
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Adds or removes one membership or role assignment.
pub async fn change_link(
    state: &AppState,
    caller: &crate::auth::Caller,
    link: keycard_core::model::Link,
    add: bool,
) -> Result<Committed, ApiError> {
    let revision = state.app.change_link(caller, link, add).await?;
    Ok(Committed { revision })
}
