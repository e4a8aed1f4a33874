//! Property and unit tests of the decision rules over generated directories.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::collections::{BTreeSet, HashSet};

use chrono::Utc;
use keycard_core::change::Revision;
use keycard_core::decision::{
    Query, Reason, actions_for, check, check_with, decide, effective_roles, is_admin,
    resources_for, subjects_for,
};
use keycard_core::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    Account, Group, MethodRef, Organization, Policy, PolicyAction, ResourceRef, Role,
};
use keycard_core::names::{ActionName, GroupName, PolicyName, Provenance, RoleName};
use keycard_core::snapshot::Snapshot;
use keycard_core::store::FullState;
use proptest::prelude::*;

/// A generated directory: groups form a DAG (a group's parents have lower indexes).
#[derive(Clone, Debug)]
struct Directory {
    roles: Vec<bool>,                            // inactive flag per role
    groups: Vec<(bool, Vec<usize>, Vec<usize>)>, // (inactive, parent indexes, role indexes)
    account: (bool, Vec<usize>, Vec<usize>),     // (inactive, group indexes, role indexes)
    policy_roles: Vec<usize>,                    // roles the `edit` action of one policy binds
    admin: Option<usize>,                        // the role that is the system `Admin`, if any
}

fn directory() -> impl Strategy<Value = Directory> {
    (1usize..6, 1usize..8).prop_flat_map(|(role_count, group_count)| {
        let roles = proptest::collection::vec(proptest::bool::weighted(0.2), role_count);
        let groups = (0..group_count)
            .map(|index| {
                (
                    proptest::bool::weighted(0.2),
                    proptest::collection::vec(0..index.max(1), 0..3)
                        .prop_map(move |parents| if index == 0 { Vec::new() } else { parents }),
                    proptest::collection::vec(0..role_count, 0..3),
                )
            })
            .collect::<Vec<_>>();
        let account = (
            proptest::bool::weighted(0.1),
            proptest::collection::vec(0..group_count, 0..3),
            proptest::collection::vec(0..role_count, 0..2),
        );
        let policy_roles = proptest::collection::vec(0..role_count, 0..3);
        let admin = proptest::option::weighted(0.3, 0..role_count);
        (roles, groups, account, policy_roles, admin).prop_map(
            |(roles, groups, account, policy_roles, admin)| Directory {
                roles,
                groups,
                account,
                policy_roles,
                admin,
            },
        )
    })
}

struct Built {
    snapshot: Snapshot,
    org: OrganizationId,
    account: AccountId,
    roles: Vec<RoleId>,
    groups: Vec<GroupId>,
}

fn name<T: TryFrom<String, Error = keycard_core::Error>>(value: String) -> T {
    T::try_from(value).unwrap()
}

fn build(dir: &Directory) -> Built {
    build_ordered(dir, false)
}

/// Builds the snapshot; `reversed` feeds groups and roles in reverse order, so that children come
/// before their parents and index maintenance must propagate.
fn build_ordered(dir: &Directory, reversed: bool) -> Built {
    build_with(dir, reversed, None)
}

