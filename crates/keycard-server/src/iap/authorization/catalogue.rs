//! `/authorization/methods` and `/authorization/views`: the catalogue roles grant from.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::listed;
use crate::app::Operation;
use crate::iap::query::ListSpec;
use crate::iap::{IapCaller, IapError, documents};
use crate::state::{AppState, org_of};

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
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListMethods)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    listed(
        &METHOD_LIST,
        raw.as_deref(),
        org.methods().map(documents::method).collect(),
    )
}

pub(super) async fn list_views(
    State(state): State<AppState>,
    caller: IapCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, IapError> {
    let snapshot = state
        .app
        .read_snapshot(&caller.caller, Operation::ListViews)?;
    let org = org_of(&snapshot, caller.caller.organization)?;
    listed(
        &VIEW_LIST,
        raw.as_deref(),
        org.views().map(documents::view).collect(),
    )
}
