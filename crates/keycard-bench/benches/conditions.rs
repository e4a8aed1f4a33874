//! Grants under conditions: Keycard against cedar-policy in one run.
//!
//! 1. Decisions: the peer workload with an owner per resource and half the grants under
//!    `resource.owner == subject.id`. Cedar gets the equivalent `when` clause. Every query goes
//!    through both engines: the decisions must be identical, and equal to the workload's own
//!    answers. The throughputs and their ratio are printed, then criterion measures one check of
//!    each.
//! 2. A resource search over 100,000 registered resources of one type: Keycard's
//!    `decision::resources_for` against the same search made by calling cedar once per resource.
//!
//! Run: `cargo bench -p keycard-bench --bench conditions`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
};
use chrono::Utc;
use criterion::Criterion;
use keycard_bench::{
    QueryText, Shape, Workload, action_name, resource_id, role_name, type_name, user_name,
};
use keycard_core::decision::{self, Facts};
use keycard_core::ids::{AccountId, RoleId};
use keycard_core::model::{PolicyAction, Resource};
use keycard_core::snapshot::Snapshot;

mod cedar_encoding;

use cedar_encoding::{capitalised, uid};

const SEED: u64 = 20_261_130;
const OWNS: &str = "resource.owner == subject.id";
const SEARCH_RESOURCES: usize = 100_000;

/// Whether `role`'s grant of `action` on `resource_type` is under the ownership condition: half
/// of them.
fn conditional(role: usize, action: usize, resource_type: usize) -> bool {
    (role + action + resource_type) % 2 == 1
}

/// The peer workload with owners: every resource has one, and a quarter of the queries ask about
/// a resource the asking user owns, so that conditions are met as well as missed.
struct Owned {
    workload: Workload,
    /// `owners[type][resource]`: a user index.
    owners: Vec<Vec<usize>>,
    expected: Vec<bool>,
}

impl Owned {
    fn generate() -> Self {
        let workload = Workload::generate(Shape::PEER, SEED);
        let shape = workload.shape;
        let mut owners: Vec<Vec<usize>> = (0..shape.types)
            .map(|t| {
                (0..shape.resources_per_type)
                    .map(|r| (t * 7_919 + r * 104_729) % shape.users)
                    .collect()
            })
            .collect();
        for (index, query) in workload.queries.iter().enumerate() {
            if index % 4 == 0 {
                owners[query.resource_type][query.resource] = query.user;
            }
        }
        let grants: Vec<HashSet<(usize, usize)>> = workload
            .role_grants
            .iter()
            .map(|grants| grants.iter().copied().collect())
            .collect();
        let expected = workload
            .queries
            .iter()
            .map(|q| {
                workload.user_roles[q.user].iter().any(|role| {
                    grants[*role].contains(&(q.action, q.resource_type))
                        && (!conditional(*role, q.action, q.resource_type)
                            || owners[q.resource_type][q.resource] == q.user)
                })
            })
            .collect();
        Self {
            workload,
            owners,
            expected,
        }
    }

    /// Keycard's snapshot: the workload's, with each grant split into its outright and its
    /// conditional part, and every resource registered with its owner.
    fn keycard(&self) -> (Snapshot, keycard_core::ids::OrganizationId) {
        let (mut state, org) = self.workload.keycard_state();
        let role_index: HashMap<RoleId, usize> = state
            .roles
            .iter()
            .map(|role| {
                let index = role.name.as_str()["role".len()..].parse().unwrap();
                (role.id, index)
            })
            .collect();
        let accounts: Vec<AccountId> = state.accounts.iter().map(|account| account.id).collect();
        let owns: keycard_core::condition::Condition = OWNS.to_owned().try_into().unwrap();
        for (resource_type, (_, policy)) in state.policies.iter_mut().enumerate() {
            let mut actions = Vec::new();
            for (action, grant) in policy.actions.iter().enumerate() {
                let (when, outright): (Vec<RoleId>, Vec<RoleId>) = grant
                    .role_ids
                    .iter()
                    .partition(|role| conditional(role_index[role], action, resource_type));
                actions.push(PolicyAction {
                    action: grant.action.clone(),
                    role_ids: outright,
                    condition: None,
                });
                actions.push(PolicyAction {
                    action: grant.action.clone(),
                    role_ids: when,
                    condition: Some(owns.clone()),
                });
            }
            policy.actions = actions;
        }
        let now = Utc::now();
        for (resource_type, owners) in self.owners.iter().enumerate() {
            for (resource, owner) in owners.iter().enumerate() {
                state.resources.push(Resource {
                    organization_id: org,
                    resource_type: type_name(resource_type).try_into().unwrap(),
                    id: resource_id(resource_type, resource).try_into().unwrap(),
                    owner: Some(accounts[*owner]),
                    attributes: Default::default(),
                    created_at: now,
                    updated_at: now,
                });
            }
        }
        (Snapshot::from_state(state).unwrap(), org)
    }
}

