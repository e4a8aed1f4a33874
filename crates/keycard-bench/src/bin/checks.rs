//! Keycard's decision engine alone on the peer workload: checks per second on one thread, every
//! query checked against the workload's answer, beside a reference measured in the same run (the
//! same decisions from `std` hash maps with the same hasher, which a snapshot cannot use: they are
//! not persistent). Quicker to build than the criterion comparison with casbin and cedar.
//!
//! `checks [passes]`

use std::time::Instant;

use anyhow::{Context as _, bail};
use keycard_bench::{ReferenceEngine, Shape, Workload, keycard_check, pass, user_name};
use keycard_core::snapshot::Snapshot;

const SEED: u64 = 20_261_122;

fn main() -> anyhow::Result<()> {
    let passes: usize = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(200);
    let workload = Workload::generate(Shape::PEER, SEED);
    let (state, org_id) = workload.keycard_state();
    let started = Instant::now();
    let snapshot = Snapshot::from_state(state)?;
    println!("snapshot built in {:?}", started.elapsed());
    let org = snapshot.organization(org_id).context("organization")?;
    let queries = workload.query_texts();
    for (query, text) in workload.queries.iter().zip(&queries) {
        if keycard_check(org, text) != query.expected {
            bail!("wrong decision on {query:?}");
        }
    }
    let reference = reference(&workload);
    for (query, text) in workload.queries.iter().zip(&queries) {
        if reference.check(text) != query.expected {
            bail!("reference: wrong decision on {query:?}");
        }
    }
    // Blocks of passes, alternating, best pass of each: each engine runs with its own data warm
    // in the caches, and both see the same machine over the run.
    let (mut keycard_best, mut reference_best) = (f64::MAX, f64::MAX);
    for _ in 0..10 {
        for _ in 0..passes.div_ceil(10) {
            keycard_best = keycard_best.min(pass(&queries, |text| keycard_check(org, text)));
        }
        for _ in 0..passes.div_ceil(10) {
            reference_best = reference_best.min(pass(&queries, |text| reference.check(text)));
        }
    }
    let keycard = queries.len() as f64 / keycard_best;
    let reference = queries.len() as f64 / reference_best;
    println!(
        "keycard: {:.2} M checks/s ({:.0} ns per check); reference (std HashMap): {:.2} M checks/s; \
         keycard / reference = {:.2} (best of {passes} passes of {} queries, one thread)",
        keycard / 1e6,
        1e9 / keycard,
        reference / 1e6,
        keycard / reference,
        queries.len(),
    );
    Ok(())
}

/// The workload's decisions from the reference engine: users to their role numbers, and every
/// role's (action, type) grants.
fn reference(workload: &Workload) -> ReferenceEngine {
    ReferenceEngine::new(
        workload.user_roles.iter().enumerate().map(|(user, roles)| {
            (
                user_name(user),
                roles.iter().map(|role| *role as u32).collect(),
            )
        }),
        workload
            .role_grants
            .iter()
            .enumerate()
            .flat_map(|(role, grants)| {
                grants
                    .iter()
                    .map(move |(action, resource_type)| (*resource_type, *action, role as u32))
            }),
        workload.shape.roles,
    )
}
