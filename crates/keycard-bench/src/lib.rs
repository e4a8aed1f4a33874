//! The peer workload: the benchmark the peers (casbin-rs, cedar-policy, SpiceDB, Cerbos) were
//! measured on, generated from a seed so every engine sees the same directory and queries.
//!
//! 10,000 users, 1,000 roles, 3 distinct random roles per user, 50 distinct random (action, type)
//! grants per role drawn from 20 actions x 50 types, 5,000 resources (100 per type), and 20,000
//! queries "may user U do action A on resource R", half of them allowed.

pub mod large;

use std::collections::HashSet;

use chrono::Utc;
use keycard_core::change::Revision;
use keycard_core::ids::{AccountId, OrganizationId, PolicyId, RoleId};
use keycard_core::model::{Account, Organization, Policy, PolicyAction, ResourceRef, Role};
use keycard_core::store::FullState;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

/// Sizes of a generated workload.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub users: usize,
    pub roles: usize,
    pub roles_per_user: usize,
    pub grants_per_role: usize,
    pub actions: usize,
    pub types: usize,
    pub resources_per_type: usize,
    pub queries: usize,
}

impl Shape {
    pub const PEER: Shape = Shape {
        users: 10_000,
        roles: 1_000,
        roles_per_user: 3,
        grants_per_role: 50,
        actions: 20,
        types: 50,
        resources_per_type: 100,
        queries: 20_000,
    };
}

/// One question and the answer the workload's definition gives.
#[derive(Clone, Debug)]
pub struct Query {
    pub user: usize,
    pub action: usize,
    pub resource_type: usize,
    pub resource: usize,
    pub expected: bool,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub shape: Shape,
    /// The roles of each user.
    pub user_roles: Vec<Vec<usize>>,
    /// The (action, type) grants of each role.
    pub role_grants: Vec<Vec<(usize, usize)>>,
    pub queries: Vec<Query>,
}

pub fn user_name(user: usize) -> String {
    format!("user{user}")
}

pub fn role_name(role: usize) -> String {
    format!("role{role}")
}

pub fn action_name(action: usize) -> String {
    format!("action{action}")
}

pub fn type_name(resource_type: usize) -> String {
    format!("type{resource_type}")
}

pub fn resource_id(resource_type: usize, resource: usize) -> String {
    format!("res{resource_type}_{resource}")
}

impl Workload {
    pub fn generate(shape: Shape, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let role_grants: Vec<Vec<(usize, usize)>> = (0..shape.roles)
            .map(|_| {
                sample(&mut rng, shape.actions * shape.types, shape.grants_per_role)
                    .into_iter()
                    .map(|cell| (cell % shape.actions, cell / shape.actions))
                    .collect()
            })
            .collect();
        let user_roles: Vec<Vec<usize>> = (0..shape.users)
            .map(|_| sample(&mut rng, shape.roles, shape.roles_per_user).into_vec())
            .collect();
        let grants: Vec<HashSet<(usize, usize)>> = role_grants
            .iter()
            .map(|g| g.iter().copied().collect())
            .collect();
        let allowed = |user: usize, action: usize, resource_type: usize| {
            user_roles[user]
                .iter()
                .any(|role| grants[*role].contains(&(action, resource_type)))
        };
        let mut queries = Vec::with_capacity(shape.queries);
        while queries.len() < shape.queries {
            let user = rng.gen_range(0..shape.users);
            let resource = rng.gen_range(0..shape.resources_per_type);
            if queries.len() % 2 == 0 {
                // An allowed query: one of the user's own grants.
                let role = user_roles[user][rng.gen_range(0..shape.roles_per_user)];
                let (action, resource_type) =
                    role_grants[role][rng.gen_range(0..shape.grants_per_role)];
                queries.push(Query {
                    user,
                    action,
                    resource_type,
                    resource,
                    expected: true,
                });
            } else {
                let (action, resource_type) = (
                    rng.gen_range(0..shape.actions),
                    rng.gen_range(0..shape.types),
                );
                if !allowed(user, action, resource_type) {
                    queries.push(Query {
                        user,
                        action,
                        resource_type,
                        resource,
                        expected: false,
                    });
                }
            }
        }
        Self {
            shape,
            user_roles,
            role_grants,
            queries,
        }
    }