/// [`build_ordered`], with the policy's `edit` grant under `condition` when one is given.
fn build_with(dir: &Directory, reversed: bool, condition: Option<&str>) -> Built {
    let now = Utc::now();
    let org = OrganizationId::new();
    let roles: Vec<RoleId> = dir.roles.iter().map(|_| RoleId::new()).collect();
    let groups: Vec<GroupId> = dir.groups.iter().map(|_| GroupId::new()).collect();
    let account = AccountId::new();
    let state = FullState {
        revision: Revision(1),
        organizations: vec![Organization {
            id: org,
            name: name("acme".into()),
            actions: Vec::new(),
            sso: Default::default(),
            created_at: now,
            updated_at: now,
        }],
        accounts: vec![Account {
            id: account,
            organization_id: org,
            username: name("alice".into()),
            email: Some(
                keycard_core::names::Email::try_from("Alice@Example.com".to_owned()).unwrap(),
            ),
            first_name: Default::default(),
            provenance: name("Local".into()),
            inactive: dir.account.0,
            service_account: false,
            has_password: false,
            roles: dir.account.2.iter().map(|i| roles[*i]).collect(),
            groups: dir.account.1.iter().map(|i| groups[*i]).collect(),
            attributes: Default::default(),
            created_at: now,
            updated_at: now,
        }],
        groups: dir
            .groups
            .iter()
            .enumerate()
            .map(|(index, (inactive, parents, role_indexes))| Group {
                id: groups[index],
                organization_id: org,
                name: name::<GroupName>(format!("g{index}")),
                description: Default::default(),
                provenance: name("Local".into()),
                inactive: *inactive,
                roles: role_indexes.iter().map(|i| roles[*i]).collect(),
                parents: parents.iter().map(|i| groups[*i]).collect(),
                created_at: now,
                updated_at: now,
            })
            .collect(),
        roles: dir
            .roles
            .iter()
            .enumerate()
            .map(|(index, inactive)| Role {
                id: roles[index],
                organization_id: org,
                name: name::<RoleName>(if dir.admin == Some(index) {
                    "Admin".into()
                } else {
                    format!("r{index}")
                }),
                description: Default::default(),
                provenance: name::<Provenance>("Custom".into()),
                system: dir.admin == Some(index),
                inactive: *inactive,
                methods: vec![MethodRef {
                    provenance: name("App".into()),
                    name: format!("m{index}"),
                }],
                views: vec![keycard_core::model::ViewRef {
                    provenance: name("App".into()),
                    path: format!("/v{index}"),
                }],
                created_at: now,
                updated_at: now,
            })
            .collect(),
        policies: vec![(
            org,
            Policy {
                id: PolicyId::new(),
                organization_id: org,
                name: name::<PolicyName>("p".into()),
                system: false,
                actions: vec![PolicyAction {
                    action: name::<ActionName>("edit".into()),
                    role_ids: dir.policy_roles.iter().map(|i| roles[*i]).collect(),
                    condition: condition.map(|source| source.to_owned().try_into().unwrap()),
                }],
                resources: vec![
                    ResourceRef {
                        resource_type: "doc".into(),
                        id: "*".into(),
                    },
                    ResourceRef {
                        resource_type: "doc".into(),
                        id: "special".into(),
                    },
                ],
                created_at: now,
                updated_at: now,
            },
        )],
        methods: (0..2)
            .map(|i| {
                (
                    org,
                    keycard_core::model::Method {
                        provenance: name("App".into()),
                        name: format!("m{i}"),
                        deprecated: false,
                        route: Some(keycard_core::model::Route {
                            verb: "GET".into(),
                            path: format!("/m{i}/{{id}}"),
                        }),
                    },
                )
            })
            .collect(),
        views: Vec::new(),
        resources: Vec::new(),
    };
    let mut state = state;
    if reversed {
        state.groups.reverse();
        state.roles.reverse();
        state.accounts.reverse();
    }
    Built {
        snapshot: Snapshot::from_state(state).unwrap(),
        org,
        account,
        roles,
        groups,
    }
}

/// The reference: roles reachable by a plain fixed point, written independently of the engine.
fn reference_roles(dir: &Directory) -> BTreeSet<usize> {
    let mut held = BTreeSet::new();
    if dir.account.0 {
        return held;
    }
    let mut reached: HashSet<usize> = HashSet::new();
    let mut frontier: Vec<usize> = dir.account.1.clone();
    while let Some(group) = frontier.pop() {
        let (inactive, parents, _) = &dir.groups[group];
        if *inactive || !reached.insert(group) {
            continue;
        }
        frontier.extend(parents.iter().copied());
    }
    for role in dir.account.2.iter().copied().chain(
        reached
            .iter()
            .flat_map(|g| dir.groups[*g].2.iter().copied()),
    ) {
        if !dir.roles[role] {
            held.insert(role);
        }
    }
    held
}

/// Every query shape the engines distinguish, over the generated directory's names.
fn queries() -> Vec<(&'static str, &'static str, &'static str, String)> {
    let mut queries = Vec::new();
    for subject in ["alice", "nobody", "ALICE@EXAMPLE.COM"] {
        for (action, resource_type, id) in [
            ("edit", "doc", "x".to_owned()),
            ("edit", "doc", "special".to_owned()),
            ("delete", "doc", "x".to_owned()),
            ("edit", "sheet", "x".to_owned()),
            ("call", "method", "App/m0".to_owned()),
            ("call", "method", "App/m1".to_owned()),
            ("view", "method", "App/m0".to_owned()),
            ("GET", "route", "/m0/42".to_owned()),
            ("get", "route", "/m1/{id}".to_owned()),
            ("POST", "route", "/m0/42".to_owned()),
            ("view", "view", "/v0".to_owned()),
        ] {
            queries.push((subject, action, resource_type, id));
        }
    }
    queries
}

