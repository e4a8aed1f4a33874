//! Reading entities: the SELECT each entity is read with, and the decoding of its rows. Reads and
//! writes share these so that what a write records in the change log is exactly what a read returns.

use keycard_core::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    Account, ApiKey, Group, Method, Organization, Policy, Resource, Role, Route, Session, View,
};
use keycard_core::page::{Page, PageRequest};
use keycard_core::{Error, Result};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{from_millis, internal};

pub(crate) const ORGANIZATION_SELECT: &str =
    "SELECT id, name, actions, sso, created_at, updated_at FROM organizations o";

/// An account's columns as (name, expression over `accounts a`): the one list that the single read
/// ([`ACCOUNT_SELECT`]) and the batched read ([`account_batch_select`]) are both built from.
const ACCOUNT_COLUMNS: [(&str, &str); 14] = [
    ("id", "a.id"),
    ("organization_id", "a.organization_id"),
    ("username", "a.username"),
    ("email", "a.email"),
    ("first_name", "a.first_name"),
    ("provenance", "a.provenance"),
    ("inactive", "a.inactive"),
    ("service_account", "a.service_account"),
    ("attributes", "a.attributes"),
    (
        "has_password",
        "CASE WHEN a.password_hash IS NULL THEN 0 ELSE 1 END",
    ),
    ("created_at", "a.created_at"),
    ("updated_at", "a.updated_at"),
    (
        "roles",
        "(SELECT string_agg(role_id, ',' ORDER BY role_id) FROM account_roles WHERE account_id = a.id)",
    ),
    (
        "groups",
        "(SELECT string_agg(group_id, ',' ORDER BY group_id) FROM account_groups WHERE account_id = a.id)",
    ),
];

pub(crate) static ACCOUNT_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<String> = ACCOUNT_COLUMNS
        .iter()
        .map(|(name, expression)| format!("{expression} AS {name}"))
        .collect();
    format!("SELECT {} FROM accounts a", columns.join(", "))
});

/// Accounts a batch at a time, each batch one JSON array built by the database (one row instead
/// of thousands: the SQL driver's cost is per row), after the id `$1`, in id order. Each object
/// has the columns of [`ACCOUNT_SELECT`]; `last` is the batch's greatest id.
pub(crate) fn account_batch_select(dialect: super::Dialect, batch: u32) -> String {
    let (array, object, cast) = match dialect {
        super::Dialect::Sqlite => ("json_group_array", "json_object", ""),
        super::Dialect::Postgres => ("json_agg", "json_build_object", "::text"),
    };
    let members: Vec<String> = ACCOUNT_COLUMNS
        .iter()
        .map(|(name, expression)| format!("'{name}', {expression}"))
        .collect();
    format!(
        "SELECT {array}({object}({})){cast} AS batch, max(a.id) AS last \
         FROM (SELECT * FROM accounts WHERE id > $1 ORDER BY id LIMIT {batch}) a",
        members.join(", ")
    )
}

pub(crate) const GROUP_SELECT: &str = "SELECT g.id, g.organization_id, g.name, g.description, g.provenance, g.inactive, \
    g.created_at, g.updated_at, \
    (SELECT string_agg(role_id, ',' ORDER BY role_id) FROM group_roles WHERE group_id = g.id) AS roles, \
    (SELECT string_agg(parent_id, ',' ORDER BY parent_id) FROM group_parents WHERE group_id = g.id) AS parents \
    FROM groups g";

pub(crate) const ROLE_SELECT: &str = "SELECT r.id, r.organization_id, r.name, r.description, r.provenance, r.system, \
    r.inactive, r.methods, r.views, r.created_at, r.updated_at FROM roles r";

pub(crate) const POLICY_SELECT: &str = "SELECT p.id, p.organization_id, p.name, p.system, p.actions, p.resources, p.created_at, p.updated_at FROM policies p";

pub(crate) const RESOURCE_SELECT: &str = "SELECT res.organization_id, res.type, res.id, res.owner_id, res.attributes, res.created_at, res.updated_at FROM resources res";

pub(crate) const METHOD_SELECT: &str = "SELECT m.organization_id, m.provenance, m.name, m.deprecated, m.route_verb, m.route_path FROM methods m";

pub(crate) const VIEW_SELECT: &str = "SELECT v.organization_id, v.provenance, v.path FROM views v";

