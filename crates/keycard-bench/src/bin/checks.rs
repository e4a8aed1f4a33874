//! Keycard's decision engine alone on the peer workload: checks per second on one thread, every
//! query checked against the workload's answer, beside a reference measured in the same run (the
//! same decisions from `std` hash maps with the same hasher, which a snapshot cannot use: they are
//! not persistent). Quicker to build than the criterion comparison with casbin and cedar.
//!
//! `checks [passes]`

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, bail};
use keycard_bench::{
    QueryText, Shape, Workload, action_name, keycard_check, pass, type_name, user_name,
};
use keycard_core::snapshot::Snapshot;

const SEED: u64 = 20_261_122;

type FoldMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
    let reference = Reference::new(&workload);
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

/// The workload's decisions from plain hash maps: users to role numbers, type then action to the
/// roles granted it.
struct Reference {
    roles_of: FoldMap<String, Vec<usize>>,
    granted: FoldMap<String, FoldMap<String, Vec<bool>>>,
}

impl Reference {
    fn new(workload: &Workload) -> Self {
        let roles_of = workload
            .user_roles
            .iter()
            .enumerate()
            .map(|(user, roles)| (user_name(user), roles.clone()))
            .collect();
        let mut granted: FoldMap<String, FoldMap<String, Vec<bool>>> = FoldMap::default();
        for (role, grants) in workload.role_grants.iter().enumerate() {
            for (action, resource_type) in grants {
                granted
                    .entry(type_name(*resource_type))
                    .or_default()
                    .entry(action_name(*action))
                    .or_insert_with(|| vec![false; workload.shape.roles])[role] = true;
            }
        }
        Self { roles_of, granted }
    }

    #[inline]
    fn check(&self, text: &QueryText) -> bool {
        let Some(roles) = self.roles_of.get(text.subject()) else {
            return false;
        };
        self.granted
            .get(text.resource_type())
            .and_then(|by_action| by_action.get(text.action()))
            .is_some_and(|bits| roles.iter().any(|role| bits[*role]))
    }
}
