//! The trace index: per record id, the stages that saw the record, for the last
//! `trace.capacity` records, the record seen first evicted first.
//!
//! Records are keyed by a 64-bit fingerprint of their id (SipHash with keys drawn at
//! start, so ids cannot be crafted to collide), not by the id itself: the id would
//! take more room than the rest of the entry. Two of the records held share a
//! fingerprint with a probability of about n² / 2⁶⁵ (3 × 10⁻¹⁰ for 100,000 records).
//!
//! The entries sit in a ring in the order their records were first seen, each at a
//! sequence number; the map goes from fingerprint to sequence number. Both are allocated
//! at the capacity up front, so the index never reallocates as it fills; once it evicts,
//! the map doubles once, when the slots left by its removals fill it.

use chrono::{DateTime, Utc};
use obs_detector::{RuleKind, Severity};
use serde::Serialize;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

/// Longest record id the index keeps (and `GET /trace/{record_id}` looks up); a longer one
/// is not indexed.
pub const MAX_RECORD_ID_BYTES: usize = 256;

/// Where and when a stage saw a record: the Kafka record's partition and offset, and its
/// time in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub at_ms: i64,
    pub offset: i64,
    pub partition: i32,
}

impl Hop {
    pub fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.at_ms)
    }
}

/// The rules a run broke, one bit each in [`RuleKind::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSet(u8);

impl RuleSet {
    pub fn insert(&mut self, rule: RuleKind) {
        if let Some(at) = RuleKind::ALL.iter().position(|r| *r == rule) {
            self.0 |= 1 << at;
        }
    }

    /// The rules, in [`RuleKind::ALL`] order.
    pub fn rules(self) -> impl Iterator<Item = RuleKind> {
        RuleKind::ALL
            .into_iter()
            .enumerate()
            .filter(move |(at, _)| self.0 & (1 << at) != 0)
            .map(|(_, rule)| rule)
    }
}

/// What processing said of a run: the few fields of its processed record the trace shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub efficiency_score: f64,
    /// The detectors' combined score; `None` when they did not score the run.
    pub detector_score: Option<f64>,
    pub rule_hits: RuleSet,
    /// Of the rules.
    pub severity: Option<Severity>,
    pub anomalous: bool,
    /// Alerts the run raised.
    pub alerts: u8,
}

/// Why a stage refused a record: the headers of its dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stage that wrote the dead letter (`standardization`, `processing`).
    pub stage_of_failure: Box<str>,
    pub reason: Box<str>,
    pub error_type: Box<str>,
}

/// One stage seeing a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Sighting {
    Ingested(Hop),
    Standardized(Hop),
    DeadLettered(Hop, Refusal),
    Processed(Hop, Scores),
}

/// The stages that saw one record, the first sighting of each (a run sent twice shows
/// its first passage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordTrace {
    pub ingested: Option<Hop>,
    pub standardized: Option<Hop>,
    /// Boxed: dead letters are rare, and the box keeps the other entries small.
    pub dead_lettered: Option<Box<(Hop, Refusal)>>,
    pub processed: Option<(Hop, Scores)>,
}

/// Milliseconds between the stages (`None` when one of the two is missing). Times of
/// different hosts: a clock skew can make one negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Durations {
    pub ingested_to_standardized: Option<i64>,
    pub standardized_to_processed: Option<i64>,
    pub ingested_to_processed: Option<i64>,
}

impl RecordTrace {
    /// Adds `sighting` unless its stage was seen already.
    fn see(&mut self, sighting: Sighting) {
        match sighting {
            Sighting::Ingested(hop) => {
                self.ingested.get_or_insert(hop);
            }
            Sighting::Standardized(hop) => {
                self.standardized.get_or_insert(hop);
            }
            Sighting::DeadLettered(hop, refusal) => {
                self.dead_lettered
                    .get_or_insert_with(|| Box::new((hop, refusal)));
            }
            Sighting::Processed(hop, scores) => {
                self.processed.get_or_insert((hop, scores));
            }
        }
    }

