//! The entry point: one bank holds the detectors of every series, bounded in number.

use super::config::DetectorConfig;
use super::error::DetectorError;
use super::forest::TrainingScratch;
use super::habits::{Judgement, RunFacts};
use super::lru::LruMap;
use super::online_forest::OnlineForest;
use super::saved_state::{Reader, Unreadable, Writer};
use super::series::{stable_hash, Rates, SeriesState};
use super::verdict::Verdict;
use chrono::{DateTime, Utc};
use serde::Serialize;

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
    /// The buffers a forest trains in, lent to each series in turn: they hold nothing
    /// between trainings, so one set serves every series.
    scratch: TrainingScratch,
    observations: u64,
    rejected: u64,
}

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
    /// Upper bound of the bytes held by the present series (their keys aside).
    pub state_bytes: usize,
    /// Upper bound of the same at `max_series` series of `max_metrics` metrics (keys
    /// aside).
    pub max_state_bytes: usize,
}

impl DetectorBank {
    /// A bank with no series yet; refuses an invalid configuration.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorError> {
        config.validate()?;
        Ok(DetectorBank {
            fingerprint: fingerprint(&config),
            rates: Rates::new(&config),
            series: LruMap::new(config.max_series),
            scratch: TrainingScratch::default(),
            config,
            observations: 0,
            rejected: 0,
        })
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

    /// [`observe`](Self::observe) for checked features.
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
                self.series.insert(series, state)
            }
        };
        let state = self
            .series
            .get_at_mut(at)
            .ok_or_else(|| DetectorError::UnknownSeries(series.to_owned()))?;
        state.observe(
            &self.config,
            self.rates,
            series,
            timestamp,
            features,
            run,
            &mut self.scratch,
        )
    }

    /// Appends what `series` has learned to `out`, in the form
    /// [`restore_series`](Self::restore_series) takes: every detector's state bit for bit,
    /// but the forest's trees, which are grown again from what they were grown from (see
    /// `online_forest`). False, and nothing written, when the bank holds no such series.
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
    /// have given. Refused: a series the bank holds, a state saved under another
    /// configuration (all but `max_series`), one that does not read back whole.
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
        let state = SeriesState::from_saved(&self.config, series, &mut from, &mut self.scratch)
            .map_err(unreadable)?;
        from.finish().map_err(unreadable)?;
        self.series.insert(series, state);
        Ok(())
    }

    /// Moves the series of `other` into this bank, least recently used first, as if
    /// created here; a series this bank holds keeps its own state. Returns how many were
    /// moved. `other` must have this bank's configuration: a state built apart, from saved
    /// states and the points since, then taken in at once.
    pub fn absorb(&mut self, mut other: DetectorBank) -> Result<usize, DetectorError> {
        if other.fingerprint != self.fingerprint {
            return Err(DetectorError::NotAbsorbable(
                "it has another detector configuration",
            ));
        }
        let mut moved = 0;
        for (key, state) in other.series.drain_oldest_first() {
            if !self.contains(&key) {
                self.series.insert(&key, state);
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Forgets every series: for a stage whose partitions were all taken back (a rebalance,
    /// an aborted transaction), before it restores the series of those it is given.
    pub fn clear(&mut self) {
        self.series.clear();
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

    /// Retrains the forest of the series in slot `at` (0..[`DetectorBank::len`]); whether
    /// a forest was trained. For a caller that retrains every series one at a time,
    /// releasing the bank between them.
    pub fn retrain_at(&mut self, at: usize) -> bool {
        let config = &self.config.forest;
        let scratch = &mut self.scratch;
        self.series
            .get_at_mut(at)
            .is_some_and(|state| state.retrain(config, scratch))
    }

    /// Upper bound of the training buffers' bytes, when series may have a forest.
    fn scratch_bytes(&self) -> usize {
        if self.config.forest.enabled {
            OnlineForest::scratch_bytes_for(&self.config.forest)
        } else {
            0
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
            state_bytes: self.scratch_bytes()
                + self
                    .series
                    .values()
                    .map(|s| SeriesState::bytes_for(s.metric_count(), &self.config))
                    .sum::<usize>(),
            max_state_bytes: self.scratch_bytes()
                + self.config.max_series
                    * SeriesState::bytes_for(self.config.max_metrics, &self.config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(i: usize) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(i as i64)
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
}
