//! The decision engine: pure functions over an [`OrgSnapshot`] that say whether a subject may perform
//! an action on a resource, and why.
//!
//! Rules, in order:
//! 1. The subject is an account named by id, username or email; an unknown or inactive subject is
//!    denied.
//! 2. Effective roles are the account's own plus those of every group it is in, transitively;
//!    inactive groups and roles grant nothing (an inactive group passes on nothing from its parents).
//! 3. The organization's system `Admin` role may do anything.
//! 4. Resource type `method` (id `provenance/name`, action `call`) and `view` (id the path, action
//!    `view`) are granted by roles listing them; `route` (id the path, action the HTTP verb) resolves
//!    through the method catalogue's routes, then as `method`.
//! 5. Any other type: a policy attached to the resource, or to every resource of its type (`*`), that
//!    binds the action to one of the effective roles.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use serde_json::{Map, Value};

use crate::condition::{Bindings, Condition, ReadValue, object, overlay};
use crate::ids::{GroupId, PolicyId, RoleId};
use crate::index::DecisionIndex;
use crate::index::{METHOD_KEY, ROUTE_KEY, Subject, VIEW_KEY, route_matches, with_key};
use crate::model::{Account, ResourceRef};
use crate::snapshot::OrgSnapshot;

/// A question for the engine.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// An account id, username or email.
    pub subject: &'a str,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    /// What the request says beyond the ids, for conditions.
    pub facts: Facts<'a>,
}

/// What a request says of its subject, resource and action beyond their ids, and its context:
/// what conditions read beside the stored attributes (see [`crate::condition`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    pub subject: Option<&'a Map<String, Value>>,
    pub resource: Option<&'a Map<String, Value>>,
    pub action: Option<&'a Map<String, Value>>,
    pub context: Option<&'a Map<String, Value>>,
}

/// What conditions read about one subject, action and context, bound once and shared by the
/// conditions evaluated for them, against one resource or, in a search, many.
struct ConditionFacts<'a> {
    org: &'a OrgSnapshot,
    facts: &'a Facts<'a>,
    bindings: Bindings,
}

/// A CEL string.
fn text(value: &str) -> cel::Value {
    cel::Value::String(std::sync::Arc::new(value.to_owned()))
}

impl<'a> ConditionFacts<'a> {
    pub fn new(
        org: &'a OrgSnapshot,
        account: &Account,
        action: &str,
        facts: &'a Facts<'a>,
    ) -> Self {
        let subject = object([
            ("type", text("user")),
            ("id", text(&account.id.to_string())),
            ("username", text(account.username.as_str())),
            (
                "email",
                account
                    .email
                    .as_ref()
                    .map_or(cel::Value::Null, |email| text(email.as_str())),
            ),
            (
                "properties",
                overlay(facts.subject, account.attributes.as_map()),
            ),
        ]);
        let action = object([
            ("name", text(action)),
            ("properties", overlay(facts.action, &Map::new())),
        ]);
        let context = overlay(facts.context, &Map::new());
        Self {
            org,
            facts,
            bindings: Bindings::new(subject, action, context),
        }
    }

    /// Evaluates `condition` against one resource: the registered one's owner and attributes
    /// over the request's properties.
    fn evaluate(
        &self,
        condition: &Condition,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<bool, String> {
        condition.evaluate(
            &self.bindings,
            self.resource(condition, resource_type, resource_id),
        )
    }

    /// The values `condition` reads about one resource, for an explanation.
    fn read_values(
        &self,
        condition: &Condition,
        resource_type: &str,
        resource_id: &str,
    ) -> Vec<ReadValue> {
        condition.read_values(
            &self.bindings,
            self.resource(condition, resource_type, resource_id),
        )
    }

    /// A resource as `condition` reads it. Its stored attributes are read only when the
    /// condition reads `resource.properties`: an ownership check over a search's many resources
    /// never parses them.
    fn resource(
        &self,
        condition: &Condition,
        resource_type: &str,
        resource_id: &str,
    ) -> cel::Value {
        let registered = self.org.resource(resource_type, resource_id);
        let stored = match registered {
            Some(resource) if condition.reads_resource_properties() => resource.attributes(),
            _ => Map::new(),
        };
        object([
            ("type", text(resource_type)),
            ("id", text(resource_id)),
            (
                "owner",
                registered
                    .and_then(|resource| resource.owner)
                    .map_or(cel::Value::Null, |owner| text(&owner.to_string())),
            ),
            ("properties", overlay(self.facts.resource, &stored)),
        ])
    }
}

/// A role the subject holds, and the chain of groups it came through (empty when held directly).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EffectiveRole {
    pub role: RoleId,
    pub via: Vec<GroupId>,
}