/// Cedar with the grants grouped into one policy per (action, type) and kind (outright, or
/// `when` the principal owns the resource); resources are entities with an `owner`.
struct Cedar {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    principals: Vec<EntityUid>,
    actions: Vec<EntityUid>,
    resources: Vec<Vec<EntityUid>>,
}

impl Cedar {
    fn new(owned: &Owned) -> Self {
        let workload = &owned.workload;
        let shape = workload.shape;
        // [action][type][conditional] -> roles
        let mut grouped = vec![vec![[Vec::new(), Vec::new()]; shape.types]; shape.actions];
        for (role, grants) in workload.role_grants.iter().enumerate() {
            for (action, resource_type) in grants {
                let kind = usize::from(conditional(role, *action, *resource_type));
                grouped[*action][*resource_type][kind].push(role);
            }
        }
        let mut text = String::new();
        for (action, by_type) in grouped.iter().enumerate() {
            for (resource_type, kinds) in by_type.iter().enumerate() {
                for (kind, roles) in kinds.iter().enumerate() {
                    if roles.is_empty() {
                        continue;
                    }
                    let held = roles
                        .iter()
                        .map(|role| format!("principal in Role::\"{}\"", role_name(*role)))
                        .collect::<Vec<_>>()
                        .join(" || ");
                    let when = if kind == 1 {
                        format!("({held}) && resource.owner == principal")
                    } else {
                        held
                    };
                    text.push_str(&format!(
                        "permit(principal, action == Action::\"{}\", resource is {}) when {{ {when} }};\n",
                        action_name(action),
                        capitalised(&type_name(resource_type))
                    ));
                }
            }
        }
        let policies = PolicySet::from_str(&text).unwrap();
        let mut entities = cedar_encoding::roles_and_users(workload);
        let mut resources = Vec::new();
        for (resource_type, owners) in owned.owners.iter().enumerate() {
            let mut of_type = Vec::new();
            for (resource, owner) in owners.iter().enumerate() {
                let id = uid(
                    &capitalised(&type_name(resource_type)),
                    &resource_id(resource_type, resource),
                );
                entities.push(cedar_encoding::owned(id.clone(), *owner));
                of_type.push(id);
            }
            resources.push(of_type);
        }
        Self {
            authorizer: Authorizer::new(),
            policies,
            entities: Entities::from_entities(entities, None).unwrap(),
            principals: (0..shape.users)
                .map(|u| uid("User", &user_name(u)))
                .collect(),
            actions: (0..shape.actions)
                .map(|a| uid("Action", &action_name(a)))
                .collect(),
            resources,
        }
    }

    fn allows(&self, principal: &EntityUid, action: &EntityUid, resource: &EntityUid) -> bool {
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            Context::empty(),
            None,
        )
        .unwrap();
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }

    fn check(&self, q: &keycard_bench::Query) -> bool {
        self.allows(
            &self.principals[q.user],
            &self.actions[q.action],
            &self.resources[q.resource_type][q.resource],
        )
    }
}

/// Runs every query once through `check`, asserting the expected answers; returns checks per
/// second.
fn pass(name: &str, expected: &[bool], check: impl Fn(usize) -> bool) -> f64 {
    let started = Instant::now();
    for (index, want) in expected.iter().enumerate() {
        assert_eq!(
            check(black_box(index)),
            *want,
            "{name} disagrees on query {index}"
        );
    }
    let rate = expected.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "{name:>8}: {rate:>12.0} checks/s over {} queries, one thread",
        expected.len()
    );
    rate
}

