//! Keycard's engine against casbin and cedar-policy on the peer workload, in one run.
//!
//! First every query goes through every engine once: the decisions must be identical (and equal
//! to the workload's own answers), and the throughput of that pass is printed with the ratios.
//! Then criterion measures one check of each engine.
//!
//! Run: `cargo bench -p keycard-bench --bench decisions`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi, RbacApi};
use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use criterion::Criterion;
use keycard_bench::{
    QueryText, Shape, Workload, action_name, resource_id, role_name, type_name, user_name,
};
use keycard_core::decision;
use keycard_core::snapshot::Snapshot;

mod cedar_encoding;

use cedar_encoding::{capitalised, uid};

const SEED: u64 = 20_261_122;

struct Keycard {
    snapshot: Snapshot,
    org: keycard_core::ids::OrganizationId,
    /// Each query's strings in one buffer, as a server holds them after parsing a request.
    texts: Vec<QueryText>,
}

impl Keycard {
    fn new(workload: &Workload) -> Self {
        let (state, org) = workload.keycard_state();
        Self {
            snapshot: Snapshot::from_state(state).unwrap(),
            org,
            texts: workload.query_texts(),
        }
    }

    /// The organization's snapshot: a server looks it up once per request, not per check.
    fn org(&self) -> &keycard_core::snapshot::OrgSnapshot {
        self.snapshot.organization(self.org).unwrap()
    }

    /// Checks query number `index`.
    #[inline]
    fn check(&self, org: &keycard_core::snapshot::OrgSnapshot, index: usize) -> bool {
        let text = &self.texts[index];
        decision::check(
            org,
            text.subject(),
            text.action(),
            text.resource_type(),
            text.resource_id(),
        )
    }
}

/// Cedar, with the grants grouped into one policy per (action, type): the faster of the two
/// encodings the peers were measured with.
struct Cedar {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    principals: Vec<EntityUid>,
    actions: Vec<EntityUid>,
    resources: Vec<Vec<EntityUid>>,
}

impl Cedar {
    fn new(workload: &Workload) -> Self {
        let shape = workload.shape;
        let mut grouped: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); shape.types]; shape.actions];
        for (role, grants) in workload.role_grants.iter().enumerate() {
            for (action, resource_type) in grants {
                grouped[*action][*resource_type].push(role);
            }
        }
        let mut text = String::new();
        for (action, by_type) in grouped.iter().enumerate() {
            for (resource_type, roles) in by_type.iter().enumerate() {
                if roles.is_empty() {
                    continue;
                }
                let condition = roles
                    .iter()
                    .map(|role| format!("principal in Role::\"{}\"", role_name(*role)))
                    .collect::<Vec<_>>()
                    .join(" || ");
                text.push_str(&format!(
                    "permit(principal, action == Action::\"{}\", resource is {}) when {{ {condition} }};\n",
                    action_name(action),
                    capitalised(&type_name(resource_type))
                ));
            }
        }
        let policies = PolicySet::from_str(&text).unwrap();
        let entities = cedar_encoding::roles_and_users(workload);
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
            resources: (0..shape.types)
                .map(|t| {
                    (0..shape.resources_per_type)
                        .map(|r| uid(&capitalised(&type_name(t)), &resource_id(t, r)))
                        .collect()
                })
                .collect(),
        }
    }

    fn check(&self, q: &keycard_bench::Query) -> bool {
        let request = Request::new(
            self.principals[q.user].clone(),
            self.actions[q.action].clone(),
            self.resources[q.resource_type][q.resource].clone(),
            Context::empty(),
            None,
        )
        .unwrap();
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }
}

/// casbin with the usual RBAC model: users linked to roles, policies per role on every resource of
/// a type (`type/*`).
struct Casbin {
    enforcer: Enforcer,
    users: Vec<String>,
    actions: Vec<String>,
    objects: Vec<Vec<String>>,
}

const CASBIN_MODEL: &str = "
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
";

