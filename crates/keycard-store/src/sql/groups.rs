//! Groups, their nesting and their members.

use async_trait::async_trait;
use keycard_core::change::Revision;
use keycard_core::ids::{GroupId, OrganizationId};
use keycard_core::model::{Actor, Group, GroupPatch, Link, NewGroup, Principal, sorted_unique};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{GroupMembers, GroupStore, Written};
use keycard_core::{Error, Result};

use super::links::{
    GROUP_PARENTS, GROUP_ROLES, ensure_link_ends, ensure_no_cycles, group_members, link_row,
    owner_table, principal_id, principal_state, record_principal, replace_links, set_links,
};
use super::rows::{self, ensure_in_org, load};
use super::{SqlStore, WriteTx, internal, millis, unavailable, unique_or};

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewGroup,
    ) -> Result<Written<Group>> {
        self.write(actor, org, move |w| Box::pin(insert(w, org, new)))
            .await
    }

    async fn get_group(&self, org: OrganizationId, id: GroupId) -> Result<Group> {
        self.get(org, id).await
    }

    async fn list_groups(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Group>> {
        self.page(org, page).await
    }

    async fn update_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Written<Group>> {
        self.write(actor, org, move |w| Box::pin(update(w, org, id, patch)))
            .await
    }

    async fn delete_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
    ) -> Result<Revision> {
        self.commit(actor, org, move |w| Box::pin(delete(w, org, id)))
            .await
    }

    async fn group_members(&self, org: OrganizationId, id: GroupId) -> Result<GroupMembers> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load::<Group>(&mut conn, org, id).await?;
        group_members(&mut conn, id).await
    }

    async fn add_link(&self, actor: &Actor, org: OrganizationId, link: Link) -> Result<Revision> {
        self.commit(actor, org, move |w| {
            Box::pin(async move {
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
                    record_principal(&mut *w, org, row.owner, before).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn remove_link(
        &self,
        actor: &Actor,
        org: OrganizationId,
        link: Link,
    ) -> Result<Revision> {
        self.commit(actor, org, move |w| {
            Box::pin(async move {
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
                record_principal(&mut *w, org, row.owner, before).await?;
                Ok(())
            })
        })
        .await
    }
}

/// Adds a group with its roles and parents, within a write.
pub(super) async fn insert(w: &mut WriteTx, org: OrganizationId, new: NewGroup) -> Result<Group> {
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
    let group = load::<Group>(w.conn(), org, id).await?;
    w.created(&group).await?;
    Ok(group)
}

/// Changes a group, within a write.
pub(super) async fn update(
    w: &mut WriteTx,
    org: OrganizationId,
    id: GroupId,
    patch: GroupPatch,
) -> Result<Group> {
    let before = load::<Group>(w.conn(), org, id).await?;
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
        set_links(w.conn(), org, &GROUP_ROLES, &owner, roles).await?;
    }
    if let Some(parents) = patch.parents {
        ensure_no_cycles(w.conn(), id, &parents).await?;
        set_links(w.conn(), org, &GROUP_PARENTS, &owner, parents).await?;
    }
    let after = load::<Group>(w.conn(), org, id).await?;
    w.updated(&before, &after).await?;
    Ok(after)
}

/// Deletes a group, within a write: its members and child groups lose the membership.
pub(super) async fn delete(w: &mut WriteTx, org: OrganizationId, id: GroupId) -> Result<()> {
    let before = load::<Group>(w.conn(), org, id).await?;
    let members = group_members(w.conn(), id).await?;
    let mut affected = Vec::new();
    for account in &members.accounts {
        affected.push(principal_state(w.conn(), org, Principal::Account(*account)).await?);
    }
    for child in &members.groups {
        affected.push(principal_state(w.conn(), org, Principal::Group(*child)).await?);
    }
    w.delete_row("groups", &id).await?;
    let principals = members
        .accounts
        .iter()
        .map(|a| Principal::Account(*a))
        .chain(members.groups.iter().map(|g| Principal::Group(*g)));
    for (principal, before_state) in principals.zip(affected) {
        record_principal(&mut *w, org, principal, before_state).await?;
    }
    w.deleted(&before).await?;
    Ok(())
}
