//! The entry point: one bank holds the detectors of every series, bounded in number.

use super::config::DetectorConfig;
use super::lru::LruMap;
use super::online_forest::{ForestPool, OnlineForest, POOL_CAPACITY};
use super::series::{Rates, SeriesState};
use super::verdict::Verdict;
use super::DetectorError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// The streaming detectors of up to `max_series` series. `Send`, so the processing
/// service can own one per partition worker.
#[derive(Debug, Clone)]
pub struct DetectorBank {
    config: DetectorConfig,
    rates: Rates,
    series: LruMap<SeriesState>,
    observations: u64,
    rejected: u64,
    /// Undo logs of the batches not committed yet, oldest first (see
    /// [`DetectorBank::begin_batch`]).
    undo: VecDeque<Undo>,
    /// Forests that the undo log alone held, given back when their batch was settled, for
    /// the retrainings that happen while a batch shares the forest being retrained.
    pool: ForestPool,
}

/// What a batch changed, to put back if its transaction aborts: the first state of each
/// series it touched, and the counters.
#[derive(Debug, Clone)]
struct Undo {
    series: HashMap<String, Before>,
    observations: u64,
    rejected: u64,
}

#[derive(Debug, Clone)]
enum Before {
    /// The series existed: its state before the batch, less its scratch vectors
    /// ([`SeriesState::undo_copy`]).
    Existing(Box<SeriesState>),
    /// The series was new in the batch: the metrics it was created with.
    New(Vec<(String, f64)>),
}

/// Status of a bank, for a status endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// forests kept for retraining. The undo log of open batches is not counted: it holds
    /// copies of the series they touched, with the forests they replaced.
    pub state_bytes: usize,
    /// Upper bound of the same at `max_series` series of `max_metrics` metrics and a full
    /// pool of forests kept for retraining (keys and undo log aside).
    pub max_state_bytes: usize,
}

impl DetectorBank {
    /// A bank with no series yet; refuses an invalid configuration.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorError> {
        config.validate()?;
        Ok(DetectorBank {
            rates: Rates::new(&config),
            series: LruMap::new(config.max_series),
            config,
            observations: 0,
            rejected: 0,
            undo: VecDeque::new(),
            pool: ForestPool::default(),
        })
    }

    /// Starts a batch: what the following observations change is recorded, so that
    /// [`DetectorBank::rollback_batches`] can undo it. The processing stage begins one per
    /// transaction, because a batch whose transaction aborts is consumed again and must not
    /// be learned twice. Several batches can be open: one committing while the next is
    /// gathered.
    pub fn begin_batch(&mut self) {
        self.undo.push_back(Undo {
            series: HashMap::new(),
            observations: self.observations,
            rejected: self.rejected,
        });
    }

    /// The oldest open batch committed: what it taught stays. The forests its undo log
    /// was the last to hold go to the pool.
    pub fn commit_oldest_batch(&mut self) {
        if let Some(undo) = self.undo.pop_front() {
            for before in undo.series.into_values() {
                if let Before::Existing(mut state) = before {
                    state.release_forest(&mut self.pool);
                }
            }
        }
    }

    /// Every open batch aborted: each series they touched gets back its state from before
    /// the oldest (a series they created starts afresh). A series evicted to make room
    /// stays forgotten and will warm up again.
    pub fn rollback_batches(&mut self) {
        while let Some(undo) = self.undo.pop_back() {
            self.restore(undo);
        }
    }

    fn restore(&mut self, undo: Undo) {
        for (key, before) in undo.series {
            let state = match before {
                Before::Existing(state) => state.restored(&self.config),
                Before::New(features) => {
                    let features: Vec<(&str, f64)> =
                        features.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    SeriesState::new(&self.config, &key, &features)
                }
            };
            match self.series.peek_mut(&key) {
                Some(slot) => std::mem::replace(slot, state).release_forest(&mut self.pool),
                // Evicted during the batch by a newer series: it comes back.
                None => {
                    let mut state = Some(state);
                    let slot = self.series.get_or_insert_with(&key, || {
                        state.take().unwrap_or_else(|| unreachable!("taken once"))
                    });
                    if let Some(state) = state {
                        *slot = state;
                    }
                }
            }
        }
        self.observations = undo.observations;
        self.rejected = undo.rejected;
    }

    /// Saves the state of `series` before the newest batch first changes it.
    fn record_before(&mut self, series: &str, features: &[(&str, f64)]) {
        let Some(undo) = self.undo.back_mut() else {
            return;
        };
        if undo.series.contains_key(series) {
            return;
        }
        let before = match self.series.peek_mut(series) {
            Some(state) => Before::Existing(Box::new(state.undo_copy())),
            None => Before::New(
                features
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), *v))
                    .collect(),
            ),
        };
        undo.series.insert(series.to_owned(), before);
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
        let checked = self.check_features(series, features);
        if checked.is_ok() {
            self.record_before(series, features);
        }
        let result = checked.and_then(|()| {
            let (config, rates, pool) = (&self.config, self.rates, &mut self.pool);
            self.series
                .get_or_insert_with(series, || SeriesState::new(config, series, features))
                .observe(config, rates, pool, series, timestamp, features)
        });
        match result {
            Ok(_) => self.observations += 1,
            Err(_) => self.rejected += 1,
        }
        result
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
        let (forest, pool) = (&self.config.forest, &mut self.pool);
        match series {
            Some(key) => {
                let state = self
                    .series
                    .peek_mut(key)
                    .ok_or_else(|| DetectorError::UnknownSeries(key.to_owned()))?;
                Ok(usize::from(state.retrain(forest, pool)))
            }
            None => Ok(self
                .series
                .values_mut()
                .map(|state| usize::from(state.retrain(forest, pool)))
                .sum()),
        }
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::ForestConfig;
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
        // Trained outside any batch: in place, after the first training's allocation.
        for i in 0..100 {
            bank.observe("a", at(i), &point(0, i)).unwrap();
        }
        assert_eq!((bank.pool.allocated, bank.pool.reused), (1, 0));
        // As in the service: a batch is gathered while the previous one commits, so every
        // retraining finds its forest shared with the undo log.
        bank.begin_batch();
        let mut i = 100;
        for _ in 0..10 {
            bank.begin_batch();
            for _ in 0..16 {
                bank.observe("a", at(i), &point(0, i)).unwrap();
                i += 1;
            }
            bank.commit_oldest_batch();
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
        bank.commit_oldest_batch();
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
        let mut got = Vec::new();
        let mut aborted = Vec::new();
        let mut previous_open = false;
        let mut t = 0;
        batched.begin_batch();
        while let Some(batch) = records.chunks(10).nth(t) {
            let mut verdicts: Vec<String> = Vec::new();
            for (n, record) in batch.iter().enumerate() {
                if n == 5 && previous_open {
                    batched.commit_oldest_batch();
                }
                verdicts.push(observe(&mut batched, record));
            }
            if [7, 23, 41].contains(&t) && !aborted.contains(&t) {
                aborted.push(t);
                batched.rollback_batches();
                batched.begin_batch();
                previous_open = false;
                continue;
            }
            got.extend(verdicts);
            batched.begin_batch();
            previous_open = true;
            t += 1;
        }
        // Undo frames committed as soon as begun: nothing ever shares a forest.
        let mut unshared = DetectorBank::new(config()).unwrap();
        let mut expected = Vec::new();
        for batch in records.chunks(10) {
            unshared.begin_batch();
            unshared.commit_oldest_batch();
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
}
