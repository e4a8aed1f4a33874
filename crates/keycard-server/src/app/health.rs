//! Whether this node can serve: for readiness probes, which need no credentials.

use std::time::Duration;

use keycard_core::change::Revision;
use keycard_core::{Error, Result};

use super::App;

/// What a readiness probe reports.
pub struct Readiness {
    /// The database kind: `sqlite` or `postgres`.
    pub store: &'static str,
    /// The revision this node's snapshot is at.
    pub snapshot_revision: Revision,
    /// The latest committed revision, or why the store cannot take a write now.
    pub latest: Result<Revision>,
}

/// How long a probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl App {
    /// Ready when the store answers, would take a write, and the snapshot is loaded. A node that
    /// can read but not write (unwritable files, a lock held elsewhere) is not ready: it would
    /// refuse every write.
    pub async fn readiness(&self) -> Readiness {
        let snapshot_revision = self.snapshot().revision();
        let latest = tokio::time::timeout(PROBE_TIMEOUT, async {
            self.store.writable().await?;
            self.store.latest_revision().await
        })
        .await
        .unwrap_or_else(|_| {
            Err(Error::Unavailable(format!(
                "the database did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            )))
        });
        Readiness {
            store: self.store.backend(),
            snapshot_revision,
            latest,
        }
    }
}
