//! The permission catalogue: methods and views known to an organization.

use async_trait::async_trait;
use keycard_core::change::Revision;
use keycard_core::ids::OrganizationId;
use keycard_core::model::{Actor, Manifest, Method, View};
use keycard_core::names::Provenance;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::CatalogueStore;
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::{self, METHOD_SELECT, VIEW_SELECT};
use super::{SqlStore, WriteTx, internal};

/// Catalogue pages are ordered by (provenance, name-or-path); the cursor is that pair as JSON.
fn pair_cursor(page: &PageRequest) -> Result<(String, String)> {
    match &page.after {
        None => Ok((String::new(), String::new())),
        Some(key) => serde_json::from_str(key)
            .map_err(|_| Error::invalid("cursor", "is not a catalogue cursor")),
    }
}

fn pair_key(provenance: &Provenance, second: &str) -> String {
    serde_json::json!([provenance.as_str(), second]).to_string()
}

async fn find_method(
    conn: &mut AnyConnection,
    org: OrganizationId,
    provenance: &str,
    name: &str,
) -> Result<Option<Method>> {
    let row = sqlx::query(&format!(
        "{METHOD_SELECT} WHERE m.organization_id = $1 AND m.provenance = $2 AND m.name = $3"
    ))
    .bind(org.to_string())
    .bind(provenance)
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.as_ref()
        .map(|row| rows::method(row).map(|(_, method)| method))
        .transpose()
}

async fn find_view(
    conn: &mut AnyConnection,
    org: OrganizationId,
    provenance: &str,
    path: &str,
) -> Result<Option<View>> {
    let row = sqlx::query(&format!(
        "{VIEW_SELECT} WHERE v.organization_id = $1 AND v.provenance = $2 AND v.path = $3"
    ))
    .bind(org.to_string())
    .bind(provenance)
    .bind(path)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.as_ref()
        .map(|row| rows::view(row).map(|(_, view)| view))
        .transpose()
}

fn validate_entry(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 1024 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be 1 to 1024 characters without control characters",
        ));
    }
    Ok(())
}

fn validate_manifest(manifest: &Manifest) -> Result<()> {
    for method in &manifest.methods {
        validate_entry("method name", &method.name)?;
        if let Some(route) = &method.route {
            validate_entry("route verb", &route.verb)?;
            validate_entry("route path", &route.path)?;
        }
    }
    for view in &manifest.views {
        validate_entry("view path", &view.path)?;
    }
    Ok(())
}

/// Adds or replaces the manifest's entries inside an open write, recording each real change.
pub(super) async fn write_manifest(
    w: &mut WriteTx,
    org: OrganizationId,
    manifest: Manifest,
) -> Result<()> {
    validate_manifest(&manifest)?;
    for method in manifest.methods {
        let before = find_method(w.conn(), org, method.provenance.as_str(), &method.name).await?;
        if before.as_ref() == Some(&method) {
            continue;
        }
        sqlx::query(
            "INSERT INTO methods (organization_id, provenance, name, deprecated, route_verb, route_path) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (organization_id, provenance, name) DO UPDATE SET deprecated = excluded.deprecated, \
             route_verb = excluded.route_verb, route_path = excluded.route_path",
        )
        .bind(org.to_string())
        .bind(method.provenance.as_str())
        .bind(&method.name)
        .bind(method.deprecated)
        .bind(method.route.as_ref().map(|route| route.verb.clone()))
        .bind(method.route.as_ref().map(|route| route.path.clone()))
        .execute(w.conn())
        .await
        .map_err(internal)?;
        match &before {
            Some(before) => w.updated(before, &method).await?,
            None => w.created(&method).await?,
        }
    }
    for view in manifest.views {
        if find_view(w.conn(), org, view.provenance.as_str(), &view.path)
            .await?
            .is_some()
        {
            continue;
        }
        sqlx::query("INSERT INTO views (organization_id, provenance, path) VALUES ($1, $2, $3)")
            .bind(org.to_string())
            .bind(view.provenance.as_str())
            .bind(&view.path)
            .execute(w.conn())
            .await
            .map_err(internal)?;
        w.created(&view).await?;
    }
    Ok(())
}

