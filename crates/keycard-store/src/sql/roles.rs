//! Roles: what they grant; system roles cannot change.

use async_trait::async_trait;
use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::{OrganizationId, RoleId};
use keycard_core::model::{Actor, NewRole, Principal, Role, RolePatch, sorted_unique};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{RoleStore, Written};
use sqlx::AnyConnection;

use super::links::{principal_state, record_principal};
use super::rows::json_text;
use super::rows::{self, load};
use super::{SqlStore, WriteTx, internal, millis, unique_or};

impl SqlStore {
    /// Inserts a role row and records its creation; shared by role creation and new organizations.
    pub(super) async fn insert_role(
        w: &mut WriteTx,
        org: OrganizationId,
        new: NewRole,
    ) -> Result<Role> {
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
        let role = load::<Role>(w.conn(), org, id).await?;
        w.created(&role).await?;
        Ok(role)
    }
}
#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewRole,
    ) -> Result<Written<Role>> {
        self.write(actor, org, move |w| {
            Box::pin(async move {
                rows::load_organization(w.conn(), org).await?;
                let role = Self::insert_role(&mut *w, org, new).await?;
                Ok(role)
            })
        })
        .await
    }

    async fn get_role(&self, org: OrganizationId, id: RoleId) -> Result<Role> {
        self.get(org, id).await
    }

    async fn list_roles(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Role>> {
        self.page(org, page).await
    }

    async fn update_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        self.write(actor, org, move |w| Box::pin(update(w, org, id, patch)))
            .await
    }

    async fn delete_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: RoleId,
    ) -> Result<Revision> {
        self.commit(actor, org, move |w| Box::pin(delete(w, org, id)))
            .await
    }
}
/// Changes a role, within a write.
pub(super) async fn update(
    w: &mut WriteTx,
    org: OrganizationId,
    id: RoleId,
    patch: RolePatch,
) -> Result<Role> {
    let before = load::<Role>(w.conn(), org, id).await?;
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
    let after = load::<Role>(w.conn(), org, id).await?;
    w.updated(&before, &after).await?;
    Ok(after)
}

/// Deletes a role, within a write: its holders lose it.
pub(super) async fn delete(w: &mut WriteTx, org: OrganizationId, id: RoleId) -> Result<()> {
    let before = load::<Role>(w.conn(), org, id).await?;
    before.ensure_mutable()?;
    let holders = role_holders(w.conn(), id).await?;
    let mut states = Vec::with_capacity(holders.len());
    for holder in &holders {
        states.push(principal_state(w.conn(), org, *holder).await?);
    }
    w.delete_row("roles", &id).await?;
    for (holder, state) in holders.into_iter().zip(states) {
        record_principal(&mut *w, org, holder, state).await?;
    }
    w.deleted(&before).await?;
    Ok(())
}

pub(super) async fn role_holders(conn: &mut AnyConnection, role: RoleId) -> Result<Vec<Principal>> {
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
