//! Configuration of the streaming detectors, serde-friendly with defaults for every field
//! so that a deployment names only what it changes.

use super::error::DetectorError;
use super::habits::HabitsConfig;
use serde::{Deserialize, Serialize};

/// Everything the [`DetectorBank`](super::DetectorBank) needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Series kept in memory; beyond it the least recently seen series is forgotten.
    pub max_series: usize,
    /// Metrics per record; with `max_series` it bounds the memory of the bank.
    pub max_metrics: usize,
    /// Points a series must have seen before it is scored; until then verdicts say
    /// [`Verdict::InsufficientHistory`](super::Verdict::InsufficientHistory). The
    /// calibration learns from these points, so too few make early scores jumpy.
    pub min_history: usize,
    /// Metrics scored on the signed log scale `sign(x) · ln(1 + |x|)`: durations, memory and
    /// CPU time are heavy-tailed, a doubling matters more than its absolute size.
    pub log_metrics: Vec<String>,
    pub zscore: ZScoreConfig,
    pub ewma: EwmaConfig,
    pub forest: ForestConfig,
    pub novelty: NoveltyConfig,
    pub seasonal: SeasonalConfig,
    /// Points after which a past deviation weighs half as much in the calibration that
    /// turns each detector's output into a probability for this series.
    pub calibration_half_life: f64,
    pub levels: LevelsConfig,
    pub outage: OutageConfig,
    /// What is usual for each object: which runs page someone.
    pub habits: HabitsConfig,
    /// Seed of the forests' random splits; the same seed gives the same scores.
    pub seed: u64,
}

/// Rolling z-scores of each metric against its last `window` values: of the value (a
/// level never seen lately) and of its change since the previous point (a jump).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZScoreConfig {
    pub enabled: bool,
    /// Values in the rolling window.
    pub window: usize,
    /// Median and interquartile range instead of mean and standard deviation, so that the
    /// spikes it is looking for do not inflate the baseline that judges them.
    pub robust: bool,
    /// Also score the change since the previous point.
    pub steps: bool,
}

/// Deviation from an exponentially weighted moving average and variance, which follow a
/// drifting level without a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EwmaConfig {
    pub enabled: bool,
    /// Points after which an old value weighs half as much.
    pub half_life: f64,
}

/// Isolation Forest over the vector of a record's metrics, trained on a rolling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestConfig {
    pub enabled: bool,
    /// Fewest metrics for which a series gets a forest. Over a single metric a forest
    /// repeats the z-score's judgement of the value, with more variance, at a far higher
    /// cost; its worth is in combinations of metrics.
    pub min_metrics: usize,
    pub trees: usize,
    /// Points per tree (ψ); the height limit is ⌈log2 ψ⌉.
    pub subsample: usize,
    /// Recent points the forest is trained on.
    pub window: usize,
    /// Points between two trainings (fewer while the series is young: a forest is also
    /// retrained whenever its data has doubled).
    pub retrain_every: usize,
    /// Adds each metric's change since the previous point to the vector, so that an
    /// unusual jump stands out even between familiar values.
    pub deltas: bool,
}

/// Contextual novelty: values in bins of the value axis the series has never visited,
/// scored by how rarely the series finds new bins, and reported once per `hold_off`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoveltyConfig {
    pub enabled: bool,
    /// Values whose range is cut into `levels` bins; the detector is silent until then.
    pub warmup: usize,
    /// Bins over the range of the warm-up values.
    pub levels: usize,
    /// Points after which a past novelty weighs half as much in the rate of novelty.
    pub half_life: f64,
    /// Surprise (−log10 of the rate of novelty) that maps to a score of 1.
    pub max_surprise: f64,
    /// Points after a novelty reported at the warning level during which further
    /// novelties are learned but not reported.
    pub hold_off: usize,
    /// Weight of the calibrated detectors' score for a point whose move from the previous
    /// bin the series has made before: a deviation along a familiar path is weaker evidence.
    pub familiar_weight: f64,
}

