//! Scale-out figures in one run: write throughput on SQLite and on PostgreSQL (one writer, then
//! four), and the delay from a write committed through node A to a changed decision on node B
//! (two in-process nodes on one PostgreSQL database, B following by LISTEN/NOTIFY).
//!
//! `scale POSTGRES_ADMIN_URL` (a server where it may create a database; see bench/scale.sh)

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use keycard_core::decision;
use keycard_core::model::{Actor, NewAccount, NewPolicy, PolicyAction, ResourceRef};
use keycard_core::names::OrganizationName;
use keycard_core::store::Store;
use keycard_server::{AppState, Settings, bootstrap};
use sqlx::{Connection as _, Executor as _};

const WRITES: usize = 400;
const PROPAGATIONS: usize = 200;

async fn default_org(store: &dyn Store) -> anyhow::Result<keycard_core::ids::OrganizationId> {
    Ok(store
        .find_organization(&OrganizationName::try_from("default")?)
        .await?
        .context("no default organization")?
        .id)
}

/// Writes per second with `writers` concurrent writers, each a write by `actor`.
async fn write_rate(
    store: Arc<dyn Store>,
    writers: usize,
    label: &str,
    actor: &Actor,
    published: Option<&AppState>,
) -> anyhow::Result<f64> {
    let org = default_org(store.as_ref()).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let store = store.clone();
        let label = label.to_owned();
        let actor = actor.clone();
        let published = published.cloned();
        tasks.push(tokio::spawn(async move {
            for index in 0..WRITES / writers {
                let written = store
                    .create_role(
                        &actor,
                        org,
                        keycard_bench::custom_role(format!("{label}-{writers}-{writer}-{index}"))?,
                    )
                    .await?;
                if let Some(state) = &published {
                    state.app.catch_up(written.revision).await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(WRITES as f64 / started.elapsed().as_secs_f64())
}

async fn fresh_postgres(admin: &str) -> anyhow::Result<String> {
    let name = format!("kc_bench_{}", uuid_suffix());
    let mut conn = sqlx::postgres::PgConnection::connect(admin).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let (base, _) = admin
        .rsplit_once('/')
        .context("the admin url has no database")?;
    Ok(format!("{base}/{name}"))
}

fn uuid_suffix() -> String {
    keycard_core::ids::OrganizationId::new()
        .as_uuid()
        .simple()
        .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow!("usage: scale POSTGRES_ADMIN_URL"))?;
    let dir = std::env::temp_dir().join(format!("keycard-scale-{}", uuid_suffix()));
    std::fs::create_dir_all(&dir)?;
    let sqlite_url = format!("sqlite://{}", dir.join("scale.db").display());
    let postgres_url = fresh_postgres(&admin).await?;

    println!(
        "== write throughput ({WRITES} role creations each; every write is one transaction with its change-log rows)"
    );
    for (label, url) in [("sqlite", &sqlite_url), ("postgres", &postgres_url)] {
        let store = keycard_store::open(url).await?;
        bootstrap(store.as_ref(), Some("bench-admin-password")).await?;
        for writers in [1, 4] {
            let rate = write_rate(store.clone(), writers, label, &Actor::system(), None).await?;
            println!("{label:>9}, {writers} writer(s): {rate:>8.0} writes/s");
        }
        // As a server writes: on behalf of an administrator, reviewed in the transaction against
        // the published snapshot (`Store::review_writes`, installed by the state), then waited
        // for until the snapshot holds it.
        let state = AppState::load(store.clone(), Settings::default()).await?;
        let org = default_org(store.as_ref()).await?;
        let admin = store
            .find_account(org, &"admin".to_owned().try_into()?)
            .await?
            .context("no admin")?;
        for writers in [1, 4] {
            let reviewed = format!("{label}-reviewed");
            let rate = write_rate(
                store.clone(),
                writers,
                &reviewed,
                &Actor::account(&admin),
                Some(&state),
            )
            .await?;
            println!("{label:>9}, {writers} writer(s), as a server: {rate:>8.0} writes/s");
        }
    }

    println!(
        "== propagation: write through node A, decision changed on node B (PostgreSQL, LISTEN/NOTIFY)"
    );
    let url = fresh_postgres(&admin).await?;
    let store_a = keycard_store::open(&url).await?;
    bootstrap(store_a.as_ref(), Some("bench-admin-password")).await?;
    let sql_b = keycard_store::open_sql(&url).await?;
    let notifications = sql_b.subscribe();
    let store_b: Arc<dyn Store> = Arc::new(sql_b);
    let org = default_org(store_a.as_ref()).await?;
    let actor = Actor::system();
    let reader = store_a
        .create_role(&actor, org, keycard_bench::custom_role("reader".into())?)
        .await?
        .value
        .id;
    let account = NewAccount {
        username: "prober".to_owned().try_into()?,
        email: None,
        first_name: Default::default(),
        provenance: "Local".to_owned().try_into()?,
        inactive: false,
        service_account: false,
        password_hash: None,
        roles: vec![reader],
        groups: vec![],
        attributes: Default::default(),
    };
    store_a.create_account(&actor, org, account).await?;
    let node_b = AppState::load(store_b, Settings::default()).await?;
    let _follower = node_b.app.follow(Duration::from_millis(500), notifications);
    // Let the listener connect before measuring.
    let ready = Instant::now();
    while decision::resolve_subject(
        node_b.app.snapshot().organization(org).context("no org")?,
        "prober",
    )
    .is_none()
    {
        if ready.elapsed() > Duration::from_secs(10) {
            return Err(anyhow!("node B never caught up"));
        }
        tokio::task::yield_now().await;
    }
    let mut delays = Vec::with_capacity(PROPAGATIONS);
    for index in 0..PROPAGATIONS {
        let resource = format!("doc{index}");
        let policy = NewPolicy {
            name: format!("grant{index}").try_into()?,
            system: false,
            actions: vec![PolicyAction {
                action: "read".to_owned().try_into()?,
                role_ids: vec![reader],
                condition: None,
            }],
            resources: vec![ResourceRef {
                resource_type: "doc".into(),
                id: resource.clone(),
            }],
        };
        store_a.create_policy(&actor, org, policy).await?;
        let committed = Instant::now();
        loop {
            let snapshot = node_b.app.snapshot();
            let allowed = snapshot
                .organization(org)
                .is_some_and(|o| decision::check(o, "prober", "read", "doc", &resource));
            if allowed {
                break;
            }
            if committed.elapsed() > Duration::from_secs(5) {
                return Err(anyhow!("write {index} never reached node B"));
            }
            tokio::task::yield_now().await;
        }
        delays.push(committed.elapsed());
    }
    delays.sort();
    println!(
        "propagation over {PROPAGATIONS} writes: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or_default()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
