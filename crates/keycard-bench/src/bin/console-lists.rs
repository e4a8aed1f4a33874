//! What a console list costs over 100,000 accounts: the first page, a page in the middle, and a
//! search, each chosen by `keycard_core::page::select_page` from the snapshot as the console does
//! it. The reference, timed in the same run, is reading every username once into a vector (the
//! least any server-side list over the snapshot must do) and a full sort of them (what a naive
//! list does).
//!
//! `console-lists [ACCOUNTS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::time::{Duration, Instant};

use keycard_bench::user_name;
use keycard_core::change::Revision;
use keycard_core::ids::{AccountId, OrganizationId};
use keycard_core::page::select_page;
use keycard_core::snapshot::Snapshot;
use keycard_core::store::FullState;

/// The best of `runs` timings of `work`.
fn best<T>(runs: usize, mut work: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(work());
            started.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ACCOUNTS is a number"))
        .unwrap_or(100_000);
    let org = OrganizationId::new();
    let mut state = FullState {
        revision: Revision(1),
        ..FullState::default()
    };
    state
        .organizations
        .push(keycard_bench::organization(org, "lists", vec![]));
    for index in 0..count {
        state.accounts.push(keycard_bench::account(
            org,
            AccountId::new(),
            user_name(index),
            vec![],
        ));
    }
    let snapshot = Snapshot::from_state(state).unwrap();
    let org = snapshot.organization(org).unwrap();
    let keyed = || {
        org.accounts()
            .map(|account| (account.username.as_str(), account))
    };

    let first = best(20, || select_page(keyed(), None, 50));
    let middle_key = user_name(count / 2);
    let middle = best(20, || select_page(keyed(), Some(&middle_key), 50));
    let wanted = keycard_core::page::Search::new("999");
    let search = best(20, || {
        select_page(keyed().filter(|(name, _)| wanted.finds(name)), None, 50)
    });
    let read = best(20, || {
        org.accounts()
            .map(|account| account.username.as_str())
            .collect::<Vec<_>>()
    });
    let sorted = best(20, || {
        let mut keys: Vec<&str> = org
            .accounts()
            .map(|account| account.username.as_str())
            .collect();
        keys.sort_unstable();
        keys
    });
    let ratio = |d: Duration| d.as_secs_f64() / read.as_secs_f64();
    println!("{count} accounts, best of 20 runs each:");
    println!(
        "  reference, every username read once: {read:?}; and fully sorted: {sorted:?} ({:.2}x)",
        ratio(sorted)
    );
    println!(
        "  first page of 50: {first:?} ({:.2}x the reference)",
        ratio(first)
    );
    println!("  a page in the middle: {middle:?} ({:.2}x)", ratio(middle));
    println!(
        "  a search (`999`), first page: {search:?} ({:.2}x)",
        ratio(search)
    );
}
