//! Which normal runs the incidents need to hear of.
//!
//! An incident resolves when each of its objects has had a few normal runs in a row, so the
//! stage signals the first `runs` normal runs of a series after one of its alerts — and,
//! since a restart forgets which series alerted, after start too. Every other normal run
//! stays off the signals topic. The counts follow the exactly-once batches: a batch that
//! will be consumed again gives its changes back ([`RecoveryTracker::undo`]).

use std::collections::{HashMap, HashSet};

/// Normal runs signalled per series since its latest alert (or since start).
pub struct RecoveryTracker {
    /// How many normal runs in a row the incidents need to see.
    runs: u32,
    /// Series whose count is below `runs`; absent = never seen since start. Bounded by
    /// `max_series`; cleared when full (their runs are then signalled from the start again:
    /// a few signals more, never one missing).
    counts: HashMap<String, u32>,
    /// Series already past `runs`: nothing to signal until they alert again. Bounded by
    /// `max_series`; cleared when full (their next runs are then signalled again, which the
    /// incidents ignore when nothing is open).
    quiet: HashSet<String>,
    max_series: usize,
}

/// One change, to undo it if its batch is discarded.
pub struct Undo {
    series: String,
    count: Option<u32>,
    was_quiet: bool,
}

impl RecoveryTracker {
    pub fn new(runs: u32, max_series: usize) -> Self {
        RecoveryTracker {
            runs,
            counts: HashMap::new(),
            quiet: HashSet::new(),
            max_series: max_series.max(1),
        }
    }

    /// An alert of `series`: its next `runs` normal runs are signalled.
    pub fn alerted(&mut self, series: &str, undo: &mut Vec<Undo>) {
        undo.push(self.undo_of(series));
        self.quiet.remove(series);
        self.make_room();
        self.counts.insert(series.to_owned(), 0);
    }

    /// A normal run of `series`: whether to signal it.
    pub fn normal(&mut self, series: &str, undo: &mut Vec<Undo>) -> bool {
        if self.quiet.contains(series) {
            return false;
        }
        undo.push(self.undo_of(series));
        if !self.counts.contains_key(series) {
            self.make_room();
        }
        let count = self.counts.entry(series.to_owned()).or_insert(0);
        *count += 1;
        if *count >= self.runs {
            self.counts.remove(series);
            if self.quiet.len() >= self.max_series {
                self.quiet.clear();
            }
            self.quiet.insert(series.to_owned());
        }
        true
    }

    /// Gives back the changes of discarded batches, newest change first.
    pub fn undo(&mut self, changes: impl DoubleEndedIterator<Item = Undo>) {
        for change in changes.rev() {
            match change.count {
                Some(count) => {
                    self.counts.insert(change.series.clone(), count);
                }
                None => {
                    self.counts.remove(&change.series);
                }
            }
            if change.was_quiet {
                self.quiet.insert(change.series);
            } else {
                self.quiet.remove(&change.series);
            }
        }
    }

    fn make_room(&mut self) {
        if self.counts.len() >= self.max_series {
            self.counts.clear();
        }
    }

    fn undo_of(&self, series: &str) -> Undo {
        Undo {
            series: series.to_owned(),
            count: self.counts.get(series).copied(),
            was_quiet: self.quiet.contains(series),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_the_first_runs_after_start_and_after_each_alert() {
        let mut t = RecoveryTracker::new(2, 100);
        let mut undo = Vec::new();
        let signalled: Vec<bool> = (0..4).map(|_| t.normal("a", &mut undo)).collect();
        assert_eq!(signalled, [true, true, false, false]);
        t.alerted("a", &mut undo);
        let signalled: Vec<bool> = (0..3).map(|_| t.normal("a", &mut undo)).collect();
        assert_eq!(signalled, [true, true, false]);
    }

    #[test]
    fn a_discarded_batch_gives_its_changes_back() {
        let mut t = RecoveryTracker::new(2, 100);
        let mut committed = Vec::new();
        t.normal("a", &mut committed);
        let mut discarded = Vec::new();
        t.normal("a", &mut discarded);
        t.alerted("a", &mut discarded);
        t.normal("a", &mut discarded);
        t.undo(discarded.into_iter());
        // As after the committed batch alone: one more run to signal.
        let mut undo = Vec::new();
        assert!(t.normal("a", &mut undo));
        assert!(!t.normal("a", &mut undo));
    }

    #[test]
    fn the_quiet_set_is_bounded() {
        let mut t = RecoveryTracker::new(1, 3);
        let mut undo = Vec::new();
        for series in ["a", "b", "c", "d"] {
            assert!(t.normal(series, &mut undo));
        }
        assert!(t.quiet.len() <= 3);
    }
}
