//! Accounts: who they are, whether they may sign in, and their sessions.

use keycard_core::attributes::Attributes;
use keycard_core::change::Revision;
use keycard_core::ids::AccountId;
use keycard_core::model::{Account, AccountPatch, NewAccount};
use keycard_core::names::Username;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;
use keycard_core::{Error, Result};

use super::{App, Caller, Operation};

impl App {
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<Account>> {
        self.read(
            caller,
            Operation::ListAccounts,
            None,
            move |store, org| async move { store.list_accounts(org, page).await },
        )
        .await
    }

    pub async fn read_account(&self, caller: &Caller, id: AccountId) -> Result<Account> {
        self.read(
            caller,
            Operation::ReadAccount,
            Some(id),
            async |store, org| store.get_account(org, id).await,
        )
        .await
    }

    /// The account with this username (in any case), if there is one.
    pub async fn find_account(&self, caller: &Caller, username: &Username) -> Result<Account> {
        self.read(
            caller,
            Operation::ReadAccount,
            None,
            move |store, org| async move {
                store
                    .find_account(org, username)
                    .await?
                    .ok_or_else(|| Error::not_found("account", username))
            },
        )
        .await
    }

    /// The accounts of the caller's organization that have a live session, for lists that show
    /// who is logged in.
    pub async fn logged_in(&self, caller: &Caller) -> Result<Vec<AccountId>> {
        self.read(
            caller,
            Operation::ListAccounts,
            None,
            move |store, org| async move { store.accounts_with_live_sessions(org).await },
        )
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
        self.write(
            caller,
            Operation::CreateAccount,
            None,
            move |store, actor, org| async move { store.create_account(&actor, org, new).await },
        )
        .await
    }

    pub async fn update_account(
        &self,
        caller: &Caller,
        id: AccountId,
        patch: AccountPatch,
    ) -> Result<Written<Account>> {
        self.write(
            caller,
            Operation::UpdateAccount,
            Some(id),
            move |store, actor, org| async move {
                store.update_account(&actor, org, id, patch).await
            },
        )
        .await
    }

    /// Replaces the attributes of up to [`super::MAX_BULK`] accounts in one write; answers how
    /// many changed.
    pub async fn set_account_attributes(
        &self,
        caller: &Caller,
        attributes: Vec<(AccountId, Attributes)>,
    ) -> Result<Written<usize>> {
        self.write(
            caller,
            Operation::SetAttributes,
            None,
            move |store, actor, org| async move {
                super::within_bulk_limit("accounts", attributes.len())?;
                store.set_account_attributes(&actor, org, attributes).await
            },
        )
        .await
    }

    /// Deletes an account with its API keys and sessions; an account cannot delete itself.
    pub async fn delete_account(&self, caller: &Caller, id: AccountId) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeleteAccount,
            Some(id),
            move |store, actor, org| async move {
                if caller.account().is_some_and(|account| account.id == id) {
                    return Err(Error::Forbidden("an account cannot delete itself".into()));
                }
                store.delete_account(&actor, org, id).await
            },
        )
        .await
    }

    /// Ends every login session of an account at once; answers the account and how many ended.
    /// Sessions are credentials, not authorization state, so no revision is made: the revision
    /// answered is the one this node's snapshot is at, which includes the account.
    pub async fn end_sessions(
        &self,
        caller: &Caller,
        id: AccountId,
    ) -> Result<Written<(Account, u64)>> {
        let revision = self.snapshot().revision();
        self.read(
            caller,
            Operation::EndSessions,
            Some(id),
            move |store, org| async move {
                let account = store.get_account(org, id).await?;
                let ended = store.revoke_sessions(org, id).await?;
                Ok(Written {
                    value: (account, ended),
                    revision,
                })
            },
        )
        .await
    }
}
