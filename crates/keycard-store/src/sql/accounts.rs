//! Accounts, their passwords and their sessions' end.

use async_trait::async_trait;
use keycard_core::attributes::Attributes;
use keycard_core::change::Revision;
use keycard_core::ids::{AccountId, OrganizationId, SessionId};
use keycard_core::model::{
    Account, AccountPatch, Actor, NewAccount, each_named_once, sorted_unique,
};
use keycard_core::names::Username;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{AccountStore, Written};
use keycard_core::{Error, Result};

use super::links::{ACCOUNT_GROUPS, ACCOUNT_ROLES, replace_links, set_links};
use super::rows::{self, ensure_in_org, json_text, load};
use super::{SqlStore, WriteTx, internal, millis, unique_or};

/// Adds an account with its roles and groups, within a write.
pub(super) async fn insert_account(
    w: &mut WriteTx,
    org: OrganizationId,
    new: NewAccount,
) -> Result<Account> {
    rows::load_organization(w.conn(), org).await?;
    let roles = sorted_unique(new.roles);
    let groups = sorted_unique(new.groups);
    ensure_in_org(w.conn(), "roles", "role", org, &roles).await?;
    ensure_in_org(w.conn(), "groups", "group", org, &groups).await?;
    ensure_unused(w.conn(), org, "username", new.username.as_str(), None).await?;
    if let Some(email) = &new.email {
        ensure_unused(w.conn(), org, "email", email.as_str(), None).await?;
    }
    let id = AccountId::new();
    let now = millis(w.at);
    sqlx::query(
        "INSERT INTO accounts (id, organization_id, username, email, first_name, provenance, inactive, service_account, password_hash, attributes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(new.username.as_str())
    .bind(new.email.as_ref().map(|email| email.as_str().to_owned()))
    .bind(new.first_name.as_str())
    .bind(new.provenance.as_str())
    .bind(new.inactive)
    .bind(new.service_account)
    .bind(new.password_hash)
    .bind(json_text(&new.attributes)?)
    .bind(now)
    .bind(now)
    .execute(w.conn())
    .await
    .map_err(unique_or("account", new.username.as_str()))?;
    let owner = id.to_string();
    replace_links(
        w.conn(),
        "account_roles",
        "account_id",
        "role_id",
        &owner,
        &roles,
    )
    .await?;
    replace_links(
        w.conn(),
        "account_groups",
        "account_id",
        "group_id",
        &owner,
        &groups,
    )
    .await?;
    let account = load::<Account>(w.conn(), org, id).await?;
    w.created(&account).await?;
    Ok(account)
}
/// Adds many new accounts (without passwords) within a write, as [`insert_account`] adds one, in a few statements for
/// all of them (the driver's cost is per statement). Their roles and groups must be the
/// organization's: the caller found them there.
pub(super) async fn insert_accounts(
    w: &mut WriteTx,
    org: OrganizationId,
    news: Vec<NewAccount>,
) -> Result<Vec<Account>> {
    // No two of them, nor one of them and a stored account, share a username or an email.
    let mut usernames = std::collections::HashSet::new();
    let mut emails = std::collections::HashSet::new();
    for new in &news {
        if !usernames.insert(new.username.as_str().to_lowercase()) {
            return Err(Error::conflict("account", &new.username));
        }
        if let Some(email) = &new.email
            && !emails.insert(email.as_str().to_lowercase())
        {
            return Err(Error::conflict("account email", email));
        }
    }
    const CHUNK: usize = 400;
    for (column, values) in [
        (
            "username",
            news.iter()
                .map(|new| new.username.as_str().to_owned())
                .collect::<Vec<_>>(),
        ),
        (
            "email",
            news.iter()
                .filter_map(|new| new.email.as_ref().map(|email| email.as_str().to_owned()))
                .collect(),
        ),
    ] {
        for chunk in values.chunks(CHUNK) {
            let folded: Vec<String> = (0..chunk.len())
                .map(|at| format!("lower(${})", at + 2))
                .collect();
            let sql = format!(
                "SELECT {column} FROM accounts WHERE organization_id = $1 AND lower({column}) IN ({}) LIMIT 1",
                folded.join(", ")
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(org.to_string());
            for value in chunk {
                query = query.bind(value.clone());
            }
            if let Some(taken) = query.fetch_optional(w.conn()).await.map_err(internal)? {
                let what = if column == "email" {
                    "account email"
                } else {
                    "account"
                };
                return Err(Error::conflict(what, taken));
            }
        }
    }
    let at = w.at;
    let accounts: Vec<Account> = news
        .into_iter()
        .map(|new| Account {
            id: AccountId::new(),
            organization_id: org,
            username: new.username,
            email: new.email,
            first_name: new.first_name,
            provenance: new.provenance,
            inactive: new.inactive,
            service_account: new.service_account,
            has_password: false,
            roles: sorted_unique(new.roles),
            groups: sorted_unique(new.groups),
            attributes: new.attributes,
            created_at: at,
            updated_at: at,
        })
        .collect();
    const COLUMNS: usize = 11;
    const ROWS: usize = 60;
    for chunk in accounts.chunks(ROWS) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| format!("({})", super::placeholders(row * COLUMNS + 1, COLUMNS)))
            .collect();
        let sql = format!(
            "INSERT INTO accounts (id, organization_id, username, email, first_name, provenance, inactive, service_account, attributes, created_at, updated_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for account in chunk {
            query = query
                .bind(account.id.to_string())
                .bind(org.to_string())
                .bind(account.username.as_str().to_owned())
                .bind(
                    account
                        .email
                        .as_ref()
                        .map(|email| email.as_str().to_owned()),
                )
                .bind(account.first_name.as_str().to_owned())
                .bind(account.provenance.as_str().to_owned())
                .bind(account.inactive)
                .bind(account.service_account)
                .bind(json_text(&account.attributes)?)
                .bind(millis(at))
                .bind(millis(at));
        }
        query
            .execute(w.conn())
            .await
            .map_err(unique_or("account", "in the batch"))?;
    }
    for (table, column, links) in [
        (
            "account_roles",
            "role_id",
            accounts
                .iter()
                .flat_map(|a| a.roles.iter().map(|role| (a.id, role.to_string())))
                .collect::<Vec<_>>(),
        ),
        (
            "account_groups",
            "group_id",
            accounts
                .iter()
                .flat_map(|a| a.groups.iter().map(|group| (a.id, group.to_string())))
                .collect(),
        ),
    ] {
        for chunk in links.chunks(CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| format!("({})", super::placeholders(row * 2 + 1, 2)))
                .collect();
            let sql = format!(
                "INSERT INTO {table} (account_id, {column}) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (account, target) in chunk {
                query = query.bind(account.to_string()).bind(target.clone());
            }
            query.execute(w.conn()).await.map_err(internal)?;
        }
    }
    w.created_all(&accounts).await?;
    Ok(accounts)
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewAccount,
    ) -> Result<Written<Account>> {
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let account = insert_account(&mut *w, org, new).await?;
                Ok(account)
            })
        })
        .await
    }

    async fn get_account(&self, org: OrganizationId, id: AccountId) -> Result<Account> {
        self.get(org, id).await
    }

    async fn find_account(
        &self,
        org: OrganizationId,
        username: &Username,
    ) -> Result<Option<Account>> {
        let row = sqlx::query(&format!(
            // Regardless of case; the exact spelling first, should an older store hold two.
            "{} WHERE a.organization_id = $1 AND lower(a.username) = lower($2) \
             ORDER BY CASE WHEN a.username = $2 THEN 0 ELSE 1 END LIMIT 1",
            *rows::ACCOUNT_SELECT
        ))
        .bind(org.to_string())
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn list_accounts(
        &self,
        org: OrganizationId,
        page: &PageRequest,
    ) -> Result<Page<Account>> {
        self.page(org, page).await
    }

    async fn update_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        patch: AccountPatch,
    ) -> Result<Written<Account>> {
        self.write(actor, org, move |w| Box::pin(update(w, org, id, patch)))
            .await
    }

    async fn set_account_attributes(
        &self,
        actor: &Actor,
        org: OrganizationId,
        attributes: Vec<(AccountId, Attributes)>,
    ) -> Result<Written<usize>> {
        each_named_once(
            "accounts",
            attributes.iter().map(|(id, _)| *id),
            ToString::to_string,
        )?;
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let mut changed = 0;
                for (id, attributes) in attributes {
                    let before = load::<Account>(w.conn(), org, id).await?;
                    if before.attributes == attributes {
                        continue;
                    }
                    sqlx::query(
                        "UPDATE accounts SET attributes = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(json_text(&attributes)?)
                    .bind(millis(w.at))
                    .bind(id.to_string())
                    .execute(w.conn())
                    .await
                    .map_err(internal)?;
                    let after = load::<Account>(w.conn(), org, id).await?;
                    w.updated(&before, &after).await?;
                    changed += 1;
                }
                Ok(changed)
            })
        })
        .await
    }

    async fn delete_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
    ) -> Result<Revision> {
        self.commit(actor, org, move |w| Box::pin(delete(w, org, id)))
            .await
    }

    async fn set_password_hash(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        hash: Option<String>,
        keep_session: Option<SessionId>,
    ) -> Result<Written<Account>> {
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let before = load::<Account>(w.conn(), org, id).await?;
                sqlx::query(
                    "UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(hash)
                .bind(millis(w.at))
                .bind(id.to_string())
                .execute(w.conn())
                .await
                .map_err(internal)?;
                // Whoever knew the old password no longer holds a session opened with it.
                let at = w.at;
                end_sessions(
                    w.conn(),
                    id,
                    keep_session.map(|session| session.to_string()),
                    at,
                )
                .await?;
                let after = load::<Account>(w.conn(), org, id).await?;
                w.updated(&before, &after).await?;
                Ok(after)
            })
        })
        .await
    }

    async fn password_hash(&self, org: OrganizationId, id: AccountId) -> Result<Option<String>> {
        let hash: Option<Option<String>> = sqlx::query_scalar(
            "SELECT password_hash FROM accounts WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        hash.ok_or_else(|| Error::not_found("account", id))
    }
}
/// Ends an account's live sessions, but `keep` when given.
pub(super) async fn end_sessions(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
    keep: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL \
         AND id <> $3",
    )
    .bind(millis(at))
    .bind(account.to_string())
    .bind(keep.unwrap_or_default())
    .execute(conn)
    .await
    .map_err(internal)?;
    Ok(())
}
/// Refuses a username or email another account of the organization already has, regardless of
/// case: decisions and logins find accounts by either, so two accounts must never share one. Read
/// under the write lock, so two writes cannot both pass. (The table's own constraint on usernames
/// is exact; emails have none, so that stores written before this rule still open.)
pub(super) async fn ensure_unused(
    conn: &mut sqlx::AnyConnection,
    org: OrganizationId,
    column: &'static str,
    value: &str,
    except: Option<AccountId>,
) -> Result<()> {
    let taken: Option<String> = sqlx::query_scalar(&format!(
        "SELECT {column} FROM accounts WHERE organization_id = $1 AND lower({column}) = lower($2) \
         AND id <> $3"
    ))
    .bind(org.to_string())
    .bind(value)
    .bind(except.map(|id| id.to_string()).unwrap_or_default())
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    match taken {
        Some(taken) => Err(Error::conflict(
            if column == "email" {
                "account email"
            } else {
                "account"
            },
            taken,
        )),
        None => Ok(()),
    }
}

