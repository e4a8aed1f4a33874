//! `Idempotency-Key`: the first outcome of a keyed non-GET request (errors included) is stored in
//! the database and replayed to every later request with the same key in the same organization for
//! 24 hours. A request whose key is still in flight gets 409; the same key with a different request
//! gets 422.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use keycard_core::store::IdempotentRecord;
use sha2::{Digest, Sha256};

use super::{PolyError, authenticate};
use crate::auth;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
/// How long an outcome is replayed.
const RETENTION: Duration = Duration::hours(24);
/// After this long an in-flight claim is presumed abandoned (its node died).
const ABANDONED_AFTER: Duration = Duration::minutes(5);
/// Largest response body stored for replay.
const MAX_STORED_BODY: usize = 4 * 1024 * 1024;

fn valid_key(key: &str) -> bool {
    (8..=255).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(key) if valid_key(key) => key.to_owned(),
        _ => {
            return PolyError::new(
                "invalid_header",
                "Idempotency-Key must be 8 to 255 characters of A-Z, a-z, 0-9, `-` and `_`",
            )
            .into_response();
        }
    };
    match replay_or_run(&state, key, req, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn replay_or_run(
    state: &AppState,
    key: String,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let (mut parts, body) = req.into_parts();
    let caller = authenticate(state, &parts.headers, auth::client_ip_of(&parts.extensions))
        .await
        .map_err(|err| PolyError::from(err).into_response())?;
    let org = caller.organization;
    let body = to_bytes(body, state.settings.body_limit)
        .await
        .map_err(|_| {
            PolyError::new("payload_too_large", "the request body is too large").into_response()
        })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(&body);
    let fingerprint = hex::encode(hasher.finalize());

    let now = Utc::now();
    let claimed = state
        .store
        .claim_idempotency_key(
            org,
            &key,
            &fingerprint,
            now,
            now - ABANDONED_AFTER,
            now - RETENTION,
        )
        .await
        .map_err(|err| PolyError::from(err).into_response())?;
    match claimed {
        Some(IdempotentRecord::InFlight { .. }) => {
            return Err(PolyError::new(
                "conflict",
                format!("a request with Idempotency-Key `{key}` is still in progress"),
            )
            .into_response());
        }
        Some(IdempotentRecord::Done {
            fingerprint: stored,
            ..
        }) if stored != fingerprint => {
            return Err(PolyError::new(
                "invalid_input",
                format!("Idempotency-Key `{key}` was used with a different request"),
            )
            .into_response());
        }
        Some(IdempotentRecord::Done {
            status,
            content_type,
            body,
            ..
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        None => {}
    }

    parts.extensions.insert(caller);
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_STORED_BODY).await else {
        let _ = state.store.release_idempotency_key(org, &key).await;
        return Err(
            PolyError::new("internal", "the response could not be stored for replay")
                .into_response(),
        );
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Err(err) = state
        .store
        .complete_idempotency_key(org, &key, parts.status.as_u16(), &content_type, &bytes)
        .await
    {
        // The outcome happened; failing to remember it must not hide it from this caller.
        tracing::warn!(error = %err, "storing an idempotent outcome failed");
        let _ = state.store.release_idempotency_key(org, &key).await;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_are_checked() {
        assert!(valid_key("create-role-0001"));
        assert!(valid_key(&"a".repeat(255)));
        assert!(!valid_key("short"));
        assert!(!valid_key(&"a".repeat(256)));
        assert!(!valid_key("has space here"));
        assert!(!valid_key("dots.are.not.ok"));
    }
}
