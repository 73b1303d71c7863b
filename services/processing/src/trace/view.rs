//! The trace index shared by its reader (the only writer) and the API.

use super::index::{RecordTrace, Sighting, TraceIndex, TraceStats};
use obs_kafka::sync::{read, write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// The [`TraceIndex`] behind a lock, and whether it holds everything published before its
/// reader started.
pub struct TraceView {
    index: RwLock<TraceIndex>,
    caught_up: AtomicBool,
}

impl TraceView {
    /// An empty view of at most `capacity` records.
    pub fn new(capacity: usize) -> TraceView {
        TraceView {
            index: RwLock::new(TraceIndex::new(capacity)),
            caught_up: AtomicBool::new(false),
        }
    }

    /// Adds what a stage saw of `record_id`; returns whether a record was evicted and how
    /// many the index holds after.
    pub fn see(&self, record_id: &str, sighting: Sighting) -> (bool, usize) {
        let mut index = write(&self.index);
        let evicted = index.see(record_id, sighting);
        (evicted, index.held())
    }

    /// The trace of `record_id`, or the index's stats when it holds none.
    pub fn trace(&self, record_id: &str) -> Result<RecordTrace, TraceStats> {
        let index = read(&self.index);
        index.get(record_id).cloned().ok_or_else(|| index.stats())
    }

    pub fn stats(&self) -> TraceStats {
        read(&self.index).stats()
    }

    /// See [`TraceIndex::memory_bytes`].
    pub fn memory_bytes(&self) -> usize {
        read(&self.index).memory_bytes()
    }

    /// The reader has read everything published before it started.
    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    /// Whether answers cover everything published before the reader started (the index's
    /// bound aside).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }
}
