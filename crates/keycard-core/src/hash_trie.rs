//! A persistent hash trie tuned for what checks do: many lookups, few writes.
//!
//! Branches are dense arrays of 64 children indexed by six bits of a 64-bit hash (the root of a
//! large trie has 4,096 children, indexed by twelve); leaves hold up to eight entries with their
//! full hash, so a lookup walks a few pointers, compares hashes, and
//! looks at a key only when its hash matches. Writes copy the path from the root to one leaf (at
//! most a dozen small nodes), so a clone of the trie costs one reference count and a write's cost
//! does not grow with the number of entries. `imbl`'s maps, used before, spent most of a check in
//! sparse-node bookkeeping and key comparisons (docs/adr/0003-hash-trie.md).
//!
//! [`HashTrie`] stores values with their hash and finds them with a caller's predicate, so a value
//! that carries its own key (a subject and its username) is found and verified in one place.
//! [`TrieMap`] is the usual key-value map on top of it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, LazyLock};

const BITS: u32 = 6;
const FANOUT: usize = 1 << BITS;
const LEAF_MAX: usize = 8;
/// A trie this large gets a root of 4,096 children, so that a lookup in a big map skips a level;
/// small maps (most of them) keep small roots.
const WIDE_ROOT_BITS: u32 = 12;
const WIDE_ROOT_AT: usize = 4096;

/// One seed per process: hashes are never stored or sent anywhere, and a random seed keeps
/// crafted keys from piling into one leaf.
static HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The hash every trie in this process uses for `key`.
#[inline]
pub fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    HASHER.hash_one(key)
}

#[derive(Clone)]
enum Node<T> {
    Empty,
    Leaf(Arc<[(u64, T)]>),
    /// A power-of-two number of children, indexed by the next bits of the hash.
    Branch(Arc<[Node<T>]>),
}

/// A persistent set of values found by hash and predicate.
#[derive(Clone)]
pub struct HashTrie<T> {
    root: Node<T>,
    len: usize,
}

impl<T> Default for HashTrie<T> {
    fn default() -> Self {
        Self {
            root: Node::Empty,
            len: 0,
        }
    }
}

/// The child of a branch of `width` children that `hash` goes to, below `shift` bits.
#[inline]
fn slot(hash: u64, shift: u32, width: usize) -> usize {
    ((hash >> shift) as usize) & (width - 1)
}

#[inline]
fn bits_of(width: usize) -> u32 {
    width.trailing_zeros()
}

impl<T: Clone> HashTrie<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value with this hash that `matches` accepts.
    #[inline]
    pub fn find(&self, hash: u64, mut matches: impl FnMut(&T) -> bool) -> Option<&T> {
        let mut node = &self.root;
        let mut shift = 0;
        loop {
            match node {
                Node::Empty => return None,
                Node::Leaf(entries) => {
                    return entries
                        .iter()
                        .find(|(h, value)| *h == hash && matches(value))
                        .map(|(_, value)| value);
                }
                Node::Branch(children) => {
                    node = &children[slot(hash, shift, children.len())];
                    shift += bits_of(children.len());
                }
            }
        }
    }

    /// Inserts `value`, replacing (and returning) the value with this hash that `matches` accepts.
    pub fn insert(&mut self, hash: u64, value: T, matches: impl Fn(&T) -> bool) -> Option<T> {
        let replaced = insert_at(&mut self.root, 0, hash, value, &matches);
        if replaced.is_none() {
            self.len += 1;
            if self.len == WIDE_ROOT_AT {
                self.widen_root();
            }
        }
        replaced
    }

    /// Rebuilds the trie under a wide root, once, when it reaches [`WIDE_ROOT_AT`] entries.
    fn widen_root(&mut self) {
        let wide = matches!(&self.root, Node::Branch(children) if children.len() > FANOUT);
        if wide {
            return;
        }
        let entries: Vec<(u64, T)> = self.iter_entries().map(|(h, v)| (*h, v.clone())).collect();
        let mut root = Node::Branch(
            std::iter::repeat_with(|| Node::Empty)
                .take(1 << WIDE_ROOT_BITS)
                .collect(),
        );
        for (hash, value) in entries {
            // Values are distinct: nothing matches, every value is added.
            insert_at(&mut root, 0, hash, value, &|_| false);
        }
        self.root = root;
    }

    /// Removes (and returns) the value with this hash that `matches` accepts.
    pub fn remove(&mut self, hash: u64, matches: impl Fn(&T) -> bool) -> Option<T> {
        // Looking first keeps a miss from copying the path.
        self.find(hash, &matches)?;
        let removed = remove_at(&mut self.root, 0, hash, &matches);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            entries: self.iter_entries(),
        }
    }

    fn iter_entries(&self) -> Entries<'_, T> {
        Entries {
            stack: vec![&self.root],
            leaf: [].iter(),
        }
    }
}

