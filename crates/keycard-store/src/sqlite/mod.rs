//! The SQLite store: bundled SQLite in WAL mode with foreign keys on and full fsync on commit, the
//! schema embedded in the binary. Writers serialize on the revision counter, which every write
//! transaction bumps first, so revisions are gapless and commit in order.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keycard_core::change::{EntityKind, Operation, Revision};
use keycard_core::ids::OrganizationId;
use keycard_core::model::Actor;
use keycard_core::{Error, Result};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

mod catalogue;
mod changes;
mod credentials;
mod directory;
mod idempotency;
mod rows;

/// Schema migrations, in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/sqlite/0001_init.sql")];

/// The SQLite implementation of every store trait.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path`), creating and migrating it as needed.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| Error::invalid("database url", err.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema version this binary knows.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS kc_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
        let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM kc_schema")
            .fetch_one(&mut *conn)
            .await
            .map_err(internal)?;
        if current > Self::SCHEMA_VERSION {
            return Err(Error::Unavailable(format!(
                "the database schema is version {current}, newer than this binary's {}; upgrade keycard",
                Self::SCHEMA_VERSION
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let mut tx = self.pool.begin().await.map_err(unavailable)?;
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            sqlx::query("INSERT INTO kc_schema (version, applied_at) VALUES (?, ?)")
                .bind(index as i64 + 1)
                .bind(millis(Utc::now()))
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            tracing::info!(version = index + 1, "applied schema migration");
        }
        Ok(())
    }

    /// Starts a write: one transaction holding the write lock, under a freshly bumped revision.
    async fn begin_write(&self, actor: &Actor, org: OrganizationId) -> Result<WriteTx> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let revision: i64 =
            sqlx::query_scalar("UPDATE kc_revision SET value = value + 1 RETURNING value")
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        Ok(WriteTx {
            tx,
            revision: Revision(revision),
            seq: 0,
            actor: actor.label.clone(),
            org,
            at: Utc::now(),
        })
    }
}

/// An open write transaction that records its changes under one revision.
struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    revision: Revision,
    seq: i32,
    actor: String,
    org: OrganizationId,
    at: DateTime<Utc>,
}

impl WriteTx {
    fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }

    /// Appends one change to the log.
    async fn record<T: Serialize>(
        &mut self,
        entity: EntityKind,
        entity_id: &str,
        operation: Operation,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Result<()> {
        let before = before.map(to_json).transpose()?;
        let after = after.map(to_json).transpose()?;
        sqlx::query(
            "INSERT INTO changes (revision, seq, organization_id, entity, entity_id, operation, actor, at, before, after) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(self.revision.0)
        .bind(self.seq)
        .bind(self.org.to_string())
        .bind(entity.as_str())
        .bind(entity_id)
        .bind(operation.as_str())
        .bind(&self.actor)
        .bind(millis(self.at))
        .bind(before)
        .bind(after)
        .execute(&mut *self.tx)
        .await
        .map_err(internal)?;
        self.seq += 1;
        Ok(())
    }

    /// Commits the write. A write that recorded no change is rolled back and reports the revision
    /// that was current, so no revision is ever empty.
    async fn commit(self) -> Result<Revision> {
        if self.seq == 0 {
            self.tx.rollback().await.map_err(internal)?;
            return Ok(Revision(self.revision.0 - 1));
        }
        self.tx.commit().await.map_err(unavailable)?;
        Ok(self.revision)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|err| Error::Internal(format!("encoding a change failed: {err}")))
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A database that cannot be reached or is locked: the caller may retry.
pub(crate) fn unavailable(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Database(db) => Error::Unavailable(db.message().to_owned()),
        other => Error::Unavailable(other.to_string()),
    }
}

pub(crate) fn internal(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db)
            if db.message().contains("locked") || db.message().contains("busy") =>
        {
            Error::Unavailable(db.message().to_owned())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Error::Unavailable(err.to_string())
        }
        _ => Error::Internal(err.to_string()),
    }
}

/// Maps a uniqueness violation to a conflict naming the clashing key, anything else as usual.
pub(crate) fn unique_or<'k>(
    what: &'static str,
    key: &'k str,
) -> impl FnOnce(sqlx::Error) -> Error + 'k {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::conflict(what, key),
        _ => internal(err),
    }
}

impl keycard_core::store::Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
