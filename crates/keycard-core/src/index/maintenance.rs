//! How the index follows the directory: the snapshot tells it what changed (an entity's old and new
//! state), and only this module writes the index's fields.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use compact_str::CompactString;

use super::{
    ConditionalGrant, DecisionIndex, FastMap, GroupSlots, METHOD_KEY, PolicyGrant, ROUTE_KEY,
    RoleBits, Subject, VIEW_KEY, grant_key, policy_grant_hash,
};
use crate::condition::Condition;
use crate::hash_trie::hash_of;
use crate::ids::{GroupId, PolicyId, RoleId};
use crate::model::{Account, Group, Method, MethodRef, ResourceRef, Role, ViewRef};

impl DecisionIndex {
    /// The slot of a role, allocated on first sight (policies may name roles not yet, or no
    /// longer, known).
    fn slot_of(&mut self, role: RoleId) -> u32 {
        number_on_first_sight(&mut self.slots, &mut self.next_slot, role)
    }

    /// The number of a group, allocated on first sight (accounts may be loaded before groups).
    fn group_number(&mut self, group: GroupId) -> u32 {
        number_on_first_sight(&mut self.group_numbers, &mut self.next_group_number, group)
    }

    fn subject_of(&mut self, account: &Account) -> Subject {
        let (roles, groups) = if account.inactive {
            Default::default()
        } else {
            (
                account
                    .roles
                    .iter()
                    .map(|role| self.slot_of(*role))
                    .collect(),
                account
                    .groups
                    .iter()
                    .map(|group| self.group_number(*group))
                    .collect(),
            )
        };
        Subject {
            username: account.username.as_str().into(),
            roles,
            groups,
            inactive: account.inactive,
            id: account.id,
        }
    }

    /// Files an account that was `old` (when it existed) and is now `account`.
    pub(crate) fn put_account(&mut self, old: Option<&Account>, account: &Account) {
        // The common update (roles, groups, a flag) keeps the names: then the name entries stay
        // as they are, and only the subject is replaced.
        let names_kept =
            old.is_some_and(|old| old.username == account.username && old.email == account.email);
        if let Some(old) = old.filter(|_| !names_kept) {
            self.forget_account(old);
        }
        let subject = self.subject_of(account);
        let username = subject.username.clone();
        if !names_kept {
            self.usernames_by_id.insert(account.id, username.clone());
            if let Some(email) = &account.email {
                // Emails need not be unique: the latest account to take one answers to it.
                self.usernames_by_email
                    .insert(email.as_str().to_ascii_lowercase().into(), username.clone());
            }
        }
        self.subjects
            .insert(hash_of(username.as_str()), subject, |s| {
                s.username == username
            });
    }

    /// Removes what finds an account by name: its subject (filed under its username) and its
    /// username and email entries.
    pub(crate) fn forget_account(&mut self, old: &Account) {
        self.usernames_by_id.remove(&old.id);
        let username = old.username.as_str();
        self.subjects.remove(hash_of(username), |s| s.id == old.id);
        if let Some(email) = &old.email {
            let email = email.as_str().to_ascii_lowercase();
            if self
                .usernames_by_email
                .get(email.as_str())
                .map(CompactString::as_str)
                == Some(username)
            {
                self.usernames_by_email.remove(email.as_str());
            }
        }
    }

