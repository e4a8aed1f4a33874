//! The change log, as an organization's administrators read it.

use chrono::{DateTime, Utc};
use keycard_core::Result;
use keycard_core::change::{Change, EntityKind, Revision};

use super::{App, Caller, Operation};

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
}
