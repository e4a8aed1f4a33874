//! The AuthZEN searches: which subjects, resources or actions would be permitted. Results are
//! sorted and paged with opaque tokens bound to the query.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keycard_core::decision::{self, Facts};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{AuthzenError, Entity, entity, is_account_type, json_object, pep};
use crate::app::Operation;
use crate::auth::ClientIp;
use crate::state::{AppState, org_of};

/// `page.limit` and `page.token` of a search request.
struct PageIn {
    limit: Option<usize>,
    offset: usize,
}

/// What a token is bound to: the request without its `page`.
fn fingerprint(request: &Map<String, Value>) -> String {
    let mut bound = request.clone();
    bound.remove("page");
    let mut hasher = Sha256::new();
    hasher.update(Value::Object(bound).to_string().as_bytes());
    hex::encode(&hasher.finalize()[..8])
}

fn page_in(request: &Map<String, Value>) -> Result<PageIn, AuthzenError> {
    let page = match request.get("page") {
        None | Some(Value::Null) => {
            return Ok(PageIn {
                limit: None,
                offset: 0,
            });
        }
        Some(Value::Object(page)) => page,
        Some(_) => return Err(AuthzenError::bad_request("`page` must be an object")),
    };
    // A limit of 0 would answer no results and a token to the same page, forever.
    let positive = || AuthzenError::bad_request("`page.limit` must be a positive integer");
    let limit = match page.get("limit") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(limit) if limit > 0 => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
            _ => return Err(positive()),
        },
        Some(_) => return Err(positive()),
    };
    match page.get("token") {
        None | Some(Value::Null) => Ok(PageIn { limit, offset: 0 }),
        Some(Value::String(token)) if token.is_empty() => Ok(PageIn { limit, offset: 0 }),
        // A token carries its offset, the limit it was made with and the query it belongs to. A
        // follow-up may leave the limit out; a different limit or query is refused.
        Some(Value::String(token)) => {
            let invalid =
                || AuthzenError::bad_request("`page.token` is not a token from this query");
            let decoded = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
            let mut parts = decoded.splitn(3, ':');
            let (Some(offset), Some(token_limit), Some(bound)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid());
            };
            let token_limit: Option<usize> = if token_limit.is_empty() {
                None
            } else {
                Some(token_limit.parse().map_err(|_| invalid())?)
            };
            if bound != fingerprint(request) || (limit.is_some() && limit != token_limit) {
                return Err(AuthzenError::bad_request(
                    "`page.token` belongs to a different query or limit",
                ));
            }
            Ok(PageIn {
                limit: token_limit,
                offset: offset.parse().map_err(|_| invalid())?,
            })
        }
        Some(_) => Err(AuthzenError::bad_request("`page.token` must be a string")),
    }
}

/// A subject or resource found, `type` first: the public interop runners compare JSON text.
#[derive(Clone, Debug, Serialize)]
struct Found {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

/// An action found.
#[derive(Clone, Debug, Serialize)]
struct FoundAction {
    name: String,
}

#[derive(Debug, Serialize)]
struct PageOut {
    count: usize,
    next_token: String,
    total: usize,
}

#[derive(Debug, Serialize)]
struct SearchAnswer<T> {
    page: PageOut,
    results: Vec<T>,
}

/// Answers with one page of sorted results.
fn respond<T: Serialize + Clone>(
    request: &Map<String, Value>,
    page: PageIn,
    results: Vec<T>,
) -> Response {
    let total = results.len();
    let end = page
        .limit
        .map_or(total, |limit| page.offset.saturating_add(limit).min(total));
    let start = page.offset.min(end);
    let slice: Vec<T> = results[start..end].to_vec();
    let limit = page
        .limit
        .map(|limit| limit.to_string())
        .unwrap_or_default();
    let next_token = if end < total {
        URL_SAFE_NO_PAD.encode(format!("{end}:{limit}:{}", fingerprint(request)))
    } else {
        String::new()
    };
    axum::Json(SearchAnswer {
        page: PageOut {
            count: slice.len(),
            next_token,
            total,
        },
        results: slice,
    })
    .into_response()
}

/// What a search request says beyond the ids: its entities' properties and its context, which
/// must be an object when given.
fn facts<'a>(
    subject: &'a Entity,
    action: Option<&'a Entity>,
    resource: &'a Entity,
    request: &'a Map<String, Value>,
) -> Result<Facts<'a>, AuthzenError> {
    let context = match request.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::Object(context)) => Some(context),
        Some(_) => return Err(AuthzenError::bad_request("`context` must be an object")),
    };
    Ok(Facts {
        subject: subject.properties.as_ref(),
        resource: resource.properties.as_ref(),
        action: action.and_then(|action| action.properties.as_ref()),
        context,
    })
}