/// Changes an account, within a write; an account made inactive loses its sessions.
pub(super) async fn update(
    w: &mut WriteTx,
    org: OrganizationId,
    id: AccountId,
    patch: AccountPatch,
) -> Result<Account> {
    let before = load::<Account>(w.conn(), org, id).await?;
    let email = patch.email.unwrap_or_else(|| before.email.clone());
    if let Some(new_email) = email
        .as_ref()
        .filter(|email| Some(*email) != before.email.as_ref())
    {
        ensure_unused(w.conn(), org, "email", new_email.as_str(), Some(id)).await?;
    }
    sqlx::query("UPDATE accounts SET email = $1, first_name = $2, inactive = $3, attributes = $4, updated_at = $5 WHERE id = $6")
                    .bind(email.as_ref().map(|email| email.as_str().to_owned()))
                    .bind(patch.first_name.as_ref().unwrap_or(&before.first_name).as_str())
                    .bind(patch.inactive.unwrap_or(before.inactive))
                    .bind(json_text(patch.attributes.as_ref().unwrap_or(&before.attributes))?)
                    .bind(millis(w.at))
                    .bind(id.to_string())
                    .execute(w.conn())
                    .await
                    .map_err(internal)?;
    let owner = id.to_string();
    if let Some(roles) = patch.roles {
        set_links(w.conn(), org, &ACCOUNT_ROLES, &owner, roles).await?;
    }
    if let Some(groups) = patch.groups {
        set_links(w.conn(), org, &ACCOUNT_GROUPS, &owner, groups).await?;
    }
    let after = load::<Account>(w.conn(), org, id).await?;
    if after.inactive {
        // Sessions of an inactive account end, so that reactivating it revives none.
        let at = w.at;
        end_sessions(w.conn(), id, None, at).await?;
    }
    w.updated(&before, &after).await?;
    Ok(after)
}

/// Deletes an account, within a write: what it owned is left without an owner.
pub(super) async fn delete(w: &mut WriteTx, org: OrganizationId, id: AccountId) -> Result<()> {
    let before = load::<Account>(w.conn(), org, id).await?;
    super::resources::release_owned(w, org, id).await?;
    w.delete_row("accounts", &id).await?;
    w.deleted(&before).await?;
    Ok(())
}