/// Seasonal surprise: how far the recent values are from the series' usual values at the
/// same hour of the week, judged against how far they usually are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeasonalConfig {
    pub enabled: bool,
    /// Values of one hour of the week after which an old one weighs half as much in that
    /// hour's mean.
    pub slot_half_life: f64,
    /// Recent errors (distances from the hour's mean) averaged into the one judged.
    pub window: usize,
    /// Points after which a past mean error weighs half as much in its mean and variance.
    pub half_life: f64,
    /// Mean errors learned before the detector reports: its variance must settle first.
    pub warmup: usize,
    /// Surprise (−log10 of the Gaussian tail of the mean error) that maps to a score of 1.
    pub max_surprise: f64,
    /// Points after a surprise reported at the warning level during which further ones
    /// are learned but not reported.
    pub hold_off: usize,
}

/// How scores become levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelsConfig {
    /// Combined surprise (−log10 of the joint tail probability) that maps to a score of 1;
    /// the score is the surprise over this, so with 10, 0.5 means a one-in-100 000 point.
    pub max_surprise: f64,
    /// Combined score from which a point is a warning (and `is_anomaly` in backtests).
    pub warning: f64,
    /// Combined score from which a point is critical.
    pub critical: f64,
}

/// The outage probability: how much of the recent past looked anomalous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutageConfig {
    /// Points after which an old combined score weighs half as much.
    pub half_life: f64,
    /// Outage probability from which the predictive alert is armed.
    pub alert_probability: f64,
    /// Consecutive points at or above `alert_probability` before the alert fires.
    pub sustain: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            max_series: 1_000,
            max_metrics: 8,
            min_history: 100,
            log_metrics: ["duration_seconds", "memory_bytes", "cpu_seconds"]
                .map(String::from)
                .to_vec(),
            zscore: ZScoreConfig::default(),
            ewma: EwmaConfig::default(),
            forest: ForestConfig::default(),
            novelty: NoveltyConfig::default(),
            seasonal: SeasonalConfig::default(),
            calibration_half_life: 2000.0,
            levels: LevelsConfig::default(),
            outage: OutageConfig::default(),
            habits: HabitsConfig::default(),
            seed: 0x0b5e_7a7e,
        }
    }
}

impl Default for ZScoreConfig {
    fn default() -> Self {
        ZScoreConfig {
            enabled: true,
            window: 128,
            robust: true,
            steps: true,
        }
    }
}

impl Default for EwmaConfig {
    fn default() -> Self {
        EwmaConfig {
            enabled: true,
            half_life: 20.0,
        }
    }
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            enabled: true,
            min_metrics: 2,
            trees: 50,
            subsample: 128,
            window: 512,
            retrain_every: 512,
            deltas: true,
        }
    }
}

impl Default for SeasonalConfig {
    fn default() -> Self {
        SeasonalConfig {
            enabled: true,
            slot_half_life: 4.0,
            window: 20,
            half_life: 1000.0,
            warmup: 300,
            max_surprise: 8.0,
            hold_off: 300,
        }
    }
}

impl Default for NoveltyConfig {
    fn default() -> Self {
        NoveltyConfig {
            enabled: true,
            warmup: 150,
            levels: 16,
            half_life: 1000.0,
            max_surprise: 3.5,
            hold_off: 100,
            familiar_weight: 0.5,
        }
    }
}

impl Default for LevelsConfig {
    fn default() -> Self {
        LevelsConfig {
            max_surprise: 10.0,
            warning: 0.5,
            critical: 0.8,
        }
    }
}

impl Default for OutageConfig {
    fn default() -> Self {
        OutageConfig {
            half_life: 10.0,
            alert_probability: 0.5,
            sustain: 3,
        }
    }
}

fn check(ok: bool, what: &str) -> Result<(), DetectorError> {
    if ok {
        Ok(())
    } else {
        Err(DetectorError::InvalidConfig(what.to_owned()))
    }
}

fn positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