/// Why a decision came out the way it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No account matches the subject.
    UnknownSubject,
    /// The account is inactive.
    InactiveSubject,
    /// The subject holds the organization's system `Admin` role.
    Admin {
        role: RoleId,
        via: Vec<GroupId>,
        #[serde(flatten)]
        names: Names,
    },
    /// A role lists the method or view.
    RoleGrant {
        role: RoleId,
        via: Vec<GroupId>,
        #[serde(flatten)]
        names: Names,
    },
    /// A policy attached to the resource binds the action to a role.
    PolicyGrant {
        policy: PolicyId,
        role: RoleId,
        via: Vec<GroupId>,
        #[serde(flatten)]
        names: Names,
    },
    /// A policy attached to the resource binds the action to a role under a condition, which held.
    ConditionalGrant {
        policy: PolicyId,
        role: RoleId,
        via: Vec<GroupId>,
        condition: String,
        /// The values the condition read.
        read: Vec<ReadValue>,
        #[serde(flatten)]
        names: Names,
    },
    /// A grant under a condition did not apply: the condition was false, or could not be
    /// evaluated (`error` says why).
    ConditionNotMet {
        policy: PolicyId,
        role: RoleId,
        condition: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The values the condition read.
        read: Vec<ReadValue>,
        #[serde(flatten)]
        names: Names,
    },
    /// A `route` resource matched no catalogue method.
    UnknownRoute,
    /// No role or policy grants the action.
    NoGrant,
}

impl Reason {
    /// The reason in words, naming roles, groups and policies by name (a command-line report's).
    pub fn describe(&self) -> String {
        let held = |names: &Names| {
            let mut text = format!("role `{}`", names.role_name);
            if names.via_names.is_empty() {
                text.push_str(", assigned directly");
            } else {
                text.push_str(&format!(
                    ", through group `{}`",
                    names.via_names.join(" → ")
                ));
            }
            text
        };
        let policy = |names: &Names| names.policy_name.clone().unwrap_or_default();
        let read = |values: &[crate::condition::ReadValue]| {
            values
                .iter()
                .map(|value| match &value.value {
                    Some(found) => format!("{} = {found}", value.path),
                    None => format!("{} absent", value.path),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Reason::UnknownSubject => "no account matches the subject".into(),
            Reason::InactiveSubject => "the account is inactive".into(),
            Reason::Admin { names, .. } => format!("administrator: {}", held(names)),
            Reason::RoleGrant { names, .. } => format!("granted by {}", held(names)),
            Reason::PolicyGrant { names, .. } => {
                format!("policy `{}` grants it to {}", policy(names), held(names))
            }
            Reason::ConditionalGrant {
                condition,
                read: values,
                names,
                ..
            } => format!(
                "policy `{}` grants it to {} when `{condition}`, which held ({})",
                policy(names),
                held(names),
                read(values)
            ),
            Reason::ConditionNotMet {
                condition,
                error,
                read: values,
                names,
                ..
            } => format!(
                "policy `{}` grants it to role `{}` only when `{condition}`, which {} ({})",
                policy(names),
                names.role_name,
                error
                    .as_ref()
                    .map_or_else(|| "did not hold".to_owned(), |err| format!("failed: {err}")),
                read(values)
            ),
            Reason::UnknownRoute => "no catalogue method has this route".into(),
            Reason::NoGrant => "no role or policy grants the action".into(),
        }
    }
}

/// The names of what a reason names by id, for people reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Names {
    pub role_name: String,
    /// The names of the groups in `via`, in the same order.
    pub via_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
}

impl Names {
    fn of(org: &OrgSnapshot, held: &EffectiveRole, policy: Option<&crate::model::Policy>) -> Self {
        Self {
            role_name: org
                .role(held.role)
                .map(|role| role.name.to_string())
                .unwrap_or_default(),
            via_names: held
                .via
                .iter()
                .map(|group| {
                    org.group(*group)
                        .map(|group| group.name.to_string())
                        .unwrap_or_default()
                })
                .collect(),
            policy_name: policy.map(|policy| policy.name.to_string()),
        }
    }
}

/// The engine's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
}

