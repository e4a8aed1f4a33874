//! A persistent array indexed by dense `u32` numbers (group numbers), for values read on every
//! check.
//!
//! A radix tree of 64-wide nodes: the few upper nodes stay in cache, so a lookup costs one memory
//! read, in the leaf that holds the value inline. A hash trie (`crate::hash_trie`) costs two or
//! three for the same lookup, because it must hash and then verify a key that is already a dense
//! number. A write copies the path to one leaf: at most 64 values and a few 64-wide nodes, however
//! many entries there are.

use std::sync::Arc;

const BITS: u32 = 6;
const FANOUT: usize = 1 << BITS;
const MASK: u32 = (1 << BITS) - 1;

#[derive(Clone)]
enum Node<T> {
    Branch(Arc<[Option<Node<T>>; FANOUT]>),
    Leaf(Arc<[T; FANOUT]>),
}

/// A persistent map from dense numbers to values; numbers never written read as absent.
#[derive(Clone)]
pub struct DenseMap<T> {
    root: Option<Node<T>>,
    /// Branch levels above the leaves: the map holds numbers below `64^(height + 1)`.
    height: u32,
}

impl<T> Default for DenseMap<T> {
    fn default() -> Self {
        Self {
            root: None,
            height: 0,
        }
    }
}

impl<T: Clone + Default> DenseMap<T> {
    /// The value at `number`; `None` when nothing was ever written in its leaf.
    #[inline]
    pub fn get(&self, number: u32) -> Option<&T> {
        if u64::from(number) >> (BITS * (self.height + 1)) != 0 {
            return None;
        }
        let mut node = self.root.as_ref()?;
        let mut level = self.height;
        loop {
            match node {
                Node::Branch(children) => {
                    let index = ((number >> (BITS * level)) & MASK) as usize;
                    node = children[index].as_ref()?;
                    level = level.saturating_sub(1);
                }
                Node::Leaf(values) => return Some(&values[(number & MASK) as usize]),
            }
        }
    }

    /// Sets the value at `number`, copying only the path to its leaf.
    pub fn set(&mut self, number: u32, value: T) {
        while u64::from(number) >> (BITS * (self.height + 1)) != 0 {
            let mut children: [Option<Node<T>>; FANOUT] = std::array::from_fn(|_| None);
            children[0] = self.root.take();
            self.root = Some(Node::Branch(Arc::new(children)));
            self.height += 1;
        }
        let mut slot = &mut self.root;
        let mut level = self.height;
        loop {
            let node = slot.get_or_insert_with(|| {
                if level == 0 {
                    Node::Leaf(Arc::new(std::array::from_fn(|_| T::default())))
                } else {
                    Node::Branch(Arc::new(std::array::from_fn(|_| None)))
                }
            });
            match node {
                Node::Branch(children) => {
                    let index = ((number >> (BITS * level)) & MASK) as usize;
                    slot = &mut Arc::make_mut(children)[index];
                    level = level.saturating_sub(1);
                }
                Node::Leaf(values) => {
                    Arc::make_mut(values)[(number & MASK) as usize] = value;
                    return;
                }
            }
        }
    }
}

impl<T: Clone + Default + std::fmt::Debug> std::fmt::Debug for DenseMap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseMap")
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn unwritten_numbers_are_absent_or_default() {
        let mut map: DenseMap<u32> = DenseMap::default();
        assert_eq!(map.get(0), None);
        assert_eq!(map.get(u32::MAX), None);
        map.set(5, 7);
        assert_eq!(map.get(5), Some(&7));
        assert_eq!(
            map.get(6),
            Some(&0),
            "a leaf's other values read as default"
        );
        assert_eq!(map.get(64), None);
        map.set(u32::MAX, 9);
        assert_eq!(map.get(u32::MAX), Some(&9));
        assert_eq!(map.get(5), Some(&7), "growing keeps what was there");
    }

    #[test]
    fn clones_are_independent() {
        let mut map: DenseMap<u32> = DenseMap::default();
        for number in 0..5000 {
            map.set(number, number);
        }
        let before = map.clone();
        map.set(4000, 1);
        map.set(300_000, 2);
        assert_eq!(before.get(4000), Some(&4000));
        assert_eq!(before.get(300_000), None);
        assert_eq!(map.get(4000), Some(&1));
        assert_eq!(map.get(300_000), Some(&2));
    }

    proptest! {
        #[test]
        fn behaves_as_a_hash_map(writes in proptest::collection::vec((0u32..3_000, 1u32..100), 0..200)) {
            let mut map: DenseMap<u32> = DenseMap::default();
            let mut reference: HashMap<u32, u32> = HashMap::new();
            for (number, value) in writes {
                map.set(number, value);
                reference.insert(number, value);
            }
            for number in 0..3_000 {
                let expected = reference.get(&number).copied().unwrap_or(0);
                prop_assert_eq!(map.get(number).copied().unwrap_or(0), expected);
            }
        }
    }
}
