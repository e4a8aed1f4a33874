//! Organizations, accounts, groups, roles, policies and the links between them.

use async_trait::async_trait;
use keycard_core::change::{EntityKind, Operation, Revision};
use keycard_core::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId, SessionId};
use keycard_core::model::{
    self, Account, AccountPatch, Actor, Group, GroupPatch, Link, NewAccount, NewGroup,
    NewOrganization, NewPolicy, NewRole, Organization, OrganizationPatch, Policy, PolicyPatch,
    Principal, Role, RolePatch, normalize_actions, sorted_unique,
};
use keycard_core::names::{OrganizationName, Username};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{
    AccountStore, GroupMembers, GroupStore, OrganizationStore, PolicyStore, RoleStore, Written,
};
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::{
    self, ensure_in_org, fetch_page, load_account, load_group, load_policy, load_role,
};
use super::{SqlStore, WriteTx, internal, millis, unavailable, unique_or};

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::Internal(err.to_string()))
}

/// Replaces every row of a link table owned by `owner` with links to `targets`.
async fn replace_links<T: std::fmt::Display>(
    conn: &mut AnyConnection,
    table: &str,
    owner_column: &str,
    target_column: &str,
    owner: &str,
    targets: &[T],
) -> Result<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE {owner_column} = $1"))
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    let insert = format!(
        "INSERT INTO {table} ({owner_column}, {target_column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    );
    for target in targets {
        sqlx::query(&insert)
            .bind(owner)
            .bind(target.to_string())
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Whether making `child` a member of `parent` would close a cycle: it would when `child` is
/// `parent` or one of its ancestors.
async fn would_cycle(conn: &mut AnyConnection, child: GroupId, parent: GroupId) -> Result<bool> {
    if child == parent {
        return Ok(true);
    }
    let found = sqlx::query(
        "WITH RECURSIVE ancestors(id) AS (SELECT CAST($1 AS TEXT) UNION SELECT gp.parent_id FROM group_parents gp \
         JOIN ancestors a ON gp.group_id = a.id) SELECT 1 FROM ancestors WHERE id = $2 LIMIT 1",
    )
    .bind(parent.to_string())
    .bind(child.to_string())
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    Ok(found.is_some())
}

async fn ensure_no_cycles(
    conn: &mut AnyConnection,
    child: GroupId,
    parents: &[GroupId],
) -> Result<()> {
    for parent in parents {
        if would_cycle(conn, child, *parent).await? {
            return Err(Error::Cycle {
                child: child.to_string(),
                parent: parent.to_string(),
            });
        }
    }
    Ok(())
}

/// Records the new state of a principal whose links changed.
async fn record_principal(
    w: &mut WriteTx,
    org: OrganizationId,
    principal: Principal,
    before: PrincipalState,
) -> Result<()> {
    match (principal, before) {
        (Principal::Account(id), PrincipalState::Account(before)) => {
            let after = load_account(w.conn(), org, id).await?;
            w.record(
                EntityKind::Account,
                &id.to_string(),
                Operation::Update,
                Some(&before),
                Some(&after),
            )
            .await
        }
        (Principal::Group(id), PrincipalState::Group(before)) => {
            let after = load_group(w.conn(), org, id).await?;
            w.record(
                EntityKind::Group,
                &id.to_string(),
                Operation::Update,
                Some(&before),
                Some(&after),
            )
            .await
        }
        _ => Err(Error::Internal(
            "principal kind changed during a write".into(),
        )),
    }
}

enum PrincipalState {
    Account(Account),
    Group(Group),
}

async fn principal_state(
    conn: &mut AnyConnection,
    org: OrganizationId,
    principal: Principal,
) -> Result<PrincipalState> {
    Ok(match principal {
        Principal::Account(id) => PrincipalState::Account(load_account(conn, org, id).await?),
        Principal::Group(id) => PrincipalState::Group(load_group(conn, org, id).await?),
    })
}

/// Where a link lives: its table, the owning principal and the target id.
struct LinkRow {
    table: &'static str,
    owner_column: &'static str,
    target_column: &'static str,
    owner: Principal,
    target: String,
}

fn link_row(link: Link) -> LinkRow {
    match link {
        Link::AccountInGroup(account, group) => LinkRow {
            table: "account_groups",
            owner_column: "account_id",
            target_column: "group_id",
            owner: Principal::Account(account),
            target: group.to_string(),
        },
        Link::GroupInGroup { child, parent } => LinkRow {
            table: "group_parents",
            owner_column: "group_id",
            target_column: "parent_id",
            owner: Principal::Group(child),
            target: parent.to_string(),
        },
        Link::RoleOf(Principal::Account(account), role) => LinkRow {
            table: "account_roles",
            owner_column: "account_id",
            target_column: "role_id",
            owner: Principal::Account(account),
            target: role.to_string(),
        },
        Link::RoleOf(Principal::Group(group), role) => LinkRow {
            table: "group_roles",
            owner_column: "group_id",
            target_column: "role_id",
            owner: Principal::Group(group),
            target: role.to_string(),
        },
    }
}

fn principal_id(principal: Principal) -> String {
    match principal {
        Principal::Account(id) => id.to_string(),
        Principal::Group(id) => id.to_string(),
    }
}

impl SqlStore {
    /// Inserts a role row and records its creation; shared by role creation and new organizations.
    async fn insert_role(w: &mut WriteTx, org: OrganizationId, new: NewRole) -> Result<Role> {
        let id = RoleId::new();
        let now = millis(w.at);
        sqlx::query(
            "INSERT INTO roles (id, organization_id, name, description, provenance, system, inactive, methods, views, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(new.name.as_str())
        .bind(new.description.as_str())
        .bind(new.provenance.as_str())
        .bind(new.system)
        .bind(new.inactive)
        .bind(json_text(&sorted_unique(new.methods))?)
        .bind(json_text(&sorted_unique(new.views))?)
        .bind(now)
        .bind(now)
        .execute(w.conn())
        .await
        .map_err(unique_or("role", new.name.as_str()))?;
        let role = load_role(w.conn(), org, id).await?;
        w.record(
            EntityKind::Role,
            &id.to_string(),
            Operation::Create,
            None,
            Some(&role),
        )
        .await?;
        Ok(role)
    }
}

#[async_trait]
impl OrganizationStore for SqlStore {
    async fn create_organization(
        &self,
        actor: &Actor,
        new: NewOrganization,
    ) -> Result<Written<Organization>> {
        let id = OrganizationId::new();
        let mut w = self.begin_write(actor, id).await?;
        let now = millis(w.at);
        new.sso.validate()?;
        sqlx::query(
            "INSERT INTO organizations (id, name, actions, sso, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(new.name.as_str())
        .bind(json_text(&sorted_actions(new.actions))?)
        .bind(json_text(&new.sso)?)
        .bind(now)
        .bind(now)
        .execute(w.conn())
        .await
        .map_err(unique_or("organization", new.name.as_str()))?;
        let org = rows::load_organization(w.conn(), id).await?;
        w.record(
            EntityKind::Organization,
            &id.to_string(),
            Operation::Create,
            None,
            Some(&org),
        )
        .await?;
        for role in new.roles {
            Self::insert_role(&mut w, id, role).await?;
        }
        super::catalogue::write_manifest(&mut w, id, new.manifest).await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: org,
            revision,
        })
    }

    async fn get_organization(&self, id: OrganizationId) -> Result<Organization> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        rows::load_organization(&mut conn, id).await
    }

    async fn find_organization(&self, name: &OrganizationName) -> Result<Option<Organization>> {
        let row = sqlx::query(&format!("{} WHERE o.name = $1", rows::ORGANIZATION_SELECT))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        row.as_ref().map(rows::organization).transpose()
    }

    async fn list_organizations(&self, page: &PageRequest) -> Result<Page<Organization>> {
        let rows = sqlx::query(&format!(
            "{} WHERE o.id > $1 ORDER BY o.id LIMIT $2",
            rows::ORGANIZATION_SELECT
        ))
        .bind(page.after.clone().unwrap_or_default())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let items = rows
            .iter()
            .map(rows::organization)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |org| {
            org.id.to_string()
        }))
    }

    async fn update_organization(
        &self,
        actor: &Actor,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Written<Organization>> {
        if let Some(sso) = &patch.sso {
            sso.validate()?;
        }
        let mut w = self.begin_write(actor, id).await?;
        let before = rows::load_organization(w.conn(), id).await?;
        let name = patch.name.as_ref().unwrap_or(&before.name);
        let actions = patch
            .actions
            .map(sorted_actions)
            .unwrap_or_else(|| before.actions.clone());
        sqlx::query(
            "UPDATE organizations SET name = $1, actions = $2, sso = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(name.as_str())
        .bind(json_text(&actions)?)
        .bind(json_text(patch.sso.as_ref().unwrap_or(&before.sso))?)
        .bind(millis(w.at))
        .bind(id.to_string())
        .execute(w.conn())
        .await
        .map_err(unique_or("organization", name.as_str()))?;
        let after = rows::load_organization(w.conn(), id).await?;
        w.record(
            EntityKind::Organization,
            &id.to_string(),
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }

    async fn delete_organization(&self, actor: &Actor, id: OrganizationId) -> Result<Revision> {
        let mut w = self.begin_write(actor, id).await?;
        let before = rows::load_organization(w.conn(), id).await?;
        sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        w.record(
            EntityKind::Organization,
            &id.to_string(),
            Operation::Delete,
            Some(&before),
            None,
        )
        .await?;
        w.commit().await
    }
}

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
        "INSERT INTO accounts (id, organization_id, username, email, first_name, provenance, inactive, service_account, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    let account = load_account(w.conn(), org, id).await?;
    w.record(
        EntityKind::Account,
        &owner,
        Operation::Create,
        None,
        Some(&account),
    )
    .await?;
    Ok(account)
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewAccount,
    ) -> Result<Written<Account>> {
        let mut w = self.begin_write(actor, org).await?;
        let account = insert_account(&mut w, org, new).await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: account,
            revision,
        })
    }

    async fn get_account(&self, org: OrganizationId, id: AccountId) -> Result<Account> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load_account(&mut conn, org, id).await
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
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch_page(
            &mut conn,
            &rows::ACCOUNT_SELECT,
            "a",
            org,
            page,
            rows::account,
            |a| a.id.to_string(),
        )
        .await
    }

    async fn update_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        patch: AccountPatch,
    ) -> Result<Written<Account>> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_account(w.conn(), org, id).await?;
        let email = patch.email.unwrap_or_else(|| before.email.clone());
        if let Some(new_email) = email
            .as_ref()
            .filter(|email| Some(*email) != before.email.as_ref())
        {
            ensure_unused(w.conn(), org, "email", new_email.as_str(), Some(id)).await?;
        }
        sqlx::query("UPDATE accounts SET email = $1, first_name = $2, inactive = $3, updated_at = $4 WHERE id = $5")
            .bind(email.as_ref().map(|email| email.as_str().to_owned()))
            .bind(patch.first_name.as_ref().unwrap_or(&before.first_name).as_str())
            .bind(patch.inactive.unwrap_or(before.inactive))
            .bind(millis(w.at))
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        let owner = id.to_string();
        if let Some(roles) = patch.roles {
            let roles = sorted_unique(roles);
            ensure_in_org(w.conn(), "roles", "role", org, &roles).await?;
            replace_links(
                w.conn(),
                "account_roles",
                "account_id",
                "role_id",
                &owner,
                &roles,
            )
            .await?;
        }
        if let Some(groups) = patch.groups {
            let groups = sorted_unique(groups);
            ensure_in_org(w.conn(), "groups", "group", org, &groups).await?;
            replace_links(
                w.conn(),
                "account_groups",
                "account_id",
                "group_id",
                &owner,
                &groups,
            )
            .await?;
        }
        let after = load_account(w.conn(), org, id).await?;
        if after.inactive {
            // Sessions of an inactive account end, so that reactivating it revives none.
            let at = w.at;
            end_sessions(w.conn(), id, None, at).await?;
        }
        w.record(
            EntityKind::Account,
            &owner,
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }

    async fn delete_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
    ) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_account(w.conn(), org, id).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        w.record(
            EntityKind::Account,
            &id.to_string(),
            Operation::Delete,
            Some(&before),
            None,
        )
        .await?;
        w.commit().await
    }

    async fn set_password_hash(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        hash: Option<String>,
        keep_session: Option<SessionId>,
    ) -> Result<Written<Account>> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_account(w.conn(), org, id).await?;
        sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
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
        let after = load_account(w.conn(), org, id).await?;
        w.record(
            EntityKind::Account,
            &id.to_string(),
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
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

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewGroup,
    ) -> Result<Written<Group>> {
        let mut w = self.begin_write(actor, org).await?;
        rows::load_organization(w.conn(), org).await?;
        let roles = sorted_unique(new.roles);
        let parents = sorted_unique(new.parents);
        ensure_in_org(w.conn(), "roles", "role", org, &roles).await?;
        ensure_in_org(w.conn(), "groups", "group", org, &parents).await?;
        let id = GroupId::new();
        let now = millis(w.at);
        sqlx::query(
            "INSERT INTO groups (id, organization_id, name, description, provenance, inactive, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(new.name.as_str())
        .bind(new.description.as_str())
        .bind(new.provenance.as_str())
        .bind(new.inactive)
        .bind(now)
        .bind(now)
        .execute(w.conn())
        .await
        .map_err(unique_or("group", new.name.as_str()))?;
        let owner = id.to_string();
        replace_links(
            w.conn(),
            "group_roles",
            "group_id",
            "role_id",
            &owner,
            &roles,
        )
        .await?;
        replace_links(
            w.conn(),
            "group_parents",
            "group_id",
            "parent_id",
            &owner,
            &parents,
        )
        .await?;
        let group = load_group(w.conn(), org, id).await?;
        w.record(
            EntityKind::Group,
            &owner,
            Operation::Create,
            None,
            Some(&group),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: group,
            revision,
        })
    }

    async fn get_group(&self, org: OrganizationId, id: GroupId) -> Result<Group> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load_group(&mut conn, org, id).await
    }

    async fn list_groups(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Group>> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch_page(
            &mut conn,
            rows::GROUP_SELECT,
            "g",
            org,
            page,
            rows::group,
            |g| g.id.to_string(),
        )
        .await
    }

    async fn update_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Written<Group>> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_group(w.conn(), org, id).await?;
        let name = patch.name.as_ref().unwrap_or(&before.name);
        sqlx::query("UPDATE groups SET name = $1, description = $2, inactive = $3, updated_at = $4 WHERE id = $5")
            .bind(name.as_str())
            .bind(patch.description.as_ref().unwrap_or(&before.description).as_str())
            .bind(patch.inactive.unwrap_or(before.inactive))
            .bind(millis(w.at))
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(unique_or("group", name.as_str()))?;
        let owner = id.to_string();
        if let Some(roles) = patch.roles {
            let roles = sorted_unique(roles);
            ensure_in_org(w.conn(), "roles", "role", org, &roles).await?;
            replace_links(
                w.conn(),
                "group_roles",
                "group_id",
                "role_id",
                &owner,
                &roles,
            )
            .await?;
        }
        if let Some(parents) = patch.parents {
            let parents = sorted_unique(parents);
            ensure_in_org(w.conn(), "groups", "group", org, &parents).await?;
            ensure_no_cycles(w.conn(), id, &parents).await?;
            replace_links(
                w.conn(),
                "group_parents",
                "group_id",
                "parent_id",
                &owner,
                &parents,
            )
            .await?;
        }
        let after = load_group(w.conn(), org, id).await?;
        w.record(
            EntityKind::Group,
            &owner,
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }

    async fn delete_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
    ) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_group(w.conn(), org, id).await?;
        let members = group_members(w.conn(), id).await?;
        let mut affected = Vec::new();
        for account in &members.accounts {
            affected.push(principal_state(w.conn(), org, Principal::Account(*account)).await?);
        }
        for child in &members.groups {
            affected.push(principal_state(w.conn(), org, Principal::Group(*child)).await?);
        }
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        let principals = members
            .accounts
            .iter()
            .map(|a| Principal::Account(*a))
            .chain(members.groups.iter().map(|g| Principal::Group(*g)));
        for (principal, before_state) in principals.zip(affected) {
            record_principal(&mut w, org, principal, before_state).await?;
        }
        w.record(
            EntityKind::Group,
            &id.to_string(),
            Operation::Delete,
            Some(&before),
            None,
        )
        .await?;
        w.commit().await
    }

    async fn group_members(&self, org: OrganizationId, id: GroupId) -> Result<GroupMembers> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load_group(&mut conn, org, id).await?;
        group_members(&mut conn, id).await
    }

    async fn add_link(&self, actor: &Actor, org: OrganizationId, link: Link) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        ensure_link_ends(w.conn(), org, link).await?;
        if let Link::GroupInGroup { child, parent } = link {
            ensure_no_cycles(w.conn(), child, &[parent]).await?;
        }
        let row = link_row(link);
        let before = principal_state(w.conn(), org, row.owner).await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO {} ({}, {}) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            row.table, row.owner_column, row.target_column
        ))
        .bind(principal_id(row.owner))
        .bind(&row.target)
        .execute(w.conn())
        .await
        .map_err(internal)?
        .rows_affected();
        if inserted > 0 {
            sqlx::query(&format!(
                "UPDATE {} SET updated_at = $1 WHERE id = $2",
                owner_table(row.owner)
            ))
            .bind(millis(w.at))
            .bind(principal_id(row.owner))
            .execute(w.conn())
            .await
            .map_err(internal)?;
            record_principal(&mut w, org, row.owner, before).await?;
        }
        w.commit().await
    }

    async fn remove_link(
        &self,
        actor: &Actor,
        org: OrganizationId,
        link: Link,
    ) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        ensure_link_ends(w.conn(), org, link).await?;
        let row = link_row(link);
        let before = principal_state(w.conn(), org, row.owner).await?;
        let removed = sqlx::query(&format!(
            "DELETE FROM {} WHERE {} = $1 AND {} = $2",
            row.table, row.owner_column, row.target_column
        ))
        .bind(principal_id(row.owner))
        .bind(&row.target)
        .execute(w.conn())
        .await
        .map_err(internal)?
        .rows_affected();
        if removed == 0 {
            return Err(Error::not_found(
                "link",
                format!("{} -> {}", principal_id(row.owner), row.target),
            ));
        }
        sqlx::query(&format!(
            "UPDATE {} SET updated_at = $1 WHERE id = $2",
            owner_table(row.owner)
        ))
        .bind(millis(w.at))
        .bind(principal_id(row.owner))
        .execute(w.conn())
        .await
        .map_err(internal)?;
        record_principal(&mut w, org, row.owner, before).await?;
        w.commit().await
    }
}

