//! Accounts: who they are, whether they may sign in, and their sessions.

use keycard_core::change::Revision;
use keycard_core::ids::AccountId;
use keycard_core::model::{Account, AccountPatch, NewAccount};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;
use keycard_core::{Error, Result};

use super::{App, Caller, Operation};

/// Checks a first name: bounded, no control characters.
pub fn validate_first_name(value: &str) -> Result<()> {
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            "first name",
            "must be at most 200 characters without control characters",
        ));
    }
    Ok(())
}

impl App {
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<Account>> {
        self.authorize(caller, Operation::ListAccounts)?;
        self.store.list_accounts(caller.organization, page).await
    }

    pub async fn read_account(&self, caller: &Caller, id: AccountId) -> Result<Account> {
        self.authorize_on(caller, Operation::ReadAccount, Some(id))?;
        self.store.get_account(caller.organization, id).await
    }

    /// The accounts of the caller's organization that have a live session, for lists that show
    /// who is logged in.
    pub async fn logged_in(&self, caller: &Caller) -> Result<Vec<AccountId>> {
        self.authorize(caller, Operation::ListAccounts)?;
        self.store
            .accounts_with_live_sessions(caller.organization)
            .await
    }

    /// Whether one account has a live session: shown with the account to whoever may read it
    /// or change it.
    pub async fn is_logged_in(&self, caller: &Caller, id: AccountId) -> Result<bool> {
        self.authorize_on(caller, Operation::ReadAccount, Some(id))
            .or_else(|_| self.authorize_on(caller, Operation::UpdateAccount, Some(id)))?;
        Ok(self
            .store
            .accounts_with_live_sessions(caller.organization)
            .await?
            .contains(&id))
    }

    pub async fn create_account(
        &self,
        caller: &Caller,
        new: NewAccount,
    ) -> Result<Written<Account>> {
        self.authorize(caller, Operation::CreateAccount)?;
        validate_first_name(&new.first_name)?;
        let written = self
            .store
            .create_account(&caller.actor(), caller.organization, new)
            .await?;
        self.visible(written).await
    }

    pub async fn update_account(
        &self,
        caller: &Caller,
        id: AccountId,
        patch: AccountPatch,
    ) -> Result<Written<Account>> {
        self.authorize_on(caller, Operation::UpdateAccount, Some(id))?;
        if let Some(first_name) = &patch.first_name {
            validate_first_name(first_name)?;
        }
        let written = self
            .store
            .update_account(&caller.actor(), caller.organization, id, patch)
            .await?;
        self.visible(written).await
    }

    /// Deletes an account with its API keys and sessions; an account cannot delete itself.
    pub async fn delete_account(&self, caller: &Caller, id: AccountId) -> Result<Revision> {
        self.authorize_on(caller, Operation::DeleteAccount, Some(id))?;
        if id == caller.account.id {
            return Err(Error::Forbidden("an account cannot delete itself".into()));
        }
        let revision = self
            .store
            .delete_account(&caller.actor(), caller.organization, id)
            .await?;
        self.committed(revision).await
    }

    /// Ends every login session of an account at once; answers the account and how many ended.
    /// Sessions are credentials, not authorization state, so no revision is made: the revision
    /// answered is the one this node's snapshot is at, which includes the account.
    pub async fn end_sessions(
        &self,
        caller: &Caller,
        id: AccountId,
    ) -> Result<Written<(Account, u64)>> {
        self.authorize_on(caller, Operation::EndSessions, Some(id))?;
        let account = self.store.get_account(caller.organization, id).await?;
        let ended = self.store.revoke_sessions(caller.organization, id).await?;
        Ok(Written {
            value: (account, ended),
            revision: self.snapshot().revision(),
        })
    }
}
