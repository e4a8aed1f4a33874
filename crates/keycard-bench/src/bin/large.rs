//! The large dataset (`keycard_bench::large`): loads it into a SQLite database once, then measures
//! what the decision issue asks of it, each beside a reference measured in the same run:
//!
//! - the snapshot built from the store (read and build times; bytes the snapshot holds, counted by
//!   the allocator);
//! - checks per second on one and on two threads, every decision compared with the generator's
//!   answer; the reference is the same decisions from `std` hash maps holding each account's
//!   precomputed effective roles (what a non-persistent engine would do);
//! - how long after a write commits (granting a role, through the store) the decision changes
//!   in this process, over 200 writes.
//!
//! `large DATABASE_URL [DIVISOR]`: DIVISOR shrinks accounts, groups and queries for a quick run.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;
use keycard_bench::large::{LargeShape, LargeWorkload, group_name};
use keycard_bench::{
    QueryText, ReferenceEngine, action_name, keycard_check, pass, role_name, type_name, user_name,
};
use keycard_core::ids::{AccountId, GroupId, OrganizationId, RoleId};
use keycard_core::model::{Actor, Link, NewPolicy, PolicyAction, Principal, ResourceRef};
use keycard_core::names::OrganizationName;
use keycard_core::store::Store;
use keycard_server::state::SnapshotHandle;
use sqlx::{Connection as _, QueryBuilder, Sqlite, SqliteConnection};

/// The allocator the `keycard` binary uses, counted.
#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