pub(crate) const API_KEY_SELECT: &str = "SELECT k.id, k.organization_id, k.account_id, k.name, k.secret_hash, k.created_at, k.last_used_at, k.revoked_at FROM api_keys k";

pub(crate) const SESSION_SELECT: &str = "SELECT s.id, s.organization_id, s.account_id, s.secret_hash, s.created_at, s.expires_at, s.revoked_at FROM sessions s";

fn get<'r, T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(
    row: &'r AnyRow,
    column: &str,
) -> Result<T> {
    row.try_get(column).map_err(internal)
}

/// What the shared decoders read a row through: a database row, or one object of a batch the
/// database built as JSON (see [`account_batch_select`]).
pub(crate) trait Columns {
    /// A text column; `None` for NULL.
    fn text(&self, column: &str) -> Result<Option<String>>;
    /// An integer column; `None` for NULL.
    fn integer(&self, column: &str) -> Result<Option<i64>>;
    /// A boolean column: BOOLEAN on PostgreSQL, 0/1 on SQLite.
    fn flag(&self, column: &str) -> Result<bool>;
}

impl Columns for AnyRow {
    fn text(&self, column: &str) -> Result<Option<String>> {
        get(self, column)
    }

    fn integer(&self, column: &str) -> Result<Option<i64>> {
        get(self, column)
    }

    fn flag(&self, column: &str) -> Result<bool> {
        match self.try_get::<bool, _>(column) {
            Ok(value) => Ok(value),
            Err(_) => Ok(get::<i64>(self, column)? != 0),
        }
    }
}

impl Columns for serde_json::Map<String, serde_json::Value> {
    fn text(&self, column: &str) -> Result<Option<String>> {
        match self.get(column) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(unexpected(column, other)),
        }
    }

    fn integer(&self, column: &str) -> Result<Option<i64>> {
        match self.get(column) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| unexpected(column, &n.clone().into())),
            Some(other) => Err(unexpected(column, other)),
        }
    }

    fn flag(&self, column: &str) -> Result<bool> {
        match self.get(column) {
            Some(serde_json::Value::Bool(value)) => Ok(*value),
            Some(serde_json::Value::Number(n)) => Ok(n.as_i64() != Some(0)),
            Some(other) => Err(unexpected(column, other)),
            None => Err(unexpected(column, &serde_json::Value::Null)),
        }
    }
}

fn unexpected(column: &str, value: &serde_json::Value) -> Error {
    Error::Internal(format!("stored `{column}` is unreadable: {value}"))
}

fn required<T>(column: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| Error::Internal(format!("stored `{column}` is missing")))
}

/// A sorted, comma-separated list of ids (NULL when empty), as `string_agg` builds it.
fn id_list<T: std::str::FromStr<Err = Error>>(
    row: &(impl Columns + ?Sized),
    column: &str,
) -> Result<Vec<T>> {
    match row.text(column)? {
        None => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .filter(|id| !id.is_empty())
            .map(str::parse)
            .collect(),
    }
}

fn parsed<T: std::str::FromStr<Err = Error>>(
    row: &(impl Columns + ?Sized),
    column: &str,
) -> Result<T> {
    required(column, row.text(column)?)?.parse()
}

fn optional_parsed<T: std::str::FromStr<Err = Error>>(
    row: &(impl Columns + ?Sized),
    column: &str,
) -> Result<Option<T>> {
    row.text(column)?.map(|text| text.parse()).transpose()
}

fn validated<T: TryFrom<String, Error = Error>>(
    row: &(impl Columns + ?Sized),
    column: &str,
) -> Result<T> {
    T::try_from(required(column, row.text(column)?)?)
}

fn json<T: DeserializeOwned>(row: &(impl Columns + ?Sized), column: &str) -> Result<T> {
    let text = required(column, row.text(column)?)?;
    serde_json::from_str(&text)
        .map_err(|err| Error::Internal(format!("stored `{column}` is unreadable: {err}")))
}

fn time(row: &(impl Columns + ?Sized), column: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    Ok(from_millis(required(column, row.integer(column)?)?))
}

fn optional_time(row: &AnyRow, column: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(get::<Option<i64>>(row, column)?.map(from_millis))
}

