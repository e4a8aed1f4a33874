//! Keycard's decision engine alone on the peer workload: checks per second, one thread, every
//! query checked against the workload's answer. Quicker to build than the criterion comparison.
//!
//! `checks [passes]`

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context as _, bail};
use keycard_bench::{Shape, Workload, action_name, resource_id, type_name, user_name};
use keycard_core::decision;
use keycard_core::snapshot::Snapshot;

const SEED: u64 = 20_261_122;

fn main() -> anyhow::Result<()> {
    let passes: usize = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(20);
    let workload = Workload::generate(Shape::PEER, SEED);
    let (state, org_id) = workload.keycard_state();
    let started = Instant::now();
    let snapshot = Snapshot::from_state(state)?;
    println!("snapshot built in {:?}", started.elapsed());
    let org = snapshot.organization(org_id).context("organization")?;
    let shape = workload.shape;
    let users: Vec<String> = (0..shape.users).map(user_name).collect();
    let actions: Vec<String> = (0..shape.actions).map(action_name).collect();
    let types: Vec<String> = (0..shape.types).map(type_name).collect();
    let resources: Vec<Vec<String>> = (0..shape.types)
        .map(|t| {
            (0..shape.resources_per_type)
                .map(|r| resource_id(t, r))
                .collect()
        })
        .collect();
    for query in &workload.queries {
        let got = decision::check(
            org,
            &users[query.user],
            &actions[query.action],
            &types[query.resource_type],
            &resources[query.resource_type][query.resource],
        );
        if got != query.expected {
            bail!("wrong decision on {query:?}");
        }
    }
    let mut best = f64::MAX;
    for _ in 0..passes {
        let started = Instant::now();
        let mut allowed = 0usize;
        for query in &workload.queries {
            allowed += usize::from(decision::check(
                black_box(org),
                &users[query.user],
                &actions[query.action],
                &types[query.resource_type],
                &resources[query.resource_type][query.resource],
            ));
        }
        black_box(allowed);
        best = best.min(started.elapsed().as_secs_f64());
    }
    let per_second = workload.queries.len() as f64 / best;
    println!(
        "{:.2} M checks/s (best of {passes} passes of {} queries), {:.0} ns per check",
        per_second / 1e6,
        workload.queries.len(),
        1e9 / per_second
    );
    Ok(())
}
