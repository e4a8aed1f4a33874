//! Reading the change log, and the full read the snapshot is built from.

use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use keycard_core::change::{Change, EntityKind, Operation, Revision};
use keycard_core::ids::OrganizationId;
use keycard_core::store::{ChangeLog, StateItem};
use keycard_core::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rows::{
    self, GROUP_SELECT, METHOD_SELECT, ORGANIZATION_SELECT, POLICY_SELECT, RESOURCE_SELECT,
    ROLE_SELECT, VIEW_SELECT,
};
use super::{SqlStore, from_millis, internal, unavailable};

const CHANGE_COLUMNS: &str = "revision, seq, organization_id, entity, entity_id, operation, actor, at, before, after, record_version";

fn change(row: &AnyRow) -> Result<Change> {
    let json = |column: &str| -> Result<Option<serde_json::Value>> {
        let text: Option<String> = row.try_get(column).map_err(internal)?;
        text.map(|text| {
            serde_json::from_str(&text)
                .map_err(|err| Error::Internal(format!("stored change is unreadable: {err}")))
        })
        .transpose()
    };
    let entity: String = row.try_get("entity").map_err(internal)?;
    let operation: String = row.try_get("operation").map_err(internal)?;
    let organization_id: String = row.try_get("organization_id").map_err(internal)?;
    Ok(Change {
        revision: Revision(row.try_get("revision").map_err(internal)?),
        seq: row.try_get("seq").map_err(internal)?,
        organization_id: organization_id.parse()?,
        entity: EntityKind::parse(&entity).ok_or_else(|| {
            Error::Internal(format!("unknown entity `{entity}` in the change log"))
        })?,
        entity_id: row.try_get("entity_id").map_err(internal)?,
        operation: Operation::parse(&operation).ok_or_else(|| {
            Error::Internal(format!("unknown operation `{operation}` in the change log"))
        })?,
        actor: row.try_get("actor").map_err(internal)?,
        at: from_millis(row.try_get("at").map_err(internal)?),
        before: json("before")?,
        after: json("after")?,
        record_version: {
            let version: i64 = row.try_get("record_version").map_err(internal)?;
            u32::try_from(version).map_err(|_| {
                Error::Internal(format!("record version `{version}` in the change log"))
            })?
        },
    })
}

/// The changes after `after` up to and including `through`, read on an open connection (a write's
/// own transaction).
pub(crate) async fn between(
    conn: &mut sqlx::AnyConnection,
    after: Revision,
    through: Revision,
) -> Result<Vec<Change>> {
    let rows = sqlx::query(&format!(
        "SELECT {CHANGE_COLUMNS} FROM changes WHERE revision > $1 AND revision <= $2 ORDER BY revision, seq"
    ))
    .bind(after.0)
    .bind(through.0)
    .fetch_all(conn)
    .await
    .map_err(unavailable)?;
    rows.iter().map(change).collect()
}

impl SqlStore {
    pub(crate) async fn latest(&self) -> Result<Revision> {
        let value: i64 = sqlx::query_scalar("SELECT value FROM kc_revision WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(Revision(value))
    }
}

impl SqlStore {
    /// The changes of the next `limit` revisions after `after` (whole revisions, never split), of
    /// one organization or of all.
    async fn change_page(
        &self,
        org: Option<OrganizationId>,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<Change>> {
        let (filter, first) = match org {
            Some(_) => ("organization_id = $1 AND ", 2),
            None => ("", 1),
        };
        let (after_at, limit_at) = (first, first + 1);
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM changes WHERE {filter}revision > ${after_at} AND revision <= \
             (SELECT COALESCE(MAX(revision), ${after_at}) FROM (SELECT DISTINCT revision FROM changes \
             WHERE {filter}revision > ${after_at} ORDER BY revision LIMIT ${limit_at}) AS page) \
             ORDER BY revision, seq"
        );
        let mut query = sqlx::query(&sql);
        if let Some(org) = org {
            query = query.bind(org.to_string());
        }
        let rows = query
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(change).collect()
    }
}

/// The changes of this process's latest commits, by revision. A node that wrote a change reads it
/// from here instead of from the database, which takes a SQL round trip out of the time between a
/// commit and the decision that sees it. Only a run of consecutive revisions starting right after
/// the reader's position is served from here; a revision this process did not write (another node's,
/// on PostgreSQL) or has not yet handed over leaves a gap, and the reader goes to the log.
#[derive(Debug, Default)]
pub(crate) struct RecentChanges {
    by_revision: std::sync::Mutex<std::collections::BTreeMap<Revision, Vec<Change>>>,
}

/// Revisions kept: enough for a writer's follower to catch up from memory.
const RECENT_REVISIONS: usize = 256;

impl RecentChanges {
    pub(crate) fn committed(&self, revision: Revision, changes: Vec<Change>) {
        if let Ok(mut by_revision) = self.by_revision.lock() {
            by_revision.insert(revision, changes);
            while by_revision.len() > RECENT_REVISIONS {
                by_revision.pop_first();
            }
        }
    }

