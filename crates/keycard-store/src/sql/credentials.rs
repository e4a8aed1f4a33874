//! API keys and login sessions. Only digests of their secrets are stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keycard_core::ids::{AccountId, ApiKeyId, OrganizationId, SessionId};
use keycard_core::model::{Account, Actor, ApiKey, NewAccount, NewApiKey, Session};
use keycard_core::store::{CredentialStore, StoredSecret, Written};
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::{self, API_KEY_SELECT, SESSION_SELECT, ensure_in_org};
use super::{SqlStore, WriteTx, internal, millis, unique_or};

async fn load_key(conn: &mut AnyConnection, id: ApiKeyId) -> Result<Option<StoredSecret<ApiKey>>> {
    let row = sqlx::query(&format!("{API_KEY_SELECT} WHERE k.id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    Ok(row
        .as_ref()
        .map(rows::api_key)
        .transpose()?
        .map(|(record, secret_hash)| StoredSecret {
            record,
            secret_hash,
        }))
}

/// Adds a key for an account, or with none a decision key, within a write.
async fn insert_key(
    w: &mut WriteTx,
    org: OrganizationId,
    account: Option<AccountId>,
    new: NewApiKey,
) -> Result<ApiKey> {
    let NewApiKey {
        id,
        name,
        secret_hash,
    } = new;
    ensure_holder_in_org(w.conn(), org, account).await?;
    sqlx::query("INSERT INTO api_keys (id, organization_id, account_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(account.map(|account| account.to_string()))
        .bind(&name)
        .bind(&secret_hash)
        .bind(millis(w.at))
        .execute(w.conn())
        .await
        .map_err(unique_or("api key", &id.to_string()))?;
    let key = load_key(w.conn(), id)
        .await?
        .ok_or_else(|| Error::Internal("api key vanished".into()))?
        .record;
    w.created(&key).await?;
    Ok(key)
}

/// The account a key is for, when it is for one, must be of the organization.
async fn ensure_holder_in_org(
    conn: &mut AnyConnection,
    org: OrganizationId,
    account: Option<AccountId>,
) -> Result<()> {
    match account {
        Some(account) => ensure_in_org(conn, "accounts", "account", org, &[account]).await,
        None => Ok(()),
    }
}

/// The live keys of an account, oldest first.
async fn live_keys(
    conn: &mut AnyConnection,
    org: OrganizationId,
    account: AccountId,
) -> Result<Vec<ApiKeyId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE organization_id = $1 AND account_id = $2 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(org.to_string())
    .bind(account.to_string())
    .fetch_all(conn)
    .await
    .map_err(internal)?;
    ids.into_iter()
        .map(|id| {
            id.parse()
                .map_err(|_| Error::Internal(format!("stored api key id `{id}` is malformed")))
        })
        .collect()
}

/// Revokes a live key of an account (a decision key with none), within a write; `None` when it
/// was revoked already.
async fn revoke_key(
    w: &mut WriteTx,
    org: OrganizationId,
    account: Option<AccountId>,
    id: ApiKeyId,
) -> Result<Option<ApiKey>> {
    let before = load_key(w.conn(), id)
        .await?
        .map(|stored| stored.record)
        .filter(|key| key.organization_id == org && key.account_id == account)
        .ok_or_else(|| Error::not_found("api key", id))?;
    if before.revoked_at.is_some() {
        return Ok(None);
    }
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
        .bind(millis(w.at))
        .bind(id.to_string())
        .execute(w.conn())
        .await
        .map_err(internal)?;
    let after = load_key(w.conn(), id)
        .await?
        .ok_or_else(|| Error::Internal("api key vanished".into()))?
        .record;
    w.updated(&before, &after).await?;
    Ok(Some(after))
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn create_api_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: Option<AccountId>,
        id: ApiKeyId,
        name: String,
        secret_hash: String,
    ) -> Result<Written<ApiKey>> {
        let key = NewApiKey {
            id,
            name,
            secret_hash,
        };
        key.validate()?;
        self.write(actor, org, move |w| {
            Box::pin(insert_key(w, org, account, key))
        })
        .await
    }

    async fn create_account_with_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewAccount,
        key: NewApiKey,
    ) -> Result<Written<(Account, ApiKey)>> {
        key.validate()?;
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let account = super::accounts::insert_account(&mut *w, org, new).await?;
                let key = insert_key(w, org, Some(account.id), key).await?;
                Ok((account, key))
            })
        })
        .await
    }

    async fn replace_api_keys(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: AccountId,
        key: NewApiKey,
        revoke_others: bool,
    ) -> Result<Written<(ApiKey, Vec<ApiKey>)>> {
        key.validate()?;
        self.write(actor, org, move |w| {
            Box::pin(async move {
                ensure_in_org(w.conn(), "accounts", "account", org, &[account]).await?;
                let mut revoked = Vec::new();
                if revoke_others {
                    for id in live_keys(w.conn(), org, account).await? {
                        if let Some(key) = revoke_key(&mut *w, org, Some(account), id).await? {
                            revoked.push(key);
                        }
                    }
                }
                let key = insert_key(w, org, Some(account), key).await?;
                Ok((key, revoked))
            })
        })
        .await
    }

    async fn list_api_keys(
        &self,
        org: OrganizationId,
        account: Option<AccountId>,
    ) -> Result<Vec<ApiKey>> {
        let mut conn = self.pool.acquire().await.map_err(super::unavailable)?;
        ensure_holder_in_org(&mut conn, org, account).await?;
        let rows = sqlx::query(&format!(
            "{API_KEY_SELECT} WHERE k.organization_id = $1 AND k.account_id IS NOT DISTINCT FROM $2 ORDER BY k.id"
        ))
        .bind(org.to_string())
        .bind(account.map(|account| account.to_string()))
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;
        rows.iter()
            .map(|row| rows::api_key(row).map(|(key, _)| key))
            .collect()
    }

    async fn revoke_api_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: Option<AccountId>,
        id: ApiKeyId,
    ) -> Result<Written<ApiKey>> {
        // A key revoked already is answered as it is, with the current revision: the write then
        // records nothing and is rolled back.
        self.write(actor, org, move |w| {
            Box::pin(async move {
                match revoke_key(&mut *w, org, account, id).await? {
                    Some(after) => Ok(after),
                    None => Ok(load_key(w.conn(), id)
                        .await?
                        .ok_or_else(|| Error::not_found("api key", id))?
                        .record),
                }
            })
        })
        .await
    }

    async fn find_api_key(&self, id: ApiKeyId) -> Result<Option<StoredSecret<ApiKey>>> {
        let mut conn = self.pool.acquire().await.map_err(super::unavailable)?;
        load_key(&mut conn, id).await
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(millis(at))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn create_session(
        &self,
        org: OrganizationId,
        account: AccountId,
        id: SessionId,
        secret_hash: String,
        expires_at: DateTime<Utc>,
    ) -> Result<Session> {
        let now = Utc::now();
        sqlx::query("INSERT INTO sessions (id, organization_id, account_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.to_string())
            .bind(org.to_string())
            .bind(account.to_string())
            .bind(secret_hash)
            .bind(millis(now))
            .bind(millis(expires_at))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        self.find_session(id)
            .await?
            .map(|stored| stored.record)
            .ok_or_else(|| Error::Internal("session vanished".into()))
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<StoredSecret<Session>>> {
        let row = sqlx::query(&format!("{SESSION_SELECT} WHERE s.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row
            .as_ref()
            .map(rows::session)
            .transpose()?
            .map(|(record, secret_hash)| StoredSecret {
                record,
                secret_hash,
            }))
    }

    async fn revoke_session(&self, id: SessionId) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(millis(Utc::now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn accounts_with_live_sessions(&self, org: OrganizationId) -> Result<Vec<AccountId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT account_id FROM sessions WHERE organization_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(org.to_string())
        .bind(millis(Utc::now()))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        ids.iter().map(|id| id.parse()).collect()
    }

    async fn revoke_sessions(&self, org: OrganizationId, account: AccountId) -> Result<u64> {
        let now = millis(Utc::now());
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE organization_id = $2 AND account_id = $3 AND revoked_at IS NULL AND expires_at > $4",
        )
        .bind(now)
        .bind(org.to_string())
        .bind(account.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(result.rows_affected())
    }
}
