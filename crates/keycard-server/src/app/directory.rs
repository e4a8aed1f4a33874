//! Declarative directories, applied a batch at a time.

use keycard_core::directory::{Applied, DirectoryBatch};
use keycard_core::store::Written;
use keycard_core::{Error, Result};

use super::{App, Caller, Operation};

impl App {
    /// Applies one batch of a directory as one write (see [`DirectoryBatch`]); a dry run writes
    /// nothing. An account never deletes itself this way either.
    pub async fn apply_directory(
        &self,
        caller: &Caller,
        batch: DirectoryBatch,
    ) -> Result<Written<Applied>> {
        if let Some(account) = caller.account()
            && caller.organization == account.organization_id
            && batch.delete.accounts.iter().any(|name| {
                name.as_str().to_lowercase() == account.username.as_str().to_lowercase()
            })
        {
            return Err(Error::Forbidden("an account cannot delete itself".into()));
        }
        self.write(
            caller,
            Operation::ApplyDirectory,
            None,
            move |store, actor, org| async move { store.apply_directory(&actor, org, batch).await },
        )
        .await
    }
}
