//! The store conformance suite: the same checks on SQLite and, when `KEYCARD_TEST_POSTGRES_URL`
//! names a server, on PostgreSQL (a fresh database each run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::sync::Arc;

use keycard_core::Error;
use keycard_core::builtin::standard_organization;
use keycard_core::change::Revision;
use keycard_core::ids::{AccountId, RoleId};
use keycard_core::model::{Actor, Link, NewAccount, NewRole, Principal};
use keycard_core::store::Store;
use sqlx::{Connection as _, Executor as _};

/// A fresh database per backend: its name, URL, and the directory that holds it (SQLite).
async fn databases() -> Vec<(String, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("c.db").display());
    let mut databases = vec![("sqlite".to_owned(), sqlite, dir)];
    if let Some(admin) = std::env::var("KEYCARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        let name = format!("kc_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        databases.push((
            "postgres".into(),
            format!("{base}/{name}"),
            tempfile::tempdir().unwrap(),
        ));
    }
    databases
}

async fn stores() -> Vec<(String, Arc<dyn Store>, tempfile::TempDir)> {
    let mut stores: Vec<(String, Arc<dyn Store>, tempfile::TempDir)> = Vec::new();
    for (backend, url, dir) in databases().await {
        stores.push((backend, keycard_store::open(&url).await.unwrap(), dir));
    }
    stores
}

fn role(name: &str) -> NewRole {
    NewRole {
        name: name.to_owned().try_into().unwrap(),
        description: Default::default(),
        provenance: "Custom".to_owned().try_into().unwrap(),
        system: false,
        inactive: false,
        methods: vec![],
        views: vec![],
    }
}