impl Decision {
    fn allow(reason: Reason) -> Self {
        Self {
            allowed: true,
            reasons: vec![reason],
        }
    }

    fn deny(reason: Reason) -> Self {
        Self {
            allowed: false,
            reasons: vec![reason],
        }
    }
}

/// Finds the account a subject string names: its id, username or email.
pub fn resolve_subject<'o>(org: &'o OrgSnapshot, subject: &str) -> Option<&'o Account> {
    uuid::Uuid::try_parse(subject)
        .ok()
        .and_then(|id| org.account(crate::ids::AccountId::from_uuid(id)))
        .or_else(|| org.account_by_username(subject))
        .or_else(|| org.account_by_email(subject))
}

/// The roles an account holds, directly or through groups, each with the shortest group path that
/// gives it. Inactive accounts hold nothing.
pub fn effective_roles(org: &OrgSnapshot, account: &Account) -> Vec<EffectiveRole> {
    let mut roles: Vec<EffectiveRole> = Vec::new();
    if account.inactive {
        return roles;
    }
    let mut seen_roles: HashSet<RoleId> = HashSet::new();
    let mut grant = |role_id: RoleId, via: &[GroupId], roles: &mut Vec<EffectiveRole>| {
        let active = org.role(role_id).is_some_and(|role| !role.inactive);
        if active && seen_roles.insert(role_id) {
            roles.push(EffectiveRole {
                role: role_id,
                via: via.to_vec(),
            });
        }
    };
    for role in &account.roles {
        grant(*role, &[], &mut roles);
    }
    // Breadth first, so each role is reported through its shortest path.
    let mut seen_groups: HashSet<GroupId> = HashSet::new();
    let mut queue: VecDeque<Vec<GroupId>> =
        account.groups.iter().map(|group| vec![*group]).collect();
    while let Some(path) = queue.pop_front() {
        let Some(&group_id) = path.last() else {
            continue;
        };
        if !seen_groups.insert(group_id) {
            continue;
        }
        let Some(group) = org.group(group_id).filter(|group| !group.inactive) else {
            continue;
        };
        for role in &group.roles {
            grant(*role, &path, &mut roles);
        }
        for parent in &group.parents {
            let mut next = path.clone();
            next.push(*parent);
            queue.push_back(next);
        }
    }
    roles
}

/// Answers a query against one organization's snapshot.
pub fn decide(org: &OrgSnapshot, query: &Query<'_>) -> Decision {
    match resolve_subject(org, query.subject) {
        Some(account) => decide_for(
            org,
            account,
            query.action,
            query.resource_type,
            query.resource_id,
            &query.facts,
        ),
        None => Decision::deny(Reason::UnknownSubject),
    }
}

/// Answers for an account already resolved (for example the authenticated caller).
pub fn decide_for(
    org: &OrgSnapshot,
    account: &Account,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    facts: &Facts<'_>,
) -> Decision {
    if account.inactive {
        return Decision::deny(Reason::InactiveSubject);
    }
    let roles = effective_roles(org, account);
    if let Some(admin) = roles
        .iter()
        .find(|held| org.role(held.role).is_some_and(|role| role.is_admin()))
    {
        return Decision::allow(Reason::Admin {
            role: admin.role,
            via: admin.via.clone(),
            names: Names::of(org, admin, None),
        });
    }
    match resource_type {
        "method" => decide_method(org, &roles, action, resource_id),
        "view" => decide_view(org, &roles, action, resource_id),
        "route" => {
            let methods = route_methods(org, action, resource_id);
            if methods.is_empty() {
                return Decision::deny(Reason::UnknownRoute);
            }
            methods
                .iter()
                .map(|method| decide_method(org, &roles, "call", method))
                .find(|decision| decision.allowed)
                .unwrap_or_else(|| Decision::deny(Reason::NoGrant))
        }
        _ => decide_policies(
            org,
            account,
            &roles,
            action,
            resource_type,
            resource_id,
            facts,
        ),
    }
}

