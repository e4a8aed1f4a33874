//! API keys, and service accounts, which are an account and a key made together.

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
    pub async fn list_api_keys(&self, caller: &Caller, account: AccountId) -> Result<Vec<ApiKey>> {
        self.authorize_on(caller, Operation::ListApiKeys, Some(account))?;
        self.store.list_api_keys(caller.organization, account).await
    }

    /// Mints a key for an account.
    pub async fn issue_api_key(
        &self,
        caller: &Caller,
        account: AccountId,
        name: String,
    ) -> Result<Written<IssuedKey>> {
        self.authorize_on(caller, Operation::IssueApiKey, Some(account))?;
        let (new, secret) = mint(name);
        new.validate()?;
        let written = self
            .store
            .create_api_key(
                &caller.actor(),
                caller.organization,
                account,
                new.id,
                new.name,
                new.secret_hash,
            )
            .await?;
        let written = self.visible(written).await?;
        Ok(Written {
            value: IssuedKey {
                key: written.value,
                secret,
            },
            revision: written.revision,
        })
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
        self.authorize_on(caller, Operation::ReplaceApiKeys, Some(account))?;
        let (new, secret) = mint(name);
        let written = self
            .store
            .replace_api_keys(
                &caller.actor(),
                caller.organization,
                account,
                new,
                revoke_others,
            )
            .await?;
        let written = self.visible(written).await?;
        Ok(Written {
            value: IssuedKey {
                key: written.value.0,
                secret,
            },
            revision: written.revision,
        })
    }

    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        account: AccountId,
        id: ApiKeyId,
    ) -> Result<Written<ApiKey>> {
        self.authorize_on(caller, Operation::RevokeApiKey, Some(account))?;
        let written = self
            .store
            .revoke_api_key(&caller.actor(), caller.organization, account, id)
            .await?;
        self.visible(written).await
    }

    /// Creates a service account and the key it signs in with, in one transaction.
    pub async fn create_service_account(
        &self,
        caller: &Caller,
        new: NewAccount,
        key_name: String,
    ) -> Result<Written<(Account, IssuedKey)>> {
        self.authorize(caller, Operation::CreateServiceAccount)?;
        super::validate_first_name(&new.first_name)?;
        let (key, secret) = mint(key_name);
        let written = self
            .store
            .create_account_with_key(&caller.actor(), caller.organization, new, key)
            .await?;
        let written = self.visible(written).await?;
        let (account, key) = written.value;
        Ok(Written {
            value: (account, IssuedKey { key, secret }),
            revision: written.revision,
        })
    }
}
