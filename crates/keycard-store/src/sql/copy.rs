//! Copying a whole store into an empty one (`keycard admin copy`): every table row for row, ids,
//! password hashes, key digests and the change log included, and the revision, in one transaction
//! of the target. A team that outgrows one SQLite file moves to PostgreSQL without re-creating
//! anything: the same passwords and API keys work on the copy.

use futures_util::TryStreamExt as _;
use keycard_core::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::{Dialect, SqlStore, internal, unavailable};

/// The tables, in an order where every row's references are copied before it. The schema table
/// is each store's own, and the revision is set at the end.
const TABLES: &[&str] = &[
    "organizations",
    "accounts",
    "groups",
    "roles",
    "account_groups",
    "group_parents",
    "account_roles",
    "group_roles",
    "methods",
    "views",
    "policies",
    "api_keys",
    "sessions",
    "resources",
    "changes",
    "idempotency_keys",
    "webhooks",
    "webhook_deliveries",
];

/// How a column is stored in the target.
#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Boolean,
    Text,
    Bytes,
}

/// Rows copied, by table, and the revision the copy is at.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
    pub revision: i64,
}

/// A table's columns in the target, with how each is stored.
async fn columns(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &str,
) -> Result<Vec<(String, Kind)>> {
    let sql = match dialect {
        Dialect::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
        Dialect::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(table)
        .fetch_all(conn)
        .await
        .map_err(internal)?;
    if rows.is_empty() {
        return Err(Error::Internal(format!(
            "the target has no table `{table}`"
        )));
    }
    Ok(rows
        .into_iter()
        .map(|(name, declared)| {
            let declared = declared.to_ascii_lowercase();
            let kind = if declared.contains("bool") {
                Kind::Boolean
            } else if declared.contains("int") {
                Kind::Integer
            } else if declared.contains("bytea") || declared.contains("blob") {
                Kind::Bytes
            } else {
                Kind::Text
            };
            (name, kind)
        })
        .collect())
}

async fn scalar(conn: &mut AnyConnection, sql: &str) -> Result<i64> {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(conn)
        .await
        .map_err(internal)
}

/// Binds column `index` of a source row as the target stores it. SQLite keeps booleans as
/// integers, PostgreSQL as booleans: either way round reads.
fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    row: &AnyRow,
    index: usize,
    kind: Kind,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    Ok(match kind {
        Kind::Boolean => {
            let value = row
                .try_get::<Option<bool>, _>(index)
                .or_else(|_| {
                    row.try_get::<Option<i64>, _>(index)
                        .map(|v| v.map(|v| v != 0))
                })
                .map_err(internal)?;
            query.bind(value)
        }
        Kind::Integer => {
            let value = row
                .try_get::<Option<i64>, _>(index)
                .or_else(|_| {
                    row.try_get::<Option<bool>, _>(index)
                        .map(|v| v.map(i64::from))
                })
                .map_err(internal)?;
            query.bind(value)
        }
        Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(index).map_err(internal)?),
        Kind::Text => query.bind(row.try_get::<Option<String>, _>(index).map_err(internal)?),
    })
}

/// The most values one insert binds: well within both databases' limits.
const PARAMETERS_PER_STATEMENT: usize = 1_000;

/// Inserts `rows` of the source into `table` of the target, in one statement.
async fn insert(
    tx: &mut AnyConnection,
    table: &str,
    names: &[&str],
    columns: &[(String, Kind)],
    rows: &[AnyRow],
) -> Result<()> {
    let values: Vec<String> = (0..rows.len())
        .map(|row| {
            format!(
                "({})",
                super::placeholders(row * names.len() + 1, names.len())
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        names.join(", "),
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (index, (_, kind)) in columns.iter().enumerate() {
            query = bind(query, row, index, *kind)?;
        }
    }
    query.execute(&mut *tx).await.map_err(internal)?;
    Ok(())
}

impl SqlStore {
    /// Copies every row of this store into `target`, which must hold nothing yet (no
    /// organization, revision 0). All or nothing: one transaction of the target.
    pub async fn copy_into(&self, target: &SqlStore) -> Result<CopyReport> {
        let mut source = self.pool.acquire().await.map_err(unavailable)?;
        let mut into = target.pool.acquire().await.map_err(unavailable)?;
        let revision = scalar(&mut into, "SELECT CAST(value AS BIGINT) FROM kc_revision").await?;
        let organizations = scalar(
            &mut into,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM organizations",
        )
        .await?;
        if revision != 0 || organizations != 0 {
            return Err(Error::invalid(
                "target database",
                format!(
                    "already holds data (revision {revision}, {organizations} organizations); copy into an empty database"
                ),
            ));
        }
        let mut report = CopyReport::default();
        let mut tx = sqlx::Connection::begin(&mut *into)
            .await
            .map_err(unavailable)?;
        for table in TABLES {
            let columns = columns(&mut tx, target.dialect, table).await?;
            let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
            let select = format!("SELECT {} FROM {table}", names.join(", "));
            // Many rows to a statement (the driver's cost is per statement), a bounded number of
            // them held at once.
            let per_statement = (PARAMETERS_PER_STATEMENT / names.len()).max(1);
            let mut rows = sqlx::query(&select).fetch(&mut *source);
            let mut held: Vec<AnyRow> = Vec::with_capacity(per_statement);
            let mut copied = 0u64;
            loop {
                let row = rows.try_next().await.map_err(internal)?;
                let last = row.is_none();
                held.extend(row);
                if held.len() >= per_statement || (last && !held.is_empty()) {
                    insert(&mut tx, table, &names, &columns, &held).await?;
                    copied += held.len() as u64;
                    held.clear();
                }
                if last {
                    break;
                }
            }
            report.tables.push((table, copied));
        }
        let source_revision =
            scalar(&mut source, "SELECT CAST(value AS BIGINT) FROM kc_revision").await?;
        sqlx::query("UPDATE kc_revision SET value = $1 WHERE singleton = 1")
            .bind(source_revision)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        report.revision = source_revision;
        Ok(report)
    }
}
