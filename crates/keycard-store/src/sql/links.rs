//! Memberships and role assignments: the link tables, cycles among groups, and the records of
//! the principals a link change touches.

use keycard_core::ids::{GroupId, OrganizationId};
use keycard_core::model::{Account, Group, Link, Principal, sorted_unique};
use keycard_core::store::GroupMembers;
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::{ensure_in_org, load};
use super::{WriteTx, internal};

/// One kind of link: its table, the owner and target columns, and the table and name of what it
/// targets.
pub(super) struct LinkTable {
    table: &'static str,
    owner_column: &'static str,
    target_column: &'static str,
    targets: &'static str,
    what: &'static str,
}

pub(super) const ACCOUNT_ROLES: LinkTable = LinkTable {
    table: "account_roles",
    owner_column: "account_id",
    target_column: "role_id",
    targets: "roles",
    what: "role",
};
pub(super) const ACCOUNT_GROUPS: LinkTable = LinkTable {
    table: "account_groups",
    owner_column: "account_id",
    target_column: "group_id",
    targets: "groups",
    what: "group",
};
pub(super) const GROUP_ROLES: LinkTable = LinkTable {
    table: "group_roles",
    owner_column: "group_id",
    target_column: "role_id",
    targets: "roles",
    what: "role",
};
pub(super) const GROUP_PARENTS: LinkTable = LinkTable {
    table: "group_parents",
    owner_column: "group_id",
    target_column: "parent_id",
    targets: "groups",
    what: "group",
};

/// Makes `owner` link to exactly `targets` (a list replaces wholesale), each of which must belong
/// to the organization.
pub(super) async fn set_links<T: std::fmt::Display + Ord>(
    conn: &mut AnyConnection,
    org: OrganizationId,
    links: &LinkTable,
    owner: &str,
    targets: Vec<T>,
) -> Result<()> {
    let targets = sorted_unique(targets);
    ensure_in_org(&mut *conn, links.targets, links.what, org, &targets).await?;
    replace_links(
        conn,
        links.table,
        links.owner_column,
        links.target_column,
        owner,
        &targets,
    )
    .await
}

