//! `Idempotency-Key`: the first outcome of a keyed non-GET request (errors included) is stored in
//! the database and replayed for 24 hours to later requests with the same key from the same
//! credential, standing and organization. A request whose key is still in flight gets 409; the same
//! key with a different request gets 422.
//!
//! A key is scoped to what authorized the request it first came with: it is stored as a digest of
//! the credential (API key, session, or account for a password), the caller's standing
//! (administrator, partner, organization) and the client's key. The caller is authenticated before
//! anything is looked up, and another caller, or the same one after its standing changed, reusing
//! the key makes a new request, authorized as usual: a stored outcome only ever goes back to a
//! caller that was allowed to cause it.
//!
//! An outcome that carries a secret (a new API key) is never stored: the replay of such a request
//! is refused with 409 `secret_not_replayed`, and the secret exists only in the first answer.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use keycard_core::store::IdempotentRecord;
use sha2::{Digest, Sha256};

use super::{PolyError, authenticate};
use crate::app::ScopedKey;
use crate::auth;
use crate::error::Code;
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
                Code::InvalidHeader,
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
    let key = ScopedKey::new(&caller, &key);
    let body = to_bytes(body, state.settings.body_limit)
        .await
        .map_err(|_| {
            PolyError::new(Code::PayloadTooLarge, "the request body is too large").into_response()
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
        .app
        .claim_request(
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
                Code::Conflict,
                "a request with this Idempotency-Key is still in progress",
            )
            .into_response());
        }
        Some(IdempotentRecord::Done {
            fingerprint: stored,
            ..
        }) if stored != fingerprint => {
            return Err(PolyError::new(
                Code::InvalidInput,
                "this Idempotency-Key was used with a different request",
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
            // The consistency token, as the first answer gave it (or a later one).
            if (200..300).contains(&status) {
                let revision = state
                    .app
                    .replay_revision()
                    .await
                    .map_err(|err| PolyError::from(err).into_response())?;
                response = crate::revision::with_revision(revision, response);
            }
            return Ok(response);
        }
        None => {}
    }

    parts.extensions.insert(caller);
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if response.extensions().get::<CarriesSecret>().is_some() {
        // The secret goes to this caller alone; what is kept for a replay is a refusal.
        let refusal = PolyError::new(
            Code::SecretNotReplayed,
            "the request first sent with this Idempotency-Key created a secret, which is shown \
             once and never stored, so it is not replayed; send a new Idempotency-Key to create \
             another",
        )
        .into_response();
        let (refusal, body) = refusal.into_parts();
        let bytes = to_bytes(body, MAX_STORED_BODY).await.unwrap_or_default();
        remember(state, &key, &refusal, &bytes).await;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_STORED_BODY).await else {
        state.app.release_request(&key).await;
        return Err(PolyError::new(
            Code::Internal,
            "the response could not be stored for replay",
        )
        .into_response());
    };
    remember(state, &key, &parts, &bytes).await;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// Marks a response whose body holds a secret: it is answered once and never stored.
#[derive(Clone, Copy, Debug)]
pub struct CarriesSecret;

/// Stores the outcome for replay.
async fn remember(
    state: &AppState,
    key: &ScopedKey,
    parts: &axum::http::response::Parts,
    body: &[u8],
) {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    state
        .app
        .complete_request(key, parts.status.as_u16(), content_type, body)
        .await;
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