#[async_trait]
impl CatalogueStore for SqlStore {
    async fn import_manifest(
        &self,
        actor: &Actor,
        org: OrganizationId,
        manifest: Manifest,
    ) -> Result<Revision> {
        validate_manifest(&manifest)?;
        self.commit(actor, org, move |w| {
            Box::pin(async move {
                rows::load_organization(w.conn(), org).await?;
                write_manifest(&mut *w, org, manifest).await?;
                Ok(())
            })
        })
        .await
    }

    async fn list_methods(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Method>> {
        let (provenance, name) = pair_cursor(page)?;
        let rows = sqlx::query(&format!(
            "{METHOD_SELECT} WHERE m.organization_id = $1 AND (m.provenance, m.name) > ($2, $3) ORDER BY m.provenance, m.name LIMIT $4"
        ))
        .bind(org.to_string())
        .bind(provenance)
        .bind(name)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let items = rows
            .iter()
            .map(|row| rows::method(row).map(|(_, m)| m))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |m| {
            pair_key(&m.provenance, &m.name)
        }))
    }

    async fn list_views(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<View>> {
        let (provenance, path) = pair_cursor(page)?;
        let rows = sqlx::query(&format!(
            "{VIEW_SELECT} WHERE v.organization_id = $1 AND (v.provenance, v.path) > ($2, $3) ORDER BY v.provenance, v.path LIMIT $4"
        ))
        .bind(org.to_string())
        .bind(provenance)
        .bind(path)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let items = rows
            .iter()
            .map(|row| rows::view(row).map(|(_, v)| v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |v| {
            pair_key(&v.provenance, &v.path)
        }))
    }

    async fn delete_method(
        &self,
        actor: &Actor,
        org: OrganizationId,
        provenance: &Provenance,
        name: &str,
    ) -> Result<Revision> {
        // The write runs on owned values: it may outlive no borrow of the caller's.
        let (provenance, name) = (provenance.clone(), name.to_owned());
        self.commit(actor, org, move |w| {
            Box::pin(async move {
                let (provenance, name) = (&provenance, name.as_str());
                let before = find_method(w.conn(), org, provenance.as_str(), name)
                    .await?
                    .ok_or_else(|| Error::not_found("method", format!("{provenance}/{name}")))?;
                delete_entry(&mut *w, org, ("methods", "name"), provenance, name, &before).await?;
                Ok(())
            })
        })
        .await
    }

    async fn delete_view(
        &self,
        actor: &Actor,
        org: OrganizationId,
        provenance: &Provenance,
        path: &str,
    ) -> Result<Revision> {
        // The write runs on owned values: it may outlive no borrow of the caller's.
        let (provenance, path) = (provenance.clone(), path.to_owned());
        self.commit(actor, org, move |w| {
            Box::pin(async move {
                let (provenance, path) = (&provenance, path.as_str());
                let before = find_view(w.conn(), org, provenance.as_str(), path)
                    .await?
                    .ok_or_else(|| Error::not_found("view", format!("{provenance}/{path}")))?;
                delete_entry(&mut *w, org, ("views", "path"), provenance, path, &before).await?;
                Ok(())
            })
        })
        .await
    }
}

/// Deletes one catalogue entry (a row of `table` keyed by organization, provenance and `column`)
/// inside an open write, and logs it.
async fn delete_entry<T: keycard_core::record::Recorded>(
    w: &mut WriteTx,
    org: OrganizationId,
    (table, column): (&str, &str),
    provenance: &Provenance,
    value: &str,
    before: &T,
) -> Result<()> {
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE organization_id = $1 AND provenance = $2 AND {column} = $3"
    ))
    .bind(org.to_string())
    .bind(provenance.as_str())
    .bind(value)
    .execute(w.conn())
    .await
    .map_err(internal)?;
    w.deleted(before).await
}
