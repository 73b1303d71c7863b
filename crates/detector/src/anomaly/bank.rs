//! The entry point: one bank holds the detectors of every series, bounded in number.

use super::config::DetectorConfig;
use super::lru::LruMap;
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
    /// The series existed: its state before the batch.
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
    /// Upper bound of the bytes held by the present series (their keys aside).
    pub state_bytes: usize,
    /// Upper bound at `max_series` series of `max_metrics` metrics (keys aside).
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

    /// The oldest open batch committed: what it taught stays.
    pub fn commit_oldest_batch(&mut self) {
        self.undo.pop_front();
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
                Before::Existing(state) => *state,
                Before::New(features) => {
                    let features: Vec<(&str, f64)> =
                        features.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    SeriesState::new(&self.config, &key, &features)
                }
            };
            match self.series.peek_mut(&key) {
                Some(slot) => *slot = state,
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
            Some(state) => Before::Existing(Box::new(state.clone())),
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
            let (config, rates) = (&self.config, self.rates);
            self.series
                .get_or_insert_with(series, || SeriesState::new(config, series, features))
                .observe(config, rates, series, timestamp, features)
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
        let forest = &self.config.forest;
        match series {
            Some(key) => {
                let state = self
                    .series
                    .peek_mut(key)
                    .ok_or_else(|| DetectorError::UnknownSeries(key.to_owned()))?;
                Ok(usize::from(state.retrain(forest)))
            }
            None => Ok(self
                .series
                .values_mut()
                .map(|state| usize::from(state.retrain(forest)))
                .sum()),
        }
    }

    pub fn snapshot(&self) -> BankSnapshot {
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
                .sum(),
            max_state_bytes: self.config.max_series
                * SeriesState::bytes_for(self.config.max_metrics, &self.config),
        }
    }
}