/// Replaces every row of a link table owned by `owner` with links to `targets`.
pub(super) async fn replace_links<T: std::fmt::Display>(
    conn: &mut AnyConnection,
    table: &str,
    owner_column: &str,
    target_column: &str,
    owner: &str,
    targets: &[T],
) -> Result<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE {owner_column} = $1"))
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    // One statement per few hundred links, not one per link: the driver's cost is per statement.
    const CHUNK: usize = 500;
    for chunk in targets.chunks(CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|at| format!("($1, ${})", at + 2))
            .collect();
        let insert = format!(
            "INSERT INTO {table} ({owner_column}, {target_column}) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        let mut query = sqlx::query(&insert).bind(owner);
        for target in chunk {
            query = query.bind(target.to_string());
        }
        query.execute(&mut *conn).await.map_err(internal)?;
    }
    Ok(())
}
/// Whether making `child` a member of `parent` would close a cycle: it would when `child` is
/// `parent` or one of its ancestors.
pub(super) async fn would_cycle(
    conn: &mut AnyConnection,
    child: GroupId,
    parent: GroupId,
) -> Result<bool> {
    if child == parent {
        return Ok(true);
    }
    let found = sqlx::query(
        "WITH RECURSIVE ancestors(id) AS (SELECT CAST($1 AS TEXT) UNION SELECT gp.parent_id FROM group_parents gp \
         JOIN ancestors a ON gp.group_id = a.id) SELECT 1 FROM ancestors WHERE id = $2 LIMIT 1",
    )
    .bind(parent.to_string())
    .bind(child.to_string())
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    Ok(found.is_some())
}
pub(super) async fn ensure_no_cycles(
    conn: &mut AnyConnection,
    child: GroupId,
    parents: &[GroupId],
) -> Result<()> {
    for parent in parents {
        if would_cycle(conn, child, *parent).await? {
            return Err(Error::Cycle {
                child: child.to_string(),
                parent: parent.to_string(),
            });
        }
    }
    Ok(())
}
/// Records the new state of a principal whose links changed.
pub(super) async fn record_principal(
    w: &mut WriteTx,
    org: OrganizationId,
    principal: Principal,
    before: PrincipalState,
) -> Result<()> {
    match (principal, before) {
        (Principal::Account(id), PrincipalState::Account(before)) => {
            let after = load::<Account>(w.conn(), org, id).await?;
            w.updated(&before, &after).await
        }
        (Principal::Group(id), PrincipalState::Group(before)) => {
            let after = load::<Group>(w.conn(), org, id).await?;
            w.updated(&before, &after).await
        }
        _ => Err(Error::Internal(
            "principal kind changed during a write".into(),
        )),
    }
}
pub(super) enum PrincipalState {
    Account(Account),
    Group(Group),
}
pub(super) async fn principal_state(
    conn: &mut AnyConnection,
    org: OrganizationId,
    principal: Principal,
) -> Result<PrincipalState> {
    Ok(match principal {
        Principal::Account(id) => PrincipalState::Account(load::<Account>(conn, org, id).await?),
        Principal::Group(id) => PrincipalState::Group(load::<Group>(conn, org, id).await?),
    })
}
/// Where a link lives: its table, the owning principal and the target id.
pub(super) struct LinkRow {
    pub(super) table: &'static str,
    pub(super) owner_column: &'static str,
    pub(super) target_column: &'static str,
    pub(super) owner: Principal,
    pub(super) target: String,
}
pub(super) fn link_row(link: Link) -> LinkRow {
    match link {
        Link::AccountInGroup(account, group) => LinkRow {
            table: "account_groups",
            owner_column: "account_id",
            target_column: "group_id",
            owner: Principal::Account(account),
            target: group.to_string(),
        },
        Link::GroupInGroup { child, parent } => LinkRow {
            table: "group_parents",
            owner_column: "group_id",
            target_column: "parent_id",
            owner: Principal::Group(child),
            target: parent.to_string(),
        },
        Link::RoleOf(Principal::Account(account), role) => LinkRow {
            table: "account_roles",
            owner_column: "account_id",
            target_column: "role_id",
            owner: Principal::Account(account),
            target: role.to_string(),
        },
        Link::RoleOf(Principal::Group(group), role) => LinkRow {
            table: "group_roles",
            owner_column: "group_id",
            target_column: "role_id",
            owner: Principal::Group(group),
            target: role.to_string(),
        },
    }
}
pub(super) fn principal_id(principal: Principal) -> String {
    match principal {
        Principal::Account(id) => id.to_string(),
        Principal::Group(id) => id.to_string(),
    }
}
pub(super) fn owner_table(principal: Principal) -> &'static str {
    match principal {
        Principal::Account(_) => "accounts",
        Principal::Group(_) => "groups",
    }
}
pub(super) async fn ensure_link_ends(
    conn: &mut AnyConnection,
    org: OrganizationId,
    link: Link,
) -> Result<()> {
    match link {
        Link::AccountInGroup(account, group) => {
            ensure_in_org(conn, "accounts", "account", org, &[account]).await?;
            ensure_in_org(conn, "groups", "group", org, &[group]).await
        }
        Link::GroupInGroup { child, parent } => {
            ensure_in_org(conn, "groups", "group", org, &[child, parent]).await
        }
        Link::RoleOf(principal, role) => {
            match principal {
                Principal::Account(account) => {
                    ensure_in_org(conn, "accounts", "account", org, &[account]).await?
                }
                Principal::Group(group) => {
                    ensure_in_org(conn, "groups", "group", org, &[group]).await?
                }
            }
            ensure_in_org(conn, "roles", "role", org, &[role]).await
        }
    }
}
pub(super) async fn group_members(conn: &mut AnyConnection, id: GroupId) -> Result<GroupMembers> {
    let accounts: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM account_groups WHERE group_id = $1 ORDER BY account_id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    let groups: Vec<String> = sqlx::query_scalar(
        "SELECT group_id FROM group_parents WHERE parent_id = $1 ORDER BY group_id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    Ok(GroupMembers {
        accounts: accounts
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_>>()?,
        groups: groups.iter().map(|id| id.parse()).collect::<Result<_>>()?,
    })
}