/// 100,000 registered `doc` resources with owners among 1,000 users, who all hold one role that
/// may read a doc they own: the search is "which docs may this user read".
fn search(criterion: &mut Criterion) {
    const USERS: usize = 1_000;
    let owner = |doc: usize| (doc * 7_919) % USERS;
    let now = Utc::now();
    let mut state = keycard_core::store::FullState::default();
    let org = keycard_core::ids::OrganizationId::new();
    state.organizations.push(keycard_bench::organization(
        org,
        "search",
        vec!["read".into()],
    ));
    let reader = keycard_core::model::Role {
        id: RoleId::new(),
        organization_id: org,
        name: "reader".to_owned().try_into().unwrap(),
        description: Default::default(),
        provenance: "Custom".to_owned().try_into().unwrap(),
        system: false,
        inactive: false,
        methods: vec![],
        views: vec![],
        created_at: now,
        updated_at: now,
    };
    let accounts: Vec<AccountId> = (0..USERS).map(|_| AccountId::new()).collect();
    for (user, id) in accounts.iter().enumerate() {
        state.accounts.push(keycard_bench::account(
            org,
            *id,
            user_name(user),
            vec![reader.id],
        ));
    }
    state.policies.push((
        org,
        keycard_core::model::Policy {
            id: keycard_core::ids::PolicyId::new(),
            organization_id: org,
            name: "docs".to_owned().try_into().unwrap(),
            system: false,
            actions: vec![PolicyAction {
                action: "read".to_owned().try_into().unwrap(),
                role_ids: vec![reader.id],
                condition: Some(OWNS.to_owned().try_into().unwrap()),
            }],
            resources: vec![keycard_core::model::ResourceRef {
                resource_type: "doc".into(),
                id: "*".into(),
            }],
            created_at: now,
            updated_at: now,
        },
    ));
    state.roles.push(reader);
    for doc in 0..SEARCH_RESOURCES {
        state.resources.push(Resource {
            organization_id: org,
            resource_type: "doc".to_owned().try_into().unwrap(),
            id: format!("doc{doc}").try_into().unwrap(),
            owner: Some(accounts[owner(doc)]),
            attributes: Default::default(),
            created_at: now,
            updated_at: now,
        });
    }
    let snapshot = Snapshot::from_state(state).unwrap();
    let keycard = snapshot.organization(org).unwrap();

    let policies = PolicySet::from_str(
        "permit(principal, action == Action::\"read\", resource is Doc) when { principal in Role::\"reader\" && resource.owner == principal };",
    )
    .unwrap();
    let mut entities = vec![Entity::new_no_attrs(
        uid("Role", "reader"),
        Default::default(),
    )];
    for user in 0..USERS {
        entities.push(Entity::new_no_attrs(
            uid("User", &user_name(user)),
            HashSet::from([uid("Role", "reader")]),
        ));
    }
    let docs: Vec<EntityUid> = (0..SEARCH_RESOURCES)
        .map(|doc| uid("Doc", &format!("doc{doc}")))
        .collect();
    for (doc, id) in docs.iter().enumerate() {
        entities.push(cedar_encoding::owned(id.clone(), owner(doc)));
    }
    let cedar = Cedar {
        authorizer: Authorizer::new(),
        policies,
        entities: Entities::from_entities(entities, None).unwrap(),
        principals: (0..USERS).map(|u| uid("User", &user_name(u))).collect(),
        actions: vec![uid("Action", "read")],
        resources: vec![docs],
    };
    let cedar_search = |user: usize| -> Vec<String> {
        let mut found: Vec<String> = cedar.resources[0]
            .iter()
            .filter(|doc| cedar.allows(&cedar.principals[user], &cedar.actions[0], doc))
            .map(|doc| doc.id().unescaped().to_owned())
            .collect();
        found.sort();
        found
    };
    let keycard_search = |user: usize| -> Vec<String> {
        decision::resources_for(keycard, &user_name(user), "read", "doc", &Facts::default())
    };

    // The same answer, and the time of one search each.
    let user = 7;
    let started = Instant::now();
    let from_keycard = keycard_search(user);
    let keycard_time = started.elapsed();
    let started = Instant::now();
    let from_cedar = cedar_search(user);
    let cedar_time = started.elapsed();
    assert_eq!(from_keycard, from_cedar);
    assert_eq!(from_keycard.len(), SEARCH_RESOURCES / USERS);
    println!(
        "resource search over {SEARCH_RESOURCES} resources ({} found): keycard {keycard_time:?}, cedar once per resource {cedar_time:?}; keycard is {:.1}x faster",
        from_keycard.len(),
        cedar_time.as_secs_f64() / keycard_time.as_secs_f64()
    );
    let mut group = criterion.benchmark_group("resource search, 100k resources");
    group.sample_size(10);
    group.bench_function("keycard resources_for", |b| {
        b.iter(|| keycard_search(black_box(user)))
    });
    group.bench_function("cedar once per resource", |b| {
        b.iter(|| cedar_search(black_box(user)))
    });
    group.finish();
}

fn main() {
    let owned = Owned::generate();
    println!(
        "peer workload with owners: {} queries ({} allowed), half the grants under `{OWNS}`",
        owned.expected.len(),
        owned.expected.iter().filter(|allowed| **allowed).count()
    );
    let (snapshot, org) = owned.keycard();
    let org = snapshot.organization(org).unwrap();
    let texts: Vec<QueryText> = owned.workload.query_texts();
    let facts = Facts::default();
    let keycard_check = |index: usize| {
        let text = &texts[index];
        decision::check_with(
            org,
            text.subject(),
            text.action(),
            text.resource_type(),
            text.resource_id(),
            &facts,
        )
    };
    let cedar = Cedar::new(&owned);
    let mut keycard_rate = 0.0f64;
    for _ in 0..10 {
        keycard_rate = keycard_rate.max(pass("keycard", &owned.expected, keycard_check));
    }
    let cedar_rate = pass("cedar", &owned.expected, |index| {
        cedar.check(&owned.workload.queries[index])
    });
    println!(
        "identical decisions on all {} queries; ratio keycard/cedar: {:.1}x",
        owned.expected.len(),
        keycard_rate / cedar_rate
    );

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let queries = owned.expected.len();
    let mut next = 0usize;
    criterion.bench_function("keycard check_with, peer workload with owners", |b| {
        b.iter(|| {
            next = (next + 1) % queries;
            keycard_check(black_box(next))
        })
    });
    let mut next = 0usize;
    criterion.bench_function("cedar, peer workload with owners", |b| {
        b.iter(|| {
            next = (next + 1) % queries;
            cedar.check(&owned.workload.queries[black_box(next)])
        })
    });
    search(&mut criterion);
    criterion.final_summary();
}
