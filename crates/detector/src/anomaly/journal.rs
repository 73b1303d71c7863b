//! The journal of an open batch of the bank: what its observations overwrote, to be put
//! back if its transaction aborts. The detectors write to it and read it back; the bank
//! owns one per open batch.

use super::forest::IsolationForest;
use super::habits::Habits;
use super::scoring::Outage;
use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// What the changes of an open batch saved to be taken back, as a stack: each change
/// pushes what it overwrites (values as bits, counts, and last what says how much was
/// saved), and its undo pops the same in reverse. Vectors, not an allocation per change,
/// kept from batch to batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    /// The batch's number: a part of a series saved whole in it need not be saved again.
    batch: u64,
    words: Vec<u64>,
    pub(crate) series: Vec<SeriesUndo>,
    pub(crate) forests: Vec<ForestUndo>,
}

impl Journal {
    pub(crate) fn batch(&self) -> u64 {
        self.batch
    }

    /// Records batch `batch` from now on; the journal is empty.
    pub(crate) fn open(&mut self, batch: u64) {
        self.batch = batch;
    }

    pub(crate) fn push(&mut self, word: u64) {
        self.words.push(word);
    }

    pub(crate) fn push_usize(&mut self, value: usize) {
        self.words.push(value as u64);
    }

    pub(crate) fn push_f64(&mut self, value: f64) {
        self.words.push(value.to_bits());
    }

    pub(crate) fn extend_f64(&mut self, values: &[f64]) {
        self.words.extend(values.iter().map(|v| v.to_bits()));
    }

    /// The last word pushed and not popped (0 if none: a journal read as it was written
    /// never runs dry).
    pub(crate) fn pop(&mut self) -> u64 {
        debug_assert!(!self.words.is_empty(), "journal read past its start");
        self.words.pop().unwrap_or(0)
    }

    pub(crate) fn pop_usize(&mut self) -> usize {
        self.pop() as usize
    }

    pub(crate) fn pop_f64(&mut self) -> f64 {
        f64::from_bits(self.pop())
    }

    /// Pops as many values as `into` holds, pushed by [`extend_f64`](Self::extend_f64).
    pub(crate) fn pop_into_f64(&mut self, into: &mut [f64]) {
        let start = self.words.len().saturating_sub(into.len());
        for (to, from) in into.iter_mut().zip(&self.words[start..]) {
            *to = f64::from_bits(*from);
        }
        self.words.truncate(start);
    }

    /// Pops as many values as `into` holds, pushed in order as the bits of f32s.
    pub(crate) fn pop_into_f32(&mut self, into: &mut [f32]) {
        let start = self.words.len().saturating_sub(into.len());
        for (to, from) in into.iter_mut().zip(&self.words[start..]) {
            *to = f32::from_bits(*from as u32);
        }
        self.words.truncate(start);
    }

    pub(crate) fn clear(&mut self) {
        self.words.clear();
        self.series.clear();
        self.forests.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty() && self.series.is_empty() && self.forests.is_empty()
    }

    /// Bytes held by the journal's vectors.
    pub(crate) fn bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
            + self.series.capacity() * std::mem::size_of::<SeriesUndo>()
            + self.forests.capacity() * std::mem::size_of::<ForestUndo>()
    }
}

/// The scalars of a series before an observation.
#[derive(Debug, Clone)]
pub(crate) struct SeriesUndo {
    pub(crate) seen: usize,
    pub(crate) last_timestamp: Option<DateTime<Utc>>,
    pub(crate) outage: Outage,
    pub(crate) habits: Habits,
}

/// What a retraining of a series' forest changed, to put back.
#[derive(Debug, Clone)]
pub(crate) struct ForestUndo {
    /// The model replaced, when `replaced`; given to the pool when the batch commits.
    pub(crate) model: Option<Arc<IsolationForest>>,
    pub(crate) replaced: bool,
    pub(crate) model_from: u64,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) since_training: usize,
    pub(crate) trained_on: usize,
    pub(crate) trained_from: u128,
    /// The rows overwritten since the replaced model's training.
    pub(crate) displaced: Vec<f32>,
}