impl DetectorConfig {
    /// Checks every range; [`DetectorBank::new`](super::DetectorBank::new) calls it.
    pub fn validate(&self) -> Result<(), DetectorError> {
        check(self.max_series >= 1, "max_series must be at least 1")?;
        if let Some(invalid) = self.habits.invalid() {
            return Err(DetectorError::InvalidConfig(invalid.to_owned()));
        }
        check(self.max_metrics >= 1, "max_metrics must be at least 1")?;
        check(self.min_history >= 1, "min_history must be at least 1")?;
        check(
            self.zscore.enabled
                || self.ewma.enabled
                || self.forest.enabled
                || self.novelty.enabled
                || self.seasonal.enabled,
            "at least one detector must be enabled",
        )?;
        check(self.zscore.window >= 1, "zscore.window must be at least 1")?;
        check(
            positive(self.ewma.half_life),
            "ewma.half_life must be finite and > 0",
        )?;
        let forest = &self.forest;
        check(
            forest.min_metrics >= 1,
            "forest.min_metrics must be at least 1",
        )?;
        check(forest.trees >= 1, "forest.trees must be at least 1")?;
        check(forest.subsample >= 2, "forest.subsample must be at least 2")?;
        check(forest.window >= 2, "forest.window must be at least 2")?;
        check(
            forest.retrain_every >= 1,
            "forest.retrain_every must be at least 1",
        )?;
        check(
            positive(self.calibration_half_life),
            "calibration_half_life must be finite and > 0",
        )?;
        let novelty = &self.novelty;
        check(novelty.warmup >= 1, "novelty.warmup must be at least 1")?;
        check(novelty.levels >= 1, "novelty.levels must be at least 1")?;
        check(
            positive(novelty.half_life),
            "novelty.half_life must be finite and > 0",
        )?;
        check(
            positive(novelty.max_surprise),
            "novelty.max_surprise must be finite and > 0",
        )?;
        check(
            (0.0..=1.0).contains(&novelty.familiar_weight),
            "novelty.familiar_weight must be in [0, 1]",
        )?;
        let seasonal = &self.seasonal;
        check(
            positive(seasonal.slot_half_life),
            "seasonal.slot_half_life must be finite and > 0",
        )?;
        check(seasonal.window >= 1, "seasonal.window must be at least 1")?;
        check(
            positive(seasonal.half_life),
            "seasonal.half_life must be finite and > 0",
        )?;
        check(
            positive(seasonal.max_surprise),
            "seasonal.max_surprise must be finite and > 0",
        )?;
        let levels = &self.levels;
        check(
            positive(levels.max_surprise),
            "levels.max_surprise must be finite and > 0",
        )?;
        check(
            levels.warning > 0.0 && levels.warning <= levels.critical && levels.critical <= 1.0,
            "levels must satisfy 0 < warning ≤ critical ≤ 1",
        )?;
        let outage = &self.outage;
        check(
            positive(outage.half_life),
            "outage.half_life must be finite and > 0",
        )?;
        check(
            outage.alert_probability > 0.0 && outage.alert_probability <= 1.0,
            "outage.alert_probability must be in (0, 1]",
        )?;
        check(outage.sustain >= 1, "outage.sustain must be at least 1")
    }
}

#[cfg(test)]
mod tests {
    use super::super::smoothing::smoothing_factor;
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let config = DetectorConfig::default();
        config.validate().unwrap();
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<DetectorConfig>(&text).unwrap(),
            config
        );
        let partial: DetectorConfig =
            serde_json::from_str(r#"{"max_series": 5, "forest": {"trees": 10}}"#).unwrap();
        assert_eq!(
            (
                partial.max_series,
                partial.forest.trees,
                partial.forest.subsample
            ),
            (5, 10, 128)
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let mut config = DetectorConfig::default();
        config.levels.warning = 0.9;
        config.levels.critical = 0.8;
        assert!(matches!(
            config.validate(),
            Err(DetectorError::InvalidConfig(_))
        ));
        let mut config = DetectorConfig::default();
        config.ewma.half_life = f64::NAN;
        assert!(config.validate().is_err());
        let mut config = DetectorConfig::default();
        config.zscore.enabled = false;
        config.ewma.enabled = false;
        config.forest.enabled = false;
        config.novelty.enabled = false;
        config.seasonal.enabled = false;
        assert!(config.validate().is_err());
    }

    #[test]
    fn smoothing_halves_the_past_every_half_life() {
        let alpha = smoothing_factor(10.0);
        assert!(((1.0 - alpha).powi(10) - 0.5).abs() < 1e-12);
    }
}
