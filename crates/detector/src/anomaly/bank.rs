//! The entry point: one bank holds the detectors of every series, bounded in number.

use super::config::DetectorConfig;
use super::error::DetectorError;
use super::habits::{Judgement, RunFacts};
use super::journal::Journal;
use super::lru::LruMap;
use super::online_forest::{ForestPool, OnlineForest, POOL_CAPACITY};
use super::saved_state::{Reader, Unreadable, Writer};
use super::series::{stable_hash, Rates, SeriesState};
use super::verdict::Verdict;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::VecDeque;

/// A batch begun by [`DetectorBank::begin_batch`], to be given back once, to
/// [`DetectorBank::commit_batch`] or [`DetectorBank::rollback_batches`]: neither `Clone` nor
/// `Copy`, so a batch cannot be settled twice, and a batch settled out of order is refused.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an open batch must be committed or rolled back"]
pub struct OpenBatch {
    id: u64,
}

/// The streaming detectors of up to `max_series` series. `Send`, so the processing
/// service can own one per partition worker.
#[derive(Debug, Clone)]
pub struct DetectorBank {
    config: DetectorConfig,
    /// What a saved state must have been saved under to be taken (see
    /// [`DetectorBank::save_series`]).
    fingerprint: u64,
    rates: Rates,
    series: LruMap<SeriesState>,
    observations: u64,
    rejected: u64,
    /// Undo logs of the batches not committed yet, oldest first (see
    /// [`DetectorBank::begin_batch`]).
    undo: VecDeque<Undo>,
    /// Undo logs of settled batches, emptied, kept for the capacity of their vectors.
    spare: Vec<Undo>,
    /// The number of the last batch begun (batches are numbered from 1).
    batches: u64,
    /// Forests that the undo log alone held, given back when their batch was settled, for
    /// the retrainings that happen while a batch keeps the forest being retrained.
    pool: ForestPool,
}

/// What a batch changed, to take back if its transaction aborts: a journal of what each
/// observation changed, replayed backwards; the series it evicted; the counters.
#[derive(Debug, Clone, Default)]
struct Undo {
    /// What the changes saved, in their order.
    journal: Journal,
    /// The changes to the series, in their order.
    changes: Vec<Change>,
    /// The series evicted by the series the batch created ([`Change::Replaced`]), in
    /// their order.
    evicted: Vec<(String, SeriesState)>,
    observations: u64,
    rejected: u64,
}

impl Undo {
    fn clear(&mut self) {
        self.journal.clear();
        self.changes.clear();
        self.evicted.clear();
    }
}

/// A change of a batch to the series in a slot of the map.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// It learned a point.
    Observed(usize),
    /// Its forest was retrained out of schedule.
    Retrained(usize),
    /// It was created, in a new slot.
    Created(usize),
    /// It was created in the slot of a series it evicted.
    Replaced(usize),
}

/// Undo logs kept for reuse: two batches are open at a time in the processing service.
const SPARE_LOGS: usize = 2;

/// The first bytes of a series' saved state, and its format's version: `obs2` added the
/// object's habits after the outage, `obs3` each metric's week profile after its novelty.
const SAVED_STATE_MAGIC: u32 = u32::from_le_bytes(*b"obs3");

/// The first bytes of a state saved before the habits (`obs1`) or before the week profiles
/// (`obs2`): refused, so the series warms up again from the points replayed since rather
/// than misread them.
const SAVED_STATE_MAGIC_V1: u32 = u32::from_le_bytes(*b"obs1");
const SAVED_STATE_MAGIC_V2: u32 = u32::from_le_bytes(*b"obs2");

/// A hash of what a series' verdicts depend on: the configuration, but for the number of
/// series the bank holds.
fn fingerprint(config: &DetectorConfig) -> u64 {
    let shape = DetectorConfig {
        max_series: 0,
        ..config.clone()
    };
    stable_hash(&serde_json::to_string(&shape).unwrap_or_default())
}

/// Status of a bank, for a status endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BankSnapshot {
    /// Series held now.
    pub series: usize,
    pub max_series: usize,
    /// Series forgotten to make room for newer ones.
    pub evicted_series: u64,
    /// Series whose forest has been trained.
    pub trained_forests: usize,
    /// Points accepted, scored or not.
    pub observations: u64,
    /// Points refused with an error.
    pub rejected: u64,
    /// Upper bound of the bytes held by the present series (their keys aside) and by the
    /// forests kept for retraining. The undo log of open batches is not counted (see
    /// `undo_bytes`).
    pub state_bytes: usize,
    /// Upper bound of the same at `max_series` series of `max_metrics` metrics and a full
    /// pool of forests kept for retraining (keys and undo log aside).
    pub max_state_bytes: usize,
    /// Bytes held by the journals of open batches and those kept for reuse: what each
    /// observation changed, a few kilobytes per observation at most (the forests replaced
    /// by retrainings and the series evicted during a batch aside).
    pub undo_bytes: usize,
}

