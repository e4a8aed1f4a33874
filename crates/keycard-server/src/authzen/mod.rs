//! The OpenID AuthZEN Authorization API 1.0: evaluation, evaluations (boxcarring) and the three
//! searches, plus PDP metadata. Requests are parsed by hand from JSON values so that every shape
//! error is a 400 naming the member, and unknown members are ignored as the spec requires.
//!
//! A PEP authenticates with an API key (`Authorization: Bearer <key>`, or the bare key as the
//! interop harnesses send it) of an administrator of its organization.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keycard_core::Error;
use keycard_core::decision::{self, Facts};
use keycard_core::snapshot::{OrgSnapshot, Snapshot};
use serde_json::{Map, Value, json};

use crate::app::Operation;
use crate::auth::{self, Caller, ClientIp, Presented};
use crate::decision_log::Decided;
use crate::error::{ApiError, Code};
use crate::state::{AppState, org_of};

mod plain;
mod search;

use plain::{PlainEvaluation, plain_evaluation};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/authzen-configuration", get(metadata))
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/subject", post(search::subject))
        .route("/access/v1/search/resource", post(search::resource))
        .route("/access/v1/search/action", post(search::action))
}

/// An AuthZEN error: the status and `{"error": message}`.
#[derive(Debug)]
pub struct AuthzenError(ApiError);

impl AuthzenError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self(ApiError::new(Code::InvalidBody, message))
    }

    /// AuthZEN's status for a code: a client's mistake of any kind is a 400, as the
    /// specification's error responses have it; credentials, permission, rate and server
    /// trouble keep their own.
    fn status(&self) -> StatusCode {
        match self.0.code {
            Code::Unauthenticated
            | Code::Forbidden
            | Code::RateLimited
            | Code::Unavailable
            | Code::Internal => self.0.code.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<Error> for AuthzenError {
    fn from(err: Error) -> Self {
        Self(ApiError::from(err))
    }
}

impl IntoResponse for AuthzenError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(json!({"error": self.0.message}))).into_response();
        if let Some(secs) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"keycard\""),
            );
        }
        response
    }
}

/// `GET /.well-known/authzen-configuration`: the endpoints this PDP serves.
async fn metadata(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let base = crate::origin::base_url(&state.settings, &headers, ip);
    let body = json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_subject_endpoint": format!("{base}/access/v1/search/subject"),
        "search_resource_endpoint": format!("{base}/access/v1/search/resource"),
        "search_action_endpoint": format!("{base}/access/v1/search/action"),
    });
    ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(body)).into_response()
}

/// Authenticates the PEP: Bearer or Basic as elsewhere, or the bare API key.
/// A password tried here counts against the same failed-login limit as everywhere else, keyed by
/// username and client address.
pub async fn pep(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Result<Caller, AuthzenError> {
    let presented = match headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        Some(raw)
            if !raw.contains(' ') && keycard_core::secret::parse_token(raw.trim()).is_some() =>
        {
            Presented::Token(raw.trim().to_owned())
        }
        _ => auth::presented_credentials(headers)?.ok_or_else(|| {
            Error::Unauthenticated(
                "authentication required: send `Authorization: Bearer <api key>`".into(),
            )
        })?,
    };
    let caller = auth::authenticate(state, headers, presented, ip).await?;
    state.app.authorize(&caller, Operation::QueryPdp)?;
    Ok(caller)
}

/// Refuses a body that is not `application/json`.
fn json_content(headers: &HeaderMap) -> Result<(), AuthzenError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(AuthzenError::bad_request(
            "Content-Type must be application/json",
        ));
    }
    Ok(())
}

/// Parses the body as a JSON object, refusing anything but `application/json`.
pub fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, AuthzenError> {
    json_content(headers)?;
    parse_object(body)
}

