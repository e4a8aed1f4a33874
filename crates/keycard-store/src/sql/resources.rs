//! Registered resources: found by type and id, with an optional owner and attributes.

use async_trait::async_trait;
use keycard_core::change::Revision;
use keycard_core::directory::Verb;
use keycard_core::ids::{AccountId, OrganizationId};
use keycard_core::model::{
    Actor, NewResource, Resource, ResourcePatch, each_named_once, resource_key,
};
use keycard_core::names::{ResourceId, ResourceType};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{ResourceStore, UpsertCount, Written};
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::{self, RESOURCE_SELECT, ensure_in_org, json_text};
use super::{SqlStore, WriteTx, internal, millis, unavailable, unique_or};

/// What separates a resource's type from its id in a page cursor: neither may hold it.
const CURSOR_SEPARATOR: char = '\n';

#[async_trait]
impl ResourceStore for SqlStore {
    async fn create_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewResource,
    ) -> Result<Written<Resource>> {
        self.write(actor, org, move |w| {
            Box::pin(async move {
                rows::load_organization(w.conn(), org).await?;
                ensure_owners(w.conn(), org, [&new]).await?;
                insert(w, org, &new).await?;
                let resource = load(w.conn(), org, &new.resource_type, &new.id).await?;
                w.created(&resource).await?;
                Ok(resource)
            })
        })
        .await
    }

    async fn get_resource(
        &self,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Resource> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        load(&mut conn, org, resource_type, id).await
    }

    async fn list_resources(
        &self,
        org: OrganizationId,
        resource_type: Option<&ResourceType>,
        page: &PageRequest,
    ) -> Result<Page<Resource>> {
        let (after_type, after_id) = match page.after.as_deref() {
            Some(after) => after
                .split_once(CURSOR_SEPARATOR)
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor of resources"))?,
            None => ("", ""),
        };
        let sql = format!(
            "{RESOURCE_SELECT} WHERE res.organization_id = $1 AND ($2 = '' OR res.type = $2) \
             AND (res.type > $3 OR (res.type = $3 AND res.id > $4)) \
             ORDER BY res.type, res.id LIMIT $5"
        );
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        let found = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(resource_type.map(ResourceType::as_str).unwrap_or_default())
            .bind(after_type)
            .bind(after_id)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(internal)?;
        let items = found
            .iter()
            .map(rows::resource)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |resource| {
            format!(
                "{}{CURSOR_SEPARATOR}{}",
                resource.resource_type, resource.id
            )
        }))
    }

    async fn update_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
        patch: ResourcePatch,
    ) -> Result<Written<Resource>> {
        let (resource_type, id) = (resource_type.clone(), id.clone());
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let before = load(w.conn(), org, &resource_type, &id).await?;
                let owner = patch.owner.unwrap_or(before.owner);
                let attributes = patch
                    .attributes
                    .unwrap_or_else(|| before.attributes.clone());
                let wanted = NewResource {
                    resource_type,
                    id,
                    owner,
                    attributes,
                };
                ensure_owners(w.conn(), org, [&wanted]).await?;
                replace(w, org, &wanted).await?;
                let after = load(w.conn(), org, &wanted.resource_type, &wanted.id).await?;
                w.updated(&before, &after).await?;
                Ok(after)
            })
        })
        .await
    }

    async fn delete_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Revision> {
        let (resource_type, id) = (resource_type.clone(), id.clone());
        self.commit(actor, org, move |w| {
            Box::pin(delete(w, org, resource_type, id))
        })
        .await
    }

    async fn upsert_resources(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resources: Vec<NewResource>,
    ) -> Result<Written<UpsertCount>> {
        each_named_once(
            "resources",
            resources
                .iter()
                .map(|resource| (&resource.resource_type, &resource.id)),
            |(resource_type, id)| resource_key(resource_type, id),
        )?;
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let done = upsert(w, org, &resources).await?;
                let count = |verb| done.iter().filter(|done| **done == verb).count();
                Ok(UpsertCount {
                    created: count(Some(Verb::Create)),
                    updated: count(Some(Verb::Update)),
                    unchanged: count(None),
                })
            })
        })
        .await
    }
}