/// Whether `id` reads `provenance/name`.
fn names_method(id: &str, method: &crate::model::MethodRef) -> bool {
    id.strip_prefix(method.provenance.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        == Some(method.name.as_str())
}

fn decide_method(org: &OrgSnapshot, roles: &[EffectiveRole], action: &str, id: &str) -> Decision {
    if action != "call" {
        return Decision::deny(Reason::NoGrant);
    }
    grant_by_role(org, roles, |role| {
        role.methods.iter().any(|method| names_method(id, method))
    })
}

/// The catalogue methods (`provenance/name`) serving a route: those whose route is exactly `verb
/// path`, or, when there are none, those whose route template matches the path.
pub fn route_methods(org: &OrgSnapshot, verb: &str, path: &str) -> Vec<Box<str>> {
    let index = org.index();
    let verb = verb.to_ascii_uppercase();
    if let Some(exact) = with_key(ROUTE_KEY, &[&verb, path], |key| index.methods_at(key)) {
        return exact.to_vec();
    }
    index
        .routes()
        .filter(|(route_verb, template, _)| *route_verb == verb && route_matches(template, path))
        .map(|(_, _, method)| method.into())
        .collect()
}

/// The fast check: the same answer as [`decide`], from the decision index, without reasons.
pub fn check(
    org: &OrgSnapshot,
    subject: &str,
    action: &str,
    resource_type: &str,
    resource_id: &str,
) -> bool {
    let index = org.index();
    // Most checks are on policy types: one byte tells them from the three reserved ones. The
    // grant is looked up before the subject: the two reads are independent, and the subject's
    // is the slow one.
    if !matches!(resource_type.as_bytes().first(), Some(b'm' | b'v' | b'r')) {
        let grant = index.policy_grant(resource_type, action);
        let Some(subject) = index.subject(subject) else {
            return false;
        };
        return holds_policy_grant(index, subject, grant, resource_id);
    }
    let Some(subject) = index.subject(subject) else {
        return false;
    };
    // An inactive subject is indexed with no roles and no groups: it holds nothing.
    match resource_type {
        "method" if action == "call" => with_key(METHOD_KEY, &[resource_id], |key| {
            index.holds(subject, index.grant(key), None)
        }),
        "view" if action == "view" => with_key(VIEW_KEY, &[resource_id], |key| {
            index.holds(subject, index.grant(key), None)
        }),
        "method" | "view" => index.holds(subject, None, None),
        "route" => {
            let methods = route_methods(org, action, resource_id);
            if index.holds(subject, None, None) {
                return true;
            }
            methods.iter().any(|method| {
                with_key(METHOD_KEY, &[method], |key| {
                    index.holds(subject, index.grant(key), None)
                })
            })
        }
        _ => holds_policy_grant(
            index,
            subject,
            index.policy_grant(resource_type, action),
            resource_id,
        ),
    }
}

/// The fast check with conditions: [`check`], and when it grants nothing, the grants under a
/// condition that the subject's roles hold, each condition evaluated over `facts` and the stored
/// attributes until one holds. Agrees with [`decide`].
pub fn check_with(
    org: &OrgSnapshot,
    subject: &str,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    facts: &Facts<'_>,
) -> bool {
    check(org, subject, action, resource_type, resource_id)
        || ConditionalSearch::new(org, subject, action, resource_type, facts)
            .is_some_and(|search| search.allows(resource_type, resource_id))
}

/// Whether a grant under a condition applies to the resource: only then can what a request says
/// beyond the ids change the decision.
pub fn may_need_facts(
    org: &OrgSnapshot,
    action: &str,
    resource_type: &str,
    resource_id: &str,
) -> bool {
    org.index()
        .policy_grant(resource_type, action)
        .is_some_and(|grant| grant.conditional(resource_id).next().is_some())
}

/// Whether the subject holds what the policies on a (type, action) grant on `resource_id`.
#[inline]
fn holds_policy_grant(
    index: &DecisionIndex,
    subject: &Subject,
    grant: Option<&crate::index::PolicyGrant>,
    resource_id: &str,
) -> bool {
    match grant {
        Some(grant) => {
            let exact = if grant.exact.is_empty() {
                None
            } else {
                grant.exact.get(resource_id)
            };
            index.holds(subject, Some(&grant.any), exact)
        }
        None => index.holds(subject, None, None),
    }
}

fn decide_view(org: &OrgSnapshot, roles: &[EffectiveRole], action: &str, path: &str) -> Decision {
    if action != "view" {
        return Decision::deny(Reason::NoGrant);
    }
    grant_by_role(org, roles, |role| {
        role.views.iter().any(|view| view.path == path)
    })
}

fn grant_by_role(
    org: &OrgSnapshot,
    roles: &[EffectiveRole],
    grants: impl Fn(&crate::model::Role) -> bool,
) -> Decision {
    roles
        .iter()
        .find(|held| org.role(held.role).is_some_and(&grants))
        .map(|held| {
            Decision::allow(Reason::RoleGrant {
                role: held.role,
                via: held.via.clone(),
                names: Names::of(org, held, None),
            })
        })
        .unwrap_or_else(|| Decision::deny(Reason::NoGrant))
}

fn decide_policies(
    org: &OrgSnapshot,
    account: &Account,
    roles: &[EffectiveRole],
    action_name: &str,
    resource_type: &str,
    resource_id: &str,
    facts: &Facts<'_>,
) -> Decision {
    let grants = || {
        org.policies_governing(resource_type, resource_id)
            .flat_map(|policy| {
                policy
                    .actions
                    .iter()
                    .filter(|action| action.action.as_str() == action_name)
                    .map(move |action| (policy, action))
            })
    };
    let held_by = |action: &crate::model::PolicyAction| {
        roles
            .iter()
            .find(|held| action.role_ids.contains(&held.role))
    };
    // Outright grants first: they need no evaluation.
    for (policy, action) in grants().filter(|(_, action)| action.condition.is_none()) {
        if let Some(held) = held_by(action) {
            return Decision::allow(Reason::PolicyGrant {
                policy: policy.id,
                role: held.role,
                via: held.via.clone(),
                names: Names::of(org, held, Some(policy)),
            });
        }
    }
    let mut prepared = None;
    let mut unmet = Vec::new();
    for (policy, action) in grants() {
        let (Some(condition), Some(held)) = (&action.condition, held_by(action)) else {
            continue;
        };
        let prepared =
            prepared.get_or_insert_with(|| ConditionFacts::new(org, account, action_name, facts));
        let read = prepared.read_values(condition, resource_type, resource_id);
        match prepared.evaluate(condition, resource_type, resource_id) {
            Ok(true) => {
                return Decision::allow(Reason::ConditionalGrant {
                    policy: policy.id,
                    role: held.role,
                    via: held.via.clone(),
                    condition: condition.as_str().to_owned(),
                    read,
                    names: Names::of(org, held, Some(policy)),
                });
            }
            outcome => unmet.push(Reason::ConditionNotMet {
                policy: policy.id,
                role: held.role,
                condition: condition.as_str().to_owned(),
                error: outcome.err(),
                read,
                names: Names::of(org, held, Some(policy)),
            }),
        }
    }
    unmet.push(Reason::NoGrant);
    Decision {
        allowed: false,
        reasons: unmet,
    }
}

/// Whether an account holds its organization's system `Admin` role.
pub fn is_admin(org: &OrgSnapshot, account: &Account) -> bool {
    // Every authenticated request asks this: answered from the index, without building the
    // effective roles.
    org.index().holds_admin(account)
}

/// Everything an account may call and see through role grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Holds the organization's `Admin` role: every catalogue method and view is included.
    pub admin: bool,
    pub roles: Vec<EffectiveRole>,
    pub methods: std::collections::BTreeSet<crate::model::MethodRef>,
    pub views: std::collections::BTreeSet<crate::model::ViewRef>,
}