/// Parses a body already known to be `application/json` as a JSON object.
fn parse_object(body: &Bytes) -> Result<Map<String, Value>, AuthzenError> {
    if body.is_empty() {
        return Err(AuthzenError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(AuthzenError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(err) => Err(AuthzenError::bad_request(format!("malformed JSON: {err}"))),
    }
}

/// A subject, action or resource as the request gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub kind: String,
    pub id: Option<String>,
    /// What conditions read as its `properties`.
    pub properties: Option<Map<String, Value>>,
}

/// Reads `{type, id?}` (or `{name}` for actions), checking the members' types.
pub fn entity(value: &Value, member: &str, id_required: bool) -> Result<Entity, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("`{member}` must be an object"))?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("`{member}.{key}` must be a string")),
        }
    };
    let properties = match object.get("properties") {
        None | Some(Value::Null) => None,
        Some(Value::Object(properties)) => Some(properties.clone()),
        Some(_) => return Err(format!("`{member}.properties` must be an object")),
    };
    if member == "action" {
        let name = text("name")?.ok_or_else(|| "`action.name` is required".to_owned())?;
        return Ok(Entity {
            kind: name,
            id: None,
            properties,
        });
    }
    let kind = text("type")?.ok_or_else(|| format!("`{member}.type` is required"))?;
    let id = text("id")?;
    if id_required && id.is_none() {
        return Err(format!("`{member}.id` is required"));
    }
    Ok(Entity {
        kind,
        id,
        properties,
    })
}

/// Subject types that name accounts.
pub fn is_account_type(kind: &str) -> bool {
    matches!(kind, "user" | "account" | "identity")
}

/// One evaluation, already validated.
pub struct Evaluation {
    pub subject: Entity,
    pub action: Entity,
    pub resource: Entity,
    pub context: Option<Map<String, Value>>,
}

impl Evaluation {
    /// Its members as the decision reads them.
    fn as_plain(&self) -> PlainEvaluation<'_> {
        PlainEvaluation {
            subject: (&self.subject.kind, self.subject.id.as_deref().unwrap_or("")),
            action: &self.action.kind,
            resource: (
                &self.resource.kind,
                self.resource.id.as_deref().unwrap_or(""),
            ),
        }
    }

    /// What the request says beyond the ids.
    fn facts(&self) -> Facts<'_> {
        Facts {
            subject: self.subject.properties.as_ref(),
            resource: self.resource.properties.as_ref(),
            action: self.action.properties.as_ref(),
            context: self.context.as_ref(),
        }
    }

    /// The decision on this evaluation, counted (and logged, when the decision log is on).
    fn decide(&self, state: &AppState, snapshot: &Snapshot, org: &OrgSnapshot) -> bool {
        let PlainEvaluation {
            subject: (subject_type, subject),
            action,
            resource: (resource_type, resource),
        } = self.as_plain();
        let query = decision::Query {
            subject,
            action,
            resource_type,
            resource_id: resource,
            facts: self.facts(),
        };
        let allowed = is_account_type(subject_type)
            && decision::check_with(org, subject, action, resource_type, resource, &query.facts);
        state.decided(&Decided {
            face: "authzen",
            organization: org,
            query: &query,
            allowed,
            reasons: None,
            revision: snapshot.revision(),
        });
        allowed
    }
}

/// `{"decision": allowed}`, from a constant body.
fn decision_response(allowed: bool) -> Response {
    let body = if allowed {
        r#"{"decision":true}"#
    } else {
        r#"{"decision":false}"#
    };
    (
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Builds an evaluation from an object, taking members it lacks from `defaults`.
fn evaluation_from(
    item: &Map<String, Value>,
    defaults: &Map<String, Value>,
) -> Result<Evaluation, String> {
    let member = |name: &str| -> Result<&Value, String> {
        item.get(name)
            .or_else(|| defaults.get(name))
            .filter(|value| !value.is_null())
            .ok_or_else(|| format!("`{name}` is required"))
    };
    let context = match item.get("context").or_else(|| defaults.get("context")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(context)) => Some(context.clone()),
        Some(_) => return Err("`context` must be an object".to_owned()),
    };
    Ok(Evaluation {
        subject: entity(member("subject")?, "subject", true)?,
        action: entity(member("action")?, "action", true)?,
        resource: entity(member("resource")?, "resource", true)?,
        context,
    })
}

/// The PEP's organization, as a snapshot.
fn organization(
    state: &AppState,
    caller: &Caller,
) -> Result<
    (
        std::sync::Arc<keycard_core::snapshot::Snapshot>,
        keycard_core::ids::OrganizationId,
    ),
    AuthzenError,
> {
    let snapshot = state.app.read_snapshot(caller, Operation::QueryPdp)?;
    org_of(&snapshot, caller.organization)?;
    Ok((snapshot, caller.organization))
}

/// `context.keycard_min_revision`: the request's consistency token, as the header carries it.
async fn honour_min_revision(
    state: &AppState,
    request: &Map<String, Value>,
) -> Result<(), AuthzenError> {
    match request
        .get("context")
        .and_then(|context| context.get("keycard_min_revision"))
    {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|r| r >= 0) => state
            .app
            .at_least(keycard_core::change::Revision(n.as_i64().unwrap_or(0)))
            .await
            .map_err(AuthzenError::from),
        Some(_) => Err(AuthzenError::bad_request(
            "`context.keycard_min_revision` must be a revision number",
        )),
    }
}