async fn insert(w: &mut WriteTx, org: OrganizationId, new: &NewResource) -> Result<()> {
    let now = millis(w.at);
    let key = resource_key(&new.resource_type, &new.id);
    sqlx::query(
        "INSERT INTO resources (organization_id, type, id, owner_id, attributes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(org.to_string())
    .bind(new.resource_type.as_str())
    .bind(new.id.as_str())
    .bind(new.owner.map(|owner| owner.to_string()))
    .bind(json_text(&new.attributes)?)
    .bind(now)
    .bind(now)
    .execute(w.conn())
    .await
    .map_err(unique_or("resource", &key))?;
    Ok(())
}

/// Sets a stored resource's owner and attributes to `wanted`'s.
async fn replace(w: &mut WriteTx, org: OrganizationId, wanted: &NewResource) -> Result<()> {
    sqlx::query(
        "UPDATE resources SET owner_id = $1, attributes = $2, updated_at = $3 \
         WHERE organization_id = $4 AND type = $5 AND id = $6",
    )
    .bind(wanted.owner.map(|owner| owner.to_string()))
    .bind(json_text(&wanted.attributes)?)
    .bind(millis(w.at))
    .bind(org.to_string())
    .bind(wanted.resource_type.as_str())
    .bind(wanted.id.as_str())
    .execute(w.conn())
    .await
    .map_err(internal)?;
    Ok(())
}

/// Every owner named must be an account of the organization.
async fn ensure_owners<'a>(
    conn: &mut AnyConnection,
    org: OrganizationId,
    resources: impl IntoIterator<Item = &'a NewResource>,
) -> Result<()> {
    let mut owners: Vec<AccountId> = resources
        .into_iter()
        .filter_map(|resource| resource.owner)
        .collect();
    owners.sort_unstable();
    owners.dedup();
    ensure_in_org(conn, "accounts", "account", org, &owners).await
}

pub(super) async fn find(
    conn: &mut AnyConnection,
    org: OrganizationId,
    resource_type: &ResourceType,
    id: &ResourceId,
) -> Result<Option<Resource>> {
    let sql = format!(
        "{RESOURCE_SELECT} WHERE res.organization_id = $1 AND res.type = $2 AND res.id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(resource_type.as_str())
        .bind(id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    row.as_ref().map(rows::resource).transpose()
}

async fn load(
    conn: &mut AnyConnection,
    org: OrganizationId,
    resource_type: &ResourceType,
    id: &ResourceId,
) -> Result<Resource> {
    find(conn, org, resource_type, id)
        .await?
        .ok_or_else(|| Error::not_found("resource", resource_key(resource_type, id)))
}

/// Clears the owner of every resource `owner` owns, recording each change: what deleting an
/// account does to its resources (before the account's row goes).
pub(super) async fn release_owned(
    w: &mut WriteTx,
    org: OrganizationId,
    owner: AccountId,
) -> Result<()> {
    let sql = format!("{RESOURCE_SELECT} WHERE res.organization_id = $1 AND res.owner_id = $2");
    let owned = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(owner.to_string())
        .fetch_all(w.conn())
        .await
        .map_err(internal)?
        .iter()
        .map(rows::resource)
        .collect::<Result<Vec<_>>>()?;
    for before in owned {
        let released = NewResource {
            resource_type: before.resource_type.clone(),
            id: before.id.clone(),
            owner: None,
            attributes: before.attributes.clone(),
        };
        replace(w, org, &released).await?;
        let after = load(w.conn(), org, &before.resource_type, &before.id).await?;
        w.updated(&before, &after).await?;
    }
    Ok(())
}

/// Deletes a resource, within a write.
pub(super) async fn delete(
    w: &mut WriteTx,
    org: OrganizationId,
    resource_type: ResourceType,
    id: ResourceId,
) -> Result<()> {
    let before = load(w.conn(), org, &resource_type, &id).await?;
    sqlx::query("DELETE FROM resources WHERE organization_id = $1 AND type = $2 AND id = $3")
        .bind(org.to_string())
        .bind(resource_type.as_str())
        .bind(id.as_str())
        .execute(w.conn())
        .await
        .map_err(internal)?;
    w.deleted(&before).await?;
    Ok(())
}

/// Creates the resources that do not exist and replaces those that differ, within a write;
/// answers what became of each, in order (`None`: it matched already).
pub(super) async fn upsert(
    w: &mut WriteTx,
    org: OrganizationId,
    resources: &[NewResource],
) -> Result<Vec<Option<Verb>>> {
    rows::load_organization(w.conn(), org).await?;
    ensure_owners(w.conn(), org, resources).await?;
    let mut done = Vec::with_capacity(resources.len());
    for resource in resources {
        let (resource_type, id) = (&resource.resource_type, &resource.id);
        match find(w.conn(), org, resource_type, id).await? {
            Some(before)
                if before.owner == resource.owner && before.attributes == resource.attributes =>
            {
                done.push(None);
            }
            Some(before) => {
                replace(w, org, resource).await?;
                let after = load(w.conn(), org, resource_type, id).await?;
                w.updated(&before, &after).await?;
                done.push(Some(Verb::Update));
            }
            None => {
                insert(w, org, resource).await?;
                let after = load(w.conn(), org, resource_type, id).await?;
                w.created(&after).await?;
                done.push(Some(Verb::Create));
            }
        }
    }
    Ok(done)
}
