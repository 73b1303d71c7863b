//! The log index: the most recent application log events by event time, within a count
//! and a byte bound, with secondary indexes by service and by source so that a query that
//! names one reads only its events.
//!
//! Pure: no lock, no I/O. The queries over it are in `search`.

use chrono::{DateTime, Utc};
use obs_records::{source_slug, StandardizedLogEvent};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::mem::size_of;
use std::ops::RangeInclusive;

/// Where an event sits in the index: its time, then the order it arrived in (events of
/// the same instant stay apart, in arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    timestamp: DateTime<Utc>,
    arrival: u64,
}

/// The keys of events in `[from, to]`.
pub fn keys_between(from: DateTime<Utc>, to: DateTime<Utc>) -> RangeInclusive<EventKey> {
    EventKey {
        timestamp: from,
        arrival: 0,
    }..=EventKey {
        timestamp: to,
        arrival: u64::MAX,
    }
}

struct Entry {
    event: StandardizedLogEvent,
    /// [`estimated_bytes`] of the event, counted in [`LogIndex::held_bytes`].
    bytes: usize,
}

/// Bytes an entry costs beyond the text of its event: the event's fixed part and its key
/// in the three B-trees (B-tree node slack and allocator rounding aside).
const ENTRY_OVERHEAD: usize = size_of::<Entry>() + 3 * size_of::<EventKey>();

/// The newest events, oldest evicted first past either bound.
pub struct LogIndex {
    capacity: usize,
    max_bytes: usize,
    events: BTreeMap<EventKey, Entry>,
    /// By the slug of the event's `service` (as the runs' sources are written).
    by_service: HashMap<String, BTreeSet<EventKey>>,
    /// By the event's `source` attribute (already a slug), for events that have one.
    by_source: HashMap<String, BTreeSet<EventKey>>,
    held_bytes: usize,
    arrivals: u64,
}

/// The index's bounds and contents, for answers and `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LogIndexStats)]
pub struct IndexStats {
    pub capacity: usize,
    pub held: usize,
    pub max_bytes: usize,
    /// The estimate the byte bound is checked against.
    pub held_bytes: usize,
    /// Event time of the oldest event held.
    pub oldest: Option<DateTime<Utc>>,
}

impl LogIndex {
    /// An empty index of at most `capacity` events and `max_bytes` (each at least 1).
    pub fn new(capacity: usize, max_bytes: usize) -> LogIndex {
        LogIndex {
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            events: BTreeMap::new(),
            by_service: HashMap::new(),
            by_source: HashMap::new(),
            held_bytes: 0,
            arrivals: 0,
        }
    }

    /// Adds `event`, then evicts the oldest events (by event time) until both bounds hold
    /// again: an event older than everything in a full index goes at once. Returns how
    /// many events were evicted.
    pub fn insert(&mut self, event: StandardizedLogEvent) -> usize {
        let key = EventKey {
            timestamp: event.timestamp,
            arrival: self.arrivals,
        };
        self.arrivals += 1;
        self.by_service
            .entry(source_slug(&event.service))
            .or_default()
            .insert(key);
        if let Some(source) = &event.source {
            self.by_source
                .entry(source.clone())
                .or_default()
                .insert(key);
        }
        let bytes = estimated_bytes(&event);
        self.held_bytes += bytes;
        self.events.insert(key, Entry { event, bytes });
        let mut evicted = 0;
        while self.events.len() > self.capacity || self.held_bytes > self.max_bytes {
            let Some((key, entry)) = self.events.pop_first() else {
                break;
            };
            self.held_bytes -= entry.bytes;
            unlink(
                &mut self.by_service,
                &source_slug(&entry.event.service),
                &key,
            );
            if let Some(source) = &entry.event.source {
                unlink(&mut self.by_source, source, &key);
            }
            evicted += 1;
        }
        evicted
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn stats(&self) -> IndexStats {
        IndexStats {
            capacity: self.capacity,
            held: self.events.len(),
            max_bytes: self.max_bytes,
            held_bytes: self.held_bytes,
            oldest: self.events.first_key_value().map(|(key, _)| key.timestamp),
        }
    }

    /// Every event in `range`, oldest first (`.rev()` for newest first).
    pub fn events_in(
        &self,
        range: RangeInclusive<EventKey>,
    ) -> impl DoubleEndedIterator<Item = &StandardizedLogEvent> {
        self.events.range(range).map(|(_, entry)| &entry.event)
    }

    /// The keys of the events of the service whose slug is `service_slug`, in `range`.
    pub fn service_keys(
        &self,
        service_slug: &str,
        range: RangeInclusive<EventKey>,
    ) -> impl DoubleEndedIterator<Item = &EventKey> {
        self.by_service
            .get(service_slug)
            .into_iter()
            .flat_map(move |keys| keys.range(range.clone()))
    }

    /// The keys of the events whose `source` attribute is `source_slug`, in `range`.
    pub fn source_keys(
        &self,
        source_slug: &str,
        range: RangeInclusive<EventKey>,
    ) -> impl DoubleEndedIterator<Item = &EventKey> {
        self.by_source
            .get(source_slug)
            .into_iter()
            .flat_map(move |keys| keys.range(range.clone()))
    }

    /// The event at `key`; `None` only for a key that is not the index's own.
    pub fn event(&self, key: &EventKey) -> Option<&StandardizedLogEvent> {
        self.events.get(key).map(|entry| &entry.event)
    }
}

/// Removes `key` from the set of `name`, and the set once empty, so that the secondary
/// indexes hold no more names than the events held.
fn unlink(index: &mut HashMap<String, BTreeSet<EventKey>>, name: &str, key: &EventKey) {
    if let Some(keys) = index.get_mut(name) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(name);
        }
    }
}

