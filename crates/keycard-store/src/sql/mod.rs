//! The SQL store, on SQLite (the embedded default) or PostgreSQL. One body of SQL serves both:
//! `$N` placeholders, `ON CONFLICT`, `RETURNING` and `string_agg` mean the same on each, and what
//! differs (connection set-up, migrations, snapshot isolation) is chosen by [`Dialect`].
//!
//! SQLite runs in WAL mode with foreign keys on and full fsync on commit. Writers serialize on the
//! revision counter, which every write transaction bumps first (a row lock on PostgreSQL), so
//! revisions are gapless and commit in order: a follower reading `revision > N` never misses one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use keycard_core::change::{Change, EntityKind, Operation, Revision};
use keycard_core::ids::OrganizationId;
use keycard_core::model::Actor;
use keycard_core::record::{RECORD_VERSION, Recorded};
use keycard_core::store::SnapshotSource;
use keycard_core::store::Written;
use keycard_core::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor as _, Transaction};

mod accounts;
mod batch;
mod catalogue;
mod changes;
mod copy;
mod credentials;
mod directory;
mod groups;
mod idempotency;
mod links;
mod organizations;
mod policies;
mod resources;
mod roles;
mod rows;
mod webhooks;

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Schema migrations, in order; the index + 1 is the schema version.
    fn migrations(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &[
                include_str!("../../migrations/sqlite/0001_init.sql"),
                include_str!("../../migrations/sqlite/0002_folded_names.sql"),
                include_str!("../../migrations/sqlite/0003_record_version.sql"),
                include_str!("../../migrations/sqlite/0004_account_attributes.sql"),
                include_str!("../../migrations/sqlite/0005_resources.sql"),
                include_str!("../../migrations/sqlite/0006_decision_keys.sql"),
                include_str!("../../migrations/sqlite/0007_webhooks.sql"),
            ],
            Dialect::Postgres => &[
                include_str!("../../migrations/postgres/0001_init.sql"),
                include_str!("../../migrations/postgres/0002_folded_names.sql"),
                include_str!("../../migrations/postgres/0003_record_version.sql"),
                include_str!("../../migrations/postgres/0004_account_attributes.sql"),
                include_str!("../../migrations/postgres/0005_resources.sql"),
                include_str!("../../migrations/postgres/0006_decision_keys.sql"),
                include_str!("../../migrations/postgres/0007_webhooks.sql"),
            ],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// The SQL implementation of every store trait.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    url: String,
    /// What this process's own writes recorded, so that a node applies its own write without
    /// reading it back from the log (`changes::RecentChanges`).
    recent: Arc<changes::RecentChanges>,
    /// What judges writes before they commit, once the server has set it.
    review: Arc<std::sync::OnceLock<Review>>,
    /// On SQLite, this process's writers queue here rather than in SQLite's busy handler, which
    /// polls with sleeps of up to 100 ms, and writers that arrive together share one commit.
    writers: Arc<batch::Writers>,
}

/// The snapshot source writes are reviewed against.
#[derive(Clone)]
struct Review(SnapshotSource);

impl std::fmt::Debug for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Review")
    }
}

/// How long a statement waits for a lock another connection holds on a SQLite database (another
/// process's long transaction, say) before giving up with `Unavailable`, answered as 503 with
/// `Retry-After`: well within the request timeout, so the client hears why.
pub const SQLITE_BUSY_WAIT_MS: u64 = 5_000;

/// An advisory lock id for schema migrations on PostgreSQL, so that nodes starting together
/// migrate one at a time.
const MIGRATION_LOCK: i64 = 0x6b65_7963_6172_6401;

