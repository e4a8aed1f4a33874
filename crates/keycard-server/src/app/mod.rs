//! The application layer: one method per operation, the only code that holds the store.
//!
//! Every operation does the same five things in the same order: authorizes the caller against
//! the one access table ([`access`]), validates its input through core types, runs as one store
//! transaction (which appends to the change log and has the write reviewed by
//! `keycard_core::access::review_write`), waits until the published snapshot holds the new
//! revision, and returns the result with that revision. The API faces only translate between
//! their wire formats and these methods (ADR 0006).

use std::sync::Arc;
use std::time::Duration;

use keycard_core::change::Revision;
use keycard_core::ids::{AccountId, OrganizationId};
use keycard_core::model::Actor;
use keycard_core::snapshot::{OrgSnapshot, Snapshot};
use keycard_core::store::{Store, Written};
use keycard_core::{Error, Result};

use crate::state::SnapshotHandle;

pub mod access;
mod accounts;
mod authentication;
mod caller;
mod catalogue;
mod changes;
mod credentials;
mod decisions;
mod directory;
mod groups;
mod health;
mod idempotency;
mod organizations;
mod policies;
mod resources;
mod roles;
mod webhooks;

pub use access::Operation;
pub use authentication::{LoginLimiter, hash_password};
pub use caller::{Caller, Credential, Identity};
pub use changes::WatchScope;
pub use credentials::IssuedKey;
pub use health::Readiness;
pub use idempotency::ScopedKey;

/// The most entities one bulk write takes: one transaction, and one body within the size limit.
pub const MAX_BULK: usize = 10_000;

/// Refuses a bulk write of more than [`MAX_BULK`] `what`.
fn within_bulk_limit(what: &str, count: usize) -> Result<()> {
    if count > MAX_BULK {
        return Err(keycard_core::Error::invalid(
            what,
            format!("at most {MAX_BULK} per request, not {count}"),
        ));
    }
    Ok(())
}

/// The store, the snapshot that follows it, and every operation on them.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    snapshot: Arc<SnapshotHandle>,
    default_organization: OrganizationId,
    session_ttl: Duration,
    limiter: Arc<LoginLimiter>,
    /// The hosts webhooks may reach.
    webhook_hosts: Arc<[String]>,
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        snapshot: Arc<SnapshotHandle>,
        default_organization: OrganizationId,
        session_ttl: Duration,
    ) -> Self {
        Self {
            store,
            snapshot,
            default_organization,
            session_ttl,
            limiter: Arc::default(),
            webhook_hosts: Arc::from([]),
        }
    }

    /// The hosts webhooks may reach (none by default: no webhook can be made).
    pub fn with_webhook_hosts(mut self, hosts: Vec<String>) -> Self {
        self.webhook_hosts = hosts.into();
        self
    }

    /// The hosts webhooks may reach.
    pub fn webhook_hosts(&self) -> &[String] {
        &self.webhook_hosts
    }

    /// The store, for the webhook delivery worker, which runs as no caller.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The snapshot decisions read now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.current()
    }

    /// Waits, briefly, until this node's snapshot includes `revision` (a client's consistency
    /// token); a node still behind after that answers `Unavailable`, to be retried, rather than
    /// decide on stale data.
    pub async fn at_least(&self, revision: Revision) -> Result<()> {
        if self.snapshot.current().revision() >= revision {
            return Ok(());
        }
        let _ = tokio::time::timeout(MIN_REVISION_WAIT, self.snapshot.catch_up(revision)).await;
        let current = self.snapshot.current().revision();
        if current >= revision {
            Ok(())
        } else {
            Err(Error::Unavailable(format!(
                "this node is at revision {current}, not yet {revision}; retry shortly"
            )))
        }
    }

    /// Brings this node's snapshot up to at least `revision`, however long that takes.
    pub async fn catch_up(&self, revision: Revision) -> Result<()> {
        self.snapshot.catch_up(revision).await
    }

    /// Keeps the snapshot following the change log (see [`crate::state::spawn_follower`]).
    pub fn follow(
        &self,
        interval: Duration,
        notifications: Option<tokio::sync::watch::Receiver<i64>>,
    ) -> tokio::task::JoinHandle<()> {
        crate::state::spawn_follower(self.snapshot.clone(), interval, notifications)
    }

    /// The snapshot, for an operation answered from it (lists rendered whole, decisions), once
    /// the caller may perform the operation.
    pub fn read_snapshot(&self, caller: &Caller, operation: Operation) -> Result<Arc<Snapshot>> {
        let snapshot = self.snapshot();
        access::judge(&snapshot, caller, operation, None)?;
        Ok(snapshot)
    }

    /// Runs a read the caller may make, in the organization it acts in.
    async fn read<'a, T, F, Fut>(
        &'a self,
        caller: &Caller,
        operation: Operation,
        target: Option<AccountId>,
        read: F,
    ) -> Result<T>
    where
        F: FnOnce(&'a dyn Store, OrganizationId) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.authorize_on(caller, operation, target)?;
        read(self.store.as_ref(), caller.organization).await
    }

    /// Runs a write the caller may make, as the caller, in the organization it acts in (one
    /// store transaction), then waits until the snapshot holds its revision, so that a client that
    /// wrote and then reads or checks on this node sees its write.
    async fn write<'a, T, F, Fut>(
        &'a self,
        caller: &Caller,
        operation: Operation,
        target: Option<AccountId>,
        write: F,
    ) -> Result<Written<T>>
    where
        F: FnOnce(&'a dyn Store, Actor, OrganizationId) -> Fut,
        Fut: Future<Output = Result<Written<T>>>,
    {
        self.authorize_on(caller, operation, target)?;
        let written = write(self.store.as_ref(), caller.actor()?, caller.organization).await?;
        self.snapshot.catch_up(written.revision).await?;
        Ok(written)
    }

    /// [`App::write`] for a write that answers only its revision.
    async fn commit<'a, F, Fut>(
        &'a self,
        caller: &Caller,
        operation: Operation,
        target: Option<AccountId>,
        write: F,
    ) -> Result<Revision>
    where
        F: FnOnce(&'a dyn Store, Actor, OrganizationId) -> Fut,
        Fut: Future<Output = Result<Revision>>,
    {
        let written = self
            .write(
                caller,
                operation,
                target,
                move |store, actor, org| async move {
                    Ok(Written {
                        value: (),
                        revision: write(store, actor, org).await?,
                    })
                },
            )
            .await?;
        Ok(written.revision)
    }
}

/// How long a request asking for a revision this node has not reached waits for it.
const MIN_REVISION_WAIT: Duration = Duration::from_secs(2);

/// One organization of a snapshot, or `NotFound`.
fn organization(snapshot: &Snapshot, id: OrganizationId) -> Result<&OrgSnapshot> {
    snapshot
        .organization(id)
        .ok_or_else(|| Error::not_found("organization", id))
}
