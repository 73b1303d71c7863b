//! The container behind the view's recent records and alerts: the newest items by time,
//! within a fixed count.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A kept item's time and arrival number.
type NewestKey = (DateTime<Utc>, u64);

/// The newest `capacity` items by time, oldest evicted first. Ordered by time rather than
/// arrival because the reader interleaves partitions: during catch-up, partition 0 may be
/// read well ahead of partition 2, and arrival order would then evict newer records.
pub struct Newest<T> {
    capacity: usize,
    /// `(time, arrival number)` → item; the arrival number keeps equal times apart and
    /// orders them by arrival. Boxed: B-tree nodes hold 11 slots but stay about half full
    /// when appended to, and a half-empty slot then costs a pointer, not a whole record.
    items: BTreeMap<NewestKey, Box<T>>,
    arrivals: u64,
}

impl<T> Newest<T> {
    pub fn new(capacity: usize) -> Self {
        Newest {
            capacity,
            items: BTreeMap::new(),
            arrivals: 0,
        }
    }

    /// Keeps `item` unless it is older than everything kept at capacity. `Ok` with the
    /// evicted item, if any; `Err` with `item` when it was not kept.
    pub fn insert(&mut self, at: DateTime<Utc>, item: T) -> Result<Option<Box<T>>, T> {
        match self.make_room(at) {
            Some((key, evicted)) => {
                self.items.insert(key, Box::new(item));
                Ok(evicted)
            }
            None => Err(item),
        }
    }

    /// Keeps the item `make` builds, from the evicted one when there is one, unless it is
    /// older than everything kept at capacity (then `make` is not called); whether kept.
    pub fn insert_with(
        &mut self,
        at: DateTime<Utc>,
        make: impl FnOnce(Option<Box<T>>) -> Box<T>,
    ) -> bool {
        match self.make_room(at) {
            Some((key, recycled)) => {
                self.items.insert(key, make(recycled));
                true
            }
            None => false,
        }
    }

    /// The key of an item at `at` and the item evicted to make room for it, or `None` when
    /// it is older than everything kept at capacity.
    fn make_room(&mut self, at: DateTime<Utc>) -> Option<(NewestKey, Option<Box<T>>)> {
        self.arrivals += 1;
        let key = (at, self.arrivals);
        if self.items.len() < self.capacity {
            return Some((key, None));
        }
        match self.items.first_entry() {
            Some(oldest) if *oldest.key() < key => Some((key, Some(oldest.remove()))),
            _ => None,
        }
    }

    pub fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.items.values().rev().map(|item| item.as_ref())
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, second).unwrap()
    }

    fn kept(newest: &Newest<&'static str>) -> Vec<&'static str> {
        newest.newest_first().copied().collect()
    }

    #[test]
    fn keeps_the_newest_by_time_not_by_arrival() {
        let mut newest = Newest::new(2);
        assert_eq!(newest.insert(at(5), "five").map(|e| e.is_none()), Ok(true));
        assert_eq!(newest.insert(at(1), "one").map(|e| e.is_none()), Ok(true));
        let evicted = newest.insert(at(3), "three").ok().flatten();
        assert_eq!(evicted.as_deref(), Some(&"one"), "the oldest goes first");
        assert_eq!(
            newest.insert(at(2), "two"),
            Err("two"),
            "older than all kept"
        );
        assert_eq!(kept(&newest), ["five", "three"]);
        assert_eq!(newest.len(), 2);
    }

    #[test]
    fn equal_times_are_ordered_by_arrival_and_evicted_items_recycled() {
        let mut newest = Newest::new(2);
        assert!(newest.insert_with(at(1), |_| Box::new("a")));
        assert!(newest.insert_with(at(1), |_| Box::new("b")));
        assert_eq!(kept(&newest), ["b", "a"]);
        let mut recycled = None;
        assert!(newest.insert_with(at(1), |evicted| {
            recycled = evicted.map(|e| *e);
            Box::new("c")
        }));
        assert_eq!(recycled, Some("a"));
        assert_eq!(kept(&newest), ["c", "b"]);
        assert!(!newest.insert_with(at(0), |_| unreachable!("not kept, not built")));
    }
}