fn account(name: &str, roles: Vec<RoleId>) -> NewAccount {
    NewAccount {
        username: name.to_owned().try_into().unwrap(),
        email: None,
        first_name: Default::default(),
        provenance: "Local".to_owned().try_into().unwrap(),
        inactive: false,
        service_account: false,
        password_hash: None,
        roles,
        groups: vec![],
        attributes: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_unique_gapless_revisions() {
    for (backend, store, _dir) in stores().await {
        let actor = Actor::system();
        let org = store
            .create_organization(
                &actor,
                standard_organization("c".to_owned().try_into().unwrap()).unwrap(),
            )
            .await
            .unwrap()
            .value
            .id;
        let start = store.latest_revision().await.unwrap();
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = store.clone();
            let actor = actor.clone();
            tasks.push(tokio::spawn(async move {
                let mut revisions = Vec::new();
                for index in 0..10 {
                    revisions.push(
                        store
                            .create_role(&actor, org, role(&format!("w{writer}-{index}")))
                            .await
                            .unwrap()
                            .revision,
                    );
                }
                revisions
            }));
        }
        let mut revisions: Vec<Revision> = Vec::new();
        for task in tasks {
            revisions.extend(task.await.unwrap());
        }
        revisions.sort();
        let expected: Vec<Revision> = (1..=80).map(|n| Revision(start.0 + n)).collect();
        assert_eq!(revisions, expected, "{backend}: unique and gapless");
        let changes = store.changes_after(start, 1000).await.unwrap();
        let logged: Vec<Revision> = changes.iter().map(|c| c.revision).collect();
        assert_eq!(
            logged, expected,
            "{backend}: the log holds every revision, in order"
        );
        let page = store.changes_after(start, 5).await.unwrap();
        assert_eq!(page.len(), 5, "{backend}: a page is whole revisions");
        assert_eq!(
            store.latest_revision().await.unwrap(),
            Revision(start.0 + 80)
        );
    }
}

#[tokio::test]
async fn constraints_map_to_typed_errors_and_writes_are_atomic() {
    for (backend, store, _dir) in stores().await {
        let actor = Actor::system();
        let org = store
            .create_organization(
                &actor,
                standard_organization("c".to_owned().try_into().unwrap()).unwrap(),
            )
            .await
            .unwrap()
            .value
            .id;
        let editor = store
            .create_role(&actor, org, role("editor"))
            .await
            .unwrap()
            .value
            .id;
        assert!(
            matches!(
                store.create_role(&actor, org, role("editor")).await,
                Err(Error::Conflict { .. })
            ),
            "{backend}"
        );
        let before = store.latest_revision().await.unwrap();
        let missing = RoleId::new();
        let refused = store
            .create_account(&actor, org, account("ann", vec![editor, missing]))
            .await;
        assert!(
            matches!(refused, Err(Error::NotFound { .. })),
            "{backend}: {refused:?}"
        );
        assert_eq!(
            store.latest_revision().await.unwrap(),
            before,
            "{backend}: a refused write leaves nothing"
        );
        assert!(
            store
                .find_account(org, &"ann".to_owned().try_into().unwrap())
                .await
                .unwrap()
                .is_none()
        );
        let ann = store
            .create_account(&actor, org, account("ann", vec![editor]))
            .await
            .unwrap()
            .value
            .id;
        assert!(matches!(
            store.get_account(org, AccountId::new()).await,
            Err(Error::NotFound { .. })
        ));
        let other = store
            .create_organization(
                &actor,
                standard_organization("d".to_owned().try_into().unwrap()).unwrap(),
            )
            .await
            .unwrap()
            .value
            .id;
        assert!(
            matches!(
                store.get_account(other, ann).await,
                Err(Error::NotFound { .. })
            ),
            "{backend}: tenants are isolated"
        );
        assert!(matches!(
            store
                .remove_link(&actor, org, Link::RoleOf(Principal::Account(ann), missing))
                .await,
            Err(Error::NotFound { .. })
        ));
        let revision = store.delete_role(&actor, org, editor).await.unwrap();
        let changes = store
            .changes_after(Revision(revision.0 - 1), 10)
            .await
            .unwrap();
        let kinds: Vec<&str> = changes.iter().map(|c| c.entity.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["account", "role"],
            "{backend}: the cascade is in the log, in the same revision"
        );
        assert!(changes.iter().all(|c| c.revision == revision));
        assert_eq!(
            store.get_account(org, ann).await.unwrap().roles,
            Vec::<RoleId>::new()
        );
        let admin = store
            .list_roles(org, &keycard_core::page::PageRequest::first(10))
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|r| r.system)
            .unwrap();
        assert!(
            matches!(
                store.delete_role(&actor, org, admin.id).await,
                Err(Error::BuiltIn { .. })
            ),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_binary_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("newer.db").display());
    let store = keycard_store::open_sql(&url).await.unwrap();
    let known = store.schema_version();
    drop(store);
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO kc_schema (version, applied_at) VALUES ($1, 0)")
        .bind(known + 1)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let refused = keycard_store::open(&url).await.map(|_| ()).unwrap_err();
    assert!(
        refused.to_string().contains("newer than this binary"),
        "{refused}"
    );
}

/// The full read the snapshot is built from returns every account exactly as a single read does,
/// across more than one of the batches it reads accounts in.
#[tokio::test]
async fn the_full_read_matches_single_reads() {
    for (backend, store, _dir) in stores().await {
        let actor = Actor::system();
        let org = created_organization(store.as_ref(), &format!("full-{backend}")).await;
        let roles: Vec<RoleId> = created_roles(store.as_ref(), org, 3).await;
        let group = store
            .create_group(
                &actor,
                org,
                keycard_core::model::NewGroup {
                    name: "g".to_owned().try_into().unwrap(),
                    description: "a group".try_into().unwrap(),
                    provenance: "Local".to_owned().try_into().unwrap(),
                    inactive: false,
                    roles: vec![roles[0]],
                    parents: vec![],
                },
            )
            .await
            .unwrap()
            .value
            .id;
        let mut ids = Vec::new();
        for n in 0..2_050 {
            let mut new = account(&format!("user{n}"), roles[..n % 3].to_vec());
            new.email = (n % 2 == 0).then(|| format!("User{n}@Example.com").try_into().unwrap());
            new.inactive = n % 5 == 0;
            new.first_name = format!("First \"{n}\" é").try_into().unwrap();
            if n % 7 == 0 {
                new.groups = vec![group];
            }
            if n % 11 == 0 {
                new.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
            }
            if n % 3 == 0 {
                new.attributes =
                    serde_json::json!({"n": n, "nested": {"quote": "a\"b", "list": [1, null]}})
                        .try_into()
                        .unwrap();
            }
            ids.push(
                store
                    .create_account(&actor, org, new)
                    .await
                    .unwrap()
                    .value
                    .id,
            );
        }
        let mut loaded: Vec<_> = store
            .load_state()
            .await
            .unwrap()
            .accounts
            .into_iter()
            .filter(|a| a.organization_id == org)
            .collect();
        loaded.sort_by_key(|a| a.id);
        let mut expected = Vec::new();
        for id in ids {
            expected.push(store.get_account(org, id).await.unwrap());
        }
        expected.sort_by_key(|a| a.id);
        assert_eq!(loaded.len(), 2_050, "{backend}");
        assert_eq!(loaded, expected, "{backend}");

        let resources: Vec<keycard_core::model::NewResource> = (0..30)
            .map(|n| keycard_core::model::NewResource {
                resource_type: if n % 2 == 0 { "doc" } else { "record" }
                    .try_into()
                    .unwrap(),
                id: format!("r/{n}").try_into().unwrap(),
                owner: (n % 3 == 0).then(|| expected[n].id),
                attributes: serde_json::json!({"n": n}).try_into().unwrap(),
            })
            .collect();
        store
            .upsert_resources(&actor, org, resources)
            .await
            .unwrap();
        let mut loaded: Vec<_> = store
            .load_state()
            .await
            .unwrap()
            .resources
            .into_iter()
            .filter(|r| r.organization_id == org)
            .collect();
        loaded.sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
        let listed = store
            .list_resources(org, None, &keycard_core::page::PageRequest::first(500))
            .await
            .unwrap()
            .items;
        assert_eq!(loaded.len(), 30, "{backend}");
        assert_eq!(loaded, listed, "{backend}");
    }
}

/// A writer reads its own changes from memory (`RecentChanges`), other nodes from the log: both
/// must see the same changes, and the writer must fall back to the log across another's write.
#[tokio::test]
async fn a_writer_sees_its_changes_as_the_log_holds_them() {
    for (backend, url, _dir) in databases().await {
        let writer = keycard_store::open(&url).await.unwrap();
        let other = keycard_store::open(&url).await.unwrap();
        let actor = Actor::system();
        let start = writer.latest_revision().await.unwrap();
        let org = created_organization(writer.as_ref(), &format!("own-{backend}")).await;
        let roles = created_roles(writer.as_ref(), org, 2).await;
        let mut new = account("ann", vec![roles[0]]);
        new.email = Some("Ann@Example.com".to_owned().try_into().unwrap());
        new.first_name = "Ann \"the first\" é".try_into().unwrap();
        let ann = writer
            .create_account(&actor, org, new)
            .await
            .unwrap()
            .value
            .id;
        // Another node's write in between: the writer's memory has a gap there.
        other
            .add_link(&actor, org, Link::RoleOf(Principal::Account(ann), roles[1]))
            .await
            .unwrap();
        writer
            .remove_link(&actor, org, Link::RoleOf(Principal::Account(ann), roles[0]))
            .await
            .unwrap();
        let end = writer.latest_revision().await.unwrap();
        let mut pages = (Vec::new(), Vec::new());
        for (store, read) in [(&writer, &mut pages.0), (&other, &mut pages.1)] {
            let mut at = start;
            while at < end {
                let page = store.changes_after(at, 2).await.unwrap();
                at = page.last().unwrap().revision;
                read.extend(page);
            }
        }
        assert!(pages.0.len() > 5, "{backend}: {} changes", pages.0.len());
        assert_eq!(pages.0, pages.1, "{backend}");
        let revisions: Vec<i64> = pages.0.iter().map(|c| c.revision.0).collect();
        assert!(
            revisions
                .windows(2)
                .all(|w| w[1] == w[0] || w[1] == w[0] + 1),
            "{backend}: {revisions:?}"
        );
    }
}

async fn created_organization(store: &dyn Store, name: &str) -> keycard_core::ids::OrganizationId {
    store
        .create_organization(
            &Actor::system(),
            standard_organization(name.to_owned().try_into().unwrap()).unwrap(),
        )
        .await
        .unwrap()
        .value
        .id
}

async fn created_roles(
    store: &dyn Store,
    org: keycard_core::ids::OrganizationId,
    n: usize,
) -> Vec<RoleId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            store
                .create_role(&Actor::system(), org, role(&format!("r{i}")))
                .await
                .unwrap()
                .value
                .id,
        );
    }
    ids
}