impl SqlStore {
    /// Opens the database at `url` (`sqlite://path` or `postgres://...`), creating (SQLite) and
    /// migrating it as needed.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        let connect_url = match dialect {
            Dialect::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            // A connection SQLite cannot open writable is refused and retried until this
            // passes: as long as a busy lock is waited for, so that a request hears 503 in
            // bounded time.
            .acquire_timeout(match dialect {
                Dialect::Sqlite => Duration::from_millis(SQLITE_BUSY_WAIT_MS),
                Dialect::Postgres => Duration::from_secs(10),
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // A rollback journal, and no memory-mapped I/O: in WAL mode the
                        // wal-index is a memory-mapped file, and a process touching it after
                        // the file became unwritable (made immutable, a full disk) is killed by
                        // SIGBUS. Without a mapping, every such fault is an error the store
                        // answers as `Unavailable` (ADR 0005).
                        conn.execute(format!("PRAGMA journal_mode = DELETE; PRAGMA mmap_size = 0; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_WAIT_MS};").as_str())
                            .await?;
                        // SQLite opens a file it cannot write read-only, and the connection
                        // stays read-only after the files recover: refuse such a connection, so
                        // that the pool opens a writable one once they do.
                        conn.execute("BEGIN").await?;
                        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                            .fetch_one(&mut *conn)
                            .await?;
                        let probe = conn
                            .execute(format!("PRAGMA user_version = {version}").as_str())
                            .await;
                        conn.execute("ROLLBACK").await?;
                        probe?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(unavailable)?;
        let store = Self {
            pool,
            dialect,
            url: url.to_owned(),
            recent: Arc::default(),
            review: Arc::default(),
            writers: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// On PostgreSQL, a channel that receives the revision of every commit by any node, and a
    /// `0` after each (re)connection, when notifications may have been missed and a follower
    /// should catch up. `None` on SQLite, where followers poll.
    pub fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let (sender, receiver) = tokio::sync::watch::channel(0);
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                        Ok(()) => {
                            backoff = Duration::from_millis(100);
                            if sender.send(0).is_err() {
                                return;
                            }
                            loop {
                                match listener.recv().await {
                                    Ok(notification) => {
                                        let revision = notification.payload().parse().unwrap_or(0);
                                        if sender.send(revision).is_err() {
                                            return;
                                        }
                                    }
                                    Err(err) => {
                                        tracing::warn!(error = %err, "lost the change notification connection");
                                        break;
                                    }
                                }
                            }
                        }
                        Err(err) => tracing::warn!(error = %err, "listening for changes failed"),
                    },
                    Err(err) => {
                        tracing::warn!(error = %err, "connecting for change notifications failed")
                    }
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Some(receiver)
    }

    /// The schema version this binary knows.
    pub fn schema_version(&self) -> i64 {
        self.dialect.migrations().len() as i64
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await
                .map_err(unavailable)?;
        }
        let outcome = self.migrate_on(&mut conn).await;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await
                .map_err(unavailable)?;
        }
        outcome
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS kc_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
        let current: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM kc_schema")
                .fetch_one(&mut *conn)
                .await
                .map_err(internal)?;
        let known = self.schema_version();
        if current > known {
            return Err(Error::Unavailable(format!(
                "the database schema is version {current}, newer than this binary's {known}; upgrade keycard"
            )));
        }
        for (index, sql) in self
            .dialect
            .migrations()
            .iter()
            .enumerate()
            .skip(current as usize)
        {
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(unavailable)?;
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            sqlx::query("INSERT INTO kc_schema (version, applied_at) VALUES ($1, $2)")
                .bind(index as i64 + 1)
                .bind(millis(Utc::now()))
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            tracing::info!(
                version = index + 1,
                dialect = self.dialect.name(),
                "applied schema migration"
            );
        }
        Ok(())
    }

    /// Starts a write: one transaction holding the write lock, under a freshly bumped revision.
    async fn begin_write(&self, actor: &Actor, org: OrganizationId) -> Result<WriteTx> {
        let tx = self.pool.begin().await.map_err(unavailable)?;
        self.write_in(tx, actor, org).await
    }

    /// Bumps the revision in `tx` (taking the write lock) and opens the write there.
    async fn write_in(
        &self,
        mut tx: Transaction<'static, Any>,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<WriteTx> {
        let revision: i64 =
            sqlx::query_scalar("UPDATE kc_revision SET value = value + 1 RETURNING value")
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        Ok(self.open_write(tx, Revision(revision), actor, org))
    }

    /// The write that records its changes under `revision` in `tx`.
    fn open_write(
        &self,
        tx: Transaction<'static, Any>,
        revision: Revision,
        actor: &Actor,
        org: OrganizationId,
    ) -> WriteTx {
        WriteTx {
            dialect: self.dialect,
            tx,
            revision,
            seq: 0,
            actor: actor.clone(),
            org,
            // Stored to the millisecond: the recorded changes carry what a reader of the log sees.
            at: from_millis(millis(Utc::now())),
            recorded: Vec::new(),
            recent: self.recent.clone(),
            review: self.review.get().cloned(),
        }
    }

    /// Reads one entity of the organization.
    async fn get<T: rows::Table>(&self, org: OrganizationId, id: T::Id) -> Result<T> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        rows::load(&mut conn, org, id).await
    }

    /// Reads one page of the organization's entities.
    async fn page<T: rows::Table>(
        &self,
        org: OrganizationId,
        page: &keycard_core::page::PageRequest,
    ) -> Result<keycard_core::page::Page<T>> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        rows::load_page(&mut conn, org, page).await
    }

    /// Runs `body` as one write: a transaction under a freshly bumped revision, in which `body`
    /// changes rows and records its changes, committed (and reviewed, see [`WriteTx::commit`])
    /// when it succeeds and rolled back when it fails. Every write of the store goes through here;
    /// an operation of several steps is one `body` calling the steps in turn.
    ///
    /// On SQLite, writes that arrive while another is running share its transaction, each in a
    /// savepoint of its own, and one commit (see [`batch`]); each is acknowledged only once that
    /// commit is durable.
    async fn write<T, F>(&self, actor: &Actor, org: OrganizationId, body: F) -> Result<Written<T>>
    where
        T: Send + 'static,
        F: for<'w> FnOnce(&'w mut WriteTx) -> BoxFuture<'w, Result<T>> + Send + 'static,
    {
        if self.dialect == Dialect::Sqlite {
            // Run to the end whatever becomes of the request: a write shares its transaction with
            // others, which must not fail because this one's client went away mid-way.
            let store = self.clone();
            let actor = actor.clone();
            return tokio::spawn(async move { store.write_batched(&actor, org, body).await })
                .await
                .map_err(|err| Error::Internal(format!("a write failed to finish: {err}")))?;
        }
        let mut w = self.begin_write(actor, org).await?;
        let value = body(&mut w).await?;
        let revision = w.commit().await?;
        Ok(Written { value, revision })
    }

    /// Runs `body` as [`SqlStore::write`] would, reviewed as it would be, then rolls it back:
    /// what the write would do, without doing it. It answers the revision it was judged at.
    async fn rehearse<T, F>(
        &self,
        actor: &Actor,
        org: OrganizationId,
        body: F,
    ) -> Result<Written<T>>
    where
        T: Send + 'static,
        F: for<'w> FnOnce(&'w mut WriteTx) -> BoxFuture<'w, Result<T>> + Send + 'static,
    {
        // On SQLite, this process's other writers wait: they would share the transaction.
        let _alone = match self.dialect {
            Dialect::Sqlite => Some(self.alone().await),
            Dialect::Postgres => None,
        };
        let mut w = self.begin_write(actor, org).await?;
        let value = body(&mut w).await?;
        if w.seq > 0 {
            w.reviewed().await?;
        }
        let revision = Revision(w.revision.0 - 1);
        w.tx.rollback().await.map_err(internal)?;
        Ok(Written { value, revision })
    }

    /// [`SqlStore::write`] for a write that answers only its revision.
    async fn commit<F>(&self, actor: &Actor, org: OrganizationId, body: F) -> Result<Revision>
    where
        F: for<'w> FnOnce(&'w mut WriteTx) -> BoxFuture<'w, Result<()>> + Send + 'static,
    {
        Ok(self.write(actor, org, body).await?.revision)
    }
}

