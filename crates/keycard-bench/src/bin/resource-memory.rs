//! What registered resources cost the snapshot: builds one organization with N resources (a
//! million by default: 10 types, owners among 10,000 accounts, a small attributes object each) and
//! counts, with the allocator, the bytes the snapshot holds for them. The reference is the same
//! resources in a plain `std` `HashMap` keyed by (type, id): what an engine without persistent
//! maps would hold. Also times one change to one resource applied to a copy of the snapshot, as a
//! write does.
//!
//! `resource-memory [RESOURCES]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::collections::HashMap;
use std::time::Instant;

use chrono::Utc;
use keycard_bench::user_name;
use keycard_core::change::{Change, EntityKind, Operation, Revision};
use keycard_core::ids::{AccountId, OrganizationId};
use keycard_core::model::Resource;
use keycard_core::snapshot::Snapshot;
use keycard_core::store::FullState;

#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

const ACCOUNTS: usize = 10_000;
const TYPES: usize = 10;

/// One organization with `count` resources, as a full read hands it to the snapshot.
fn state(org: OrganizationId, accounts: &[AccountId], count: usize) -> FullState {
    let mut state = FullState {
        revision: Revision(1),
        ..FullState::default()
    };
    state
        .organizations
        .push(keycard_bench::organization(org, "memory", vec![]));
    for (index, id) in accounts.iter().enumerate() {
        state
            .accounts
            .push(keycard_bench::account(org, *id, user_name(index), vec![]));
    }
    state.resources = (0..count).map(|n| resource(org, accounts, n)).collect();
    state
}

fn resource(org: OrganizationId, accounts: &[AccountId], n: usize) -> Resource {
    let now = Utc::now();
    Resource {
        organization_id: org,
        resource_type: format!("type{}", n % TYPES).try_into().unwrap(),
        id: format!("resource-{n:08}").try_into().unwrap(),
        owner: Some(accounts[n % ACCOUNTS]),
        attributes: serde_json::json!({"n": n, "department": format!("d{}", n % 50)})
            .try_into()
            .unwrap(),
        created_at: now,
        updated_at: now,
    }
}

/// Bytes still allocated after `build` returns what it builds (kept alive by the caller).
fn measured<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATOR.allocated();
    let built = build();
    (built, ALLOCATOR.allocated().saturating_sub(before))
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("RESOURCES is a number"))
        .unwrap_or(1_000_000);
    let now = Utc::now();
    let org = OrganizationId::new();
    let accounts: Vec<AccountId> = (0..ACCOUNTS).map(|_| AccountId::new()).collect();

    // The reference: the same resources in a std map.
    let (reference, reference_bytes) = measured(|| {
        (0..count)
            .map(|n| {
                let r = resource(org, &accounts, n);
                ((r.resource_type.to_string(), r.id.to_string()), r)
            })
            .collect::<HashMap<(String, String), Resource>>()
    });
    drop(reference);

    // Keycard: a snapshot with the resources, less one without them.
    let (without, without_bytes) =
        measured(|| Snapshot::from_state(state(org, &accounts, 0)).unwrap());
    drop(without);
    let built = Instant::now();
    let (snapshot, with_bytes) =
        measured(|| Snapshot::from_state(state(org, &accounts, count)).unwrap());
    let build_time = built.elapsed();
    let snapshot_bytes = with_bytes.saturating_sub(without_bytes);
    let org_snapshot = snapshot.organization(org).unwrap();
    assert_eq!(org_snapshot.resource_count(), count);

    // One write: a resource's attributes change, applied to a copy as the server does.
    let mut changed = resource(org, &accounts, count / 2);
    changed.attributes = serde_json::json!({"n": 0}).try_into().unwrap();
    let change = Change {
        revision: Revision(2),
        seq: 0,
        organization_id: org,
        entity: EntityKind::Resource,
        entity_id: changed.key(),
        operation: Operation::Update,
        actor: "bench".into(),
        at: now,
        before: None,
        after: Some(keycard_core::record::encode(&changed).unwrap()),
        record_version: keycard_core::record::RECORD_VERSION,
    };
    let applied = Instant::now();
    let mut next = snapshot.clone();
    next.apply(std::slice::from_ref(&change)).unwrap();
    let apply_time = applied.elapsed();
    assert_eq!(
        next.organization(org)
            .unwrap()
            .resource(changed.resource_type.as_str(), changed.id.as_str())
            .unwrap()
            .attributes(),
        *changed.attributes.as_map()
    );

    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{count} resources: the snapshot holds {:.0} MiB for them ({:.0} bytes each); built (with the state) in {build_time:?}",
        mib(snapshot_bytes),
        snapshot_bytes as f64 / count as f64
    );
    println!(
        "reference std HashMap of the same resources: {:.0} MiB ({:.0} bytes each); snapshot / reference = {:.2}",
        mib(reference_bytes),
        reference_bytes as f64 / count as f64,
        snapshot_bytes as f64 / reference_bytes as f64
    );
    println!("one resource change applied to a copy of the snapshot: {apply_time:?}");
}
