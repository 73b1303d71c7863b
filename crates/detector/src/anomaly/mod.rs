//! Streaming anomaly detection per series and metric (durations, memory, CPU, ratios).
//!
//! A [`DetectorBank`] holds, for each series, detectors that only ever look at the data up
//! to the point they score:
//!
//! * a rolling z-score per metric, robust by default (median and interquartile range) and
//!   on a log scale for the heavy-tailed metrics ([`DetectorConfig::log_metrics`]), of the
//!   value (a level not seen lately) and of its change since the previous point (a jump);
//! * an EWMA deviation per metric: how fast a value moves away from a drifting level;
//! * for records of several metrics, an Isolation Forest ([`IsolationForest`], Liu, Ting &
//!   Zhou 2008) over the vector of the metrics and their changes, trained on a rolling
//!   window and retrained on a schedule: combinations that were never seen together;
//! * contextual novelty per metric: a value in a bin of the value axis the series never
//!   visited, scored by how rarely the series finds new bins and reported once per
//!   hold-off (module `novelty`); it also tells whether the move from the previous value's
//!   bin is one the series has made before;
//! * seasonal surprise per metric: the recent values' distance from the series' usual
//!   values at the same hour of the week, against how far they usually are, reported once
//!   per hold-off (module `seasonal`): a missing daily peak, a quiet holiday.
//!
//! A raw z-score means different things on a quiet and on a spiky series, so each
//! detector's output is calibrated against its own recent history for that series into a
//! *surprise*, −log10 of the probability of something at least as unusual
//! (module `calibration`); the surprises of all detectors and metrics are combined by Fisher's
//! method into one, and the score in [0, 1] is that surprise over
//! [`LevelsConfig::max_surprise`], times [`NoveltyConfig::familiar_weight`] when every
//! metric moved along a transition it had made before, or the novelty's or the seasonal
//! score if higher;
//! the warning and critical levels apply to that. Since recent deviations are part of the
//! history, a change is reported when it happens, not for as long as it lasts; the outage probability, the share of recent points beyond the
//! series' usual extremes, is what stays up during a lasting degradation, and its
//! sustained rise fires a predictive alert.
//!
//! A series too young to judge gets [`Verdict::InsufficientHistory`]; non-finite values are
//! refused with a [`DetectorError`]. Same seed, same input: same scores.

mod bank;
mod calibration;
mod config;
mod deviation;
mod error;
mod evaluation;
mod ewma;
mod features;
mod forest;
mod habits;
mod lru;
mod novelty;
mod online_forest;
mod saved_state;
mod scoring;
mod seasonal;
mod series;
mod smoothing;
mod verdict;
mod window;
mod zscore;

pub use bank::{BankSnapshot, DetectorBank};
pub use config::{
    DetectorConfig, EwmaConfig, ForestConfig, LevelsConfig, NoveltyConfig, OutageConfig,
    SeasonalConfig, ZScoreConfig,
};
pub use error::DetectorError;
pub use evaluation::{roc_auc, LabelledPoints};
pub use features::{run_features, CPU_RATIO, CPU_SECONDS, DURATION_SECONDS, MEMORY_BYTES};
pub use forest::{average_path_length, IsolationForest};
pub use habits::{AlertCause, AlertReason, HabitsConfig, Judgement, RunFacts};
pub use verdict::{Assessment, DetectorKind, DetectorScores, Explanation, Verdict};