/// The PostgreSQL channel every commit notifies with its revision.
pub const NOTIFY_CHANNEL: &str = "keycard_changes";

/// An open write transaction that records its changes under one revision.
struct WriteTx {
    dialect: Dialect,
    tx: Transaction<'static, Any>,
    revision: Revision,
    seq: i32,
    actor: Actor,
    org: OrganizationId,
    at: DateTime<Utc>,
    /// The changes as the log holds them, handed to `recent` once the write commits.
    recorded: Vec<Change>,
    recent: Arc<changes::RecentChanges>,
    review: Option<Review>,
}

impl WriteTx {
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Appends one change to the log, the entity as its record ([`keycard_core::record`]).
    async fn record<T: Recorded>(
        &mut self,
        entity: EntityKind,
        entity_id: &str,
        operation: Operation,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Result<()> {
        let before = before.map(record_json).transpose()?;
        let after = after.map(record_json).transpose()?;
        sqlx::query(
            "INSERT INTO changes (revision, seq, organization_id, entity, entity_id, operation, actor, at, before, after, record_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(self.revision.0)
        .bind(self.seq)
        .bind(self.org.to_string())
        .bind(entity.as_str())
        .bind(entity_id)
        .bind(operation.as_str())
        .bind(&self.actor.label)
        .bind(millis(self.at))
        .bind(before.as_deref())
        .bind(after.as_deref())
        .bind(i64::from(RECORD_VERSION))
        .execute(&mut *self.tx)
        .await
        .map_err(internal)?;
        let parsed = |text: Option<String>| {
            text.map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|err| Error::Internal(format!("a recorded change is unreadable: {err}")))
        };
        self.recorded.push(Change {
            revision: self.revision,
            seq: self.seq,
            organization_id: self.org,
            entity,
            entity_id: entity_id.to_owned(),
            operation,
            actor: self.actor.label.clone(),
            at: self.at,
            before: parsed(before)?,
            after: parsed(after)?,
            record_version: RECORD_VERSION,
        });
        self.seq += 1;
        Ok(())
    }

    /// Deletes the row of `table` with this id (what references it goes with it, by the schema's
    /// cascades).
    async fn delete_row(&mut self, table: &str, id: &(dyn std::fmt::Display + Sync)) -> Result<()> {
        sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Records the creation of each of `made`, a few statements for all of them.
    async fn created_all<T: Recorded>(&mut self, made: &[T]) -> Result<()> {
        const COLUMNS: usize = 11;
        const ROWS: usize = 50;
        for chunk in made.chunks(ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| format!("({})", placeholders(row * COLUMNS + 1, COLUMNS)))
                .collect();
            let sql = format!(
                "INSERT INTO changes (revision, seq, organization_id, entity, entity_id, operation, actor, at, before, after, record_version) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            let mut changes = Vec::with_capacity(chunk.len());
            for (at, item) in chunk.iter().enumerate() {
                let after = record_json(item)?;
                let seq =
                    self.seq + i32::try_from(at).map_err(|err| Error::Internal(err.to_string()))?;
                query = query
                    .bind(self.revision.0)
                    .bind(seq)
                    .bind(self.org.to_string())
                    .bind(T::KIND.as_str())
                    .bind(item.key())
                    .bind(Operation::Create.as_str())
                    .bind(self.actor.label.clone())
                    .bind(millis(self.at))
                    .bind(None::<String>)
                    .bind(after.clone())
                    .bind(i64::from(RECORD_VERSION));
                changes.push(Change {
                    revision: self.revision,
                    seq,
                    organization_id: self.org,
                    entity: T::KIND,
                    entity_id: item.key(),
                    operation: Operation::Create,
                    actor: self.actor.label.clone(),
                    at: self.at,
                    before: None,
                    after: Some(serde_json::from_str(&after).map_err(|err| {
                        Error::Internal(format!("a recorded change is unreadable: {err}"))
                    })?),
                    record_version: RECORD_VERSION,
                });
            }
            query.execute(&mut *self.tx).await.map_err(internal)?;
            self.seq +=
                i32::try_from(chunk.len()).map_err(|err| Error::Internal(err.to_string()))?;
            self.recorded.extend(changes);
        }
        Ok(())
    }

    /// Records an entity's creation.
    async fn created<T: Recorded>(&mut self, after: &T) -> Result<()> {
        self.record(T::KIND, &after.key(), Operation::Create, None, Some(after))
            .await
    }

    /// Records an entity's change from `before` to `after`.
    async fn updated<T: Recorded>(&mut self, before: &T, after: &T) -> Result<()> {
        self.record(
            T::KIND,
            &after.key(),
            Operation::Update,
            Some(before),
            Some(after),
        )
        .await
    }

    /// Records an entity's deletion.
    async fn deleted<T: Recorded>(&mut self, before: &T) -> Result<()> {
        self.record(
            T::KIND,
            &before.key(),
            Operation::Delete,
            Some(before),
            None,
        )
        .await
    }

    /// Commits the write. A write that recorded no change is rolled back and reports the revision
    /// that was current, so no revision is ever empty.
    async fn commit(mut self) -> Result<Revision> {
        if self.seq == 0 {
            self.tx.rollback().await.map_err(internal)?;
            return Ok(Revision(self.revision.0 - 1));
        }
        // A refused write is rolled back when the transaction is dropped.
        self.reviewed().await?;
        if self.dialect == Dialect::Postgres {
            // Delivered to listeners only if, and when, the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(self.revision.0.to_string())
                .execute(&mut *self.tx)
                .await
                .map_err(unavailable)?;
        }
        self.tx.commit().await.map_err(unavailable)?;
        self.recent.committed(self.revision, self.recorded);
        Ok(self.revision)
    }
}

impl WriteTx {
    /// Has the write judged, when writes are reviewed (see [`WriteTx::review`]).
    async fn reviewed(&mut self) -> Result<()> {
        match self.review.clone() {
            Some(review) => self.review(&review.0).await,
            None => Ok(()),
        }
    }

    /// Judges the write against the state it started from: the published snapshot, plus whatever
    /// the log holds beyond it up to this write's base, read inside this transaction (which holds
    /// the write lock, so nothing else can commit meanwhile).
    async fn review(&mut self, source: &SnapshotSource) -> Result<()> {
        let base = Revision(self.revision.0 - 1);
        let published = source();
        if published.revision() > base {
            return Err(Error::Internal(format!(
                "the published snapshot is at revision {}, past the write's base {base}",
                published.revision()
            )));
        }
        let before = if published.revision() < base {
            let missing = changes::between(&mut self.tx, published.revision(), base).await?;
            let mut caught_up = (*published).clone();
            caught_up.apply(&missing)?;
            caught_up.advance_to(base);
            Arc::new(caught_up)
        } else {
            published
        };
        keycard_core::access::review_write(&before, &self.actor, &self.recorded)
    }
}

fn record_json<T: Recorded>(value: &T) -> Result<String> {
    Ok(keycard_core::record::encode(value)?.to_string())
}

/// `$first, $first+1, ...`: `count` numbered placeholders for a list bound one value each.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A database that cannot be reached or is locked: the caller may retry.
pub(crate) fn unavailable(err: sqlx::Error) -> Error {
    tracing::warn!(error = %err, "the database is unavailable");
    match err {
        sqlx::Error::Database(db) => Error::Unavailable(db.message().to_owned()),
        other => Error::Unavailable(other.to_string()),
    }
}

pub(crate) fn internal(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db) if storage_fault(db.as_ref()) => {
            tracing::error!(error = %err, "the database cannot be used");
            Error::Unavailable(db.message().to_owned())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            Error::Unavailable(err.to_string())
        }
        _ => Error::Internal(err.to_string()),
    }
}

/// Whether a database error says the storage, not the statement, is at fault: a lock held
/// elsewhere, files that cannot be written or opened, a full disk, a lost connection. Such a
/// write may succeed when retried later.
fn storage_fault(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    match code.parse::<i64>() {
        // SQLite result codes (the primary code is the low byte of an extended one): BUSY,
        // LOCKED, READONLY, IOERR, FULL, CANTOPEN.
        Ok(sqlite) => matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14),
        // PostgreSQL SQLSTATE classes: connection exception, insufficient resources, operator
        // intervention, system error.
        Err(_) => ["08", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class)),
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

impl keycard_core::store::Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    fn review_writes(&self, source: SnapshotSource) {
        if self.review.set(Review(source)).is_err() {
            tracing::warn!("writes were already reviewed against another snapshot; kept that one");
        }
    }
}
