//! The consistency token, the same on every face: a write answers the revision that made it
//! visible in `Keycard-Revision`; a request carrying `Keycard-Min-Revision` is served only once
//! this node's snapshot holds that revision (see `layers::request_context`).

use axum::http::HeaderValue;
use axum::response::Response;
use keycard_core::change::Revision;

/// The header every successful write answers with.
pub const REVISION_HEADER: &str = "keycard-revision";

/// The header a client sends its consistency token in: the revision a write answered with.
pub const MIN_REVISION_HEADER: &str = "keycard-min-revision";

/// Adds `Keycard-Revision` to a write's response.
pub fn with_revision(revision: Revision, mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(REVISION_HEADER, HeaderValue::from(revision.0));
    response
}
