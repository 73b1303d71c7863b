//! The hashes seen within a horizon, in memory bounded by design.
//!
//! Hashes go into time buckets, each a sixteenth of the horizon wide, and a bucket is
//! forgotten whole once everything in it is older than the horizon: an id is remembered
//! for at least the horizon and at most a sixteenth longer, and expiring costs nothing
//! per id. A lookup asks every bucket (at most seventeen). The number of ids is capped
//! too: past `max_ids` the oldest bucket is forgotten early, so memory stays within
//! `max_ids` times the bytes of one id whatever the rate of new ids.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Buckets per horizon.
pub const BUCKETS: i64 = 16;

/// How long ids are remembered, and how many at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    pub horizon_ms: i64,
    pub max_ids: usize,
}

/// The values are hashes already: the set takes them as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Bucket = HashSet<u64, BuildHasherDefault<Prehashed>>;

/// The hashes seen within the horizon; see the module's documentation.
#[derive(Default)]
pub struct SeenWindow {
    horizon_ms: i64,
    bucket_ms: i64,
    max_ids: usize,
    /// Bucket number (time / `bucket_ms`) → the hashes seen in it.
    buckets: BTreeMap<i64, Bucket>,
    /// The oldest bucket number still remembered, as of the last [`SeenWindow::expire`].
    floor: i64,
    len: usize,
    /// Ids forgotten before their horizon because of `max_ids`.
    evicted: u64,
}

impl SeenWindow {
    pub fn new(config: WindowConfig) -> Self {
        let horizon_ms = config.horizon_ms.max(1);
        SeenWindow {
            horizon_ms,
            bucket_ms: (horizon_ms / BUCKETS).max(1),
            max_ids: config.max_ids,
            buckets: BTreeMap::new(),
            floor: i64::MIN,
            len: 0,
            evicted: 0,
        }
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: u64) -> bool {
        // Newest first: a duplicate is most often a recent retry.
        self.buckets
            .values()
            .rev()
            .any(|bucket| bucket.contains(&id))
    }

    /// Remembers `id` as seen at `at_ms`: `false` when it was remembered already. An id
    /// older than the horizon (a restore reading an old record) is not remembered.
    pub fn insert(&mut self, id: u64, at_ms: i64) -> bool {
        if self.contains(id) {
            return false;
        }
        let number = at_ms.div_euclid(self.bucket_ms);
        if number < self.floor || self.max_ids == 0 {
            return true;
        }
        self.buckets.entry(number).or_default().insert(id);
        self.len += 1;
        while self.len > self.max_ids {
            let Some((_, oldest)) = self.buckets.pop_first() else {
                break;
            };
            self.len -= oldest.len();
            self.evicted += oldest.len() as u64;
        }
        true
    }

    /// Forgets `id` inserted at `at_ms` (its batch was dropped: it will be seen again).
    pub fn remove(&mut self, id: u64, at_ms: i64) {
        let number = at_ms.div_euclid(self.bucket_ms);
        if let Some(bucket) = self.buckets.get_mut(&number) {
            if bucket.remove(&id) {
                self.len -= 1;
            }
        }
    }

    /// Forgets the buckets whose ids are all older than the horizon at `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let floor = now_ms
            .saturating_sub(self.horizon_ms)
            .div_euclid(self.bucket_ms);
        if floor <= self.floor {
            return;
        }
        self.floor = floor;
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() >= floor {
                break;
            }
            self.len -= entry.remove().len();
        }
    }

    /// Forgets everything (a new assignment: the state is read again).
    pub fn clear(&mut self) {
        self.buckets.clear();
        self.len = 0;
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ids forgotten before their horizon because of `max_ids`, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR_MS: i64 = 3_600_000;

    fn window(max_ids: usize) -> SeenWindow {
        SeenWindow::new(WindowConfig {
            horizon_ms: 16 * HOUR_MS,
            max_ids,
        })
    }

    #[test]
    fn an_id_is_seen_once_within_the_horizon_and_forgotten_after() {
        let mut w = window(100);
        assert!(w.insert(7, 0));
        assert!(!w.insert(7, HOUR_MS), "a duplicate");
        w.expire(16 * HOUR_MS);
        assert!(w.contains(7), "remembered for the whole horizon");
        w.expire(17 * HOUR_MS);
        assert!(!w.contains(7), "forgotten a bucket past the horizon");
        assert!(w.is_empty());
        assert!(w.insert(7, 17 * HOUR_MS));
    }

    #[test]
    fn ids_older_than_the_horizon_are_not_remembered() {
        let mut w = window(100);
        w.expire(40 * HOUR_MS);
        assert!(w.insert(1, 10 * HOUR_MS));
        assert!(!w.contains(1));
        assert!(w.insert(2, 30 * HOUR_MS));
        assert!(w.contains(2));
    }

    #[test]
    fn past_the_cap_the_oldest_bucket_goes_first() {
        let mut w = window(3);
        w.insert(1, 0);
        w.insert(2, 0);
        w.insert(3, HOUR_MS);
        w.insert(4, 2 * HOUR_MS);
        assert_eq!(w.len(), 2);
        assert_eq!(w.evicted(), 2);
        assert!(!w.contains(1) && !w.contains(2));
        assert!(w.contains(3) && w.contains(4));
    }

    #[test]
    fn removing_undoes_an_insert() {
        let mut w = window(10);
        w.insert(5, HOUR_MS);
        w.remove(5, HOUR_MS);
        assert!(!w.contains(5));
        assert!(w.is_empty());
        w.remove(6, HOUR_MS);
        assert!(w.is_empty(), "removing an unknown id changes nothing");
    }

    proptest! {
        #[test]
        fn within_the_horizon_and_the_cap_every_repeat_is_caught(
            ids in proptest::collection::vec((0u64..50, 0i64..16 * HOUR_MS), 1..200),
        ) {
            let mut w = window(1_000);
            let mut sorted = ids.clone();
            sorted.sort_by_key(|&(_, at)| at);
            let mut seen = std::collections::HashSet::new();
            for (id, at) in sorted {
                w.expire(at);
                prop_assert_eq!(w.insert(id, at), seen.insert(id));
            }
            prop_assert_eq!(w.len(), seen.len());
        }

        #[test]
        fn the_cap_holds_whatever_comes(
            ids in proptest::collection::vec((any::<u64>(), 0i64..64 * HOUR_MS), 1..300),
            max_ids in 0usize..40,
        ) {
            let mut w = window(max_ids);
            for (id, at) in ids {
                w.insert(id, at);
                prop_assert!(w.len() <= max_ids);
            }
        }
    }
}
