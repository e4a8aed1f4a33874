//! The decision index: what `check` reads. Roles get dense slot numbers per organization; every grant
//! (a method, a view, a policy action on a resource) is a bitset of role slots; every account is a
//! [`Subject`] holding its direct role slots and groups; every group holds the slots it passes on
//! (its own and its ancestors', nothing when inactive). A check is then a few hash lookups and bit
//! tests, whatever the size of the organization.
//!
//! Everything lives in persistent hash tries ([`crate::hash_trie`]), so a write copies only the paths it changes. Grants carry
//! no conditions today; a conditional grant would live beside the bitset and be consulted only when
//! the bitset misses, so that unconditional checks keep this cost.

use std::cell::RefCell;
use std::sync::Arc;

use compact_str::CompactString;
use imbl::OrdSet;

use crate::condition::Condition;
use crate::dense_map::DenseMap;
use crate::hash_trie::{HashTrie, hash_of};
use crate::ids::{AccountId, GroupId, PolicyId, RoleId};
use crate::model::Account;

mod maintenance;

/// The persistent map the index is made of.
pub type FastMap<K, V> = crate::hash_trie::TrieMap<K, V>;

/// An immutable set of role slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleBits(Arc<[u64]>);

impl RoleBits {
    #[inline]
    pub fn contains(&self, slot: u32) -> bool {
        self.0
            .get((slot / 64) as usize)
            .is_some_and(|word| word & (1u64 << (slot % 64)) != 0)
    }

    /// A copy with `slot` set or cleared.
    pub fn with(&self, slot: u32, on: bool) -> RoleBits {
        if self.contains(slot) == on {
            return self.clone();
        }
        let index = (slot / 64) as usize;
        let mut words: Vec<u64> = self.0.to_vec();
        if words.len() <= index {
            words.resize(index + 1, 0);
        }
        if on {
            words[index] |= 1u64 << (slot % 64);
        } else {
            words[index] &= !(1u64 << (slot % 64));
        }
        while words.last() == Some(&0) {
            words.pop();
        }
        RoleBits(words.into())
    }

    pub fn from_slots(slots: impl IntoIterator<Item = u32>) -> RoleBits {
        let mut words: Vec<u64> = Vec::new();
        for slot in slots {
            let index = (slot / 64) as usize;
            if words.len() <= index {
                words.resize(index + 1, 0);
            }
            words[index] |= 1u64 << (slot % 64);
        }
        while words.last() == Some(&0) {
            words.pop();
        }
        RoleBits(words.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(index, word)| {
            (0..64u32)
                .filter(move |bit| word & (1u64 << bit) != 0)
                .map(move |bit| index as u32 * 64 + bit)
        })
    }
}

/// An account as checks see it, laid out in the order a check reads it. An inactive account is
/// indexed with no roles and no groups, so that it grants nothing without a check reading the flag.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Subject {
    /// Inline when short, so that finding a subject by name and verifying it is one memory read.
    pub username: compact_str::CompactString,
    /// Slots of the directly assigned roles, inline for the usual few.
    pub roles: smallvec::SmallVec<[u32; 4]>,
    /// Numbers of the direct groups (see `DecisionIndex::group_numbers`), inline for the usual
    /// few: a check reads them with the subject.
    pub groups: smallvec::SmallVec<[u32; 8]>,
    pub inactive: bool,
    pub id: AccountId,
}

/// Method, view and route keys share one map; the first byte names the kind.
pub const METHOD_KEY: char = 'm';
pub const VIEW_KEY: char = 'v';
pub const ROUTE_KEY: char = 'r';
const SEPARATOR: char = '\u{1f}';

/// Builds a grant key from parts.
pub fn grant_key(kind: char, parts: &[&str]) -> String {
    let mut key = String::with_capacity(2 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    key.push(kind);
    for part in parts {
        key.push(SEPARATOR);
        key.push_str(part);
    }
    key
}

thread_local! {
    /// Scratch space for building lookup keys without allocating per check.
    static KEY_BUFFER: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Runs `f` with a grant key built in a reusable buffer.
pub fn with_key<R>(kind: char, parts: &[&str], f: impl FnOnce(&str) -> R) -> R {
    KEY_BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut key) => {
            key.clear();
            key.push(kind);
            for part in parts {
                key.push(SEPARATOR);
                key.push_str(part);
            }
            f(&key)
        }
        // Re-entered (a callback built a key itself): fall back to a fresh string.
        Err(_) => f(&grant_key(kind, parts)),
    })
}

/// Whether two strings are equal, for the short ones a check compares (usernames, actions, resource
/// types): up to 16 bytes are compared as two overlapping words, without a call to `memcmp`, which
/// cost about a seventh of a check on the peer workload.
#[inline]
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let length = a.len();
    if length != b.len() {
        return false;
    }
    match length {
        8..=16 => same_ends::<8>(a, b),
        4..8 => same_ends::<4>(a, b),
        _ => a == b,
    }
}