fn insert_at<T: Clone>(
    node: &mut Node<T>,
    shift: u32,
    hash: u64,
    value: T,
    matches: &dyn Fn(&T) -> bool,
) -> Option<T> {
    match node {
        Node::Empty => {
            *node = Node::Leaf(Arc::from([(hash, value)]));
            None
        }
        Node::Leaf(entries) => {
            let mut copy = entries.to_vec();
            if let Some(entry) = copy.iter_mut().find(|(h, old)| *h == hash && matches(old)) {
                let old = std::mem::replace(&mut entry.1, value);
                *entries = copy.into();
                return Some(old);
            }
            // Below the last level, or when 64 bits of hash are spent, a leaf just grows.
            if copy.len() < LEAF_MAX || shift + BITS >= u64::BITS {
                copy.push((hash, value));
                *entries = copy.into();
                return None;
            }
            let mut grouped: Vec<Vec<(u64, T)>> = (0..FANOUT).map(|_| Vec::new()).collect();
            for entry in copy {
                grouped[slot(entry.0, shift, FANOUT)].push(entry);
            }
            let mut children: Vec<Node<T>> = grouped
                .into_iter()
                .map(|entries| {
                    if entries.is_empty() {
                        Node::Empty
                    } else {
                        Node::Leaf(entries.into())
                    }
                })
                .collect();
            let child = &mut children[slot(hash, shift, FANOUT)];
            let replaced = insert_at(child, shift + BITS, hash, value, matches);
            *node = Node::Branch(children.into());
            replaced
        }
        Node::Branch(children) => {
            let width = children.len();
            let children = Arc::make_mut(children);
            insert_at(
                &mut children[slot(hash, shift, width)],
                shift + bits_of(width),
                hash,
                value,
                matches,
            )
        }
    }
}

fn remove_at<T: Clone>(
    node: &mut Node<T>,
    shift: u32,
    hash: u64,
    matches: &dyn Fn(&T) -> bool,
) -> Option<T> {
    match node {
        Node::Empty => None,
        Node::Leaf(entries) => {
            let position = entries
                .iter()
                .position(|(h, value)| *h == hash && matches(value))?;
            let mut copy = entries.to_vec();
            let (_, removed) = copy.remove(position);
            *node = if copy.is_empty() {
                Node::Empty
            } else {
                Node::Leaf(copy.into())
            };
            Some(removed)
        }
        Node::Branch(children) => {
            let width = children.len();
            let kids = Arc::make_mut(children);
            let removed = remove_at(
                &mut kids[slot(hash, shift, width)],
                shift + bits_of(width),
                hash,
                matches,
            );
            // A branch left with a leaf's worth of entries becomes that leaf again.
            let mut total = 0;
            for child in kids.iter() {
                match child {
                    Node::Empty => {}
                    Node::Leaf(entries) => total += entries.len(),
                    Node::Branch(_) => return removed,
                }
            }
            if total == 0 {
                *node = Node::Empty;
            } else if total <= LEAF_MAX {
                let merged: Vec<(u64, T)> = kids
                    .iter()
                    .flat_map(|child| match child {
                        Node::Leaf(entries) => entries.to_vec(),
                        _ => Vec::new(),
                    })
                    .collect();
                *node = Node::Leaf(merged.into());
            }
            removed
        }
    }
}

/// Every entry with its hash, in trie order.
struct Entries<'a, T> {
    stack: Vec<&'a Node<T>>,
    leaf: std::slice::Iter<'a, (u64, T)>,
}