pub(crate) fn organization(row: &AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: parsed(row, "id")?,
        name: validated(row, "name")?,
        actions: json(row, "actions")?,
        sso: json(row, "sso")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn account(row: &(impl Columns + ?Sized)) -> Result<Account> {
    Ok(Account {
        id: parsed(row, "id")?,
        organization_id: parsed(row, "organization_id")?,
        username: validated(row, "username")?,
        email: row.text("email")?.map(TryFrom::try_from).transpose()?,
        first_name: validated(row, "first_name")?,
        provenance: validated(row, "provenance")?,
        inactive: row.flag("inactive")?,
        service_account: row.flag("service_account")?,
        has_password: row.flag("has_password")?,
        roles: id_list(row, "roles")?,
        groups: id_list(row, "groups")?,
        attributes: json(row, "attributes")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn group(row: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: parsed(row, "id")?,
        organization_id: parsed(row, "organization_id")?,
        name: validated(row, "name")?,
        description: validated(row, "description")?,
        provenance: validated(row, "provenance")?,
        inactive: row.flag("inactive")?,
        roles: id_list(row, "roles")?,
        parents: id_list(row, "parents")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn role(row: &AnyRow) -> Result<Role> {
    Ok(Role {
        id: parsed(row, "id")?,
        organization_id: parsed(row, "organization_id")?,
        name: validated(row, "name")?,
        description: validated(row, "description")?,
        provenance: validated(row, "provenance")?,
        system: row.flag("system")?,
        inactive: row.flag("inactive")?,
        methods: json(row, "methods")?,
        views: json(row, "views")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn policy(row: &AnyRow) -> Result<Policy> {
    Ok(Policy {
        id: parsed(row, "id")?,
        organization_id: parsed(row, "organization_id")?,
        name: validated(row, "name")?,
        system: row.flag("system")?,
        actions: json(row, "actions")?,
        resources: json(row, "resources")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn method(row: &AnyRow) -> Result<(OrganizationId, Method)> {
    let verb: Option<String> = get(row, "route_verb")?;
    let path: Option<String> = get(row, "route_path")?;
    Ok((
        parsed(row, "organization_id")?,
        Method {
            provenance: validated(row, "provenance")?,
            name: get(row, "name")?,
            deprecated: row.flag("deprecated")?,
            route: verb.zip(path).map(|(verb, path)| Route { verb, path }),
        },
    ))
}

pub(crate) fn view(row: &AnyRow) -> Result<(OrganizationId, View)> {
    Ok((
        parsed(row, "organization_id")?,
        View {
            provenance: validated(row, "provenance")?,
            path: get(row, "path")?,
        },
    ))
}

pub(crate) fn resource(row: &AnyRow) -> Result<Resource> {
    Ok(Resource {
        organization_id: parsed(row, "organization_id")?,
        resource_type: validated(row, "type")?,
        id: validated(row, "id")?,
        owner: optional_parsed(row, "owner_id")?,
        attributes: json(row, "attributes")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn api_key(row: &AnyRow) -> Result<(ApiKey, String)> {
    Ok((
        ApiKey {
            id: parsed(row, "id")?,
            organization_id: parsed(row, "organization_id")?,
            account_id: optional_parsed(row, "account_id")?,
            name: get(row, "name")?,
            created_at: time(row, "created_at")?,
            last_used_at: optional_time(row, "last_used_at")?,
            revoked_at: optional_time(row, "revoked_at")?,
        },
        get(row, "secret_hash")?,
    ))
}

pub(crate) fn session(row: &AnyRow) -> Result<(Session, String)> {
    Ok((
        Session {
            id: parsed(row, "id")?,
            organization_id: parsed(row, "organization_id")?,
            account_id: parsed(row, "account_id")?,
            created_at: time(row, "created_at")?,
            expires_at: time(row, "expires_at")?,
            revoked_at: optional_time(row, "revoked_at")?,
        },
        get(row, "secret_hash")?,
    ))
}

/// An organization's entity kept in one table: read whole by id, or page by page in id order.
pub(crate) trait Table: Sized {
    type Id: std::fmt::Display;
    /// What a not-found error calls it.
    const NAME: &'static str;
    /// The alias `select` gives the table.
    const ALIAS: &'static str;
    fn select() -> &'static str;
    fn decode(row: &AnyRow) -> Result<Self>;
    /// The page cursor it is found after.
    fn key(&self) -> String;
}

macro_rules! table {
    ($entity:ty, $id:ty, $name:literal, $alias:literal, $select:expr, $decode:expr) => {
        impl Table for $entity {
            type Id = $id;
            const NAME: &'static str = $name;
            const ALIAS: &'static str = $alias;
            fn select() -> &'static str {
                &$select
            }
            fn decode(row: &AnyRow) -> Result<Self> {
                $decode(row)
            }
            fn key(&self) -> String {
                self.id.to_string()
            }
        }
    };
}

table!(Account, AccountId, "account", "a", ACCOUNT_SELECT, account);
table!(Group, GroupId, "group", "g", GROUP_SELECT, group);
table!(Role, RoleId, "role", "r", ROLE_SELECT, role);
table!(Policy, PolicyId, "policy", "p", POLICY_SELECT, policy);

/// Reads one entity of the organization; not found when it is absent or another organization's.
pub(crate) async fn load<T: Table>(
    conn: &mut AnyConnection,
    org: OrganizationId,
    id: T::Id,
) -> Result<T> {
    let alias = T::ALIAS;
    let sql = format!(
        "{} WHERE {alias}.organization_id = $1 AND {alias}.id = $2",
        T::select()
    );
    let id = id.to_string();
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(&id)
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    match row {
        Some(row) => T::decode(&row),
        None => Err(Error::not_found(T::NAME, id)),
    }
}

/// Reads one page of the organization's entities in id order.
pub(crate) async fn load_page<T: Table>(
    conn: &mut AnyConnection,
    org: OrganizationId,
    page: &PageRequest,
) -> Result<Page<T>> {
    let alias = T::ALIAS;
    let sql = format!(
        "{} WHERE {alias}.organization_id = $1 AND {alias}.id > $2 ORDER BY {alias}.id LIMIT $3",
        T::select()
    );
    let rows = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(page.after.clone().unwrap_or_default())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(conn)
        .await
        .map_err(internal)?;
    let items = rows.iter().map(T::decode).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, page.limit, T::key))
}

pub(crate) async fn load_organization(
    conn: &mut AnyConnection,
    id: OrganizationId,
) -> Result<Organization> {
    let row = sqlx::query(&format!("{ORGANIZATION_SELECT} WHERE o.id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    match row {
        Some(row) => organization(&row),
        None => Err(Error::not_found("organization", id)),
    }
}

/// Fails with `NotFound` naming the first id that is not a row of `table` in the organization.
pub(crate) async fn ensure_in_org<I: std::fmt::Display>(
    conn: &mut AnyConnection,
    table: &str,
    what: &'static str,
    org: OrganizationId,
    ids: &[I],
) -> Result<()> {
    // A policy may name thousands of roles: one query per few hundred ids, not one per id.
    const CHUNK: usize = 500;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id FROM {table} WHERE organization_id = $1 AND id IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(org.to_string());
        for id in chunk {
            query = query.bind(id.to_string());
        }
        let found: std::collections::HashSet<String> = query
            .fetch_all(&mut *conn)
            .await
            .map_err(internal)?
            .iter()
            .map(|row| get::<String>(row, "id"))
            .collect::<Result<_>>()?;
        if let Some(missing) = chunk.iter().find(|id| !found.contains(&id.to_string())) {
            return Err(Error::not_found(what, missing));
        }
    }
    Ok(())
}

/// A value stored as JSON text (lists of actions, methods, views; SSO settings).
pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::Internal(err.to_string()))
}

pub(crate) fn webhook(row: &AnyRow) -> Result<keycard_core::webhook::Webhook> {
    Ok(keycard_core::webhook::Webhook {
        id: parsed(row, "id")?,
        organization_id: parsed(row, "organization_id")?,
        endpoint: get(row, "endpoint")?,
        secret: get(row, "secret")?,
        disabled: row.flag("disabled")?,
        disabled_at: optional_time(row, "disabled_at")?,
        disabled_reason: get(row, "disabled_reason")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn delivery(row: &AnyRow) -> Result<keycard_core::webhook::Delivery> {
    Ok(keycard_core::webhook::Delivery {
        id: parsed(row, "id")?,
        webhook_id: parsed(row, "webhook_id")?,
        event_id: get(row, "event_id")?,
        event_type: get(row, "event_type")?,
        attempted_at: time(row, "attempted_at")?,
        duration_ms: required("duration_ms", row.integer("duration_ms")?)?,
        status_code: row.integer("status_code")?,
        success: row.flag("success")?,
        error: get(row, "error")?,
        error_kind: get(row, "error_kind")?,
        response: get(row, "response")?,
    })
}
