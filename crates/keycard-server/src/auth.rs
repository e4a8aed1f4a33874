//! Authentication shared by every face: HTTP Basic with a username and password, and bearer tokens
//! (API keys and login sessions). Failed password logins are rate limited per username and client
//! address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use keycard_core::decision;
use keycard_core::ids::{AccountId, ApiKeyId, OrganizationId, SessionId};
use keycard_core::model::{Account, Session};
use keycard_core::names::Username;
use keycard_core::secret::{self, TokenKind};
use keycard_core::{Error, Result};

use crate::error::ApiError;
use crate::state::{AppState, CachedKey};

/// The header that names the organization a request acts in (id or name).
pub const ORGANIZATION_HEADER: &str = "keycard-organization";

pub use crate::app::{Caller, Credential};

/// The address a request came from, when the server knows it.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    client_ip_of(&parts.extensions)
}

pub fn client_ip_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Credentials found in a request, before they are checked.
pub enum Presented {
    Basic { username: String, password: String },
    Token(String),
}

/// Reads the `Authorization` header: `Basic` or `Bearer`.
pub fn presented_credentials(headers: &HeaderMap) -> Result<Option<Presented>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("the authorization header is not text".into()))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .map_err(|_| Error::Unauthenticated("malformed basic credentials".into()))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| Error::Unauthenticated("malformed basic credentials".into()))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| Error::Unauthenticated("malformed basic credentials".into()))?;
        Ok(Some(Presented::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Ok(Some(Presented::Token(rest.to_owned())))
    } else {
        Err(Error::Unauthenticated(
            "unsupported authorization scheme; use Basic or Bearer".into(),
        ))
    }
}

/// Checks presented credentials and builds the caller.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    presented: Presented,
    ip: Option<IpAddr>,
) -> Result<Caller> {
    let named_org = named_organization(state, headers)?;
    let (account, credential) = match presented {
        Presented::Basic { username, password } => {
            let org = named_org.unwrap_or(state.default_organization);
            let account = verify_password(state, org, &username, &password, ip).await?;
            (Arc::new(account), Credential::Password)
        }
        Presented::Token(token) => verify_token(state, &token).await?,
    };
    caller_for(state, account, credential, named_org)
}

/// Checks a bearer token presented some other way than the `Authorization` header (a cookie, a
/// query parameter) and builds the caller.
pub async fn token_caller(state: &AppState, headers: &HeaderMap, token: &str) -> Result<Caller> {
    let named_org = named_organization(state, headers)?;
    let (account, credential) = verify_token(state, token).await?;
    caller_for(state, account, credential, named_org)
}

/// The organization a password login acts in: the one named by `Keycard-Organization`, else the
/// default organization.
pub fn login_organization(state: &AppState, headers: &HeaderMap) -> Result<OrganizationId> {
    Ok(named_organization(state, headers)?.unwrap_or(state.default_organization))
}

/// Verifies a username and password in an organization, under the failed-login rate limit.
pub async fn verify_password(
    state: &AppState,
    org: OrganizationId,
    username: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<Account> {
    let limit_key = (username.to_lowercase(), ip);
    state.limiter.reserve(&limit_key)?;
    match judge_password(state, org, username, password).await {
        Ok(Some(account)) => {
            state.limiter.succeeded(&limit_key);
            Ok(account)
        }
        // A wrong password keeps the attempt it reserved.
        Ok(None) => Err(Error::Unauthenticated(
            "invalid username or password".into(),
        )),
        // The store could not say: no attempt was judged.
        Err(err) => {
            state.limiter.release(&limit_key);
            Err(err)
        }
    }
}

/// The account a username and password sign in as, `None` when they do not; an error when the
/// store cannot say. An inactive account answers `None`, as a wrong password does, so that the
/// answer does not tell whether the password was right.
async fn judge_password(
    state: &AppState,
    org: OrganizationId,
    username: &str,
    password: &str,
) -> Result<Option<Account>> {
    let found = match Username::try_from(username) {
        Ok(name) => state.store.find_account(org, &name).await?,
        Err(_) => None,
    };
    let hash = match &found {
        Some(account) => state.store.password_hash(org, account.id).await?,
        None => None,
    };
    let password = password.to_owned();
    // Argon2 is deliberately slow: keep it off the async workers. An unknown user still pays for one
    // verification so that timing does not reveal which usernames exist.
    let hash_for_check = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
    let matches =
        tokio::task::spawn_blocking(move || secret::verify_password(&hash_for_check, &password))
            .await
            .map_err(|err| Error::Internal(format!("password check failed: {err}")))?;
    Ok(found.filter(|account| matches && hash.is_some() && !account.inactive))
}

/// An Argon2id hash of a random password, verified against when the username is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    secret::hash_password(&secret::generate_password()).unwrap_or_default()
});