fn required<'a>(request: &'a Map<String, Value>, member: &str) -> Result<&'a Value, AuthzenError> {
    request
        .get(member)
        .filter(|value| !value.is_null())
        .ok_or_else(|| AuthzenError::bad_request(format!("`{member}` is required")))
}

/// `POST /access/v1/search/subject`: the subjects of the given type that may act on the resource.
pub async fn subject(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthzenError> {
    let caller = pep(&state, &headers, ip).await?;
    let request = json_object(&headers, &body)?;
    let subject = entity(required(&request, "subject")?, "subject", false)
        .map_err(AuthzenError::bad_request)?;
    let action =
        entity(required(&request, "action")?, "action", true).map_err(AuthzenError::bad_request)?;
    let resource = entity(required(&request, "resource")?, "resource", true)
        .map_err(AuthzenError::bad_request)?;
    let page = page_in(&request)?;
    let snapshot = state.app.read_snapshot(&caller, Operation::QueryPdp)?;
    let org = org_of(&snapshot, caller.organization)?;
    let mut results: Vec<Found> = Vec::new();
    if is_account_type(&subject.kind) {
        let facts = facts(&subject, Some(&action), &resource, &request)?;
        let mut names: Vec<String> = decision::subjects_for(
            org,
            &action.kind,
            &resource.kind,
            resource.id.as_deref().unwrap_or(""),
            &facts,
        )
        .into_iter()
        .filter_map(|id| org.account(id).map(|account| account.username.to_string()))
        .collect();
        names.sort();
        results = names
            .into_iter()
            .map(|id| Found {
                kind: subject.kind.clone(),
                id,
            })
            .collect();
    }
    Ok(respond(&request, page, results))
}

/// `POST /access/v1/search/resource`: the resources of the given type the subject may act on.
pub async fn resource(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthzenError> {
    let caller = pep(&state, &headers, ip).await?;
    let request = json_object(&headers, &body)?;
    let subject = entity(required(&request, "subject")?, "subject", true)
        .map_err(AuthzenError::bad_request)?;
    let action =
        entity(required(&request, "action")?, "action", true).map_err(AuthzenError::bad_request)?;
    let resource = entity(required(&request, "resource")?, "resource", false)
        .map_err(AuthzenError::bad_request)?;
    let page = page_in(&request)?;
    let snapshot = state.app.read_snapshot(&caller, Operation::QueryPdp)?;
    let org = org_of(&snapshot, caller.organization)?;
    let mut results: Vec<Found> = Vec::new();
    if is_account_type(&subject.kind) {
        let facts = facts(&subject, Some(&action), &resource, &request)?;
        results = decision::resources_for(
            org,
            subject.id.as_deref().unwrap_or(""),
            &action.kind,
            &resource.kind,
            &facts,
        )
        .into_iter()
        // `*` is Keycard's "every resource of the type", not a resource a PEP can name.
        .filter(|id| id != "*")
        .map(|id| Found {
            kind: resource.kind.clone(),
            id,
        })
        .collect();
    }
    Ok(respond(&request, page, results))
}

/// `POST /access/v1/search/action`: the actions the subject may perform on the resource.
pub async fn action(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthzenError> {
    let caller = pep(&state, &headers, ip).await?;
    let request = json_object(&headers, &body)?;
    let subject = entity(required(&request, "subject")?, "subject", true)
        .map_err(AuthzenError::bad_request)?;
    let resource = entity(required(&request, "resource")?, "resource", true)
        .map_err(AuthzenError::bad_request)?;
    let page = page_in(&request)?;
    let snapshot = state.app.read_snapshot(&caller, Operation::QueryPdp)?;
    let org = org_of(&snapshot, caller.organization)?;
    let mut results: Vec<FoundAction> = Vec::new();
    if is_account_type(&subject.kind) {
        let facts = facts(&subject, None, &resource, &request)?;
        results = decision::actions_for(
            org,
            subject.id.as_deref().unwrap_or(""),
            &resource.kind,
            resource.id.as_deref().unwrap_or(""),
            &facts,
        )
        .into_iter()
        .map(|name| FoundAction { name })
        .collect();
    }
    Ok(respond(&request, page, results))
}