/// `POST /access/v1/evaluation`.
async fn evaluation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthzenError> {
    let caller = pep(&state, &headers, ip).await?;
    json_content(&headers)?;
    // The plain reader skips properties and context: its answer stands when no grant under a
    // condition could change it.
    if let Some(plain) = plain_evaluation(&body) {
        let (snapshot, org_id) = organization(&state, &caller)?;
        let org = org_of(&snapshot, org_id)?;
        let (resource_type, resource_id) = plain.resource;
        // An outright grant answers without the facts; only a refusal asks whether a grant under
        // a condition could change it, so allowed requests pay nothing more than before.
        let allowed = is_account_type(plain.subject.0)
            && decision::check(
                org,
                plain.subject.1,
                plain.action,
                resource_type,
                resource_id,
            );
        if allowed || !decision::may_need_facts(org, plain.action, resource_type, resource_id) {
            state.decided(&Decided {
                face: "authzen",
                organization: org,
                query: &decision::Query {
                    subject: plain.subject.1,
                    action: plain.action,
                    resource_type,
                    resource_id,
                    facts: Facts::default(),
                },
                allowed,
                reasons: None,
                revision: snapshot.revision(),
            });
            return Ok(decision_response(allowed));
        }
    }
    let request = parse_object(&body)?;
    honour_min_revision(&state, &request).await?;
    let general = evaluation_from(&request, &Map::new()).map_err(AuthzenError::bad_request)?;
    // Taken after any wait for a revision.
    let (snapshot, org_id) = organization(&state, &caller)?;
    let org = org_of(&snapshot, org_id)?;
    Ok(decision_response(general.decide(&state, &snapshot, org)))
}

/// `POST /access/v1/evaluations`: top-level members are defaults that an item's members replace
/// whole. Without items it answers like `/evaluation`. `options.evaluations_semantic` is
/// `execute_all` (default), `deny_on_first_deny` or `permit_on_first_permit`; anything else is a 400.
async fn evaluations(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthzenError> {
    let caller = pep(&state, &headers, ip).await?;
    let request = json_object(&headers, &body)?;
    honour_min_revision(&state, &request).await?;
    let semantic = match request.get("options") {
        None | Some(Value::Null) => "execute_all".to_owned(),
        Some(Value::Object(options)) => match options.get("evaluations_semantic") {
            None | Some(Value::Null) => "execute_all".to_owned(),
            Some(Value::String(semantic))
                if [
                    "execute_all",
                    "deny_on_first_deny",
                    "permit_on_first_permit",
                ]
                .contains(&semantic.as_str()) =>
            {
                semantic.clone()
            }
            Some(other) => {
                return Err(AuthzenError::bad_request(format!(
                    "unknown `options.evaluations_semantic` {other}"
                )));
            }
        },
        Some(_) => return Err(AuthzenError::bad_request("`options` must be an object")),
    };
    let items = match request.get("evaluations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(AuthzenError::bad_request("`evaluations` must be an array")),
    };
    let (snapshot, org_id) = organization(&state, &caller)?;
    let org = org_of(&snapshot, org_id)?;
    if items.is_empty() {
        let evaluation =
            evaluation_from(&request, &Map::new()).map_err(AuthzenError::bad_request)?;
        return Ok(decision_response(evaluation.decide(&state, &snapshot, org)));
    }
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let outcome = match item.as_object() {
            Some(item) => evaluation_from(item, &request),
            None => Err("each evaluation must be an object".to_owned()),
        };
        let (decision, result) = match outcome {
            Ok(evaluation) => {
                let decision = evaluation.decide(&state, &snapshot, org);
                (Some(decision), json!({"decision": decision}))
            }
            Err(message) => (
                None,
                json!({"decision": false, "context": {"error": {"status": 400, "message": message}}}),
            ),
        };
        results.push(result);
        let stop = match semantic.as_str() {
            "deny_on_first_deny" => decision != Some(true),
            "permit_on_first_permit" => decision == Some(true),
            _ => false,
        };
        if stop {
            break;
        }
    }
    Ok(axum::Json(json!({"evaluations": results})).into_response())
}