/// The methods and views an account's effective roles grant; an administrator gets the whole
/// catalogue. Consistent with [`decide`] for `method` and `view` resources.
pub fn effective_permissions(org: &OrgSnapshot, account: &Account) -> Permissions {
    let roles = effective_roles(org, account);
    let admin = roles
        .iter()
        .any(|held| org.role(held.role).is_some_and(|role| role.is_admin()));
    let mut permissions = Permissions {
        admin,
        ..Permissions::default()
    };
    for held in &roles {
        if let Some(role) = org.role(held.role) {
            permissions.methods.extend(role.methods.iter().cloned());
            permissions.views.extend(role.views.iter().cloned());
        }
    }
    if admin {
        permissions
            .methods
            .extend(org.methods().map(|method| crate::model::MethodRef {
                provenance: method.provenance.clone(),
                name: method.name.clone(),
            }));
        permissions
            .views
            .extend(org.views().map(|view| crate::model::ViewRef {
                provenance: view.provenance.clone(),
                path: view.path.clone(),
            }));
    }
    permissions.roles = roles;
    permissions
}

/// The resources of a type a subject may act on with `action`, sorted. Keycard knows resources
/// through what names them: catalogue methods, views and routes for those types; for the others,
/// the registry and policy attachments (where `*` stands for every resource of the type). Each
/// result passes [`check_with`] over `facts`, and every candidate left out fails it.
pub fn resources_for(
    org: &OrgSnapshot,
    subject: &str,
    action: &str,
    resource_type: &str,
    facts: &Facts<'_>,
) -> Vec<String> {
    // Candidates borrow from the snapshot where they can: a type may have 100,000 registered
    // resources, of which a search keeps a few.
    let mut candidates: Vec<Cow<'_, str>> = match resource_type {
        "method" => org
            .methods()
            .map(|m| Cow::Owned(m.key()))
            .chain(org.roles().flat_map(|role| {
                role.methods
                    .iter()
                    .map(|m| Cow::Owned(format!("{}/{}", m.provenance, m.name)))
            }))
            .collect(),
        "view" => org
            .views()
            .map(|v| Cow::Borrowed(v.path.as_str()))
            .chain(
                org.roles()
                    .flat_map(|role| role.views.iter().map(|v| Cow::Borrowed(v.path.as_str()))),
            )
            .collect(),
        "route" => org
            .methods()
            .filter_map(|m| {
                m.route
                    .as_ref()
                    .map(|route| Cow::Borrowed(route.path.as_str()))
            })
            .collect(),
        _ => org
            .attached_resources(resource_type)
            .map(|resource| Cow::Borrowed(resource.id.as_str()))
            .chain(
                org.resources_of(resource_type)
                    .map(|(id, _)| Cow::Borrowed(id.as_str())),
            )
            .collect(),
    };
    // `*` is always a candidate: it is in the answer exactly when every resource of the type is
    // (for any type, the organization's `Admin`; for policy types, a policy on all of them).
    candidates.push(Cow::Borrowed(ResourceRef::ANY_ID));
    let conditional = ConditionalSearch::new(org, subject, action, resource_type, facts);
    candidates.retain(|id| {
        check(org, subject, action, resource_type, id)
            || conditional
                .as_ref()
                .is_some_and(|search| search.allows(resource_type, id))
    });
    let mut allowed: Vec<String> = candidates.into_iter().map(Cow::into_owned).collect();
    allowed.sort();
    allowed.dedup();
    allowed
}