/// Whether the first and the last `N` bytes of two strings of the same length, `N` to `2N` bytes
/// long, are equal: that is, whether they are equal.
#[inline]
fn same_ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
    let ends = |bytes: &[u8]| -> Option<([u8; N], [u8; N])> {
        let last = bytes.len().checked_sub(N)?;
        Some((
            bytes.get(..N)?.try_into().ok()?,
            bytes.get(last..)?.try_into().ok()?,
        ))
    };
    match (ends(a), ends(b)) {
        (Some(a_ends), Some(b_ends)) => a_ends == b_ends,
        _ => a == b,
    }
}

/// Runs `f` with `value` lowercased (ASCII), allocating only when it has uppercase letters.
pub fn with_lowercase<R>(value: &str, f: impl FnOnce(&str) -> R) -> R {
    if !value.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(value);
    }
    f(&value.to_ascii_lowercase())
}

/// Whether a concrete path matches a route template (`/todos/{id}`, `/todos/:id`, or literal).
pub fn route_matches(template: &str, path: &str) -> bool {
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) => {
                let variable = t.starts_with(':') || (t.starts_with('{') && t.ends_with('}'));
                if !(t == p || (variable && !p.is_empty())) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_set_and_clear() {
        let bits = RoleBits::default().with(3, true).with(130, true);
        assert!(
            bits.contains(3) && bits.contains(130) && !bits.contains(4) && !bits.contains(9999)
        );
        assert_eq!(bits.slots().collect::<Vec<_>>(), vec![3, 130]);
        let cleared = bits.with(130, false);
        assert!(!cleared.contains(130));
        assert_eq!(cleared.0.len(), 1, "trailing empty words are dropped");
        assert_eq!(RoleBits::from_slots([3, 130]), bits);
    }

    #[test]
    fn same_text_is_string_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "abcdefg",
            "abcdefh",
            "bbcdefg",
            "abcdefgh",
            "abcdefgi",
            "xbcdefgh",
            "user1234",
            "user1235",
            "action17",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "bbcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "é",
            "éa",
        ];
        for a in words {
            for b in words {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn routes_match_templates() {
        assert!(route_matches("/todos/{todoId}", "/todos/42"));
        assert!(route_matches("/todos/:id", "/todos/42"));
        assert!(route_matches("/todos/{todoId}", "/todos/{todoId}"));
        assert!(!route_matches("/todos/{todoId}", "/todos"));
        assert!(!route_matches("/todos/{todoId}", "/todos/"));
        assert!(!route_matches("/todos", "/users"));
    }
}

/// What the policies on one (resource type, action) grant: to every resource of the type, and to
/// resources by id; outright, and under conditions.
#[derive(Clone, Debug, Default)]
pub struct PolicyGrant {
    pub resource_type: compact_str::CompactString,
    pub action: compact_str::CompactString,
    pub any: RoleBits,
    pub exact: FastMap<Arc<str>, RoleBits>,
    /// Grants under a condition on every resource of the type; consulted only when the bitsets
    /// grant nothing, so that unconditional checks keep their cost.
    pub conditional_any: Arc<[ConditionalGrant]>,
    /// Grants under a condition on resources by id.
    pub conditional_exact: FastMap<Arc<str>, Arc<[ConditionalGrant]>>,
}

impl PolicyGrant {
    /// The conditional grants that apply to `resource_id`.
    pub fn conditional(&self, resource_id: &str) -> impl Iterator<Item = &ConditionalGrant> {
        let exact = if self.conditional_exact.is_empty() {
            None
        } else {
            self.conditional_exact.get(resource_id)
        };
        self.conditional_any
            .iter()
            .chain(exact.into_iter().flat_map(|grants| grants.iter()))
    }

    fn is_empty(&self) -> bool {
        self.any.is_empty()
            && self.exact.is_empty()
            && self.conditional_any.is_empty()
            && self.conditional_exact.is_empty()
    }
}

/// A grant under a condition: the roles it goes to, the condition, and the policy it comes from.
#[derive(Clone, Debug)]
pub struct ConditionalGrant {
    pub roles: RoleBits,
    pub condition: Condition,
    pub policy: PolicyId,
}

/// The role slots a group passes on (its own and its ancestors'), inline for the usual few, so
/// that a check reads them in the same memory read that finds them.
pub type GroupSlots = smallvec::SmallVec<[u32; 10]>;

/// A catalogue route: verb (uppercase), path or template, and the method id serving it.
pub(crate) type RouteEntry = (Box<str>, Box<str>, Box<str>);

/// The index of one organization (see the module's documentation). The snapshot tells it what
/// changed ([`maintenance`]); checks read it through its methods.
#[derive(Clone, Debug, Default)]
pub struct DecisionIndex {
    slots: FastMap<RoleId, u32>,
    next_slot: u32,
    active: RoleBits,
    admin: Option<u32>,
    /// Subjects found by hash of their username, verified against it.
    subjects: HashTrie<Subject>,
    usernames_by_id: FastMap<AccountId, CompactString>,
    /// Keyed by lowercased email.
    usernames_by_email: FastMap<CompactString, CompactString>,
    /// Dense numbers for groups, as slots are for roles (never reused): subjects list their groups
    /// by number, four bytes each.
    group_numbers: FastMap<GroupId, u32>,
    next_group_number: u32,
    /// The slots each group passes on, by group number, held inline.
    group_slots: DenseMap<GroupSlots>,
    group_children: FastMap<GroupId, OrdSet<GroupId>>,
    /// Method and view grants.
    grants: FastMap<Arc<str>, RoleBits>,
    /// Policy grants found by hash of (resource type, action): one lookup answers the common case.
    policy_grants: HashTrie<PolicyGrant>,
    /// Route keys (`VERB`, exact path) to the method ids serving them.
    routes: FastMap<Arc<str>, Arc<[Box<str>]>>,
    /// Every route with its method id, for template matching.
    route_templates: Arc<Vec<RouteEntry>>,
}

/// The hash policy grants are found by.
#[inline]
pub(crate) fn policy_grant_hash(resource_type: &str, action: &str) -> u64 {
    hash_of(&(resource_type, action))
}

impl DecisionIndex {
    /// The subject a string names: an account id, a username or an email (case-insensitive).
    #[inline]
    pub fn subject(&self, name: &str) -> Option<&Subject> {
        if let Ok(id) = uuid::Uuid::try_parse(name)
            && let Some(subject) = self.subject_by_id(AccountId::from_uuid(id))
        {
            return Some(subject);
        }
        self.subject_by_username(name)
            .or_else(|| self.subject_by_email(name))
    }

    #[inline]
    pub fn subject_by_username(&self, username: &str) -> Option<&Subject> {
        self.subjects.find(hash_of(username), |s| {
            crate::index::same_text(s.username.as_str(), username)
        })
    }

    pub fn subject_by_id(&self, id: AccountId) -> Option<&Subject> {
        let username = self.usernames_by_id.get(&id)?;
        self.subject_by_username(username)
            .filter(|subject| subject.id == id)
    }

    /// Case-insensitive.
    pub fn subject_by_email(&self, email: &str) -> Option<&Subject> {
        crate::index::with_lowercase(email, |email| self.usernames_by_email.get(email))
            .and_then(|username| self.subject_by_username(username))
    }

    /// The methods whose route is exactly the route key `key`.
    #[inline]
    pub fn methods_at(&self, key: &str) -> Option<Arc<[Box<str>]>> {
        self.routes.get(key).cloned()
    }

    /// Every route with the method serving it: `(verb, path or template, method)`.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.route_templates
            .iter()
            .map(|(verb, template, method)| (verb.as_ref(), template.as_ref(), method.as_ref()))
    }

    /// The roles a method or view grant (by its key) goes to.
    #[inline]
    pub fn grant(&self, key: &str) -> Option<&RoleBits> {
        self.grants.get(key)
    }

    /// What the policies on (resource type, action) grant.
    #[inline]
    pub fn policy_grant(&self, resource_type: &str, action: &str) -> Option<&PolicyGrant> {
        self.policy_grants
            .find(policy_grant_hash(resource_type, action), |grant| {
                crate::index::same_text(grant.resource_type.as_str(), resource_type)
                    && crate::index::same_text(grant.action.as_str(), action)
            })
    }

    /// The role slots a group passes on (its own and its ancestors'; none when it is inactive).
    pub(crate) fn slots_passed_on(&self, group: &GroupId) -> Option<&GroupSlots> {
        self.group_numbers
            .get(group)
            .and_then(|number| self.group_slots.get(*number))
    }

    /// Whether an account, as given (it may be newer than the snapshot's copy), holds the
    /// organization's active `Admin` role, directly or through its groups.
    pub fn holds_admin(&self, account: &Account) -> bool {
        let Some(admin) = self.admin.filter(|slot| self.active.contains(*slot)) else {
            return false;
        };
        !account.inactive
            && (account
                .roles
                .iter()
                .any(|role| self.slots.get(role) == Some(&admin))
                || account.groups.iter().any(|group| {
                    self.slots_passed_on(group)
                        .is_some_and(|slots| slots.contains(&admin))
                }))
    }

    /// Whether one of the subject's active roles (direct, or passed on by its groups) is the
    /// organization's `Admin` or is in `grants` or `more`.
    #[inline]
    pub fn holds(
        &self,
        subject: &Subject,
        grants: Option<&RoleBits>,
        more: Option<&RoleBits>,
    ) -> bool {
        let granted = |slot: u32| {
            self.active.contains(slot)
                && (Some(slot) == self.admin
                    || grants.is_some_and(|bits| bits.contains(slot))
                    || more.is_some_and(|bits| bits.contains(slot)))
        };
        subject.roles.iter().any(|slot| granted(*slot))
            || subject.groups.iter().any(|group| {
                self.group_slots
                    .get(*group)
                    .is_some_and(|slots| slots.iter().any(|slot| granted(*slot)))
            })
    }
}
