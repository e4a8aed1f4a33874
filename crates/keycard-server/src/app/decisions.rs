//! Decisions and lookups: answered from the snapshot, once the caller may ask.

use std::sync::Arc;

use keycard_core::decision;
use keycard_core::snapshot::Snapshot;
use keycard_core::{Error, Result};

use super::access::permits;
use super::{App, Caller, Operation};

impl App {
    /// The snapshot to decide about each of `subjects` from, once the caller may ask about all
    /// of them: administrators and decision keys about anyone of their organization, others only
    /// about themselves.
    pub fn decisions_about<'s>(
        &self,
        caller: &Caller,
        subjects: impl IntoIterator<Item = &'s str>,
    ) -> Result<Arc<Snapshot>> {
        let snapshot = self.snapshot();
        let org = super::organization(&snapshot, caller.organization)?;
        // An administrator may ask about anyone: the subject is looked up only when the caller's
        // standing does not decide (this is every check's path).
        if permits(Operation::Decide, caller, org, None) {
            return Ok(snapshot);
        }
        for subject in subjects {
            let target = decision::resolve_subject(org, subject).map(|account| account.id);
            if !permits(Operation::Decide, caller, org, target) {
                return Err(Error::Forbidden(
                    "only administrators may ask about other subjects".into(),
                ));
            }
        }
        Ok(snapshot)
    }
}