const SEED: u64 = 20_261_123;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow!("usage: large DATABASE_URL [DIVISOR]"))?;
    let divisor: usize = args.next().map(|d| d.parse()).transpose()?.unwrap_or(1);
    let mut shape = LargeShape::LARGE;
    shape.accounts /= divisor;
    shape.groups_per_level /= divisor;
    shape.queries /= divisor;
    println!(
        "shape: {} accounts, {} groups in {} levels, {} roles, {} memberships + {} grants = {}",
        shape.accounts,
        shape.groups(),
        shape.levels,
        shape.roles,
        shape.memberships(),
        shape.grants(),
        shape.memberships() + shape.grants()
    );
    let started = Instant::now();
    let workload = LargeWorkload::generate(shape, SEED);
    println!("generated in {:.1?}", started.elapsed());

    let store = keycard_store::open(&url).await?;
    let name: OrganizationName = format!("large-{}", shape.accounts).try_into()?;
    let org = match store.find_organization(&name).await? {
        Some(org) => org.id,
        None => {
            let started = Instant::now();
            let org = load(store.as_ref(), &url, name, &workload).await?;
            println!("loaded into the store in {:.1?}", started.elapsed());
            org
        }
    };

    // The snapshot, from the store, as a node loads it when it starts (the build runs beside
    // the read).
    let before = ALLOCATOR.allocated();
    let started = Instant::now();
    let handle = SnapshotHandle::load(store.clone()).await?;
    let loaded = started.elapsed();
    let snapshot_bytes = ALLOCATOR.allocated().saturating_sub(before);
    println!(
        "snapshot: loaded from the store in {loaded:.1?}; holds {:.0} MiB",
        snapshot_bytes as f64 / (1 << 20) as f64
    );
    let snapshot = handle.current();

    let texts: Vec<QueryText> = workload
        .queries
        .iter()
        .enumerate()
        .map(|(index, q)| {
            QueryText::new([
                &user_name(q.account as usize),
                &action_name(q.action as usize),
                &type_name(q.resource_type as usize),
                &format!("res{}", index % 100),
            ])
        })
        .collect();
    let org_snapshot = snapshot.organization(org).context("organization")?;

    // The writes measured at the end: for 200 denied queries, the first role that grants the
    // query's cell, granted to the query's account. A run stopped between a grant and its undoing
    // leaves the grant behind: undo it first.
    let roles: HashMap<String, RoleId> = org_snapshot
        .roles()
        .map(|role| (role.name.to_string(), role.id))
        .collect();
    let mut writes = Vec::new();
    for (query, text) in workload
        .queries
        .iter()
        .zip(&texts)
        .filter(|(q, _)| !q.expected)
        .take(200)
    {
        let cell = query.resource_type as usize * shape.actions + query.action as usize;
        let role = workload.cell_roles[cell]
            .first()
            .and_then(|role| roles.get(&role_name(*role as usize)))
            .context("a role granted the cell")?;
        let account = org_snapshot
            .account_by_username(text.subject())
            .map(|a| a.id)
            .context("account")?;
        writes.push((Link::RoleOf(Principal::Account(account), *role), text));
    }
    let mut undone = 0;
    for (link, _) in &writes {
        match store.remove_link(&Actor::system(), org, *link).await {
            Ok(_) => undone += 1,
            Err(keycard_core::Error::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let snapshot = if undone > 0 {
        println!("undid {undone} grant(s) left by an interrupted run");
        let revision = store.latest_revision().await?;
        handle.catch_up(revision).await?;
        handle.current()
    } else {
        snapshot
    };
    let org_snapshot = snapshot.organization(org).context("organization")?;
    for (query, text) in workload.queries.iter().zip(&texts) {
        if keycard_check(org_snapshot, text) != query.expected {
            bail!("wrong decision on {query:?}");
        }
    }
    println!("all {} decisions match the generator", texts.len());
    let reference = reference(&workload);
    for (query, text) in workload.queries.iter().zip(&texts) {
        if reference.check(text) != query.expected {
            bail!("reference: wrong decision on {query:?}");
        }
    }
    let passes = 5;
    let (mut keycard_best, mut reference_best) = (f64::MAX, f64::MAX);
    for _ in 0..passes {
        keycard_best = keycard_best.min(pass(&texts, |t| keycard_check(org_snapshot, t)));
        reference_best = reference_best.min(pass(&texts, |t| reference.check(t)));
    }
    let per_second = |seconds: f64| texts.len() as f64 / seconds;
    println!(
        "one thread: keycard {:.2} M checks/s, reference {:.2} M checks/s, keycard / reference = {:.2}",
        per_second(keycard_best) / 1e6,
        per_second(reference_best) / 1e6,
        keycard_best.recip() / reference_best.recip()
    );
    let keycard_two = two_threads(&texts, passes, |t| keycard_check(org_snapshot, t));
    let reference_two = two_threads(&texts, passes, |t| reference.check(t));
    println!(
        "two threads: keycard {:.2} M checks/s, reference {:.2} M checks/s, keycard / reference = {:.2}",
        keycard_two / 1e6,
        reference_two / 1e6,
        keycard_two / reference_two
    );
    drop(reference);

    // What this machine's memory allows: a read that depends on the one before, at random over a
    // buffer as large as the snapshot, and eight such chains side by side.
    let chain = MemoryChain::new(snapshot_bytes.max(1 << 30), SEED);
    let one_chain = chain.nanoseconds_per_read(1);
    let eight_chains = chain.nanoseconds_per_read(8);
    drop(chain);
    let keycard_ns = keycard_best * 1e9 / texts.len() as f64;
    println!(
        "memory: a dependent random read takes {one_chain:.0} ns ({eight_chains:.0} ns each with eight in flight); \
         a check takes {keycard_ns:.0} ns, the time of {:.1} dependent reads; 5 M checks/s on two threads \
         leaves {:.1} per check",
        keycard_ns / one_chain,
        400.0 / one_chain
    );

    // One write, then the decision it changes.
    let actor = Actor::system();
    let mut delays = Vec::new();
    for (link, text) in &writes {
        let revision = store.add_link(&actor, org, *link).await?;
        let committed = Instant::now();
        handle.catch_up(revision).await?;
        let current = handle.current();
        let visible = keycard_check(current.organization(org).context("org")?, text);
        delays.push(committed.elapsed());
        if !visible {
            bail!("the grant is not visible at revision {revision:?}");
        }
        // Undone, so that the next run finds the database as generated.
        store.remove_link(&actor, org, *link).await?;
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
    println!(
        "write to decision, {} writes: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        delays.len(),
        at(0.5),
        at(0.99),
        delays.last().copied().unwrap_or(Duration::ZERO)
    );
    Ok(())
}

/// Checks per second with two threads, each making `passes` passes from its own starting point.
fn two_threads(
    texts: &[QueryText],
    passes: usize,
    check: impl Fn(&QueryText) -> bool + Sync,
) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..2 {
            let check = &check;
            scope.spawn(move || {
                let (first, second) = texts.split_at(texts.len() * thread / 2);
                for _ in 0..passes {
                    black_box(second.iter().chain(first).filter(|t| check(t)).count());
                }
            });
        }
    });
    (2 * passes * texts.len()) as f64 / started.elapsed().as_secs_f64()
}

