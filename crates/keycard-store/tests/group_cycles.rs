//! Property: whatever memberships are requested, in whatever order, the stored group graph never
//! has a cycle, and every refused link is one that would have closed a cycle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::collections::HashMap;

use keycard_core::Error;
use keycard_core::builtin::standard_organization;
use keycard_core::ids::GroupId;
use keycard_core::model::{Actor, Link, NewGroup};
use keycard_core::page::PageRequest;
use keycard_core::store::{GroupStore, OrganizationStore};
use keycard_store::SqlStore;
use proptest::prelude::*;

fn reaches(parents: &HashMap<GroupId, Vec<GroupId>>, from: GroupId, to: GroupId) -> bool {
    let mut stack = vec![from];
    let mut seen = std::collections::HashSet::new();
    while let Some(group) = stack.pop() {
        if group == to {
            return true;
        }
        if seen.insert(group) {
            stack.extend(parents.get(&group).into_iter().flatten().copied());
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn group_cycles_are_impossible(ops in proptest::collection::vec((0usize..5, 0usize..5, proptest::bool::weighted(0.8)), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("k.db").display())).await.unwrap();
            let actor = Actor::system();
            let org = store.create_organization(&actor, standard_organization("o".to_owned().try_into().unwrap()).unwrap()).await.unwrap().value.id;
            let mut groups = Vec::new();
            for index in 0..5 {
                let new = NewGroup { name: format!("g{index}").try_into().unwrap(), description: Default::default(), provenance: "Local".to_owned().try_into().unwrap(), inactive: false, roles: vec![], parents: vec![] };
                groups.push(store.create_group(&actor, org, new).await.unwrap().value.id);
            }
            for (child, parent, add) in ops {
                let (child, parent) = (groups[child], groups[parent]);
                let before: HashMap<GroupId, Vec<GroupId>> = store.list_groups(org, &PageRequest::first(100)).await.unwrap().items.into_iter().map(|g| (g.id, g.parents)).collect();
                let link = Link::GroupInGroup { child, parent };
                if add {
                    match store.add_link(&actor, org, link).await {
                        Ok(_) => assert!(!reaches(&before, parent, child), "a cycle was let in"),
                        Err(Error::Cycle { .. }) => assert!(child == parent || reaches(&before, parent, child), "a harmless link was refused"),
                        Err(other) => panic!("{other}"),
                    }
                } else {
                    let _ = store.remove_link(&actor, org, link).await;
                }
            }
            let after: HashMap<GroupId, Vec<GroupId>> = store.list_groups(org, &PageRequest::first(100)).await.unwrap().items.into_iter().map(|g| (g.id, g.parents)).collect();
            for group in &groups {
                for parent in after.get(group).into_iter().flatten() {
                    assert!(!reaches(&after, *parent, *group), "stored graph has a cycle through {group}");
                }
            }
        });
    }
}