proptest! {
    #[test]
    fn the_fast_check_agrees_with_the_explained_decision(dir in directory()) {
        for built in [build(&dir), build_ordered(&dir, true)] {
            let org = built.snapshot.organization(built.org).unwrap();
            let account = org.account(built.account).unwrap();
            prop_assert_eq!(
                is_admin(org, account),
                effective_roles(org, account)
                    .iter()
                    .any(|held| org.role(held.role).is_some_and(|role| role.is_admin()))
            );
            for (subject, action, resource_type, id) in queries() {
                let explained = decide(org, &Query { subject, action, resource_type, resource_id: &id, facts: Default::default() });
                prop_assert_eq!(
                    check(org, subject, action, resource_type, &id),
                    explained.allowed,
                    "{} {} {} {}: {:?}", subject, action, resource_type, id, explained.reasons
                );
            }
        }
    }

    #[test]
    fn a_true_condition_grants_what_the_grant_does_and_a_false_one_nothing(dir in directory()) {
        let outright = build(&dir);
        let mut without_grant = dir.clone();
        without_grant.policy_roles.clear();
        let none = build(&without_grant);
        for (condition, expected) in [("subject.id != '' && true", &outright), ("1 == 2", &none)] {
            let built = build_with(&dir, false, Some(condition));
            let org = built.snapshot.organization(built.org).unwrap();
            let reference = expected.snapshot.organization(expected.org).unwrap();
            for (subject, action, resource_type, id) in queries() {
                let facts = Default::default();
                let conditional = check_with(org, subject, action, resource_type, &id, &facts);
                prop_assert_eq!(
                    conditional,
                    check(reference, subject, action, resource_type, &id),
                    "{} {} {} {} under `{}`", subject, action, resource_type, id, condition
                );
                let explained = decide(org, &Query { subject, action, resource_type, resource_id: &id, facts });
                prop_assert_eq!(conditional, explained.allowed, "{:?}", explained.reasons);
            }
        }
    }

    #[test]
    fn lookups_agree_with_check(dir in directory()) {
        let facts = Default::default();
        let checked = |org: &keycard_core::snapshot::OrgSnapshot, action: &str, resource_type: &str, id: &str| {
            check_with(org, "alice", action, resource_type, id, &facts)
        };
        // Outright grants, and the same grants under a condition that holds for alice.
        for built in [build(&dir), build_with(&dir, false, Some("subject.username == 'alice'"))] {
            let org = built.snapshot.organization(built.org).unwrap();
            for action in ["edit", "delete", "call", "view", "GET"] {
                for resource_type in ["doc", "sheet", "method", "view", "route"] {
                    let listed = resources_for(org, "alice", action, resource_type, &facts);
                    let everything = listed.iter().any(|id| id == "*");
                    for probe in ["x", "special", "*", "App/m0", "App/m1", "/v0", "/v1", "/m0/{id}", "/m1/{id}"] {
                        let allowed = checked(org, action, resource_type, probe);
                        let covered = listed.iter().any(|id| id == probe) || everything;
                        prop_assert_eq!(allowed, covered, "{} {} {}: {:?}", action, resource_type, probe, listed);
                    }
                    for id in ["x", "special", "App/m0", "/v0", "/m0/{id}"] {
                        let subjects = subjects_for(org, action, resource_type, id, &facts);
                        prop_assert_eq!(subjects.contains(&built.account), checked(org, action, resource_type, id));
                    }
                }
            }
            for resource_type in ["doc", "method", "view", "route"] {
                let actions = actions_for(org, "alice", resource_type, "special", &facts);
                for action in ["edit", "delete", "read", "call", "view", "GET"] {
                    if actions.iter().any(|a| a == action) {
                        prop_assert!(checked(org, action, resource_type, "special"));
                    }
                }
            }
        }
    }

    #[test]
    fn effective_roles_match_the_reference(dir in directory()) {
        let built = build(&dir);
        let org = built.snapshot.organization(built.org).unwrap();
        let account = org.account(built.account).unwrap();
        let got: BTreeSet<usize> = effective_roles(org, account)
            .iter()
            .map(|held| built.roles.iter().position(|id| *id == held.role).unwrap())
            .collect();
        prop_assert_eq!(got, reference_roles(&dir));
    }

    #[test]
    fn every_reported_path_is_real(dir in directory()) {
        let built = build(&dir);
        let org = built.snapshot.organization(built.org).unwrap();
        let account = org.account(built.account).unwrap();
        for held in effective_roles(org, account) {
            if held.via.is_empty() {
                prop_assert!(account.roles.contains(&held.role));
                continue;
            }
            prop_assert!(account.groups.contains(&held.via[0]));
            for pair in held.via.windows(2) {
                prop_assert!(org.group(pair[0]).unwrap().parents.contains(&pair[1]));
            }
            let last = org.group(*held.via.last().unwrap()).unwrap();
            prop_assert!(last.roles.contains(&held.role));
            prop_assert!(held.via.iter().all(|g| !org.group(*g).unwrap().inactive));
        }
    }

    #[test]
    fn removing_a_grant_never_widens_access(dir in directory(), drop_group in any::<prop::sample::Index>()) {
        let before = build(&dir);
        let mut narrowed = dir.clone();
        if !narrowed.account.1.is_empty() {
            let index = drop_group.index(narrowed.account.1.len());
            narrowed.account.1.remove(index);
        } else if !narrowed.policy_roles.is_empty() {
            narrowed.policy_roles.pop();
        }
        let after = build(&narrowed);
        for action in ["edit", "call"] {
            for (resource_type, id) in [("doc", "x".to_owned()), ("method", "App/m0".to_owned())] {
                let query = |b: &Built| {
                    let org = b.snapshot.organization(b.org).unwrap();
                    decide(org, &Query { subject: "alice", action, resource_type, resource_id: &id, facts: Default::default() }).allowed
                };
                prop_assert!(!query(&after) || query(&before), "narrowing widened {action} on {resource_type}");
            }
        }
    }
}