fn api_key(id: keycard_core::ids::ApiKeyId, name: &str) -> keycard_core::model::NewApiKey {
    keycard_core::model::NewApiKey {
        id,
        name: name.to_owned(),
        secret_hash: "digest".to_owned(),
    }
}

/// Operations of several steps commit whole or not at all: when the last step fails (a key id
/// already taken), nothing of the earlier steps (an account made, keys revoked) remains, and no
/// revision was used.
#[tokio::test]
async fn multi_step_writes_are_atomic() {
    for (backend, store, _dir) in stores().await {
        let org = created_organization(store.as_ref(), "atomic").await;
        let actor = Actor::system();
        let first = store
            .create_account_with_key(
                &actor,
                org,
                account("svc-one", vec![]),
                api_key(keycard_core::ids::ApiKeyId::new(), "client secret"),
            )
            .await
            .unwrap();
        let (holder, taken) = first.value;
        assert_eq!(taken.account_id, Some(holder.id), "{backend}");
        let before = store.latest_revision().await.unwrap();

        // A service account whose key cannot be stored is not created.
        let err = store
            .create_account_with_key(
                &actor,
                org,
                account("svc-two", vec![]),
                api_key(taken.id, "client secret"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{backend}: {err:?}");
        let name = "svc-two".to_owned().try_into().unwrap();
        assert_eq!(
            store.find_account(org, &name).await.unwrap(),
            None,
            "{backend}: the account outlived its failed key"
        );

        // A rotation whose new key cannot be stored revokes nothing.
        let err = store
            .replace_api_keys(&actor, org, holder.id, api_key(taken.id, "again"), true)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{backend}: {err:?}");
        let keys = store.list_api_keys(org, Some(holder.id)).await.unwrap();
        assert_eq!(keys.len(), 1, "{backend}");
        assert_eq!(
            keys[0].revoked_at, None,
            "{backend}: a failed rotation revoked a key"
        );
        assert_eq!(store.latest_revision().await.unwrap(), before, "{backend}");

        // The same rotation with a fresh key revokes the old one and adds the new, in one revision.
        let rotated = store
            .replace_api_keys(
                &actor,
                org,
                holder.id,
                api_key(keycard_core::ids::ApiKeyId::new(), "rotated"),
                true,
            )
            .await
            .unwrap();
        let (fresh, revoked) = rotated.value;
        assert_eq!(rotated.revision, Revision(before.0 + 1), "{backend}");
        assert_eq!(revoked.len(), 1, "{backend}");
        assert_eq!(revoked[0].id, taken.id, "{backend}");
        let keys = store.list_api_keys(org, Some(holder.id)).await.unwrap();
        let live: Vec<_> = keys.iter().filter(|key| key.revoked_at.is_none()).collect();
        assert_eq!(live.len(), 1, "{backend}");
        assert_eq!(live[0].id, fresh.id, "{backend}");
    }
}

/// A key of no account is a decision key: listed, found and revoked as the organization's, never
/// among an account's keys, and recorded in the change log without an account.
#[tokio::test]
async fn decision_keys_belong_to_the_organization() {
    for (backend, store, _dir) in stores().await {
        let org = created_organization(store.as_ref(), "pep").await;
        let actor = Actor::system();
        let holder = store
            .create_account(&actor, org, account("holder", vec![]))
            .await
            .unwrap()
            .value;
        let id = keycard_core::ids::ApiKeyId::new();
        let created = store
            .create_api_key(&actor, org, None, id, "gateway".into(), "digest".into())
            .await
            .unwrap();
        assert_eq!(created.value.account_id, None, "{backend}");
        let found = store.find_api_key(id).await.unwrap().unwrap();
        assert_eq!(found.record.account_id, None, "{backend}");
        assert_eq!(found.secret_hash, "digest", "{backend}");
        let listed = store.list_api_keys(org, None).await.unwrap();
        assert_eq!(listed, vec![created.value.clone()], "{backend}");
        assert!(
            store
                .list_api_keys(org, Some(holder.id))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        let err = store
            .revoke_api_key(&actor, org, Some(holder.id), id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{backend}: {err:?}");
        let revoked = store.revoke_api_key(&actor, org, None, id).await.unwrap();
        assert!(revoked.value.revoked_at.is_some(), "{backend}");
        let changes = store
            .changes_after(Revision(created.revision.0 - 1), 10)
            .await
            .unwrap();
        let recorded: keycard_core::model::ApiKey = changes[0].after_as().unwrap();
        assert_eq!(recorded.account_id, None, "{backend}");
        assert_eq!(
            changes[0].record_version,
            keycard_core::record::RECORD_VERSION,
            "{backend}"
        );
    }
}

/// Writers that arrive together share a commit on SQLite (group commit): a write that fails in
/// the middle of a group (here, a duplicate name every third write) is undone alone, its
/// revision with it, and every other write of the group commits, gapless and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_leaves_the_writes_beside_it_whole() {
    for (backend, store, _dir) in stores().await {
        let actor = Actor::system();
        let org = created_organization(store.as_ref(), "beside").await;
        store.create_role(&actor, org, role("taken")).await.unwrap();
        let start = store.latest_revision().await.unwrap();
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let store = store.clone();
            let actor = actor.clone();
            tasks.push(tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for index in 0..6 {
                    let name = if (writer + index) % 3 == 0 {
                        "taken".to_owned()
                    } else {
                        format!("b{writer}-{index}")
                    };
                    outcomes.push((
                        name.clone(),
                        store.create_role(&actor, org, role(&name)).await,
                    ));
                }
                outcomes
            }));
        }
        let mut committed: Vec<Revision> = Vec::new();
        let mut refused = 0;
        for task in tasks {
            for (name, outcome) in task.await.unwrap() {
                match outcome {
                    Ok(written) => {
                        assert_ne!(name, "taken", "{backend}");
                        let stored = store.get_role(org, written.value.id).await.unwrap();
                        assert_eq!(stored.name.as_str(), name, "{backend}");
                        committed.push(written.revision);
                    }
                    Err(err) => {
                        assert!(matches!(err, Error::Conflict { .. }), "{backend}: {err:?}");
                        assert_eq!(name, "taken", "{backend}");
                        refused += 1;
                    }
                }
            }
        }
        assert_eq!(committed.len() + refused, 96, "{backend}");
        assert_eq!(refused, 32, "{backend}");
        committed.sort();
        let expected: Vec<Revision> = (1..=committed.len() as i64)
            .map(|n| Revision(start.0 + n))
            .collect();
        assert_eq!(committed, expected, "{backend}: unique and gapless");
        let logged: Vec<Revision> = store
            .changes_after(start, 1000)
            .await
            .unwrap()
            .iter()
            .map(|change| change.revision)
            .collect();
        assert_eq!(logged, expected, "{backend}: the log holds exactly those");
    }
}