impl Casbin {
    async fn new(workload: &Workload) -> Self {
        let shape = workload.shape;
        let model = DefaultModel::from_str(CASBIN_MODEL).await.unwrap();
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .unwrap();
        let rules: Vec<Vec<String>> = workload
            .role_grants
            .iter()
            .enumerate()
            .flat_map(|(role, grants)| {
                grants.iter().map(move |(action, resource_type)| {
                    vec![
                        role_name(role),
                        format!("{}/*", type_name(*resource_type)),
                        action_name(*action),
                    ]
                })
            })
            .collect();
        enforcer.add_policies(rules).await.unwrap();
        for (user, roles) in workload.user_roles.iter().enumerate() {
            for role in roles {
                enforcer
                    .add_role_for_user(&user_name(user), &role_name(*role), None)
                    .await
                    .unwrap();
            }
        }
        Self {
            enforcer,
            users: (0..shape.users).map(user_name).collect(),
            actions: (0..shape.actions).map(action_name).collect(),
            objects: (0..shape.types)
                .map(|t| {
                    (0..shape.resources_per_type)
                        .map(|r| format!("{}/{}", type_name(t), resource_id(t, r)))
                        .collect()
                })
                .collect(),
        }
    }

    fn check(&self, q: &keycard_bench::Query) -> bool {
        self.enforcer
            .enforce((
                &self.users[q.user],
                &self.objects[q.resource_type][q.resource],
                &self.actions[q.action],
            ))
            .unwrap()
    }
}

/// Runs every query once through `check`, asserting the workload's answers; returns checks per second.
fn pass(
    name: &str,
    queries: &[keycard_bench::Query],
    check: impl Fn(usize, &keycard_bench::Query) -> bool,
) -> f64 {
    let started = Instant::now();
    for (index, query) in queries.iter().enumerate() {
        let allowed = check(index, black_box(query));
        assert_eq!(
            allowed, query.expected,
            "{name} disagrees on query {index}: {query:?}"
        );
    }
    let rate = queries.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "{name:>8}: {:>12.0} checks/s over {} queries, one thread",
        rate,
        queries.len()
    );
    rate
}

fn main() {
    let workload = Workload::generate(Shape::PEER, SEED);
    let queries = &workload.queries;
    println!(
        "peer workload: {} users, {} roles, {} grants per role, {} queries ({} allowed)",
        workload.shape.users,
        workload.shape.roles,
        workload.shape.grants_per_role,
        queries.len(),
        queries.iter().filter(|q| q.expected).count()
    );

    let built = Instant::now();
    let keycard = Keycard::new(&workload);
    println!("keycard snapshot built in {:?}", built.elapsed());
    let cedar = Cedar::new(&workload);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let casbin = runtime.block_on(Casbin::new(&workload));

    // Keycard is fast enough to repeat the pass for a stable figure.
    let org = keycard.org();
    let mut keycard_rate = 0.0f64;
    for _ in 0..100 {
        keycard_rate = keycard_rate.max(pass("keycard", queries, |index, _| {
            keycard.check(org, index)
        }));
    }
    let cedar_rate = pass("cedar", queries, |_, q| cedar.check(q));
    let casbin_queries: usize = std::env::var("KEYCARD_BENCH_CASBIN_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(queries.len());
    let casbin_rate = pass(
        "casbin",
        &queries[..casbin_queries.min(queries.len())],
        |_, q| casbin.check(q),
    );
    println!(
        "identical decisions on every query checked: keycard, cedar (all {}), casbin ({})",
        queries.len(),
        casbin_queries.min(queries.len())
    );
    println!("ratio keycard/cedar:  {:>10.0}x", keycard_rate / cedar_rate);
    println!(
        "ratio keycard/casbin: {:>10.0}x",
        keycard_rate / casbin_rate
    );

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut index = 0usize;
    criterion.bench_function("keycard check", |b| {
        b.iter(|| {
            index = (index + 1) % queries.len();
            keycard.check(org, black_box(index))
        })
    });
    let mut group = criterion.benchmark_group("peers");
    group.sample_size(10);
    group.bench_function("cedar check", |b| {
        b.iter(|| {
            index = (index + 1) % queries.len();
            cedar.check(black_box(&queries[index]))
        })
    });
    group.bench_function("casbin check", |b| {
        b.iter(|| {
            index = (index + 1) % queries.len();
            casbin.check(black_box(&queries[index]))
        })
    });
    group.finish();
    criterion.final_summary();
}