/// Verifies a bearer token (API key or session) and returns its live, active account.
pub async fn verify_token(state: &AppState, token: &str) -> Result<(Arc<Account>, Credential)> {
    let invalid = || Error::Unauthenticated("invalid or expired token".into());
    let presented = secret::parse_token(token).ok_or_else(invalid)?;
    let now = Utc::now();
    let (org, account_id, credential) = match presented.kind {
        TokenKind::ApiKey => {
            let id = ApiKeyId::from_uuid(presented.id);
            let key = match state.snapshot.keys.get(id) {
                Some(key) => key,
                None => {
                    // Read the store, and cache what it says unless a change to this key was
                    // applied meanwhile (the cache follows the change log, see `KeyCache`).
                    let generation = state.snapshot.keys.generation();
                    let stored = state.store.find_api_key(id).await?.ok_or_else(invalid)?;
                    if stored.record.revoked_at.is_some() {
                        return Err(invalid());
                    }
                    let key = CachedKey {
                        organization: stored.record.organization_id,
                        account: stored.record.account_id,
                        secret_hash: stored.secret_hash.into(),
                        last_used_at: stored.record.last_used_at,
                    };
                    state
                        .snapshot
                        .keys
                        .insert_if_unchanged(id, key.clone(), generation);
                    key
                }
            };
            if !secret::verify_secret(presented.secret, &key.secret_hash) {
                return Err(invalid());
            }
            if key
                .last_used_at
                .is_none_or(|at| now - at > chrono::Duration::seconds(60))
            {
                state.snapshot.keys.touched(id, now);
                let store = state.store.clone();
                // Bookkeeping off the request's path: a failure only delays the next touch.
                tokio::spawn(async move {
                    if let Err(err) = store.touch_api_key(id, now).await {
                        tracing::warn!(error = %err, "recording an api key's use failed");
                    }
                });
            }
            (key.organization, key.account, Credential::ApiKey(id))
        }
        TokenKind::Session => {
            let id = SessionId::from_uuid(presented.id);
            let stored = state.store.find_session(id).await?.ok_or_else(invalid)?;
            if !secret::verify_secret(presented.secret, &stored.secret_hash)
                || !stored.record.is_live(now)
            {
                return Err(invalid());
            }
            (
                stored.record.organization_id,
                stored.record.account_id,
                Credential::Session(id),
            )
        }
    };
    let account = account_of(state, org, account_id)
        .await
        .map_err(|_| invalid())?;
    if account.inactive {
        return Err(Error::Unauthenticated(format!(
            "account `{}` is inactive",
            account.username
        )));
    }
    Ok((account, credential))
}

/// An account from the snapshot, or from the store when the snapshot has not caught up yet.
pub async fn account_of(
    state: &AppState,
    org: OrganizationId,
    id: AccountId,
) -> Result<Arc<Account>> {
    let snapshot = state.snapshot.current();
    match snapshot
        .organization(org)
        .and_then(|o| o.shared_account(id))
    {
        Some(account) => Ok(account.clone()),
        None => state.store.get_account(org, id).await.map(Arc::new),
    }
}