/// A writer whose caller goes away mid-write (a client that disconnects, a request that times out)
/// does not take the writes it shares a commit with down: every write that was acknowledged is
/// stored, and the log stays gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_writes_leave_the_others_committed() {
    for (backend, store, _dir) in stores().await {
        let actor = Actor::system();
        let org = created_organization(store.as_ref(), "abandoned").await;
        let start = store.latest_revision().await.unwrap();
        let mut kept = Vec::new();
        let mut abandoned = Vec::new();
        for writer in 0..16 {
            let store = store.clone();
            let actor = actor.clone();
            let (started, first_written) = tokio::sync::oneshot::channel();
            let mut started = Some(started);
            let task = tokio::spawn(async move {
                let mut written = Vec::new();
                for index in 0..20 {
                    let name = format!("a{writer}-{index}");
                    let role = store.create_role(&actor, org, role(&name)).await.unwrap();
                    written.push((name, role.revision));
                    if let Some(started) = started.take() {
                        let _ = started.send(());
                    }
                }
                written
            });
            if writer % 4 == 0 {
                abandoned.push((task, first_written));
            } else {
                kept.push(task);
            }
        }
        // Abandon a quarter of the writers once each is under way, in the middle of its writes.
        let mut abandoned_tasks = Vec::new();
        for (task, first_written) in abandoned {
            let _ = first_written.await;
            task.abort();
            abandoned_tasks.push(task);
        }
        let abandoned = abandoned_tasks;
        let mut acknowledged = Vec::new();
        for task in kept {
            acknowledged.extend(task.await.unwrap());
        }
        for task in abandoned {
            if let Ok(written) = task.await {
                acknowledged.extend(written);
            }
        }
        assert!(
            acknowledged.len() >= 60,
            "{backend}: {}",
            acknowledged.len()
        );
        let roles = keycard_core::page::read_all(|page| {
            let store = store.clone();
            async move { store.list_roles(org, &page).await }
        })
        .await
        .unwrap();
        for (name, revision) in &acknowledged {
            assert!(
                roles.iter().any(|role| role.name.as_str() == name),
                "{backend}: `{name}` was acknowledged at {revision} but is not stored"
            );
        }
        let latest = store.latest_revision().await.unwrap();
        // Read as a follower reads: a page may end early (the recent-changes cache stops at a
        // revision it does not hold, such as one whose writer was abandoned while its commit was
        // under way), and the next read goes on from there.
        let mut logged: Vec<Revision> = Vec::new();
        let mut position = start;
        loop {
            let page = store.changes_after(position, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            position = last.revision;
            logged.extend(page.iter().map(|change| change.revision));
        }
        let expected: Vec<Revision> = (start.0 + 1..=latest.0).map(Revision).collect();
        assert_eq!(logged, expected, "{backend}: gapless");
    }
}