impl<'a, T> Iterator for Entries<'a, T> {
    type Item = &'a (u64, T);

    fn next(&mut self) -> Option<&'a (u64, T)> {
        loop {
            if let Some(entry) = self.leaf.next() {
                return Some(entry);
            }
            match self.stack.pop()? {
                Node::Empty => {}
                Node::Leaf(entries) => self.leaf = entries.iter(),
                Node::Branch(children) => self.stack.extend(children.iter().rev()),
            }
        }
    }
}

/// Every value, in trie order.
pub struct Iter<'a, T> {
    entries: Entries<'a, T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.entries.next().map(|(_, value)| value)
    }
}

impl<T: Clone + fmt::Debug> fmt::Debug for HashTrie<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A persistent hash map on a [`HashTrie`] of key-value pairs.
#[derive(Clone)]
pub struct TrieMap<K, V> {
    trie: HashTrie<(K, V)>,
}

impl<K, V> Default for TrieMap<K, V> {
    fn default() -> Self {
        Self {
            trie: HashTrie::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> TrieMap<K, V> {
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }

    #[inline]
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.trie
            .find(hash_of(key), |(k, _)| k.borrow() == key)
            .map(|(_, value)| value)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = hash_of(&key);
        let probe = key.clone();
        self.trie
            .insert(hash, (key, value), |(k, _)| *k == probe)
            .map(|(_, old)| old)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.trie
            .remove(hash_of(key), |(k, _)| k.borrow() == key)
            .map(|(_, old)| old)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.trie.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.trie.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.trie.iter().map(|(_, v)| v)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FromIterator<(K, V)> for TrieMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = TrieMap::default();
        for (key, value) in iter {
            map.insert(key, value);
        }
        map
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, V: Clone + fmt::Debug> fmt::Debug for TrieMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Keys that all share one hash, to exercise leaves that cannot split.
    #[test]
    fn colliding_hashes_share_a_leaf() {
        let mut trie: HashTrie<u32> = HashTrie::default();
        for value in 0..100 {
            assert!(trie.insert(7, value, |v| *v == value).is_none());
        }
        assert_eq!(trie.len(), 100);
        for value in 0..100 {
            assert_eq!(trie.find(7, |v| *v == value), Some(&value));
        }
        for value in 0..100 {
            assert_eq!(trie.remove(7, |v| *v == value), Some(value));
        }
        assert!(trie.is_empty() && trie.find(7, |_| true).is_none());
    }

    #[test]
    fn clones_are_independent() {
        let mut first: TrieMap<u32, u32> = (0..10_000).map(|k| (k, k)).collect();
        let second = first.clone();
        first.insert(5, 50);
        first.remove(&6);
        assert_eq!((first.get(&5), first.get(&6)), (Some(&50), None));
        assert_eq!((second.get(&5), second.get(&6)), (Some(&5), Some(&6)));
        assert_eq!((first.len(), second.len()), (9_999, 10_000));
        assert!(
            (0..10_000)
                .filter(|k| *k != 6)
                .all(|k| first.get(&k).is_some())
        );
    }

    proptest! {
        /// Any sequence of inserts and removals leaves the map equal to a `std` map given the same.
        #[test]
        fn behaves_like_a_hash_map(ops in prop::collection::vec((any::<bool>(), 0u16..600, any::<u8>()), 0..3000)) {
            let mut trie: TrieMap<u16, u8> = TrieMap::default();
            let mut model: HashMap<u16, u8> = HashMap::new();
            for (insert, key, value) in ops {
                if insert {
                    prop_assert_eq!(trie.insert(key, value), model.insert(key, value));
                } else {
                    prop_assert_eq!(trie.remove(&key), model.remove(&key));
                }
                prop_assert_eq!(trie.len(), model.len());
            }
            for key in 0..600u16 {
                prop_assert_eq!(trie.get(&key), model.get(&key));
            }
            let mut listed: Vec<(u16, u8)> = trie.iter().map(|(k, v)| (*k, *v)).collect();
            listed.sort_unstable();
            let mut expected: Vec<(u16, u8)> = model.into_iter().collect();
            expected.sort_unstable();
            prop_assert_eq!(listed, expected);
        }
    }
}