    /// What the record's dead letter takes beyond its entry: its box and its three texts.
    fn boxed_bytes(&self) -> usize {
        self.dead_lettered.as_deref().map_or(0, |(_, refusal)| {
            size_of::<(Hop, Refusal)>()
                + refusal.stage_of_failure.len()
                + refusal.reason.len()
                + refusal.error_type.len()
        })
    }

    /// Processed or dead-lettered: the record went as far as it will.
    pub fn complete(&self) -> bool {
        self.processed.is_some() || self.dead_lettered.is_some()
    }

    pub fn durations(&self) -> Durations {
        let between = |from: Option<&Hop>, to: Option<&Hop>| Some(to?.at_ms - from?.at_ms);
        let processed = self.processed.as_ref().map(|(hop, _)| hop);
        Durations {
            ingested_to_standardized: between(self.ingested.as_ref(), self.standardized.as_ref()),
            standardized_to_processed: between(self.standardized.as_ref(), processed),
            ingested_to_processed: between(self.ingested.as_ref(), processed),
        }
    }

    /// The earliest time a stage saw the record.
    fn first_seen_ms(&self) -> Option<i64> {
        [
            self.ingested.as_ref(),
            self.standardized.as_ref(),
            self.dead_lettered.as_deref().map(|(hop, _)| hop),
            self.processed.as_ref().map(|(hop, _)| hop),
        ]
        .into_iter()
        .flatten()
        .map(|hop| hop.at_ms)
        .min()
    }
}

struct Entry {
    fingerprint: u64,
    trace: RecordTrace,
}

/// What the index holds, for `/status` and the 404 of an unknown record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TraceStats {
    pub capacity: usize,
    pub held: usize,
    /// When the oldest record held was first seen by a stage.
    pub oldest: Option<DateTime<Utc>>,
}

pub struct TraceIndex {
    capacity: usize,
    keys: RandomState,
    /// Fingerprint of a record id → sequence number of its entry.
    sequences: HashMap<u64, u64>,
    /// In the order their records were first seen: `entries[i]` has sequence number
    /// `first_sequence + i`.
    entries: VecDeque<Entry>,
    first_sequence: u64,
    /// [`RecordTrace::boxed_bytes`] of the entries held.
    boxed_bytes: usize,
}

impl TraceIndex {
    /// An empty index of at most `capacity` records; its ring and map are allocated at
    /// that capacity with its first record (an instance that never indexes holds none).
    pub fn new(capacity: usize) -> TraceIndex {
        TraceIndex {
            capacity,
            keys: RandomState::new(),
            sequences: HashMap::new(),
            entries: VecDeque::new(),
            first_sequence: 0,
            boxed_bytes: 0,
        }
    }

