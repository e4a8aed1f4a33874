//! Organizations: created with what they start with, renamed, deleted with everything in them.

use async_trait::async_trait;
use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::OrganizationId;
use keycard_core::model::{Actor, NewOrganization, Organization, OrganizationPatch};
use keycard_core::names::OrganizationName;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{OrganizationStore, Written};

use super::policies::sorted_actions;
use super::rows;
use super::rows::json_text;
use super::{SqlStore, internal, millis, unavailable, unique_or};

#[async_trait]
impl OrganizationStore for SqlStore {
    async fn create_organization(
        &self,
        actor: &Actor,
        new: NewOrganization,
    ) -> Result<Written<Organization>> {
        let id = OrganizationId::new();
        self.write(actor, id, move |w| {
            Box::pin(async move {
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
                w.created(&org).await?;
                for role in new.roles {
                    Self::insert_role(&mut *w, id, role).await?;
                }
                super::catalogue::write_manifest(&mut *w, id, new.manifest).await?;
                Ok(org)
            })
        })
        .await
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
        self.write(actor, id, move |w| {
            Box::pin(async move {
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
                w.updated(&before, &after).await?;
                Ok(after)
            })
        })
        .await
    }

    async fn delete_organization(&self, actor: &Actor, id: OrganizationId) -> Result<Revision> {
        self.commit(actor, id, move |w| {
            Box::pin(async move {
                let before = rows::load_organization(w.conn(), id).await?;
                w.delete_row("organizations", &id).await?;
                w.deleted(&before).await?;
                Ok(())
            })
        })
        .await
    }
}