    /// The workload as Keycard state: one organization, one policy per type attached to every
    /// resource of it, binding each action to the roles granted it.
    pub fn keycard_state(&self) -> (FullState, OrganizationId) {
        let now = Utc::now();
        let org = OrganizationId::new();
        let role_ids: Vec<RoleId> = (0..self.shape.roles).map(|_| RoleId::new()).collect();
        let roles = role_ids
            .iter()
            .enumerate()
            .map(|(index, id)| Role {
                id: *id,
                organization_id: org,
                name: text(role_name(index)),
                description: Default::default(),
                provenance: text("Custom".into()),
                system: false,
                inactive: false,
                methods: vec![],
                views: vec![],
                created_at: now,
                updated_at: now,
            })
            .collect();
        let accounts = self
            .user_roles
            .iter()
            .enumerate()
            .map(|(index, roles)| {
                account(
                    org,
                    AccountId::new(),
                    user_name(index),
                    roles.iter().map(|role| role_ids[*role]).collect(),
                )
            })
            .collect();
        let mut by_type: Vec<Vec<Vec<RoleId>>> =
            vec![vec![Vec::new(); self.shape.actions]; self.shape.types];
        for (role, grants) in self.role_grants.iter().enumerate() {
            for (action, resource_type) in grants {
                by_type[*resource_type][*action].push(role_ids[role]);
            }
        }
        let policies = by_type
            .into_iter()
            .enumerate()
            .map(|(resource_type, actions)| {
                let policy = Policy {
                    id: PolicyId::new(),
                    organization_id: org,
                    name: text(format!("policy-{}", type_name(resource_type))),
                    system: false,
                    actions: actions
                        .into_iter()
                        .enumerate()
                        .map(|(action, role_ids)| PolicyAction {
                            action: text(action_name(action)),
                            role_ids,
                            condition: None,
                        })
                        .collect(),
                    resources: vec![ResourceRef {
                        resource_type: type_name(resource_type),
                        id: ResourceRef::ANY_ID.into(),
                    }],
                    created_at: now,
                    updated_at: now,
                };
                (org, policy)
            })
            .collect();
        let organization = organization(
            org,
            "peer",
            (0..self.shape.actions).map(action_name).collect(),
        );
        let state = FullState {
            revision: Revision(1),
            organizations: vec![organization],
            accounts,
            groups: vec![],
            roles,
            policies,
            methods: vec![],
            views: vec![],
            resources: vec![],
        };
        (state, org)
    }
}

/// An active local account without a password, as the benchmarks' snapshots hold them.
pub fn account(
    org: OrganizationId,
    id: AccountId,
    username: String,
    roles: Vec<RoleId>,
) -> Account {
    let now = Utc::now();
    Account {
        id,
        organization_id: org,
        username: text(username),
        email: None,
        first_name: Default::default(),
        provenance: text("Local".into()),
        inactive: false,
        service_account: false,
        has_password: false,
        roles,
        groups: vec![],
        attributes: Default::default(),
        created_at: now,
        updated_at: now,
    }
}

/// An organization offering `actions`.
pub fn organization(org: OrganizationId, name: &str, actions: Vec<String>) -> Organization {
    let now = Utc::now();
    Organization {
        id: org,
        name: text(name.to_owned()),
        actions: actions.into_iter().map(text).collect(),
        sso: Default::default(),
        created_at: now,
        updated_at: now,
    }
}

/// A plain custom role, as every benchmark creates them.
pub fn custom_role(name: String) -> Result<keycard_core::model::NewRole, keycard_core::Error> {
    Ok(keycard_core::model::NewRole {
        name: name.try_into()?,
        description: Default::default(),
        provenance: "Custom".to_owned().try_into()?,
        system: false,
        inactive: false,
        methods: vec![],
        views: vec![],
    })
}

