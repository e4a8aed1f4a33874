//! What the OpenAPI document says of every operation beyond its own annotations: the error
//! statuses every route can answer (from the one table in `crate::error`), and the bounds the
//! validated names enforce. Applied once to the merged document, so a new route gets them too.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// The statuses any operation may answer, and why.
const EVERY_OPERATION: &[(&str, &str)] = &[
    (
        "400",
        "Malformed request: a path, query or header that cannot be read (`invalid_path`, `invalid_query`, `invalid_header`), or broken JSON.",
    ),
    (
        "503",
        "The store is unavailable, busy, or this node has not reached the requested `Keycard-Min-Revision` in time; retry after `Retry-After` seconds.",
    ),
];

/// The statuses of operations that need credentials.
const AUTHENTICATED: &[(&str, &str)] = &[
    ("401", "Missing, wrong or expired credentials."),
    (
        "403",
        "The caller may not do this, or may not act in the organization `Keycard-Organization` names.",
    ),
    (
        "404",
        "The entity, or the organization `Keycard-Organization` names, does not exist.",
    ),
    (
        "429",
        "Too many failed password attempts for this username from this address; retry after `Retry-After` seconds.",
    ),
];

/// The statuses of operations with parameters or a body to validate.
const VALIDATED: &[(&str, &str)] = &[(
    "422",
    "Well-formed but invalid input: a value out of bounds, an unknown field, a name that breaks the rules.",
)];

/// The statuses of operations with a request body.
const WITH_BODY: &[(&str, &str)] = &[
    ("413", "The request body is larger than the server accepts."),
    ("415", "The request body is not `application/json`."),
];

/// The statuses of operations that write.
const WRITES: &[(&str, &str)] = &[(
    "409",
    "The write conflicts with the stored state: a duplicate, a membership cycle, or it would leave the organization without an administrator who can log in (`last_administrator`).",
)];

/// Validated names: (component, longest length, whether spaces may appear inside).
const NAMES: &[(&str, usize, bool)] = &[
    ("OrganizationName", 200, true),
    ("Username", 200, false),
    ("GroupName", 200, true),
    ("RoleName", 200, true),
    ("PolicyName", 200, true),
    ("Provenance", 200, true),
    ("ActionName", 200, false),
    ("Email", 320, false),
];

/// Validated free text: (component, longest length). Control characters are refused, which a
/// pattern cannot say portably.
const TEXTS: &[(&str, usize)] = &[("Description", 4000), ("FirstName", 200)];

/// Adds the common error statuses to every operation and bounds to the name schemas.
pub fn complete(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        complete_item(item);
    }
    if let Some(components) = doc.components.as_mut() {
        for (name, longest, inner_space) in NAMES {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
                object.min_length = Some(1);
                object.max_length = Some(*longest);
                // No surrounding whitespace; the server also refuses control and invisible
                // formatting characters, which a pattern cannot say portably.
                object.pattern = Some(if *inner_space {
                    r"^\S(.*\S)?$".to_owned()
                } else {
                    r"^\S+$".to_owned()
                });
            }
        }
        for (name, longest) in TEXTS {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
                object.max_length = Some(*longest);
            }
        }
    }
    doc
}

fn complete_item(item: &mut PathItem) {
    let path_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let operations = [
        (&mut item.get, false),
        (&mut item.post, true),
        (&mut item.put, true),
        (&mut item.patch, true),
        (&mut item.delete, true),
    ];
    for (operation, writes) in operations {
        if let Some(operation) = operation {
            complete_operation(operation, writes, path_parameters);
        }
    }
}

fn complete_operation(operation: &mut Operation, writes: bool, path_parameters: bool) {
    // `security(())` marks an open operation: one requirement with no scheme.
    let open = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().all(is_empty_requirement));
    let has_body = operation.request_body.is_some();
    let has_parameters =
        path_parameters || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut statuses: Vec<(&str, &str)> = EVERY_OPERATION.to_vec();
    if !open {
        statuses.extend_from_slice(AUTHENTICATED);
    }
    if has_body || has_parameters {
        statuses.extend_from_slice(VALIDATED);
    }
    if has_body {
        statuses.extend_from_slice(WITH_BODY);
    }
    if writes && !open {
        statuses.extend_from_slice(WRITES);
    }
    for (status, description) in statuses {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement)
        .ok()
        .and_then(|value| value.as_object().map(serde_json::Map::is_empty))
        .unwrap_or(false)
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}