impl DetectorBank {
    /// A bank with no series yet; refuses an invalid configuration.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorError> {
        config.validate()?;
        Ok(DetectorBank {
            fingerprint: fingerprint(&config),
            rates: Rates::new(&config),
            series: LruMap::new(config.max_series),
            config,
            observations: 0,
            rejected: 0,
            undo: VecDeque::new(),
            spare: Vec::new(),
            batches: 0,
            pool: ForestPool::default(),
        })
    }

    /// Starts a batch: what the following observations change is recorded, so that
    /// [`DetectorBank::rollback_batches`] can undo it. The processing stage begins one per
    /// transaction, because a batch whose transaction aborts is consumed again and must not
    /// be learned twice. Several batches can be open: one committing while the next is
    /// gathered. The batch is settled by giving its [`OpenBatch`] back, exactly once.
    pub fn begin_batch(&mut self) -> OpenBatch {
        self.batches += 1;
        let mut undo = self.spare.pop().unwrap_or_default();
        undo.journal.open(self.batches);
        undo.observations = self.observations;
        undo.rejected = self.rejected;
        self.undo.push_back(undo);
        OpenBatch { id: self.batches }
    }

    /// `batch` committed: what it taught stays. Batches commit in the order they began, so
    /// `batch` must be the oldest open one; any other is refused and nothing changes. The
    /// forests its undo log was the last to hold go to the pool.
    pub fn commit_batch(&mut self, batch: OpenBatch) -> Result<(), DetectorError> {
        let oldest = self.undo.front().map(|undo| undo.journal.batch());
        if oldest != Some(batch.id) {
            return Err(DetectorError::BatchOutOfOrder {
                batch: batch.id,
                oldest,
            });
        }
        if let Some(mut undo) = self.undo.pop_front() {
            for forest in undo.journal.forests.drain(..) {
                if let Some(model) = forest.model {
                    self.pool.give_back(model);
                }
            }
            for (_, mut state) in undo.evicted.drain(..) {
                state.release_forest(&mut self.pool);
            }
            self.recycle(undo);
        }
        Ok(())
    }

    /// Every open batch aborted (`batches`: their handles, given back): each series gets
    /// back its state from before the oldest, bit for bit (a series they created is
    /// forgotten, one they evicted comes back).
    pub fn rollback_batches(&mut self, batches: impl IntoIterator<Item = OpenBatch>) {
        drop(batches.into_iter());
        while let Some(undo) = self.undo.pop_back() {
            self.restore(undo);
        }
    }

    /// Takes back the changes of one batch, the newest open one, newest first.
    fn restore(&mut self, mut undo: Undo) {
        let pool = &mut self.pool;
        for change in undo.changes.drain(..).rev() {
            match change {
                Change::Observed(at) => {
                    if let Some(state) = self.series.get_at_mut(at) {
                        state.undo_observe(&mut undo.journal, pool);
                    }
                }
                Change::Retrained(at) => {
                    if let Some(state) = self.series.get_at_mut(at) {
                        state.undo_retrain(&mut undo.journal, pool);
                    }
                }
                Change::Created(at) => {
                    if let Some(mut state) = self.series.undo_insert(at, None) {
                        state.release_forest(pool);
                    }
                }
                Change::Replaced(at) => {
                    if let Some(evicted) = undo.evicted.pop() {
                        if let Some(mut state) = self.series.undo_insert(at, Some(evicted)) {
                            state.release_forest(pool);
                        }
                    }
                }
            }
        }
        debug_assert!(undo.journal.is_empty() && undo.evicted.is_empty());
        self.observations = undo.observations;
        self.rejected = undo.rejected;
        self.recycle(undo);
    }

    /// Keeps a settled batch's log for a later batch, emptied.
    fn recycle(&mut self, mut undo: Undo) {
        undo.clear();
        if self.spare.len() < SPARE_LOGS {
            self.spare.push(undo);
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Series held now.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.len() == 0
    }

    /// Scores one record of `series` from the data seen up to it, then learns from it.
    ///
    /// `features` are `(metric, value)` pairs; a series keeps the names and order of its
    /// first record. A refused record (non-finite value, other metrics, older than the
    /// last one) changes nothing, not even which series are held.
    pub fn observe(
        &mut self,
        series: &str,
        timestamp: DateTime<Utc>,
        features: &[(&str, f64)],
    ) -> Result<Verdict, DetectorError> {
        self.observe_run(series, timestamp, features, None)
            .map(|(verdict, _)| verdict)
    }

    /// [`observe`](Self::observe) of a job run with its facts: also judges the run against
    /// what is usual for its object (whether it pages someone, and why), then learns it.
    /// Without facts the habits are neither judged nor learned.
    pub fn observe_run(
        &mut self,
        series: &str,
        timestamp: DateTime<Utc>,
        features: &[(&str, f64)],
        run: Option<&RunFacts<'_>>,
    ) -> Result<(Verdict, Option<Judgement>), DetectorError> {
        let result = self
            .check_features(series, features)
            .and_then(|()| self.learn(series, timestamp, features, run));
        match result {
            Ok(_) => self.observations += 1,
            Err(_) => self.rejected += 1,
        }
        result
    }

    /// [`observe`](Self::observe) for checked features, recorded in the newest open batch.
    fn learn(
        &mut self,
        series: &str,
        timestamp: DateTime<Utc>,
        features: &[(&str, f64)],
        run: Option<&RunFacts<'_>>,
    ) -> Result<(Verdict, Option<Judgement>), DetectorError> {
        let at = match self.series.touch(series) {
            Some(at) => at,
            None => {
                let state = SeriesState::new(&self.config, series, features);
                self.insert(series, state)
            }
        };
        let (config, rates, pool) = (&self.config, self.rates, &mut self.pool);
        let undo = self.undo.back_mut();
        let state = self
            .series
            .get_at_mut(at)
            .ok_or_else(|| DetectorError::UnknownSeries(series.to_owned()))?;
        let mut undo = undo;
        let journal = undo.as_deref_mut().map(|undo| &mut undo.journal);
        let verdict = state.observe(
            config, rates, pool, series, timestamp, features, run, journal,
        )?;
        if let Some(undo) = undo {
            undo.changes.push(Change::Observed(at));
        }
        Ok(verdict)
    }

    /// Adds `key`, absent from the bank, as the most recent series, in place of the least
    /// recently used one when the bank is full; recorded in the newest open batch, whose
    /// rollback forgets it (and brings back the one it evicted). Returns its slot.
    fn insert(&mut self, key: &str, state: SeriesState) -> usize {
        let (at, evicted) = self.series.insert(key, state);
        match (self.undo.back_mut(), evicted) {
            (Some(undo), Some(evicted)) => {
                undo.evicted.push(evicted);
                undo.changes.push(Change::Replaced(at));
            }
            (Some(undo), None) => undo.changes.push(Change::Created(at)),
            (None, Some((_, mut evicted))) => evicted.release_forest(&mut self.pool),
            (None, None) => {}
        }
        at
    }

    /// Appends what `series` has learned to `out`, in the form
    /// [`restore_series`](Self::restore_series) takes: every detector's state bit for bit,
    /// but the forest's trees, which are grown again from what they were grown from (see
    /// `online_forest`). False, and nothing written, when the bank holds no such series.
    /// A batch still open is part of what is written.
    pub fn save_series(&self, series: &str, out: &mut Vec<u8>) -> bool {
        let Some(state) = self.series.get(series) else {
            return false;
        };
        let mut out = Writer::new(out);
        out.u32(SAVED_STATE_MAGIC);
        out.u64(self.fingerprint);
        state.save(&mut out);
        true
    }

    /// Adds `series` with the state [`save_series`](Self::save_series) wrote of it, in a
    /// bank of the same configuration: its next verdicts are those the saving bank would
    /// have given. Recorded in the newest open batch like a series created by a point.
    /// Refused: a series the bank holds, a state saved under another configuration (all
    /// but `max_series`), one that does not read back whole.
    pub fn restore_series(&mut self, series: &str, saved: &[u8]) -> Result<(), DetectorError> {
        if self.contains(series) {
            return Err(DetectorError::SeriesHeld(series.to_owned()));
        }
        let unreadable = |Unreadable(reason)| DetectorError::UnreadableState {
            series: series.to_owned(),
            reason,
        };
        let mut from = Reader::new(saved);
        match from.u32().map_err(unreadable)? {
            SAVED_STATE_MAGIC => {}
            SAVED_STATE_MAGIC_V1 => {
                return Err(unreadable(Unreadable(
                    "saved by an earlier version, without the object's habits",
                )))
            }
            SAVED_STATE_MAGIC_V2 => {
                return Err(unreadable(Unreadable(
                    "saved by an earlier version, without the week profiles",
                )))
            }
            _ => return Err(unreadable(Unreadable("not a series' saved state"))),
        }
        if from.u64().map_err(unreadable)? != self.fingerprint {
            return Err(DetectorError::StateOfAnotherConfig {
                series: series.to_owned(),
            });
        }
        let state = SeriesState::from_saved(&self.config, series, &mut from).map_err(unreadable)?;
        from.finish().map_err(unreadable)?;
        self.insert(series, state);
        Ok(())
    }

    /// Moves the series of `other` into this bank, least recently used first, each recorded
    /// in the newest open batch like a series created here; a series this bank holds keeps
    /// its own state. Returns how many were moved. `other` must have this bank's
    /// configuration and never have begun a batch (a state built apart, from saved states
    /// and the points since, then taken in at once).
    pub fn absorb(&mut self, mut other: DetectorBank) -> Result<usize, DetectorError> {
        if other.fingerprint != self.fingerprint {
            return Err(DetectorError::NotAbsorbable(
                "it has another detector configuration",
            ));
        }
        if other.batches != 0 {
            return Err(DetectorError::NotAbsorbable("it has begun batches"));
        }
        let mut moved = 0;
        for (key, state) in other.series.drain_oldest_first() {
            if !self.contains(&key) {
                self.insert(&key, state);
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Forgets every series and every open batch (whose handles are refused from then
    /// on): for a stage whose partitions were all taken back, before it restores the
    /// series of those it is given.
    pub fn clear(&mut self) {
        for (_, mut state) in self.series.drain_oldest_first() {
            state.release_forest(&mut self.pool);
        }
        while let Some(undo) = self.undo.pop_back() {
            self.recycle(undo);
        }
    }

    fn check_features(&self, series: &str, features: &[(&str, f64)]) -> Result<(), DetectorError> {
        if features.is_empty() {
            return Err(DetectorError::NoMetrics {
                series: series.to_owned(),
            });
        }
        if features.len() > self.config.max_metrics {
            return Err(DetectorError::TooManyMetrics {
                series: series.to_owned(),
                count: features.len(),
                max: self.config.max_metrics,
            });
        }
        for (i, &(name, value)) in features.iter().enumerate() {
            if !value.is_finite() {
                return Err(DetectorError::NonFinite {
                    context: format!("series {series:?}"),
                    metric: name.to_owned(),
                    value,
                });
            }
            if features[..i].iter().any(|(other, _)| *other == name) {
                return Err(DetectorError::DuplicateMetric {
                    series: series.to_owned(),
                    metric: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Retrains the forest of one series, or of all of them, on their current windows, out
    /// of schedule (after a deployment, or when an operator says the old normal is gone).
    /// Returns how many forests were trained; a series with fewer than two points or no
    /// forest is skipped.
    pub fn retrain(&mut self, series: Option<&str>) -> Result<usize, DetectorError> {
        match series {
            Some(key) => {
                let at = self
                    .series
                    .find(key)
                    .ok_or_else(|| DetectorError::UnknownSeries(key.to_owned()))?;
                Ok(usize::from(self.retrain_at(at)))
            }
            None => Ok((0..self.series.len())
                .map(|at| usize::from(self.retrain_at(at)))
                .sum()),
        }
    }

    /// Whether the bank holds state for `series`.
    pub fn contains(&self, series: &str) -> bool {
        self.series.find(series).is_some()
    }

    /// Retrains the forest of the series in slot `at` (0..[`DetectorBank::len`]), recorded
    /// in the newest open batch; whether a forest was trained. For a caller that retrains
    /// every series one at a time, releasing the bank between them.
    pub fn retrain_at(&mut self, at: usize) -> bool {
        let mut undo = self.undo.back_mut();
        let Some(state) = self.series.get_at_mut(at) else {
            return false;
        };
        let journal = undo.as_deref_mut().map(|undo| &mut undo.journal);
        let trained = state.retrain(&self.config.forest, &mut self.pool, journal);
        if let (true, Some(undo)) = (trained, undo) {
            undo.changes.push(Change::Retrained(at));
        }
        trained
    }

    pub fn snapshot(&self) -> BankSnapshot {
        let model_bytes = OnlineForest::model_bytes(&self.config.forest);
        BankSnapshot {
            series: self.series.len(),
            max_series: self.config.max_series,
            evicted_series: self.series.evicted(),
            trained_forests: self
                .series
                .values()
                .filter(|s| s.has_trained_forest())
                .count(),
            observations: self.observations,
            rejected: self.rejected,
            state_bytes: self
                .series
                .values()
                .map(|s| SeriesState::bytes_for(s.metric_count(), &self.config))
                .sum::<usize>()
                + self.pool.len() * model_bytes,
            max_state_bytes: self.config.max_series
                * SeriesState::bytes_for(self.config.max_metrics, &self.config)
                + if self.config.forest.enabled {
                    POOL_CAPACITY * model_bytes
                } else {
                    0
                },
            undo_bytes: self
                .undo
                .iter()
                .chain(&self.spare)
                .map(|undo| {
                    undo.journal.bytes() + undo.changes.capacity() * std::mem::size_of::<Change>()
                })
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::config::ForestConfig;
    use chrono::TimeDelta;

    /// A small forest retrained every 16 points, so that a few batches retrain it often.
    fn config() -> DetectorConfig {
        DetectorConfig {
            min_history: 20,
            forest: ForestConfig {
                trees: 20,
                subsample: 32,
                window: 64,
                retrain_every: 16,
                ..ForestConfig::default()
            },
            ..DetectorConfig::default()
        }
    }

    fn at(i: usize) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(i as i64)
    }

    /// Point `i` of series `s`: two metrics with a season and an occasional jump.
    fn point(s: usize, i: usize) -> [(&'static str, f64); 2] {
        let season = (i as f64 / 7.0 + s as f64).sin();
        let jump = if i % 37 == 11 { 8.0 } else { 1.0 };
        [
            ("duration_seconds", (10.0 + 3.0 * season) * jump),
            ("memory_bytes", 1e6 * (2.0 + season) + (i % 5) as f64 * 1e4),
        ]
    }

    #[test]
    fn committed_batches_give_forests_back_for_later_retrainings() {
        let mut bank = DetectorBank::new(config()).unwrap();
        let mut bank_open = VecDeque::new();
        // Trained outside any batch: in place, after the first training's allocation.
        for i in 0..100 {
            bank.observe("a", at(i), &point(0, i)).unwrap();
        }
        assert_eq!((bank.pool.allocated, bank.pool.reused), (1, 0));
        // As in the service: a batch is gathered while the previous one commits, so every
        // retraining finds its forest shared with the undo log.
        bank_open.push_back(bank.begin_batch());
        let mut i = 100;
        for _ in 0..10 {
            bank_open.push_back(bank.begin_batch());
            for _ in 0..16 {
                bank.observe("a", at(i), &point(0, i)).unwrap();
                i += 1;
            }
            bank.commit_batch(bank_open.pop_front().unwrap()).unwrap();
            for _ in 0..16 {
                bank.observe("a", at(i), &point(0, i)).unwrap();
                i += 1;
            }
        }
        // Two retrainings per batch: the first finds the forest shared with the batch's
        // undo log and takes one from the pool, the second refits that one in place. The
        // first two batches allocate (nothing is committed yet); the next eight refit the
        // forests that committed batches gave back.
        let counts = (bank.pool.allocated, bank.pool.reused);
        assert_eq!(counts, (1 + 2, 8));
        bank.commit_batch(bank_open.pop_front().unwrap()).unwrap();
        assert!(bank.pool.len() >= 1);
        let snapshot = bank.snapshot();
        assert!(snapshot.state_bytes <= snapshot.max_state_bytes);
    }

    #[test]
    fn verdicts_do_not_depend_on_the_undo_log_or_the_pool() {
        let series = ["a", "b", "c"];
        let records: Vec<(usize, usize)> = (0..600).map(|n| (n % 3, n / 3)).collect();
        let observe = |bank: &mut DetectorBank, &(s, i): &(usize, usize)| {
            let verdict = bank.observe(series[s], at(i), &point(s, i)).unwrap();
            format!("{verdict:?}")
        };
        // Batches of 10 records as the service runs them, two open at a time; three are
        // rolled back once and consumed again.
        let mut batched = DetectorBank::new(config()).unwrap();
        let mut batched_open = VecDeque::new();
        let mut got = Vec::new();
        let mut aborted = Vec::new();
        let mut previous_open = false;
        let mut t = 0;
        batched_open.push_back(batched.begin_batch());
        while let Some(batch) = records.chunks(10).nth(t) {
            let mut verdicts: Vec<String> = Vec::new();
            for (n, record) in batch.iter().enumerate() {
                if n == 5 && previous_open {
                    batched
                        .commit_batch(batched_open.pop_front().unwrap())
                        .unwrap();
                }
                verdicts.push(observe(&mut batched, record));
            }
            if [7, 23, 41].contains(&t) && !aborted.contains(&t) {
                aborted.push(t);
                batched.rollback_batches(batched_open.drain(..));
                batched_open.push_back(batched.begin_batch());
                previous_open = false;
                continue;
            }
            got.extend(verdicts);
            batched_open.push_back(batched.begin_batch());
            previous_open = true;
            t += 1;
        }
        // Undo frames committed as soon as begun: nothing ever shares a forest.
        let mut unshared = DetectorBank::new(config()).unwrap();
        let mut unshared_open = VecDeque::new();
        let mut expected = Vec::new();
        for batch in records.chunks(10) {
            unshared_open.push_back(unshared.begin_batch());
            unshared
                .commit_batch(unshared_open.pop_front().unwrap())
                .unwrap();
            expected.extend(batch.iter().map(|record| observe(&mut unshared, record)));
        }
        assert_eq!(got.len(), expected.len());
        for (n, (got, expected)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(got, expected, "record {n}");
        }
        assert!(expected.iter().any(|v| v.contains("forest: Some")));
        assert_eq!((unshared.pool.allocated, unshared.pool.reused), (3, 0));
        assert!(batched.pool.reused > 10, "{}", batched.pool.reused);
    }

    /// A step of a randomized run: a record, a batch begun, committed or rolled back, or
    /// a retraining out of schedule.
    #[derive(Debug, Clone)]
    enum Step {
        Record(usize, [(&'static str, f64); 2]),
        Begin,
        Commit,
        Rollback,
        Retrain(Option<usize>),
    }

    const SERIES: [&str; 3] = ["a", "b", "c"];

    /// Values with ties, zeros of both signs and jumps, so that windows hold equal values
    /// and the calibrations see both tails.
    fn value(pick: u8, x: f64) -> f64 {
        match pick {
            0 => 0.0,
            1 => -0.0,
            2 => 1.0,
            3 => -1.0,
            4 => x * 1e6,
            _ => x,
        }
    }

    fn step((kind, s, pick, x, y): (u8, usize, u8, f64, f64)) -> Step {
        match kind {
            0..85 => Step::Record(
                s,
                [
                    ("duration_seconds", value(pick, x)),
                    ("queue_depth", value(pick / 2, y)),
                ],
            ),
            85..91 => Step::Begin,
            91..95 => Step::Commit,
            95..98 => Step::Rollback,
            _ => Step::Retrain((s < 2).then_some(s)),
        }
    }

    /// Windows that fill and slide, calibrations that rescale, forests that retrain.
    fn small_config(robust: bool) -> DetectorConfig {
        let mut config = config();
        config.zscore.robust = robust;
        config.min_history = 12;
        config.zscore.window = 12;
        config.calibration_half_life = 0.2;
        config.forest.window = 16;
        config.forest.retrain_every = 8;
        config
    }

    /// Observes a record as a job run, so that the habits are learned, rolled back and
    /// saved with the rest.
    fn observe_as_run(
        bank: &mut DetectorBank,
        series: &str,
        i: usize,
        features: &[(&str, f64)],
    ) -> String {
        use crate::anomaly::habits::{AlertReason, RunFacts};
        use crate::rules::RuleKind;
        let value = features.first().map_or(0.0, |f| f.1);
        let rules: &[RuleKind] = if value > 3.0 {
            &[RuleKind::LongDuration]
        } else {
            &[]
        };
        let run = RunFacts {
            started_at: at(i),
            failed: i % 17 == 0,
            error_message: None,
            duration_seconds: value.abs(),
            memory_bytes: value * 1e6,
            cpu_seconds: value.abs() / 2.0,
            rules,
            efficiency_lost_to: AlertReason::Duration,
        };
        format!(
            "{:?}",
            bank.observe_run(series, at(i), features, Some(&run))
        )
    }

    /// Runs `steps` on a bank; returns what survived (records and retrainings with their
    /// results, in order) and the bank.
    fn run(steps: &[Step], robust: bool) -> (Vec<(usize, Step, String)>, DetectorBank) {
        let mut bank = DetectorBank::new(small_config(robust)).unwrap();
        let mut bank_open = VecDeque::new();
        let mut log: Vec<(usize, Step, String)> = Vec::new();
        let mut open: VecDeque<usize> = VecDeque::new();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Record(s, features) => {
                    let verdict = observe_as_run(&mut bank, SERIES[*s], i, features);
                    log.push((i, step.clone(), verdict));
                }
                Step::Retrain(s) => {
                    let trained = bank.retrain(s.map(|s| SERIES[s]));
                    log.push((i, step.clone(), format!("{trained:?}")));
                }
                Step::Begin => {
                    bank_open.push_back(bank.begin_batch());
                    open.push_back(log.len());
                }
                Step::Commit => {
                    if let Some(batch) = bank_open.pop_front() {
                        bank.commit_batch(batch).unwrap();
                    }
                    open.pop_front();
                }
                Step::Rollback => {
                    bank.rollback_batches(bank_open.drain(..));
                    if let Some(&start) = open.front() {
                        log.truncate(start);
                    }
                    open.clear();
                }
            }
        }
        (log, bank)
    }

    /// The same records, none of them in a batch, and a few more on both.
    fn check_against_survivors(
        steps: &[Step],
        robust: bool,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        use proptest::prelude::*;
        // Batches still open at the end are rolled back too.
        let mut steps = steps.to_vec();
        steps.push(Step::Rollback);
        let (log, mut batched) = run(&steps, robust);
        let mut reference = DetectorBank::new(small_config(robust)).unwrap();
        for (n, (i, step, got)) in log.iter().enumerate() {
            let expected = match step {
                Step::Record(s, features) => {
                    observe_as_run(&mut reference, SERIES[*s], *i, features)
                }
                Step::Retrain(s) => format!("{:?}", reference.retrain(s.map(|s| SERIES[s]))),
                _ => unreachable!("only records and retrainings are logged"),
            };
            prop_assert_eq!(got, &expected, "logged step {} ({:?})", n, step);
        }
        // What the aborted records would have changed shows in the next ones.
        let (a, b) = (batched.snapshot(), reference.snapshot());
        prop_assert_eq!(
            (a.series, a.observations, a.rejected),
            (b.series, b.observations, b.rejected)
        );
        // Every bit of state a checkpoint holds, the rows overwritten since the last
        // training included, is taken back too.
        for name in SERIES {
            let (mut got, mut expected) = (Vec::new(), Vec::new());
            batched.save_series(name, &mut got);
            reference.save_series(name, &mut expected);
            prop_assert_eq!(got, expected, "saved state of {}", name);
        }
        for j in 0..40 {
            let i = steps.len() + j;
            for (s, name) in SERIES.iter().enumerate() {
                let features = point(s, i);
                let got = observe_as_run(&mut batched, name, i, &features);
                let expected = observe_as_run(&mut reference, name, i, &features);
                prop_assert_eq!(got, expected, "tail point {} of {}", j, name);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 24,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// The key guarantee of the undo log: rolled-back batches leave no trace, bit for
        /// bit, whatever the points and wherever batches begin, commit and abort.
        #[test]
        fn rolled_back_batches_leave_no_trace(
            raw in proptest::collection::vec(
                (0u8..100, 0usize..3, 0u8..8, -5.0f64..5.0, -3.0f64..3.0),
                50..500,
            ),
            robust in proptest::bool::ANY,
        ) {
            let steps: Vec<Step> = raw.into_iter().map(step).collect();
            check_against_survivors(&steps, robust)?;
        }
    }

    #[test]
    fn long_batches_rolled_back_at_once_leave_no_trace() {
        // Two batches open over hundreds of points each: calibrations rescale and forests
        // retrain several times inside one batch.
        let mut steps = Vec::new();
        for i in 0..1_500 {
            if i % 200 == 0 {
                steps.push(Step::Begin);
            }
            if i % 200 == 100 {
                steps.push(Step::Commit);
            }
            if i % 700 == 650 {
                steps.push(Step::Rollback);
            }
            let (s, x) = (i % 3, ((i * 7919) % 101) as f64 / 10.0 - 5.0);
            steps.push(step(((i % 85) as u8, s, (i % 8) as u8, x, -x / 2.0)));
        }
        check_against_survivors(&steps, true).unwrap();
        check_against_survivors(&steps, false).unwrap();
    }

    #[test]
    fn a_series_evicted_during_a_rolled_back_batch_comes_back() {
        let mut config = config();
        config.max_series = 2;
        let mut bank = DetectorBank::new(config.clone()).unwrap();
        let mut bank_open = VecDeque::new();
        let mut reference = DetectorBank::new(config).unwrap();
        for i in 0..60 {
            for (s, name) in ["a", "b"].into_iter().enumerate() {
                bank.observe(name, at(i), &point(s, i)).unwrap();
                reference.observe(name, at(i), &point(s, i)).unwrap();
            }
        }
        bank_open.push_back(bank.begin_batch());
        bank_open.push_back(bank.begin_batch());
        bank.observe("b", at(60), &point(1, 60)).unwrap();
        bank.observe("c", at(61), &point(2, 61)).unwrap(); // evicts a
        bank.commit_batch(bank_open.pop_front().unwrap()).unwrap();
        bank.observe("a", at(62), &point(0, 62)).unwrap(); // a again, afresh: evicts b
        bank.observe("c", at(63), &point(2, 63)).unwrap();
        assert_eq!(bank.snapshot().evicted_series, 2);
        bank.rollback_batches(bank_open.drain(..));
        assert_eq!(bank.len(), 2);
        for i in 64..120 {
            for (s, name) in ["a", "b"].into_iter().enumerate() {
                let got = bank.observe(name, at(i), &point(s, i)).unwrap();
                let expected = reference.observe(name, at(i), &point(s, i)).unwrap();
                assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{name} at {i}");
            }
        }
    }

    #[test]
    fn journals_are_reused_and_small() {
        let mut bank = DetectorBank::new(DetectorConfig::default()).unwrap();
        let mut bank_open = VecDeque::new();
        let features = |i: usize| {
            let x = (i as f64 / 5.0).sin();
            [
                ("duration_seconds", 10.0 + x),
                ("memory_bytes", 1e8 * (2.0 + x)),
                ("cpu_seconds", 5.0 + x / 2.0),
                ("cpu_ratio", 0.5 + x / 10.0),
            ]
        };
        let mut i = 0;
        bank_open.push_back(bank.begin_batch());
        for _ in 0..40 {
            bank_open.push_back(bank.begin_batch());
            for _ in 0..250 {
                bank.observe("job", at(i), &features(i)).unwrap();
                i += 1;
            }
            bank.commit_batch(bank_open.pop_front().unwrap()).unwrap();
        }
        assert_eq!(bank.spare.len(), 1);
        // Two logs in use and one spare, each of up to a batch of points.
        let per_point = bank.snapshot().undo_bytes / (3 * 250);
        assert!(per_point < 4_000, "{per_point} bytes per point");
    }

    #[test]
    fn a_cycle_longer_than_the_window_is_quiet_and_a_new_level_is_news() {
        use crate::anomaly::verdict::DetectorKind;
        let mut bank = DetectorBank::new(DetectorConfig::default()).unwrap();
        // A daily square wave at 5-minute sampling: longer than the z-scores' window.
        let value = |i: usize| if i % 288 < 144 { 10.0 } else { 50.0 };
        let mut warnings = Vec::new();
        for i in 0..2_000 {
            let verdict = bank
                .observe("cycle", at(i), &[("value", value(i))])
                .unwrap();
            if i >= 600 && verdict.assessment().is_some_and(|a| a.severity.is_some()) {
                warnings.push(i);
            }
        }
        assert!(warnings.is_empty(), "the cycle alerted at {warnings:?}");
        let verdict = bank
            .observe("cycle", at(2_000), &[("value", 90.0)])
            .unwrap();
        let assessment = verdict.assessment().unwrap();
        assert!(assessment.severity.is_some(), "{assessment:?}");
        assert_eq!(assessment.explanation.detector, DetectorKind::Novelty);
    }

    #[test]
    fn batches_commit_in_the_order_they_began() {
        let mut bank = DetectorBank::new(config()).unwrap();
        let first = bank.begin_batch();
        let second = bank.begin_batch();
        assert!(matches!(
            bank.commit_batch(second),
            Err(DetectorError::BatchOutOfOrder {
                batch: 2,
                oldest: Some(1)
            })
        ));
        assert_eq!(bank.undo.len(), 2, "a refused commit changes nothing");
        bank.commit_batch(first).unwrap();
        let third = bank.begin_batch();
        bank.rollback_batches([third]);
        assert!(bank.undo.is_empty());
    }
}