/// The conditional half of [`check_with`], for one subject and action over one resource or, in a
/// search, many of a type: what does not depend on the resource (which grants on every resource
/// of the type the subject's roles hold, what conditions read of the subject) is worked out once.
struct ConditionalSearch<'a> {
    org: &'a OrgSnapshot,
    grant: &'a crate::index::PolicyGrant,
    subject: &'a Subject,
    account: &'a Account,
    action: &'a str,
    /// Grants under a condition on every resource of the type, held by the subject.
    held_any: Vec<&'a crate::index::ConditionalGrant>,
    facts: &'a Facts<'a>,
    /// Built on the first evaluation.
    prepared: std::cell::OnceCell<ConditionFacts<'a>>,
}

impl<'a> ConditionalSearch<'a> {
    /// `None` when no grant under a condition can apply.
    fn new(
        org: &'a OrgSnapshot,
        subject: &str,
        action: &'a str,
        resource_type: &str,
        facts: &'a Facts<'a>,
    ) -> Option<Self> {
        if matches!(resource_type, "method" | "view" | "route") {
            return None;
        }
        let index = org.index();
        let grant = index.policy_grant(resource_type, action)?;
        if grant.conditional_any.is_empty() && grant.conditional_exact.is_empty() {
            return None;
        }
        let entry = index.subject(subject)?;
        let account = org.account(entry.id)?;
        let held_any = grant
            .conditional_any
            .iter()
            .filter(|conditional| index.holds(entry, Some(&conditional.roles), None))
            .collect();
        Some(Self {
            org,
            grant,
            subject: entry,
            account,
            action,
            held_any,
            facts,
            prepared: std::cell::OnceCell::new(),
        })
    }

