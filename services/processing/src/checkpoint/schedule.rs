//! When each series' state is saved, per `standardized-logs` partition (pure logic).
//!
//! A restore replays the runs of a partition from the oldest offset any of its series'
//! saved states was saved at (a series with no saved state: from its first run). So each
//! series is saved again once its partition has moved `interval` offsets past its last
//! save (or its first run), at the first run of the partition at or beyond that point:
//! no series' state is ever older than `interval` offsets, and a restore replays fewer.
//! Each series waits between half and three quarters of `interval`, by a hash of its key
//! and of where it was last saved, so that series that started together drift apart and
//! are not all saved in the same transaction.
//!
//! Yet the saves due are handed out only at gates, every `gate` offsets of the partition
//! (at most an eighth of `interval`), so that most transactions write no state: each
//! partition a transaction writes costs a produce request, the broker's verification and
//! a marker. The gate narrows as a partition holds more series, so that a gate hands out
//! about [`SAVES_PER_GATE`] saves, not a burst. The eighth left over by the wait and the
//! gate covers the offsets of transaction markers between the last run a stage processed
//! and the first its successor reads. A state older than `max_age` is saved again too, so
//! that a quiet partition's runs are still retained when a restore replays them.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};

/// A series is saved again when its partition has moved this share of `interval` past it,
/// at most, before the gate.
const LATEST: (i64, i64) = (3, 4);

/// The widest gate: this share of `interval`.
const WIDEST_GATE: i64 = 8;

/// Saves a gate hands out, about, in a partition of many series.
const SAVES_PER_GATE: i64 = 8;

/// Ages are looked at this many times per `max_age`.
const AGE_CHECKS: i64 = 16;

pub struct Schedule {
    interval: i64,
    max_age_ms: i64,
    /// The partitions restored since the last assignment, and their series.
    partitions: HashMap<i32, Partition>,
}

#[derive(Default)]
struct Partition {
    series: HashMap<String, Entry>,
    /// Deadlines, earliest first; one is stale when its series has another one now.
    deadlines: BinaryHeap<Reverse<(i64, String)>>,
    /// The offset from which the saves due are handed out next.
    gate: i64,
    aged_at_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The offset from which the series is due; `i64::MAX` while handed out by `due`.
    deadline: i64,
    /// When its state was saved (or, never saved, first seen).
    saved_at_ms: i64,
}

impl Partition {
    fn schedule(&mut self, series: &str, deadline: i64, saved_at_ms: i64) {
        let entry = Entry {
            deadline,
            saved_at_ms,
        };
        match self.series.get_mut(series) {
            Some(existing) => *existing = entry,
            None => {
                self.series.insert(series.to_owned(), entry);
            }
        }
        self.deadlines.push(Reverse((deadline, series.to_owned())));
    }

    /// Offsets between two gates: the widest for up to `5 × SAVES_PER_GATE` series (a
    /// series is saved every five eighths of `interval` on average), narrower beyond.
    fn gate_width(&self, interval: i64) -> i64 {
        let series = (self.series.len() as i64).max(1);
        (interval.saturating_mul(5 * SAVES_PER_GATE) / (8 * series))
            .clamp(1, (interval / WIDEST_GATE).max(1))
    }

    /// Hands out the series whose deadline is at or before `offset`.
    fn take_due(&mut self, offset: i64, due: &mut Vec<String>) {
        while let Some(Reverse((deadline, _))) = self.deadlines.peek() {
            if *deadline > offset {
                break;
            }
            let Some(Reverse((deadline, series))) = self.deadlines.pop() else {
                break;
            };
            if let Some(entry) = self.series.get_mut(&series) {
                if entry.deadline == deadline {
                    entry.deadline = i64::MAX;
                    due.push(series);
                }
            }
        }
    }
}

impl Schedule {
    /// `interval` offsets between two saves of a series at most (at least 2).
    pub fn new(interval: i64, max_age_ms: i64) -> Self {
        Schedule {
            interval: interval.max(2),
            max_age_ms,
            partitions: HashMap::new(),
        }
    }