fn owner_table(principal: Principal) -> &'static str {
    match principal {
        Principal::Account(_) => "accounts",
        Principal::Group(_) => "groups",
    }
}

async fn ensure_link_ends(conn: &mut AnyConnection, org: OrganizationId, link: Link) -> Result<()> {
    match link {
        Link::AccountInGroup(account, group) => {
            ensure_in_org(conn, "accounts", "account", org, &[account]).await?;
            ensure_in_org(conn, "groups", "group", org, &[group]).await
        }
        Link::GroupInGroup { child, parent } => {
            ensure_in_org(conn, "groups", "group", org, &[child, parent]).await
        }
        Link::RoleOf(principal, role) => {
            match principal {
                Principal::Account(account) => {
                    ensure_in_org(conn, "accounts", "account", org, &[account]).await?
                }
                Principal::Group(group) => {
                    ensure_in_org(conn, "groups", "group", org, &[group]).await?
                }
            }
            ensure_in_org(conn, "roles", "role", org, &[role]).await
        }
    }
}

async fn group_members(conn: &mut AnyConnection, id: GroupId) -> Result<GroupMembers> {
    let accounts: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM account_groups WHERE group_id = $1 ORDER BY account_id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    let groups: Vec<String> = sqlx::query_scalar(
        "SELECT group_id FROM group_parents WHERE parent_id = $1 ORDER BY group_id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    Ok(GroupMembers {
        accounts: accounts
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_>>()?,
        groups: groups.iter().map(|id| id.parse()).collect::<Result<_>>()?,
    })
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewRole,
    ) -> Result<Written<Role>> {
        let mut w = self.begin_write(actor, org).await?;
        rows::load_organization(w.conn(), org).await?;
        let role = Self::insert_role(&mut w, org, new).await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: role,
            revision,
        })
    }

    async fn get_role(&self, org: OrganizationId, id: RoleId) -> Result<Role> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load_role(&mut conn, org, id).await
    }

    async fn list_roles(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Role>> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch_page(
            &mut conn,
            rows::ROLE_SELECT,
            "r",
            org,
            page,
            rows::role,
            |r| r.id.to_string(),
        )
        .await
    }

    async fn update_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_role(w.conn(), org, id).await?;
        before.ensure_mutable()?;
        let name = patch.name.as_ref().unwrap_or(&before.name);
        sqlx::query("UPDATE roles SET name = $1, description = $2, inactive = $3, methods = $4, views = $5, updated_at = $6 WHERE id = $7")
            .bind(name.as_str())
            .bind(patch.description.as_ref().unwrap_or(&before.description).as_str())
            .bind(patch.inactive.unwrap_or(before.inactive))
            .bind(json_text(&patch.methods.map(sorted_unique).unwrap_or_else(|| before.methods.clone()))?)
            .bind(json_text(&patch.views.map(sorted_unique).unwrap_or_else(|| before.views.clone()))?)
            .bind(millis(w.at))
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(unique_or("role", name.as_str()))?;
        let after = load_role(w.conn(), org, id).await?;
        w.record(
            EntityKind::Role,
            &id.to_string(),
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }

    async fn delete_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: RoleId,
    ) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_role(w.conn(), org, id).await?;
        before.ensure_mutable()?;
        let holders = role_holders(w.conn(), id).await?;
        let mut states = Vec::with_capacity(holders.len());
        for holder in &holders {
            states.push(principal_state(w.conn(), org, *holder).await?);
        }
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        for (holder, state) in holders.into_iter().zip(states) {
            record_principal(&mut w, org, holder, state).await?;
        }
        w.record(
            EntityKind::Role,
            &id.to_string(),
            Operation::Delete,
            Some(&before),
            None,
        )
        .await?;
        w.commit().await
    }
}

