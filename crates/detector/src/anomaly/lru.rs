//! A map of bounded size that forgets its least recently used entry.
//!
//! The bank keeps one state per series and the set of series is open-ended (a new connector
//! job is a new series), so the state must be capped. Entries sit in a slab linked in
//! recency order: finding, refreshing and evicting an entry are O(1) and allocation-free
//! once the slab is full, which matters on the per-record path.

use std::collections::HashMap;

/// No neighbour.
const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Slot<V> {
    key: String,
    value: V,
    /// Towards the most recently used end.
    newer: usize,
    /// Towards the least recently used end.
    older: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct LruMap<V> {
    capacity: usize,
    index: HashMap<String, usize>,
    slots: Vec<Slot<V>>,
    newest: usize,
    oldest: usize,
    evicted: u64,
}

impl<V> LruMap<V> {
    /// A map of at most `capacity` (≥ 1) entries.
    pub(crate) fn new(capacity: usize) -> Self {
        LruMap {
            capacity,
            index: HashMap::new(),
            slots: Vec::new(),
            newest: NIL,
            oldest: NIL,
            evicted: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Entries dropped to make room so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The entry of `key`, made the most recent; created with `make` when absent, in place
    /// of the least recently used entry when the map is full.
    #[cfg(test)]
    pub(crate) fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.touch(key) {
            Some(at) => at,
            None => self.insert(key, make()),
        };
        &mut self.slots[at].value
    }

    /// The slot of `key`, made the most recent.
    pub(crate) fn touch(&mut self, key: &str) -> Option<usize> {
        let at = *self.index.get(key)?;
        self.unlink(at);
        self.link_newest(at);
        Some(at)
    }

    /// The slot of `key`, leaving its recency alone.
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Adds an absent `key` as the most recent entry, in place of the least recently used
    /// one when the map is full; returns its slot. An entry keeps its slot for as long as it
    /// is held, so that the bank can address a series by slot.
    pub(crate) fn insert(&mut self, key: &str, value: V) -> usize {
        if self.slots.len() < self.capacity || self.oldest == NIL {
            self.slots.push(Slot {
                key: key.to_owned(),
                value,
                newer: NIL,
                older: NIL,
            });
            let at = self.slots.len() - 1;
            self.index.insert(key.to_owned(), at);
            self.link_newest(at);
            return at;
        }
        let at = self.oldest;
        self.unlink(at);
        let slot = &mut self.slots[at];
        self.index.remove(&slot.key);
        slot.key = key.to_owned();
        slot.value = value;
        self.index.insert(key.to_owned(), at);
        self.evicted += 1;
        self.link_newest(at);
        at
    }

    /// The entry of `key`, leaving its recency alone.
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let at = *self.index.get(key)?;
        self.slots.get(at).map(|slot| &slot.value)
    }

    /// Empties the map (what it evicted stays counted), handing out its entries least
    /// recently used first.
    pub(crate) fn drain_oldest_first(&mut self) -> Vec<(String, V)> {
        let mut order = Vec::with_capacity(self.slots.len());
        let mut at = self.oldest;
        while let Some(slot) = self.slots.get(at) {
            order.push(at);
            at = slot.newer;
        }
        let mut slots: Vec<Option<Slot<V>>> = self.slots.drain(..).map(Some).collect();
        self.index.clear();
        self.newest = NIL;
        self.oldest = NIL;
        order
            .into_iter()
            .filter_map(|at| slots.get_mut(at)?.take())
            .map(|slot| (slot.key, slot.value))
            .collect()
    }

    /// Empties the map (what it evicted stays counted).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.index.clear();
        self.newest = NIL;
        self.oldest = NIL;
    }

    /// The entry in slot `at`, leaving its recency alone.
    pub(crate) fn get_at_mut(&mut self, at: usize) -> Option<&mut V> {
        self.slots.get_mut(at).map(|slot| &mut slot.value)
    }

    /// The entry of `key`, leaving its recency alone.
    #[cfg(test)]
    pub(crate) fn peek_mut(&mut self, key: &str) -> Option<&mut V> {
        let at = *self.index.get(key)?;
        Some(&mut self.slots[at].value)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().map(|slot| &slot.value)
    }

    #[cfg(test)]
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().map(|slot| &mut slot.value)
    }

    fn unlink(&mut self, at: usize) {
        let (newer, older) = (self.slots[at].newer, self.slots[at].older);
        match newer {
            NIL => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NIL => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
    }

    fn link_newest(&mut self, at: usize) {
        self.slots[at].newer = NIL;
        self.slots[at].older = self.newest;
        match self.newest {
            NIL => self.oldest = at,
            n => self.slots[n].newer = at,
        }
        self.newest = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut map = LruMap::new(2);
        *map.get_or_insert_with("a", || 1) += 0;
        map.get_or_insert_with("b", || 2);
        map.get_or_insert_with("a", || 0); // refreshes a: b is now the oldest
        map.get_or_insert_with("c", || 3);
        assert_eq!(map.len(), 2);
        assert_eq!(map.evicted(), 1);
        assert!(map.peek_mut("b").is_none());
        assert_eq!(map.peek_mut("a").copied(), Some(1));
        assert_eq!(map.peek_mut("c").copied(), Some(3));
        map.get_or_insert_with("d", || 4); // a is the oldest now
        assert!(map.peek_mut("a").is_none());
        let mut values: Vec<i32> = map.values().copied().collect();
        values.sort_unstable();
        assert_eq!(values, [3, 4]);
    }

    #[test]
    fn a_map_of_one_keeps_the_last_key() {
        let mut map = LruMap::new(1);
        for (i, key) in ["x", "y", "x", "z"].into_iter().enumerate() {
            assert_eq!(*map.get_or_insert_with(key, || i), i);
        }
        assert_eq!((map.len(), map.evicted()), (1, 3));
        for value in map.values_mut() {
            *value = 9;
        }
        assert_eq!(map.peek_mut("z").copied(), Some(9));
    }
}