    /// Offsets after which `series`, saved (or first seen) at `from`, is due again:
    /// between half and three quarters of the interval, by a hash of both (of the series
    /// alone, series whose waits round to the same gates would stay in step and gather).
    fn interval_of(&self, series: &str, from: i64) -> i64 {
        let mut hasher = DefaultHasher::new();
        series.hash(&mut hasher);
        from.hash(&mut hasher);
        let shortest = self.interval / 2;
        let spread = (self.interval * LATEST.0 / LATEST.1 - shortest).max(1);
        shortest + (hasher.finish() % spread as u64) as i64
    }

    /// The offsets a restore of a partition whose first run to score is at `first`
    /// replays, at most: from `interval` offsets before it.
    pub fn replay_from(&self, first: i64) -> i64 {
        first.saturating_sub(self.interval)
    }

    /// Whether `partition` was restored since the last assignment.
    pub fn holds(&self, partition: i32) -> bool {
        self.partitions.contains_key(&partition)
    }

    /// `partition` restored: each series with the offset from which its runs were replayed
    /// (its state's, or its first run's) and when its state was saved (or first seen).
    pub fn restored(
        &mut self,
        partition: i32,
        series: impl IntoIterator<Item = (String, i64, i64)>,
        now_ms: i64,
    ) {
        let mut restored = Partition {
            aged_at_ms: now_ms,
            ..Partition::default()
        };
        for (key, since, saved_at_ms) in series {
            let deadline = since.saturating_add(self.interval_of(&key, since));
            restored.schedule(&key, deadline, saved_at_ms);
        }
        self.partitions.insert(partition, restored);
    }

    /// A run of `series` at `offset`: a series not seen before is scheduled from there.
    pub fn seen(&mut self, partition: i32, series: &str, offset: i64, now_ms: i64) {
        let interval = self.interval_of(series, offset);
        if let Some(p) = self.partitions.get_mut(&partition) {
            if !p.series.contains_key(series) {
                p.schedule(series, offset.saturating_add(interval), now_ms);
            }
        }
    }

    /// The series of `partition` to save before its run at `offset` is scored: each must
    /// then be [`saved`](Self::saved) or [`forgotten`](Self::forgotten).
    pub fn due(&mut self, partition: i32, offset: i64, now_ms: i64) -> Vec<String> {
        let max_age_ms = self.max_age_ms;
        let Some(p) = self.partitions.get_mut(&partition) else {
            return Vec::new();
        };
        let mut due = Vec::new();
        if offset >= p.gate {
            let width = p.gate_width(self.interval);
            p.gate = (offset / width + 1).saturating_mul(width);
            p.take_due(offset, &mut due);
        }
        if now_ms.saturating_sub(p.aged_at_ms) >= max_age_ms / AGE_CHECKS {
            p.aged_at_ms = now_ms;
            for (series, entry) in &mut p.series {
                if entry.deadline != i64::MAX
                    && now_ms.saturating_sub(entry.saved_at_ms) >= max_age_ms
                {
                    entry.deadline = i64::MAX;
                    due.push(series.clone());
                }
            }
        }
        due
    }