async fn role_holders(conn: &mut AnyConnection, role: RoleId) -> Result<Vec<Principal>> {
    let accounts: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM account_roles WHERE role_id = $1 ORDER BY account_id",
    )
    .bind(role.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    let groups: Vec<String> =
        sqlx::query_scalar("SELECT group_id FROM group_roles WHERE role_id = $1 ORDER BY group_id")
            .bind(role.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(internal)?;
    let mut holders = Vec::with_capacity(accounts.len() + groups.len());
    for id in accounts {
        holders.push(Principal::Account(id.parse()?));
    }
    for id in groups {
        holders.push(Principal::Group(id.parse()?));
    }
    Ok(holders)
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn create_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewPolicy,
    ) -> Result<Written<Policy>> {
        let actions = normalize_actions(new.actions);
        let resources = validated_resources(new.resources)?;
        let mut w = self.begin_write(actor, org).await?;
        rows::load_organization(w.conn(), org).await?;
        ensure_policy_roles(w.conn(), org, &actions).await?;
        let id = PolicyId::new();
        let now = millis(w.at);
        sqlx::query(
            "INSERT INTO policies (id, organization_id, name, system, actions, resources, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(new.name.as_str())
        .bind(new.system)
        .bind(json_text(&actions)?)
        .bind(json_text(&resources)?)
        .bind(now)
        .bind(now)
        .execute(w.conn())
        .await
        .map_err(unique_or("policy", new.name.as_str()))?;
        let policy = load_policy(w.conn(), org, id).await?;
        w.record(
            EntityKind::Policy,
            &id.to_string(),
            Operation::Create,
            None,
            Some(&policy),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: policy,
            revision,
        })
    }

    async fn get_policy(&self, org: OrganizationId, id: PolicyId) -> Result<Policy> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load_policy(&mut conn, org, id).await
    }

    async fn list_policies(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Policy>> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        fetch_page(
            &mut conn,
            rows::POLICY_SELECT,
            "p",
            org,
            page,
            rows::policy,
            |p| p.id.to_string(),
        )
        .await
    }

    async fn update_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        patch: PolicyPatch,
    ) -> Result<Written<Policy>> {
        let actions = patch.actions.map(normalize_actions);
        let resources = patch.resources.map(validated_resources).transpose()?;
        let mut w = self.begin_write(actor, org).await?;
        let before = load_policy(w.conn(), org, id).await?;
        if let Some(actions) = &actions {
            ensure_policy_roles(w.conn(), org, actions).await?;
        }
        let name = patch.name.as_ref().unwrap_or(&before.name);
        sqlx::query(
            "UPDATE policies SET name = $1, actions = $2, resources = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(name.as_str())
        .bind(json_text(actions.as_ref().unwrap_or(&before.actions))?)
        .bind(json_text(resources.as_ref().unwrap_or(&before.resources))?)
        .bind(millis(w.at))
        .bind(id.to_string())
        .execute(w.conn())
        .await
        .map_err(unique_or("policy", name.as_str()))?;
        let after = load_policy(w.conn(), org, id).await?;
        w.record(
            EntityKind::Policy,
            &id.to_string(),
            Operation::Update,
            Some(&before),
            Some(&after),
        )
        .await?;
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }

    async fn delete_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
    ) -> Result<Revision> {
        let mut w = self.begin_write(actor, org).await?;
        let before = load_policy(w.conn(), org, id).await?;
        if before.system {
            return Err(Error::BuiltIn {
                what: "policy",
                name: before.name.to_string(),
            });
        }
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id.to_string())
            .execute(w.conn())
            .await
            .map_err(internal)?;
        w.record(
            EntityKind::Policy,
            &id.to_string(),
            Operation::Delete,
            Some(&before),
            None,
        )
        .await?;
        w.commit().await
    }

    async fn set_attachment(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        resource: model::ResourceRef,
        attached: bool,
    ) -> Result<Written<Policy>> {
        resource.validate()?;
        let mut w = self.begin_write(actor, org).await?;
        let before = load_policy(w.conn(), org, id).await?;
        let mut resources = before.resources.clone();
        let present = resources.contains(&resource);
        match (attached, present) {
            (true, false) => resources.push(resource),
            (false, true) => resources.retain(|existing| existing != &resource),
            (false, false) => {
                return Err(Error::not_found(
                    "attachment",
                    format!("{}:{}", resource.resource_type, resource.id),
                ));
            }
            (true, true) => {}
        }
        if resources != before.resources {
            sqlx::query("UPDATE policies SET resources = $1, updated_at = $2 WHERE id = $3")
                .bind(json_text(&sorted_unique(resources))?)
                .bind(millis(w.at))
                .bind(id.to_string())
                .execute(w.conn())
                .await
                .map_err(internal)?;
        }
        let after = load_policy(w.conn(), org, id).await?;
        if after != before {
            w.record(
                EntityKind::Policy,
                &id.to_string(),
                Operation::Update,
                Some(&before),
                Some(&after),
            )
            .await?;
        }
        let revision = w.commit().await?;
        Ok(Written {
            value: after,
            revision,
        })
    }
}

/// Keeps the first occurrence of each action, in order.
fn sorted_actions(
    actions: Vec<keycard_core::names::ActionName>,
) -> Vec<keycard_core::names::ActionName> {
    let mut unique = Vec::with_capacity(actions.len());
    for action in actions {
        if !unique.contains(&action) {
            unique.push(action);
        }
    }
    unique
}

fn validated_resources(resources: Vec<model::ResourceRef>) -> Result<Vec<model::ResourceRef>> {
    for resource in &resources {
        resource.validate()?;
    }
    Ok(sorted_unique(resources))
}

/// Roles named by a policy must exist when the policy is written.
async fn ensure_policy_roles(
    conn: &mut AnyConnection,
    org: OrganizationId,
    actions: &[model::PolicyAction],
) -> Result<()> {
    let roles: Vec<RoleId> = sorted_unique(
        actions
            .iter()
            .flat_map(|action| action.role_ids.iter().copied())
            .collect(),
    );
    ensure_in_org(conn, "roles", "role", org, &roles).await
}

/// Ends an account's live sessions, but `keep` when given.
async fn end_sessions(
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
async fn ensure_unused(
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
