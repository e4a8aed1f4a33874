//! Who the caller is: passwords (under a failed-login limit), API keys, login sessions, and the
//! standing an account has in the organization a request acts in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use keycard_core::decision;
use keycard_core::ids::{AccountId, ApiKeyId, OrganizationId, SessionId};
use keycard_core::model::{Account, Session};
use keycard_core::names::Username;
use keycard_core::secret::{self, TokenKind};
use keycard_core::store::Written;
use keycard_core::{Error, Result};

use super::{App, Caller, Credential, Identity, Operation};
use crate::state::CachedKey;

impl App {
    /// The organization every deployment starts with, whose administrators are partners.
    pub fn default_organization(&self) -> OrganizationId {
        self.default_organization
    }

    /// How long a login session lasts.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// The organization an id or a name names.
    pub fn organization_named(&self, value: &str) -> Result<OrganizationId> {
        let snapshot = self.snapshot.current();
        if let Ok(id) = value.parse::<OrganizationId>()
            && snapshot.organization(id).is_some()
        {
            return Ok(id);
        }
        snapshot
            .organization_by_name(value)
            .map(|org| org.organization.id)
            .ok_or_else(|| Error::not_found("organization", value))
    }

    /// Verifies a username and password in an organization, under the failed-login rate limit.
    pub async fn verify_password(
        &self,
        org: OrganizationId,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<Account> {
        let limit_key = (username.to_lowercase(), ip);
        self.limiter.reserve(&limit_key)?;
        match self.judge_password(org, username, password).await {
            Ok(Some(account)) => {
                self.limiter.succeeded(&limit_key);
                Ok(account)
            }
            // A wrong password keeps the attempt it reserved.
            Ok(None) => Err(Error::Unauthenticated(
                "invalid username or password".into(),
            )),
            // The store could not say: no attempt was judged.
            Err(err) => {
                self.limiter.release(&limit_key);
                Err(err)
            }
        }
    }

    /// The account a username and password sign in as, `None` when they do not; an error when the
    /// store cannot say. An inactive account answers `None`, as a wrong password does, so that the
    /// answer does not tell whether the password was right.
    async fn judge_password(
        &self,
        org: OrganizationId,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>> {
        let found = match Username::try_from(username) {
            Ok(name) => self.store.find_account(org, &name).await?,
            Err(_) => None,
        };
        let hash = match &found {
            Some(account) => self.store.password_hash(org, account.id).await?,
            None => None,
        };
        let password = password.to_owned();
        // Argon2 is deliberately slow: keep it off the async workers. An unknown user still pays for one
        // verification so that timing does not reveal which usernames exist.
        let hash_for_check = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = tokio::task::spawn_blocking(move || {
            secret::verify_password(&hash_for_check, &password)
        })
        .await
        .map_err(|err| Error::Internal(format!("password check failed: {err}")))?;
        Ok(found.filter(|account| matches && hash.is_some() && !account.inactive))
    }

    /// Verifies a bearer token (API key or session) and returns who holds it: a live, active
    /// account, or for a decision key the key itself.
    pub async fn verify_token(&self, token: &str) -> Result<(Identity, Credential)> {
        let invalid = || Error::Unauthenticated("invalid or expired token".into());
        let presented = secret::parse_token(token).ok_or_else(invalid)?;
        let now = Utc::now();
        let (org, account_id, credential) = match presented.kind {
            TokenKind::ApiKey => {
                let id = ApiKeyId::from_uuid(presented.id);
                let key = match self.snapshot.keys.get(id) {
                    Some(key) => key,
                    None => {
                        // Read the store, and cache what it says unless a change to this key was
                        // applied meanwhile (the cache follows the change log, see `KeyCache`).
                        let generation = self.snapshot.keys.generation();
                        let stored = self.store.find_api_key(id).await?.ok_or_else(invalid)?;
                        if stored.record.revoked_at.is_some() {
                            return Err(invalid());
                        }
                        let key = CachedKey {
                            organization: stored.record.organization_id,
                            account: stored.record.account_id,
                            secret_hash: stored.secret_hash.into(),
                            last_used_at: stored.record.last_used_at,
                        };
                        self.snapshot
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
                    self.snapshot.keys.touched(id, now);
                    let store = self.store.clone();
                    // Bookkeeping off the request's path: a failure only delays the next touch.
                    tokio::spawn(async move {
                        if let Err(err) = store.touch_api_key(id, now).await {
                            tracing::warn!(error = %err, "recording an api key's use failed");
                        }
                    });
                }
                let Some(account) = key.account else {
                    return Ok((
                        Identity::DecisionKey {
                            id,
                            organization: key.organization,
                        },
                        Credential::ApiKey(id),
                    ));
                };
                (key.organization, account, Credential::ApiKey(id))
            }
            TokenKind::Session => {
                let id = SessionId::from_uuid(presented.id);
                let stored = self.store.find_session(id).await?.ok_or_else(invalid)?;
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
        let account = self
            .account_of(org, account_id)
            .await
            .map_err(|_| invalid())?;
        if account.inactive {
            return Err(Error::Unauthenticated(format!(
                "account `{}` is inactive",
                account.username
            )));
        }
        Ok((Identity::Account(account), credential))
    }

    /// An account from the snapshot, or from the store when the snapshot has not caught up yet.
    async fn account_of(&self, org: OrganizationId, id: AccountId) -> Result<Arc<Account>> {
        let snapshot = self.snapshot.current();
        match snapshot
            .organization(org)
            .and_then(|o| o.shared_account(id))
        {
            Some(account) => Ok(account.clone()),
            None => self.store.get_account(org, id).await.map(Arc::new),
        }
    }

    /// Decides the acting organization and the caller's standing in it.
    pub fn caller_for(
        &self,
        principal: Identity,
        credential: Credential,
        named_org: Option<OrganizationId>,
    ) -> Result<Caller> {
        let account = match principal {
            Identity::Account(account) => account,
            Identity::DecisionKey { id, organization } => {
                if named_org.is_some_and(|named| named != organization) {
                    return Err(Error::Forbidden(format!(
                        "decision key `{id}` may only act in its own organization"
                    )));
                }
                return Ok(Caller {
                    principal,
                    organization,
                    admin: false,
                    partner: false,
                    credential,
                });
            }
            Identity::Operator => {
                return Ok(Caller::operator(
                    named_org.unwrap_or(self.default_organization),
                ));
            }
        };
        let snapshot = self.snapshot.current();
        // The account as authenticated, not the snapshot's copy, which may lag a write made elsewhere.
        let home_admin = snapshot
            .organization(account.organization_id)
            .is_some_and(|org| decision::is_admin(org, &account));
        let partner = home_admin && account.organization_id == self.default_organization;
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
            principal: Identity::Account(account),
        })
    }

    /// The caller's standing as of now, for a request that goes on (a watch) and is judged again
    /// as it does: an account deleted or made inactive, an API key revoked and a session ended
    /// or expired end it; a role lost lowers its standing.
    pub async fn refreshed(&self, caller: &Caller) -> Result<Caller> {
        let Identity::Account(account) = &caller.principal else {
            return Ok(caller.clone());
        };
        let gone = || Error::Unauthenticated("the credential is no longer valid".into());
        let now = chrono::Utc::now();
        let live = match caller.credential {
            Credential::ApiKey(id) => self
                .store
                .find_api_key(id)
                .await?
                .is_some_and(|key| key.record.revoked_at.is_none()),
            Credential::Session(id) => self
                .store
                .find_session(id)
                .await?
                .is_some_and(|session| session.record.is_live(now)),
            Credential::Password | Credential::Operator => true,
        };
        if !live {
            return Err(gone());
        }
        let snapshot = self.snapshot.current();
        let current = snapshot
            .organization(account.organization_id)
            .and_then(|org| org.account(account.id))
            .filter(|current| !current.inactive)
            .ok_or_else(gone)?;
        self.caller_for(
            Identity::Account(Arc::new(current.clone())),
            caller.credential,
            Some(caller.organization),
        )
    }

    /// Opens a login session for an account and returns it with its token (shown once).
    pub async fn open_session(&self, account: &Account) -> Result<(Session, String)> {
        let id = SessionId::new();
        let minted = secret::mint_token(TokenKind::Session, id.as_uuid());
        let ttl = chrono::Duration::from_std(self.session_ttl)
            .map_err(|err| Error::Internal(err.to_string()))?;
        let session = self
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

    /// Ends the session the caller authenticated with; `false` when it used another credential.
    pub async fn end_own_session(&self, caller: &Caller) -> Result<bool> {
        match caller.credential {
            Credential::Session(id) => {
                self.store.revoke_session(id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Sets or clears an account's password. The account itself must give its current password;
    /// administrators need not. The account's other sessions end (the one the change was made
    /// through stays).
    pub async fn set_password(
        &self,
        caller: &Caller,
        id: AccountId,
        password: Option<String>,
        current_password: Option<&str>,
    ) -> Result<Written<Account>> {
        self.authorize_on(caller, Operation::SetPassword, Some(id))?;
        if !caller.admin {
            self.verify_password(
                caller.organization,
                caller.require_account()?.username.as_str(),
                current_password.unwrap_or_default(),
                None,
            )
            .await
            .map_err(|_| Error::Forbidden("the current password is wrong".into()))?;
        }
        let hash = match password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let keep = match caller.credential {
            Credential::Session(session) if caller.account().is_some_and(|a| a.id == id) => {
                Some(session)
            }
            _ => None,
        };
        self.write(
            caller,
            Operation::SetPassword,
            Some(id),
            move |store, actor, org| async move {
                store.set_password_hash(&actor, org, id, hash, keep).await
            },
        )
        .await
    }
}

/// Hashes a password off the async workers: Argon2id is slow on purpose.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|err| Error::Internal(format!("password hashing failed: {err}")))?
}

/// An Argon2id hash of a random password, verified against when the username is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    secret::hash_password(&secret::generate_password()).unwrap_or_default()
});

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