    /// `series`' state was saved before the run at `offset`.
    pub fn saved(&mut self, partition: i32, series: &str, offset: i64, now_ms: i64) {
        let deadline = offset.saturating_add(self.interval_of(series, offset));
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.schedule(series, deadline, now_ms);
        }
    }

    /// `series` is held no more: it was written as forgotten.
    pub fn forgotten(&mut self, partition: i32, series: &str) {
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.series.remove(series);
        }
    }

    /// Every partition must be restored again (a new assignment).
    pub fn clear(&mut self) {
        self.partitions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("acme:src:{i}")).collect()
    }

    /// Runs `runs` records of `series` round-robin on partition 0 from offset 0, saving
    /// what is due; returns the offsets of the saves of each series.
    fn run(schedule: &mut Schedule, series: &[String], runs: i64) -> HashMap<String, Vec<i64>> {
        let mut saves: HashMap<String, Vec<i64>> = HashMap::new();
        for offset in 0..runs {
            for key in schedule.due(0, offset, 0) {
                schedule.saved(0, &key, offset, 0);
                saves.entry(key).or_default().push(offset);
            }
            let key = &series[offset as usize % series.len()];
            schedule.seen(0, key, offset, 0);
        }
        saves
    }

    /// Runs `runs` records of `series_count` series and checks every save gap and how the
    /// saves gather: at `gates` distinct offsets at most, with few saves each (the first
    /// gates after a start hand out more: every series was first seen then).
    fn saves_gather_at_gates(series_count: usize, runs: i64, gates: usize) {
        let mut schedule = Schedule::new(1_000, DAY_MS);
        schedule.restored(0, [], 0);
        let series = keys(series_count);
        let saves = run(&mut schedule, &series, runs);
        let mut per_offset: HashMap<i64, i64> = HashMap::new();
        for key in &series {
            let at = &saves[key];
            let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.iter().all(|g| (500..875).contains(g)),
                "{key}: {gaps:?}"
            );
            for offset in at {
                *per_offset.entry(*offset).or_default() += 1;
            }
        }
        assert!(
            per_offset.len() <= gates,
            "saves at {} offsets, not gathered at {gates} gates",
            per_offset.len()
        );
        let most = per_offset.values().copied().max().unwrap_or_default();
        let mean = per_offset.values().sum::<i64>() as f64 / per_offset.len() as f64;
        assert!(
            mean <= SAVES_PER_GATE as f64,
            "{mean} saves a gate on average"
        );
        assert!(most <= 4 * SAVES_PER_GATE, "{most} saves at one gate");
        assert!(per_offset.len() > gates / 2, "saves spread over the gates");
        assert!(schedule.replay_from(runs) == runs - 1_000);
    }

    #[test]
    fn no_state_grows_older_than_the_interval_and_saves_gather_at_gates() {
        // 50 series: a gate every 100 offsets.
        saves_gather_at_gates(50, 20_000, 20_000 / 100 + 1);
        // 20 series: the widest gate, an eighth of the interval.
        saves_gather_at_gates(20, 20_000, 20_000 / 125 + 1);
    }

    #[test]
    fn the_gate_narrows_as_a_partition_holds_more_series() {
        // 1,000 series: a gate every 5 offsets, each handing out a few saves.
        saves_gather_at_gates(1_000, 20_000, 20_000 / 5 + 1);
    }

    #[test]
    fn an_unknown_partition_schedules_nothing_until_restored() {
        let mut schedule = Schedule::new(100, DAY_MS);
        schedule.seen(3, "a", 0, 0);
        assert!(!schedule.holds(3));
        assert!(schedule.due(3, 1_000, 0).is_empty());
        schedule.restored(3, [("a".to_owned(), 10, 0)], 0);
        assert!(schedule.holds(3));
        assert!(schedule.due(3, 10 + 49, 0).is_empty());
        assert_eq!(schedule.due(3, 10 + 87, 0), ["a"]);
        assert!(schedule.due(3, 10 + 88, 0).is_empty(), "handed out once");
        schedule.clear();
        assert!(!schedule.holds(3));
    }

    #[test]
    fn a_forgotten_series_is_dropped() {
        let mut schedule = Schedule::new(100, DAY_MS);
        schedule.restored(0, [("a".to_owned(), 0, 0), ("b".to_owned(), 0, 0)], 0);
        let mut due = schedule.due(0, 200, 0);
        due.sort();
        assert_eq!(due, ["a", "b"]);
        schedule.saved(0, "a", 200, 0);
        schedule.forgotten(0, "b");
        assert!(schedule.due(0, 10_000, 0) == ["a"]);
        schedule.clear();
        assert!(!schedule.holds(0));
    }

    #[test]
    fn a_state_older_than_max_age_is_saved_again_in_a_quiet_partition() {
        let mut schedule = Schedule::new(1_000_000, DAY_MS);
        schedule.restored(
            0,
            [("old".to_owned(), 5, 0), ("new".to_owned(), 5, DAY_MS)],
            0,
        );
        assert!(schedule.due(0, 6, DAY_MS / 32).is_empty());
        assert_eq!(schedule.due(0, 7, DAY_MS + 1), ["old"]);
        schedule.saved(0, "old", 7, DAY_MS + 1);
        assert!(
            schedule.due(0, 8, DAY_MS + 2).is_empty(),
            "looked at ages just now"
        );
        let mut due = schedule.due(0, 9, 2 * DAY_MS + 2);
        due.sort();
        assert_eq!(due, ["new", "old"]);
    }
}
