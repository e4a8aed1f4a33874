//! Idempotency keys: a client's retry of a write finds the first attempt's outcome. A key is
//! stored as a digest of the credential, the caller's standing and the client's key, so that only
//! the same caller, as privileged as it was, ever finds it again.

use chrono::{DateTime, Utc};
use keycard_core::Result;
use keycard_core::store::IdempotentRecord;
use sha2::{Digest, Sha256};

use super::{App, Caller, Credential};

/// An idempotency key as one caller used it.
pub struct ScopedKey {
    caller_org: keycard_core::ids::OrganizationId,
    digest: String,
}

impl ScopedKey {
    pub fn new(caller: &Caller, key: &str) -> Self {
        let credential = match caller.credential {
            Credential::ApiKey(id) => format!("key:{id}"),
            Credential::Session(id) => format!("session:{id}"),
            Credential::Password => format!(
                "password:{}",
                caller
                    .account()
                    .map(|a| a.id.to_string())
                    .unwrap_or_default()
            ),
            Credential::Operator => "operator".to_owned(),
        };
        let standing = format!(
            "{}:{}:{}",
            caller.organization, caller.admin, caller.partner
        );
        let mut hasher = Sha256::new();
        for part in [credential.as_str(), standing.as_str(), key] {
            hasher.update(part.as_bytes());
            hasher.update(b"\0");
        }
        Self {
            caller_org: caller.organization,
            digest: hex::encode(hasher.finalize()),
        }
    }
}

impl App {
    /// Claims the key for a new request. Answers `None` when the claim succeeded, otherwise the
    /// record held under the key (see `IdempotencyStore::claim_idempotency_key`).
    pub async fn claim_request(
        &self,
        key: &ScopedKey,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expire_before: DateTime<Utc>,
    ) -> Result<Option<IdempotentRecord>> {
        self.store
            .claim_idempotency_key(
                key.caller_org,
                &key.digest,
                fingerprint,
                now,
                stale_before,
                expire_before,
            )
            .await
    }

    /// The revision a replayed outcome answers: the latest committed one, which includes the
    /// first request's write (its outcome was stored after the write committed).
    pub async fn replay_revision(&self) -> Result<keycard_core::change::Revision> {
        self.store.latest_revision().await
    }

    /// Stores the outcome of the request that claimed the key. The outcome happened: failing to
    /// remember it must not hide it from the caller, so a failure only frees the key.
    pub async fn complete_request(
        &self,
        key: &ScopedKey,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) {
        if let Err(err) = self
            .store
            .complete_idempotency_key(key.caller_org, &key.digest, status, content_type, body)
            .await
        {
            tracing::warn!(error = %err, "storing an idempotent outcome failed");
            self.release_request(key).await;
        }
    }

    /// Frees the key of a request that ended without an outcome worth replaying.
    pub async fn release_request(&self, key: &ScopedKey) {
        if let Err(err) = self
            .store
            .release_idempotency_key(key.caller_org, &key.digest)
            .await
        {
            tracing::warn!(error = %err, "freeing an idempotency key failed");
        }
    }
}
