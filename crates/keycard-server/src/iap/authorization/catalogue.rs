//! `/authorization/methods` and `/authorization/views`: the catalogue roles grant from.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::listed;
use crate::app::Operation;
use crate::iap::query::ListSpec;
use crate::iap::{IapCaller, IapError, documents};
use crate::state::AppState;

const METHOD_LIST: ListSpec = ListSpec {
    fields: &["name", "provenance", "deprecated"],
    default_field: "name",
    extras: &[],
};
const VIEW_LIST: ListSpec = ListSpec {
    fields: &["path", "provenance"],
    default_field: "path",
    extras: &[],
};

pub(super) async fn list_methods(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    listed(
        &state,
        &caller.caller,
        Operation::ListMethods,
        &METHOD_LIST,
        raw.as_deref(),
        |org| org.methods().map(documents::method).collect(),
    )
}

pub(super) async fn list_views(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    listed(
        &state,
        &caller.caller,
        Operation::ListViews,
        &VIEW_LIST,
        raw.as_deref(),
        |org| org.views().map(documents::view).collect(),
    )
}