/// What an event costs the index: its text, its attributes' values and [`ENTRY_OVERHEAD`].
/// An estimate, the unit of `index_max_bytes`: the allocator's rounding and the B-trees'
/// half-empty nodes come on top.
pub fn estimated_bytes(event: &StandardizedLogEvent) -> usize {
    let optional = [
        &event.level,
        &event.company,
        &event.source,
        &event.object_id,
        &event.record_id,
        &event.trace_id,
    ];
    ENTRY_OVERHEAD
        + event.event_id.len()
        + event.schema_version.len()
        + event.service.len()
        + event.message.len()
        + optional
            .iter()
            .map(|text| text.as_ref().map_or(0, String::len))
            .sum::<usize>()
        + object_bytes(&event.attributes)
}

fn object_bytes(object: &Map<String, Value>) -> usize {
    object
        .iter()
        .map(|(name, value)| size_of::<String>() + name.len() + value_bytes(value))
        .sum()
}

fn value_bytes(value: &Value) -> usize {
    size_of::<Value>()
        + match value {
            Value::String(text) => text.len(),
            Value::Array(values) => values.iter().map(value_bytes).sum(),
            Value::Object(object) => object_bytes(object),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::{at, event};

    fn all_messages(index: &LogIndex) -> Vec<String> {
        index
            .events_in(keys_between(at(-10_000), at(10_000)))
            .map(|e| e.message.clone())
            .collect()
    }

    #[test]
    fn keeps_the_newest_by_event_time_within_the_count() {
        let mut index = LogIndex::new(3, usize::MAX);
        for (minute, message) in [(5, "e"), (1, "a"), (3, "c"), (4, "d")] {
            index.insert(event("app", minute, message));
        }
        assert_eq!(all_messages(&index), ["c", "d", "e"], "a (oldest) evicted");
        assert_eq!(index.insert(event("app", 0, "late")), 1);
        assert_eq!(
            all_messages(&index),
            ["c", "d", "e"],
            "older than all: gone at once"
        );
        assert_eq!(index.stats().oldest, Some(at(3)));
    }

    #[test]
    fn keeps_within_the_byte_bound() {
        let one = estimated_bytes(&event("app", 0, "x"));
        let mut index = LogIndex::new(1_000, 2 * one);
        for minute in 0..5 {
            index.insert(event("app", minute, "x"));
        }
        let stats = index.stats();
        assert_eq!((stats.held, stats.held_bytes), (2, 2 * one));
        assert_eq!(stats.oldest, Some(at(3)));
    }

    #[test]
    fn estimated_bytes_grow_with_text_and_attributes() {
        let small = event("app", 0, "x");
        let mut large = small.clone();
        large.message = "x".repeat(1_001);
        assert_eq!(estimated_bytes(&large), estimated_bytes(&small) + 1_000);
        let mut with_attributes = small.clone();
        with_attributes
            .attributes
            .insert("host".into(), Value::String("abc".into()));
        assert!(estimated_bytes(&with_attributes) > estimated_bytes(&small) + 7);
    }

    #[test]
    fn secondary_indexes_follow_evictions() {
        let mut index = LogIndex::new(2, usize::MAX);
        let mut sourced = event("Sync Worker", 0, "a");
        sourced.source = Some("powerbi".into());
        index.insert(sourced);
        index.insert(event("other", 1, "b"));
        let everything = keys_between(at(-60), at(60));
        assert_eq!(
            index
                .service_keys("sync-worker", everything.clone())
                .count(),
            1
        );
        assert_eq!(index.source_keys("powerbi", everything.clone()).count(), 1);
        index.insert(event("other", 2, "c"));
        assert_eq!(
            index
                .service_keys("sync-worker", everything.clone())
                .count(),
            0
        );
        assert_eq!(index.source_keys("powerbi", everything).count(), 0);
        assert!(index.by_service.len() == 1 && index.by_source.is_empty());
    }
}