/// Decides one query with Keycard's engine.
#[inline]
pub fn keycard_check(org: &keycard_core::snapshot::OrgSnapshot, text: &QueryText) -> bool {
    keycard_core::decision::check(
        std::hint::black_box(org),
        text.subject(),
        text.action(),
        text.resource_type(),
        text.resource_id(),
    )
}

/// The benchmarks' reference engine: the same decisions from `std` hash maps with a fast hasher
/// (user name to role numbers, type then action to a role bitset). It is the floor for a
/// hash-map design, but not persistent, so a snapshot could not use it.
pub struct ReferenceEngine {
    roles_of: FoldMap<String, Box<[u32]>>,
    granted: FoldMap<String, FoldMap<String, Box<[u64]>>>,
}

type FoldMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

impl ReferenceEngine {
    /// `roles_of`: each user's role numbers (those it holds, however it holds them); `grants`:
    /// (type, action, role) numbers; `roles`: how many roles there are.
    pub fn new(
        roles_of: impl IntoIterator<Item = (String, Box<[u32]>)>,
        grants: impl IntoIterator<Item = (usize, usize, u32)>,
        roles: usize,
    ) -> Self {
        let mut granted: FoldMap<String, FoldMap<String, Box<[u64]>>> = FoldMap::default();
        for (resource_type, action, role) in grants {
            let bits = granted
                .entry(type_name(resource_type))
                .or_default()
                .entry(action_name(action))
                .or_insert_with(|| vec![0u64; roles.div_ceil(64)].into_boxed_slice());
            if let Some(word) = bits.get_mut(role as usize / 64) {
                *word |= 1 << (role % 64);
            }
        }
        Self {
            roles_of: roles_of.into_iter().collect(),
            granted,
        }
    }

    #[inline]
    pub fn check(&self, text: &QueryText) -> bool {
        let Some(roles) = self.roles_of.get(text.subject()) else {
            return false;
        };
        self.granted
            .get(text.resource_type())
            .and_then(|by_action| by_action.get(text.action()))
            .is_some_and(|bits| {
                roles.iter().any(|role| {
                    bits.get(*role as usize / 64)
                        .is_some_and(|word| word & (1 << (role % 64)) != 0)
                })
            })
    }
}

/// Seconds for one pass of `check` over every query.
pub fn pass(texts: &[QueryText], check: impl Fn(&QueryText) -> bool) -> f64 {
    let started = std::time::Instant::now();
    std::hint::black_box(texts.iter().filter(|t| check(t)).count());
    started.elapsed().as_secs_f64()
}

/// A generated name, validated.
fn text<T: TryFrom<String, Error = keycard_core::Error>>(value: String) -> T {
    value.try_into().unwrap_or_else(|err| unreachable_name(err))
}

/// Generated names are always valid; this only documents that.
fn unreachable_name<T>(err: keycard_core::Error) -> T {
    #[allow(clippy::panic)]
    {
        panic!("generated an invalid name: {err}")
    }
}

/// A query's four strings in one buffer, as a server holds them after parsing a request: reading
/// them costs what reading a request does, not a pointer chase per string.
#[derive(Clone, Debug)]
pub struct QueryText {
    text: String,
    ends: [usize; 4],
}

impl QueryText {
    pub fn new(parts: [&str; 4]) -> Self {
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 4];
        for (end, part) in ends.iter_mut().zip(parts) {
            text.push_str(part);
            *end = text.len();
        }
        Self { text, ends }
    }

    fn part(&self, index: usize) -> &str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.text.get(start..self.ends[index]).unwrap_or_default()
    }

    pub fn subject(&self) -> &str {
        self.part(0)
    }

    pub fn action(&self) -> &str {
        self.part(1)
    }

    pub fn resource_type(&self) -> &str {
        self.part(2)
    }

    pub fn resource_id(&self) -> &str {
        self.part(3)
    }
}

impl Workload {
    /// Every query's strings, in query order.
    pub fn query_texts(&self) -> Vec<QueryText> {
        self.queries
            .iter()
            .map(|q| {
                QueryText::new([
                    &user_name(q.user),
                    &action_name(q.action),
                    &type_name(q.resource_type),
                    &resource_id(q.resource_type, q.resource),
                ])
            })
            .collect()
    }
}