/// A random cycle through a large buffer of 64-byte cells (one cache line each): following it, every
/// read depends on the one before and misses every cache.
struct MemoryChain {
    cells: Vec<[u32; 16]>,
}

impl MemoryChain {
    fn new(bytes: usize, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let count = bytes / 64;
        let mut order: Vec<u32> = (0..count as u32).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Sattolo's shuffle: one cycle through every cell.
        for index in (1..count).rev() {
            order.swap(index, rng.gen_range(0..index));
        }
        let mut cells = vec![[0u32; 16]; count];
        for (position, cell) in order.iter().enumerate() {
            cells[*cell as usize][0] = order[(position + 1) % count];
        }
        Self { cells }
    }

    /// Nanoseconds per read, following `chains` cycles from different cells at once.
    fn nanoseconds_per_read(&self, chains: usize) -> f64 {
        let steps = 2_000_000;
        let stride = self.cells.len() / chains;
        let mut at: Vec<u32> = (0..chains).map(|chain| (chain * stride) as u32).collect();
        let started = Instant::now();
        for _ in 0..steps {
            for cell in at.iter_mut() {
                *cell = self.cells[*cell as usize][0];
            }
        }
        black_box(&at);
        started.elapsed().as_secs_f64() * 1e9 / (steps * chains) as f64
    }
}

/// The same decisions from the reference engine, given every account's effective roles
/// precomputed (what a non-persistent engine would hold).
fn reference(workload: &LargeWorkload) -> ReferenceEngine {
    let shape = workload.shape;
    ReferenceEngine::new(
        (0..shape.accounts).map(|account| {
            (
                user_name(account),
                workload.effective_roles(account).into_boxed_slice(),
            )
        }),
        workload
            .cell_roles
            .iter()
            .enumerate()
            .flat_map(|(cell, roles)| {
                roles
                    .iter()
                    .map(move |role| (cell / shape.actions, cell % shape.actions, *role))
            }),
        shape.roles,
    )
}