/// The organization named by the `Keycard-Organization` header, if any.
fn named_organization(state: &AppState, headers: &HeaderMap) -> Result<Option<OrganizationId>> {
    let Some(value) = headers.get(ORGANIZATION_HEADER) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::invalid("keycard-organization header", "is not text"))?;
    let snapshot = state.snapshot.current();
    if let Ok(id) = value.parse::<OrganizationId>()
        && snapshot.organization(id).is_some()
    {
        return Ok(Some(id));
    }
    snapshot
        .organization_by_name(value)
        .map(|org| Some(org.organization.id))
        .ok_or_else(|| Error::not_found("organization", value))
}

/// Decides the acting organization and the caller's standing in it.
fn caller_for(
    state: &AppState,
    account: Arc<Account>,
    credential: Credential,
    named_org: Option<OrganizationId>,
) -> Result<Caller> {
    let snapshot = state.snapshot.current();
    // The account as authenticated, not the snapshot's copy, which may lag a write made elsewhere.
    let home_admin = snapshot
        .organization(account.organization_id)
        .is_some_and(|org| decision::is_admin(org, &account));
    let partner = home_admin && account.organization_id == state.default_organization;
    let organization = match named_org {
        Some(org) if org != account.organization_id => {
            if !partner {
                return Err(Error::Forbidden(format!(
                    "`{}` may not act in organization `{org}`",
                    account.username
                )));
            }
            org
        }
        _ => account.organization_id,
    };
    Ok(Caller {
        admin: home_admin || partner,
        partner,
        organization,
        credential,
        account,
    })
}

impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(presented) = presented_credentials(&parts.headers)? else {
            return Ok(None);
        };
        let caller = authenticate(state, &parts.headers, presented, client_ip(parts)).await?;
        Ok(Some(caller))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller =
            <Caller as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(
                parts, state,
            )
            .await?;
        caller.ok_or_else(|| {
            Error::Unauthenticated("authentication required: use Basic or Bearer".into()).into()
        })
    }
}

/// Opens a login session for an account and returns it with its token (shown once).
pub async fn open_session(state: &AppState, account: &Account) -> Result<(Session, String)> {
    let id = SessionId::new();
    let minted = secret::mint_token(TokenKind::Session, id.as_uuid());
    let ttl = chrono::Duration::from_std(state.settings.session_ttl)
        .map_err(|err| Error::Internal(err.to_string()))?;
    let session = state
        .store
        .create_session(
            account.organization_id,
            account.id,
            id,
            minted.hash,
            Utc::now() + ttl,
        )
        .await?;
    Ok((session, minted.value))
}

/// A lowercased username and the client address it was tried from.
type LimitKey = (String, Option<IpAddr>);

/// Failed password logins per (username, client address): after [`LoginLimiter::MAX_FAILURES`] within
/// [`LoginLimiter::WINDOW`], further attempts are refused until the window passes.
///
/// An attempt is counted as a failure before the password is verified (the reservation is given
/// back when the password is right), so simultaneous guesses cannot all slip past the check: at
/// most [`LoginLimiter::MAX_FAILURES`] are ever judged in one window.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<LimitKey, (u32, Instant)>>,
}

impl LoginLimiter {
    pub const MAX_FAILURES: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(300);

    /// Takes one attempt from the window's allowance, or refuses when none is left.
    fn reserve(&self, key: &LimitKey) -> Result<()> {
        let mut failures = self
            .failures
            .lock()
            .map_err(|_| Error::Internal("login limiter poisoned".into()))?;
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
        }
        let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
        let elapsed = entry.1.elapsed();
        if elapsed >= Self::WINDOW {
            *entry = (0, Instant::now());
        } else if entry.0 >= Self::MAX_FAILURES {
            return Err(Error::RateLimited {
                retry_after_secs: (Self::WINDOW - elapsed).as_secs().max(1),
            });
        }
        entry.0 += 1;
        Ok(())
    }

    /// Gives back an attempt that was never judged (the store could not be read).
    fn release(&self, key: &LimitKey) {
        if let Ok(mut failures) = self.failures.lock()
            && let Some(entry) = failures.get_mut(key)
        {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// The password was right: the failures counted so far are forgotten.
    fn succeeded(&self, key: &LimitKey) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

/// The client's address, when the server was started with connection info.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}
