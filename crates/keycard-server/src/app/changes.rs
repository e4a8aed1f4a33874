//! The change log, as an organization's administrators read it.

use chrono::{DateTime, Utc};
use keycard_core::change::{Change, EntityKind, Revision};
use keycard_core::ids::OrganizationId;
use keycard_core::{Error, Result};

use super::{App, Caller, Operation};

/// What a watch of the change log reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchScope {
    /// The changes of the organization the caller acts in.
    Organization(OrganizationId),
    /// Every organization's changes: for partners.
    Everything,
}

impl App {
    /// The organization's changes after a revision, oldest first, at most `limit` revisions' worth.
    pub async fn organization_changes(
        &self,
        caller: &Caller,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<Change>> {
        self.read(
            caller,
            Operation::ReadChanges,
            None,
            move |store, org| async move { store.organization_changes(org, after, limit).await },
        )
        .await
    }

    /// The organization's changes to the given kinds of entity made strictly between `after` and
    /// `before` and past the `resume` position, in log order, at most `limit`.
    pub async fn organization_events(
        &self,
        caller: &Caller,
        kinds: &[EntityKind],
        after: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
        resume: Option<(Revision, i32)>,
        limit: u32,
    ) -> Result<Vec<Change>> {
        self.read(
            caller,
            Operation::ReadChanges,
            None,
            move |store, org| async move {
                store
                    .organization_events(org, kinds, after, before, resume, limit)
                    .await
            },
        )
        .await
    }

    /// Opens a watch of the change log from after `after`, for an administrator of the
    /// organization (`everything`: of every organization, for a partner). A revision the log is
    /// not at yet, or no longer holds, is refused: a watch never skips a change silently.
    pub async fn open_watch(
        &self,
        caller: &Caller,
        everything: bool,
        after: Revision,
    ) -> Result<WatchScope> {
        let scope = if everything {
            WatchScope::Everything
        } else {
            WatchScope::Organization(caller.organization)
        };
        self.authorize_watch(caller, scope)?;
        if after.0 < 0 {
            return Err(Error::invalid("after", "a revision is 0 or more"));
        }
        let latest = self.store.latest_revision().await?;
        if after > latest {
            return Err(Error::invalid(
                "after",
                format!("revision {after} is ahead of the log, which is at {latest}"),
            ));
        }
        if let Some(oldest) = self.store.oldest_revision().await?
            && oldest.0 > after.0 + 1
        {
            return Err(Error::Gone(format!(
                "the change log no longer holds the revisions after {after}: it starts at {oldest}; read the current state and watch from its revision"
            )));
        }
        Ok(scope)
    }

    /// The next changes of a watch after `after`, at most `limit` revisions' worth; the caller
    /// is judged again each time, as it stands now, so that a watch ends when its right to watch
    /// does (its credential revoked, its account deleted, made inactive or no longer an
    /// administrator).
    pub async fn watched_changes(
        &self,
        caller: &Caller,
        scope: WatchScope,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<Change>> {
        let caller = self.refreshed(caller).await?;
        self.authorize_watch(&caller, scope)?;
        match scope {
            WatchScope::Organization(org) => {
                self.store.organization_changes(org, after, limit).await
            }
            WatchScope::Everything => self.store.changes_after(after, limit).await,
        }
    }

    fn authorize_watch(&self, caller: &Caller, scope: WatchScope) -> Result<()> {
        match scope {
            WatchScope::Organization(_) => self.authorize(caller, Operation::WatchChanges),
            WatchScope::Everything => self.authorize(caller, Operation::WatchEverything),
        }
    }

    /// Tells each time this node's snapshot, which follows the log, reaches a new revision.
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.snapshot.revisions()
    }
}