    /// Adds what a stage saw of `record_id`; returns whether the record seen first was
    /// evicted to make room. An id longer than [`MAX_RECORD_ID_BYTES`] is not indexed.
    pub fn see(&mut self, record_id: &str, sighting: Sighting) -> bool {
        if record_id.len() > MAX_RECORD_ID_BYTES || self.capacity == 0 {
            return false;
        }
        let fingerprint = self.keys.hash_one(record_id);
        if let Some(&sequence) = self.sequences.get(&fingerprint) {
            let at = (sequence - self.first_sequence) as usize;
            if let Some(entry) = self.entries.get_mut(at) {
                self.boxed_bytes -= entry.trace.boxed_bytes();
                entry.trace.see(sighting);
                self.boxed_bytes += entry.trace.boxed_bytes();
            }
            return false;
        }
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(self.capacity);
            self.sequences.reserve(self.capacity);
        }
        let evicted = self.entries.len() >= self.capacity;
        if evicted {
            if let Some(oldest) = self.entries.pop_front() {
                self.sequences.remove(&oldest.fingerprint);
                self.boxed_bytes -= oldest.trace.boxed_bytes();
                self.first_sequence += 1;
            }
        }
        let mut trace = RecordTrace::default();
        trace.see(sighting);
        self.boxed_bytes += trace.boxed_bytes();
        self.sequences
            .insert(fingerprint, self.first_sequence + self.entries.len() as u64);
        self.entries.push_back(Entry { fingerprint, trace });
        evicted
    }

    pub fn get(&self, record_id: &str) -> Option<&RecordTrace> {
        let sequence = self.sequences.get(&self.keys.hash_one(record_id))?;
        let entry = self
            .entries
            .get((sequence - self.first_sequence) as usize)?;
        Some(&entry.trace)
    }

    pub fn held(&self) -> usize {
        self.entries.len()
    }

    /// The bytes the index takes: the ring and the map as allocated (at the capacity,
    /// from the first record) and the dead letters' boxes; the allocator's rounding aside.
    pub fn memory_bytes(&self) -> usize {
        // The map's buckets: its capacity × 8/7, a power of two, each a (fingerprint,
        // sequence) pair and a control byte, plus one group of control bytes.
        let buckets = match self.sequences.capacity() {
            0 => 0,
            capacity => (capacity * 8 / 7).next_power_of_two(),
        };
        self.entries.capacity() * size_of::<Entry>()
            + buckets * (size_of::<(u64, u64)>() + 1)
            + 16
            + self.boxed_bytes
    }

    pub fn stats(&self) -> TraceStats {
        TraceStats {
            capacity: self.capacity,
            held: self.entries.len(),
            oldest: self
                .entries
                .front()
                .and_then(|e| e.trace.first_seen_ms())
                .and_then(DateTime::from_timestamp_millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(at_ms: i64) -> Hop {
        Hop {
            at_ms,
            offset: at_ms / 10,
            partition: 1,
        }
    }

    fn scores() -> Scores {
        let mut rule_hits = RuleSet::default();
        rule_hits.insert(RuleKind::LowEfficiency);
        rule_hits.insert(RuleKind::Failure);
        Scores {
            efficiency_score: 12.5,
            detector_score: None,
            rule_hits,
            severity: Some(Severity::Critical),
            anomalous: true,
            alerts: 1,
        }
    }

    #[test]
    fn gathers_the_stages_of_a_record_with_the_times_between_them() {
        let mut index = TraceIndex::new(10);
        assert!(!index.see("a:1", Sighting::Processed(hop(1_250), scores())));
        index.see("a:1", Sighting::Ingested(hop(1_000)));
        index.see("a:1", Sighting::Standardized(hop(1_040)));
        index.see("b:2", Sighting::Ingested(hop(2_000)));
        let trace = index.get("a:1").unwrap();
        assert_eq!(trace.ingested, Some(hop(1_000)));
        assert_eq!(trace.standardized, Some(hop(1_040)));
        assert_eq!(trace.processed, Some((hop(1_250), scores())));
        assert!(trace.complete());
        assert_eq!(
            trace.durations(),
            Durations {
                ingested_to_standardized: Some(40),
                standardized_to_processed: Some(210),
                ingested_to_processed: Some(250),
            }
        );
        let b = index.get("b:2").unwrap();
        assert!(!b.complete());
        assert_eq!(b.durations().ingested_to_processed, None);
        assert_eq!(index.get("c:3"), None);
        assert_eq!(
            scores().rule_hits.rules().collect::<Vec<_>>(),
            [RuleKind::Failure, RuleKind::LowEfficiency]
        );
    }

    #[test]
    fn a_stage_seen_twice_keeps_its_first_sighting() {
        let mut index = TraceIndex::new(10);
        let refusal = |reason: &str| Refusal {
            stage_of_failure: "standardization".into(),
            reason: reason.into(),
            error_type: "missing_field".into(),
        };
        index.see("a:1", Sighting::Ingested(hop(1_000)));
        index.see("a:1", Sighting::DeadLettered(hop(1_100), refusal("first")));
        index.see("a:1", Sighting::Ingested(hop(5_000)));
        index.see("a:1", Sighting::DeadLettered(hop(5_100), refusal("second")));
        let trace = index.get("a:1").unwrap();
        assert_eq!(trace.ingested, Some(hop(1_000)));
        assert_eq!(
            trace.dead_lettered.as_deref(),
            Some(&(hop(1_100), refusal("first")))
        );
        assert!(trace.complete());
        assert_eq!(index.held(), 1);
    }

    #[test]
    fn the_record_seen_first_is_evicted_first() {
        let mut index = TraceIndex::new(3);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            assert!(!index.see(id, Sighting::Ingested(hop(1_000 * (i as i64 + 1)))));
        }
        // A new stage of "a" does not make it younger.
        index.see("a", Sighting::Standardized(hop(9_000)));
        assert!(index.see("d", Sighting::Ingested(hop(4_000))));
        assert_eq!(index.get("a"), None);
        assert!(index.see("e", Sighting::Ingested(hop(5_000))));
        assert_eq!(index.get("b"), None);
        for id in ["c", "d", "e"] {
            assert!(index.get(id).is_some(), "{id}");
        }
        let stats = index.stats();
        assert_eq!((stats.capacity, stats.held), (3, 3));
        assert_eq!(stats.oldest, DateTime::from_timestamp_millis(3_000));
        // The map and the ring stay in step over many turns of the ring.
        for i in 0..1_000 {
            index.see(&format!("r{i}"), Sighting::Ingested(hop(i)));
            index.see(&format!("r{i}"), Sighting::Standardized(hop(i + 1)));
        }
        assert_eq!(index.held(), 3);
        assert_eq!(
            index.get("r999").unwrap().standardized,
            Some(hop(1_000)),
            "the newest is found"
        );
        assert_eq!(index.get("r996"), None);
    }

    #[test]
    fn a_record_id_past_the_bound_is_not_indexed() {
        let mut index = TraceIndex::new(3);
        let long = "x".repeat(MAX_RECORD_ID_BYTES + 1);
        assert!(!index.see(&long, Sighting::Ingested(hop(1))));
        assert_eq!(index.held(), 0);
        assert_eq!(index.stats().oldest, None);
        let longest = "x".repeat(MAX_RECORD_ID_BYTES);
        index.see(&longest, Sighting::Ingested(hop(1)));
        assert!(index.get(&longest).is_some());
    }

    #[test]
    fn memory_counts_the_allocation_at_the_first_record_and_the_dead_letters_held() {
        let mut index = TraceIndex::new(100_000);
        assert!(
            index.memory_bytes() < 100,
            "nothing before the first record"
        );
        index.see("a", Sighting::Ingested(hop(1)));
        let empty = index.memory_bytes();
        assert!(empty >= 100_000 * (136 + 17), "{empty}");
        assert!(empty < 16_000_000, "{empty}");
        index.see("b", Sighting::Ingested(hop(2)));
        assert_eq!(
            index.memory_bytes(),
            empty,
            "an entry is in the ring already"
        );
        let refusal = Refusal {
            stage_of_failure: "standardization".into(),
            reason: "not JSON".into(),
            error_type: "malformed_json".into(),
        };
        index.see("a", Sighting::DeadLettered(hop(2), refusal.clone()));
        index.see("a", Sighting::DeadLettered(hop(3), refusal));
        assert_eq!(index.memory_bytes(), empty + 72 + 15 + 8 + 14);
    }

    #[test]
    fn an_evicted_dead_letter_no_longer_counts() {
        let mut index = TraceIndex::new(1);
        let refusal = Refusal {
            stage_of_failure: "processing".into(),
            reason: "r".into(),
            error_type: "e".into(),
        };
        index.see("a", Sighting::DeadLettered(hop(1), refusal));
        index.see("b", Sighting::Ingested(hop(2)));
        let empty = index.memory_bytes();
        let refusal = Refusal {
            stage_of_failure: "processing".into(),
            reason: "r".into(),
            error_type: "e".into(),
        };
        index.see("c", Sighting::DeadLettered(hop(3), refusal));
        assert!(index.memory_bytes() > empty);
        index.see("d", Sighting::Ingested(hop(4)));
        assert_eq!(index.memory_bytes(), empty);
    }

    /// The memory the module docs and the README state: an entry of the ring, and a
    /// fingerprint and sequence number in the map (plus its control byte).
    #[test]
    fn an_entry_takes_the_bytes_the_docs_state() {
        assert_eq!(std::mem::size_of::<Entry>(), 136);
        assert_eq!(std::mem::size_of::<(u64, u64)>(), 16);
        assert_eq!(
            std::mem::size_of::<(Hop, Refusal)>(),
            72,
            "a dead letter's box"
        );
    }
}
