//! The log index shared by its reader (the only writer) and the queries.

use super::index::{IndexStats, LogIndex};
use obs_kafka::sync::{read, write};
use obs_records::StandardizedLogEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// The [`LogIndex`] behind a lock, and whether it holds everything published before its
/// reader started.
pub struct LogView {
    index: RwLock<LogIndex>,
    caught_up: AtomicBool,
}

impl LogView {
    /// An empty view of at most `capacity` events and `max_bytes` (estimated).
    pub fn new(capacity: usize, max_bytes: usize) -> LogView {
        LogView {
            index: RwLock::new(LogIndex::new(capacity, max_bytes)),
            caught_up: AtomicBool::new(false),
        }
    }

    /// Adds `event`; returns how many events it evicted and the index's stats after.
    pub fn insert(&self, event: StandardizedLogEvent) -> (usize, IndexStats) {
        let mut index = write(&self.index);
        let evicted = index.insert(event);
        (evicted, index.stats())
    }

    /// Runs `query` on the index, which no event joins meanwhile.
    pub fn read<R>(&self, query: impl FnOnce(&LogIndex) -> R) -> R {
        query(&read(&self.index))
    }

    pub fn stats(&self) -> IndexStats {
        read(&self.index).stats()
    }

    /// The reader has read everything published before it started.
    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Relaxed);
    }

    /// Whether answers cover everything published before the reader started (the index's
    /// bounds aside).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }
}