/// Loads the workload: roles and policies through the store, groups, accounts and memberships
/// straight into the tables (a million single-account transactions would take an hour).
async fn load(
    store: &dyn Store,
    url: &str,
    name: OrganizationName,
    workload: &LargeWorkload,
) -> anyhow::Result<OrganizationId> {
    if !url.starts_with("sqlite:") {
        bail!("the large dataset loads into SQLite only");
    }
    let shape = workload.shape;
    let actor = Actor::system();
    let org = store
        .create_organization(&actor, keycard_core::builtin::standard_organization(name)?)
        .await?
        .value
        .id;
    let started = Instant::now();
    let mut role_ids = Vec::with_capacity(shape.roles);
    for role in 0..shape.roles {
        let new = keycard_bench::custom_role(role_name(role))?;
        role_ids.push(store.create_role(&actor, org, new).await?.value.id);
    }
    println!(
        "  {} roles through the store: {:.1?}",
        shape.roles,
        started.elapsed()
    );
    let started = Instant::now();
    for resource_type in 0..shape.types {
        let actions = (0..shape.actions)
            .filter_map(|action| {
                let roles = &workload.cell_roles[resource_type * shape.actions + action];
                (!roles.is_empty()).then(|| -> anyhow::Result<PolicyAction> {
                    Ok(PolicyAction {
                        action: action_name(action).try_into()?,
                        role_ids: roles.iter().map(|r| role_ids[*r as usize]).collect(),
                        condition: None,
                    })
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let new = NewPolicy {
            name: format!("policy-{}", type_name(resource_type)).try_into()?,
            system: false,
            actions,
            resources: vec![ResourceRef {
                resource_type: type_name(resource_type),
                id: ResourceRef::ANY_ID.into(),
            }],
        };
        store.create_policy(&actor, org, new).await?;
    }

    println!(
        "  {} policies through the store: {:.1?}",
        shape.types,
        started.elapsed()
    );
    let started = Instant::now();
    let mut conn = SqliteConnection::connect(url).await?;
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&mut conn)
        .await?;
    let now = Utc::now().timestamp_millis();
    let org_text = org.to_string();
    let group_ids: Vec<String> = (0..shape.groups())
        .map(|_| GroupId::new().to_string())
        .collect();
    let account_ids: Vec<String> = (0..shape.accounts)
        .map(|_| AccountId::new().to_string())
        .collect();
    let role_text: Vec<String> = role_ids.iter().map(ToString::to_string).collect();
    let mut tx = conn.begin().await?;
    for chunk in (0..shape.groups()).collect::<Vec<_>>().chunks(4000) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO groups (id, organization_id, name, description, provenance, inactive, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, group| {
            row.push_bind(&group_ids[*group])
                .push_bind(&org_text)
                .push_bind(group_name(*group))
                .push_bind("")
                .push_bind("Local")
                .push_bind(0)
                .push_bind(now)
                .push_bind(now);
        });
        insert.build().execute(&mut *tx).await?;
    }
    let parents: Vec<(&String, &String)> = workload
        .group_parent
        .iter()
        .enumerate()
        .filter_map(|(group, parent)| parent.map(|p| (&group_ids[group], &group_ids[p as usize])))
        .collect();
    insert_pairs(&mut tx, "group_parents (group_id, parent_id)", &parents).await?;
    let group_roles: Vec<(&String, &String)> = (0..shape.groups())
        .flat_map(|group| {
            workload
                .roles_of_group(group)
                .iter()
                .map(move |role| (group, *role))
        })
        .map(|(group, role)| (&group_ids[group], &role_text[role as usize]))
        .collect();
    insert_pairs(&mut tx, "group_roles (group_id, role_id)", &group_roles).await?;
    for chunk in (0..shape.accounts).collect::<Vec<_>>().chunks(2500) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO accounts (id, organization_id, username, email, first_name, provenance, inactive, service_account, password_hash, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, account| {
            row.push_bind(&account_ids[*account])
                .push_bind(&org_text)
                .push_bind(user_name(*account))
                .push_bind(None::<String>)
                .push_bind("")
                .push_bind("Local")
                .push_bind(0)
                .push_bind(0)
                .push_bind(None::<String>)
                .push_bind(now)
                .push_bind(now);
        });
        insert.build().execute(&mut *tx).await?;
    }
    for account_chunk in (0..shape.accounts).collect::<Vec<_>>().chunks(100_000) {
        let roles = membership_rows(
            account_chunk,
            |account| workload.roles_of_account(account),
            &account_ids,
            &role_text,
        );
        insert_pairs(&mut tx, "account_roles (account_id, role_id)", &roles).await?;
        let groups = membership_rows(
            account_chunk,
            |account| workload.groups_of_account(account),
            &account_ids,
            &group_ids,
        );
        insert_pairs(&mut tx, "account_groups (account_id, group_id)", &groups).await?;
    }
    tx.commit().await?;
    println!(
        "  groups, accounts and memberships into the tables: {:.1?}",
        started.elapsed()
    );
    Ok(org)
}

/// (account id, target id) rows for the accounts of `chunk`, one per target `of` gives each.
fn membership_rows<'a>(
    chunk: &[usize],
    of: impl Fn(usize) -> &'a [u32],
    account_ids: &'a [String],
    target_ids: &'a [String],
) -> Vec<(&'a String, &'a String)> {
    chunk
        .iter()
        .flat_map(|account| of(*account).iter().map(move |target| (*account, *target)))
        .map(|(account, target)| (&account_ids[account], &target_ids[target as usize]))
        .collect()
}

async fn insert_pairs(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    table: &str,
    pairs: &[(&String, &String)],
) -> anyhow::Result<()> {
    for chunk in pairs.chunks(10_000) {
        let mut insert = QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} "));
        insert.push_values(chunk, |mut row, (first, second)| {
            row.push_bind(*first).push_bind(*second);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(())
}