    fn allows(&self, resource_type: &str, resource_id: &str) -> bool {
        let index = self.org.index();
        let exact = if self.grant.conditional_exact.is_empty() {
            None
        } else {
            self.grant.conditional_exact.get(resource_id)
        };
        let mut held = self.held_any.iter().copied().chain(
            exact
                .into_iter()
                .flat_map(|grants| grants.iter())
                .filter(|conditional| index.holds(self.subject, Some(&conditional.roles), None)),
        );
        let prepared = || {
            self.prepared.get_or_init(|| {
                ConditionFacts::new(self.org, self.account, self.action, self.facts)
            })
        };
        let owned = || {
            self.org
                .resource(resource_type, resource_id)
                .and_then(|resource| resource.owner)
                == Some(self.account.id)
        };
        held.any(|conditional| {
            let condition = &conditional.condition;
            // A condition that needs ownership fails on what the subject does not own: most of
            // a search's candidates, skipped without an evaluation.
            (!condition.requires_ownership() || owned())
                && prepared().evaluate(condition, resource_type, resource_id) == Ok(true)
        })
    }
}

/// The accounts that may perform `action` on a resource, by id, each passing [`check_with`] over
/// `facts`.
pub fn subjects_for(
    org: &OrgSnapshot,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    facts: &Facts<'_>,
) -> Vec<crate::ids::AccountId> {
    let mut ids: Vec<crate::ids::AccountId> = org
        .accounts()
        .filter(|account| {
            check_with(
                org,
                &account.id.to_string(),
                action,
                resource_type,
                resource_id,
                facts,
            )
        })
        .map(|account| account.id)
        .collect();
    ids.sort();
    ids
}

/// The actions a subject may perform on a resource, sorted: for policy-governed types, among the
/// organization's actions and those its policies on the resource name.
pub fn actions_for(
    org: &OrgSnapshot,
    subject: &str,
    resource_type: &str,
    resource_id: &str,
    facts: &Facts<'_>,
) -> Vec<String> {
    let mut candidates: Vec<String> = match resource_type {
        "method" => vec!["call".to_owned()],
        "view" => vec!["view".to_owned()],
        "route" => org
            .methods()
            .filter_map(|m| {
                m.route
                    .as_ref()
                    .map(|route| route.verb.to_ascii_uppercase())
            })
            .collect(),
        _ => org
            .organization
            .actions
            .iter()
            .map(|action| action.to_string())
            .chain(
                org.policies_governing(resource_type, resource_id)
                    .flat_map(|policy| {
                        policy
                            .actions
                            .iter()
                            .map(|action| action.action.to_string())
                    }),
            )
            .collect(),
    };
    candidates.sort();
    candidates.dedup();
    candidates.retain(|action| check_with(org, subject, action, resource_type, resource_id, facts));
    candidates
}