    /// Files group `id`, whose parents were `old_parents`, as it now is in `groups` (absent when
    /// deleted): its place under its parents, then the slots it and the groups below it pass on.
    pub(crate) fn put_group<'a>(
        &mut self,
        id: GroupId,
        old_parents: &[GroupId],
        groups: impl Fn(GroupId) -> Option<&'a Group>,
    ) {
        for parent in old_parents {
            if let Some(children) = self.group_children.get(parent) {
                let mut children = children.clone();
                children.remove(&id);
                if children.is_empty() {
                    self.group_children.remove(parent);
                } else {
                    self.group_children.insert(*parent, children);
                }
            }
        }
        for parent in groups(id)
            .map(|group| group.parents.as_slice())
            .unwrap_or_default()
        {
            let mut children = self.group_children.get(parent).cloned().unwrap_or_default();
            children.insert(id);
            self.group_children.insert(*parent, children);
        }
        self.refresh_group_slots(id, groups);
    }

    /// Recomputes the slots a group passes on, and those of every group below it that changes.
    fn refresh_group_slots<'a>(
        &mut self,
        start: GroupId,
        groups: impl Fn(GroupId) -> Option<&'a Group>,
    ) {
        let mut queue = VecDeque::from([start]);
        while let Some(id) = queue.pop_front() {
            let number = self.group_number(id);
            let slots: GroupSlots = match groups(id) {
                Some(group) if !group.inactive => {
                    let mut slots: GroupSlots =
                        group.roles.iter().map(|role| self.slot_of(*role)).collect();
                    for parent in &group.parents {
                        if let Some(inherited) = self.slots_passed_on(parent) {
                            slots.extend(inherited.iter().copied());
                        }
                    }
                    slots.sort_unstable();
                    slots.dedup();
                    slots
                }
                _ => GroupSlots::new(),
            };
            if self
                .group_slots
                .get(number)
                .map(|s| s.as_slice())
                .unwrap_or_default()
                == slots.as_slice()
                && id != start
            {
                continue;
            }
            self.group_slots.set(number, slots);
            if let Some(children) = self.group_children.get(&id) {
                queue.extend(children.iter().copied());
            }
        }
    }

    /// Updates a role's slot in the active set and in every method and view grant it gains or
    /// loses; `new` is `None` when the role was deleted.
    pub(crate) fn put_role(&mut self, old: Option<&Role>, new: Option<&Role>) {
        let Some(id) = old.or(new).map(|role| role.id) else {
            return;
        };
        let slot = self.slot_of(id);
        match new {
            Some(new) => {
                self.active = self.active.with(slot, !new.inactive);
                if new.is_admin() {
                    self.admin = Some(slot);
                }
            }
            None => self.active = self.active.with(slot, false),
        }
        let method_key =
            |m: &MethodRef| grant_key(METHOD_KEY, &[&format!("{}/{}", m.provenance, m.name)]);
        let view_key = |v: &ViewRef| grant_key(VIEW_KEY, &[&v.path]);
        let keys_of = |role: &Role| -> Vec<String> {
            role.methods
                .iter()
                .map(method_key)
                .chain(role.views.iter().map(view_key))
                .collect()
        };
        let mut keys: Vec<String> = old.into_iter().chain(new).flat_map(keys_of).collect();
        keys.sort();
        keys.dedup();
        let granted: HashSet<String> = new.map(keys_of).unwrap_or_default().into_iter().collect();
        for key in keys {
            let bits = self
                .grants
                .get(key.as_str())
                .cloned()
                .unwrap_or_default()
                .with(slot, granted.contains(&key));
            if bits.is_empty() {
                self.grants.remove(key.as_str());
            } else {
                self.grants.insert(key.into(), bits);
            }
        }
    }

    /// Sets what the policies attached to `resource` grant for `action`: the roles in `roles`
    /// outright, and those in `conditional` (policy, roles, condition) under their conditions.
    pub(crate) fn put_policy_grant(
        &mut self,
        resource: &ResourceRef,
        action: &str,
        roles: impl IntoIterator<Item = RoleId>,
        conditional: Vec<(PolicyId, Vec<RoleId>, Condition)>,
    ) {
        let slots: Vec<u32> = roles.into_iter().map(|role| self.slot_of(role)).collect();
        let bits = RoleBits::from_slots(slots);
        let conditional: Arc<[ConditionalGrant]> = conditional
            .into_iter()
            .map(|(policy, roles, condition)| ConditionalGrant {
                roles: RoleBits::from_slots(
                    roles
                        .into_iter()
                        .map(|role| self.slot_of(role))
                        .collect::<Vec<_>>(),
                ),
                condition,
                policy,
            })
            .collect();
        let resource_type = resource.resource_type.as_str();
        let hash = policy_grant_hash(resource_type, action);
        let is_key =
            |grant: &PolicyGrant| grant.resource_type == resource_type && grant.action == *action;
        let mut grant = self
            .policy_grants
            .find(hash, is_key)
            .cloned()
            .unwrap_or_else(|| PolicyGrant {
                resource_type: resource_type.into(),
                action: action.into(),
                ..PolicyGrant::default()
            });
        if resource.id == ResourceRef::ANY_ID {
            grant.any = bits;
            grant.conditional_any = conditional;
        } else {
            if bits.is_empty() {
                grant.exact.remove(resource.id.as_str());
            } else {
                grant.exact.insert(resource.id.as_str().into(), bits);
            }
            if conditional.is_empty() {
                grant.conditional_exact.remove(resource.id.as_str());
            } else {
                grant
                    .conditional_exact
                    .insert(resource.id.as_str().into(), conditional);
            }
        }
        if grant.is_empty() {
            self.policy_grants.remove(hash, is_key);
        } else {
            self.policy_grants.insert(hash, grant, is_key);
        }
    }

    /// Rebuilds the route index from the catalogue's methods.
    pub(crate) fn put_routes<'a>(&mut self, methods: impl Iterator<Item = &'a Method>) {
        let mut exact: BTreeMap<String, Vec<Box<str>>> = BTreeMap::new();
        let mut templates = Vec::new();
        for method in methods {
            if let Some(route) = &method.route {
                let verb = route.verb.to_ascii_uppercase();
                exact
                    .entry(grant_key(ROUTE_KEY, &[&verb, &route.path]))
                    .or_default()
                    .push(method.key().into());
                templates.push((verb.into(), route.path.as_str().into(), method.key().into()));
            }
        }
        templates.sort();
        self.routes = exact
            .into_iter()
            .map(|(key, mut ids)| {
                ids.sort();
                (Arc::from(key), Arc::from(ids))
            })
            .collect();
        self.route_templates = Arc::new(templates);
    }
}

/// The dense number of `key`, the next one if it has none yet. Numbers are never reused.
fn number_on_first_sight<K: std::hash::Hash + Eq + Clone>(
    numbers: &mut FastMap<K, u32>,
    next: &mut u32,
    key: K,
) -> u32 {
    if let Some(number) = numbers.get(&key) {
        return *number;
    }
    let number = *next;
    *next += 1;
    numbers.insert(key, number);
    number
}