    /// The changes of up to `limit` consecutive revisions after `after`, if this process holds
    /// the next one.
    fn page_after(&self, after: Revision, limit: u32) -> Option<Vec<Change>> {
        let by_revision = self.by_revision.lock().ok()?;
        let mut page = Vec::new();
        let mut expected = after.0 + 1;
        for (revision, changes) in by_revision.range(Revision(expected)..) {
            if revision.0 != expected || expected - after.0 > i64::from(limit) {
                break;
            }
            page.extend(changes.iter().cloned());
            expected += 1;
        }
        (expected > after.0 + 1).then_some(page)
    }
}

#[async_trait]
impl ChangeLog for SqlStore {
    async fn latest_revision(&self) -> Result<Revision> {
        self.latest().await
    }

    async fn oldest_revision(&self) -> Result<Option<Revision>> {
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT CAST(MIN(revision) AS BIGINT) FROM changes")
                .fetch_one(&self.pool)
                .await
                .map_err(super::unavailable)?;
        Ok(oldest.map(Revision))
    }

    async fn writable(&self) -> Result<()> {
        // On SQLite, this process's writers are held off for the probe; an open group of writes
        // holds the write lock already, which is the answer.
        let _quiet = match self.dialect {
            super::Dialect::Sqlite => match self.writers.quiet().await {
                Some(group) => Some(group),
                None => return Ok(()),
            },
            super::Dialect::Postgres => None,
        };
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // A real change of a row (the journal must be opened to hold its old page), undone.
        sqlx::query("UPDATE kc_revision SET value = value + 1 WHERE singleton = 1")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.rollback().await.map_err(unavailable)
    }

    async fn changes_after(&self, after: Revision, limit: u32) -> Result<Vec<Change>> {
        if let Some(page) = self.recent.page_after(after, limit) {
            return Ok(page);
        }
        self.change_page(None, after, limit).await
    }

    async fn organization_changes(
        &self,
        org: OrganizationId,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<Change>> {
        self.change_page(Some(org), after, limit).await
    }

    async fn organization_events(
        &self,
        org: OrganizationId,
        kinds: &[EntityKind],
        after: Option<chrono::DateTime<chrono::Utc>>,
        before: Option<chrono::DateTime<chrono::Utc>>,
        resume: Option<(Revision, i32)>,
        limit: u32,
    ) -> Result<Vec<Change>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // $1 is the organization, then one placeholder per kind, then the window, position and limit.
        let next = kinds.len() + 2;
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM changes WHERE organization_id = $1 AND entity IN ({}) \
             AND at > ${} AND at < ${} AND (revision > ${} OR (revision = ${} AND seq > ${})) ORDER BY revision, seq LIMIT ${}",
            super::placeholders(2, kinds.len()),
            next,
            next + 1,
            next + 2,
            next + 3,
            next + 4,
            next + 5
        );
        let mut query = sqlx::query(&sql).bind(org.to_string());
        for kind in kinds {
            query = query.bind(kind.as_str());
        }
        let rows = query
            .bind(after.map(super::millis).unwrap_or(i64::MIN))
            .bind(before.map(super::millis).unwrap_or(i64::MAX))
            .bind(resume.map_or(-1, |(revision, _)| revision.0))
            .bind(resume.map_or(-1, |(revision, _)| revision.0))
            .bind(resume.map_or(-1, |(_, seq)| seq))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(change).collect()
    }

    async fn read_state(
        &self,
        sink: &mut (dyn FnMut(StateItem) -> Result<()> + Send),
    ) -> Result<()> {
        // One read transaction with one view of the data: WAL gives SQLite that from the first read
        // on; PostgreSQL needs repeatable read for it.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        if self.dialect == super::Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let revision: i64 = sqlx::query_scalar("SELECT value FROM kc_revision WHERE singleton = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        sink(StateItem::Revision(Revision(revision)))?;
        // Rows are decoded and handed on as they stream in: a million accounts never sit in
        // memory as raw rows.
        macro_rules! each {
            ($select:expr, $decode:expr) => {{
                let mut rows = sqlx::query($select).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(internal)? {
                    sink(($decode)(&row)?)?;
                }
            }};
        }
        each!(ORGANIZATION_SELECT, |row| rows::organization(row)
            .map(StateItem::Organization));
        let account_batches = rows::account_batch_select(self.dialect, 2000);
        let mut last = String::new();
        loop {
            let row = sqlx::query(&account_batches)
                .bind(&last)
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
            let batch: Option<String> = row.try_get("batch").map_err(internal)?;
            let Some(batch) = batch else { break };
            let accounts: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_str(&batch).map_err(|err| {
                    Error::Internal(format!("stored accounts are unreadable: {err}"))
                })?;
            for account in &accounts {
                sink(StateItem::Account(rows::account(account)?))?;
            }
            match row.try_get::<Option<String>, _>("last").map_err(internal)? {
                Some(greatest) if !accounts.is_empty() => last = greatest,
                _ => break,
            }
        }
        each!(GROUP_SELECT, |row| rows::group(row).map(StateItem::Group));
        each!(ROLE_SELECT, |row| rows::role(row).map(StateItem::Role));
        each!(POLICY_SELECT, |row| rows::policy(row)
            .map(|p| StateItem::Policy(p.organization_id, p)));
        each!(METHOD_SELECT, |row| rows::method(row)
            .map(|(org, method)| StateItem::Method(org, method)));
        each!(VIEW_SELECT, |row| rows::view(row)
            .map(|(org, view)| StateItem::View(org, view)));
        each!(RESOURCE_SELECT, |row| rows::resource(row)
            .map(StateItem::Resource));
        tx.commit().await.map_err(internal)?;
        Ok(())
    }
}