#[test]
fn unknown_and_inactive_subjects_are_denied() {
    let dir = Directory {
        roles: vec![false],
        groups: vec![(false, vec![], vec![0])],
        account: (true, vec![0], vec![0]),
        policy_roles: vec![0],
        admin: None,
    };
    let built = build(&dir);
    let org = built.snapshot.organization(built.org).unwrap();
    let ask = |subject: &str| {
        decide(
            org,
            &Query {
                subject,
                action: "edit",
                resource_type: "doc",
                resource_id: "1",
                facts: Default::default(),
            },
        )
    };
    assert_eq!(ask("nobody").reasons, vec![Reason::UnknownSubject]);
    assert_eq!(ask("alice").reasons, vec![Reason::InactiveSubject]);
    assert!(!is_admin(org, org.account(built.account).unwrap()));
}

#[test]
fn method_and_policy_grants_explain_themselves() {
    let dir = Directory {
        roles: vec![false],
        groups: vec![(false, vec![], vec![0])],
        account: (false, vec![0], vec![]),
        policy_roles: vec![0],
        admin: None,
    };
    let built = build(&dir);
    let org = built.snapshot.organization(built.org).unwrap();
    let method = decide(
        org,
        &Query {
            subject: "alice",
            action: "call",
            resource_type: "method",
            resource_id: "App/m0",
            facts: Default::default(),
        },
    );
    assert!(method.allowed);
    assert!(
        matches!(&method.reasons[..], [Reason::RoleGrant { role, via, names }]
            if *role == built.roles[0] && *via == vec![built.groups[0]]
                && names.role_name == "r0" && names.via_names == vec!["g0".to_owned()]),
        "{:?}",
        method.reasons
    );
    let policy = decide(
        org,
        &Query {
            subject: "alice",
            action: "edit",
            resource_type: "doc",
            resource_id: "any",
            facts: Default::default(),
        },
    );
    assert!(policy.allowed);
    assert!(
        matches!(policy.reasons[0], Reason::PolicyGrant { role, .. } if role == built.roles[0])
    );
    let other_action = decide(
        org,
        &Query {
            subject: "alice",
            action: "delete",
            resource_type: "doc",
            resource_id: "any",
            facts: Default::default(),
        },
    );
    assert_eq!(other_action.reasons, vec![Reason::NoGrant]);
    let other_type = decide(
        org,
        &Query {
            subject: "alice",
            action: "edit",
            resource_type: "sheet",
            resource_id: "any",
            facts: Default::default(),
        },
    );
    assert!(!other_type.allowed);
    let wrong_action = decide(
        org,
        &Query {
            subject: "alice",
            action: "edit",
            resource_type: "method",
            resource_id: "App/m0",
            facts: Default::default(),
        },
    );
    assert!(!wrong_action.allowed);
}
