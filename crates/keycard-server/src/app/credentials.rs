//! API keys, and service accounts, which are an account and a key made together. A key of no
//! account is a decision key of the organization (see `keycard_core::model::ApiKey`): only
//! administrators list, issue and revoke those.

use keycard_core::Result;
use keycard_core::ids::{AccountId, ApiKeyId};
use keycard_core::model::{Account, ApiKey, NewAccount, NewApiKey};
use keycard_core::secret::{self, TokenKind};
use keycard_core::store::Written;

use super::{App, Caller, Operation};

/// A key just minted, with its secret: shown to the caller once, stored only as a digest.
#[derive(Debug)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: String,
}

/// A fresh key id and secret: the input for the store and the secret to show.
fn mint(name: String) -> (NewApiKey, String) {
    let id = ApiKeyId::new();
    let minted = secret::mint_token(TokenKind::ApiKey, id.as_uuid());
    let key = NewApiKey {
        id,
        name,
        secret_hash: minted.hash,
    };
    (key, minted.value)
}

impl App {
    /// The keys of `account`, or with none the organization's decision keys.
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
    ) -> Result<Vec<ApiKey>> {
        self.read(
            caller,
            of_holder(account, Operation::ListApiKeys, Operation::ListDecisionKeys),
            account,
            async |store, org| store.list_api_keys(org, account).await,
        )
        .await
    }

    /// Mints a key for an account, or with none a decision key of the organization.
    pub async fn issue_api_key(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        name: String,
    ) -> Result<Written<IssuedKey>> {
        let (new, secret) = mint(name);
        let written = self
            .write(
                caller,
                of_holder(account, Operation::IssueApiKey, Operation::IssueDecisionKey),
                account,
                move |store, actor, org| async move {
                    new.validate()?;
                    store
                        .create_api_key(&actor, org, account, new.id, new.name, new.secret_hash)
                        .await
                },
            )
            .await?;
        Ok(issued(written, secret))
    }

    /// Mints a key for one of the organization's accounts and, when `revoke_others`, revokes
    /// the account's other keys, in one transaction: an organization rotating a user's keys.
    pub async fn replace_api_keys(
        &self,
        caller: &Caller,
        account: AccountId,
        name: String,
        revoke_others: bool,
    ) -> Result<Written<IssuedKey>> {
        let (new, secret) = mint(name);
        let written = self
            .write(
                caller,
                Operation::ReplaceApiKeys,
                Some(account),
                move |store, actor, org| async move {
                    let written = store
                        .replace_api_keys(&actor, org, account, new, revoke_others)
                        .await?;
                    Ok(Written {
                        value: written.value.0,
                        revision: written.revision,
                    })
                },
            )
            .await?;
        Ok(issued(written, secret))
    }

    /// Revokes a key of `account`, or with none a decision key of the organization.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        id: ApiKeyId,
    ) -> Result<Written<ApiKey>> {
        self.write(
            caller,
            of_holder(account, Operation::RevokeApiKey, Operation::RevokeDecisionKey),
            account,
            move |store, actor, org| async move { store.revoke_api_key(&actor, org, account, id).await },
        )
        .await
    }

    /// Creates a service account and the key it signs in with, in one transaction.
    pub async fn create_service_account(
        &self,
        caller: &Caller,
        new: NewAccount,
        key_name: String,
    ) -> Result<Written<(Account, IssuedKey)>> {
        let (key, secret) = mint(key_name);
        let written = self
            .write(
                caller,
                Operation::CreateServiceAccount,
                None,
                move |store, actor, org| async move {
                    store.create_account_with_key(&actor, org, new, key).await
                },
            )
            .await?;
        let (account, key) = written.value;
        Ok(Written {
            value: (account, IssuedKey { key, secret }),
            revision: written.revision,
        })
    }
}

/// The operation on a key of an account, or on a decision key when there is no account.
fn of_holder(account: Option<AccountId>, of_account: Operation, of_org: Operation) -> Operation {
    if account.is_some() {
        of_account
    } else {
        of_org
    }
}

/// A stored key with the secret minted for it.
fn issued(written: Written<ApiKey>, secret: String) -> Written<IssuedKey> {
    Written {
        value: IssuedKey {
            key: written.value,
            secret,
        },
        revision: written.revision,
    }
}
