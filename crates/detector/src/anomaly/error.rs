//! Why a detector refused an input. Every refusal is an error value, never a panic: the
//! processing service logs it and carries on with the next record.

use thiserror::Error;

/// An input or a configuration the detectors cannot work with.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DetectorError {
    /// NaN or an infinity: a score computed from it would be meaningless, and one such value
    /// would poison the rolling statistics of the series for a whole window.
    #[error("{context}: metric {metric:?} is {value}; only finite values can be scored")]
    NonFinite {
        context: String,
        metric: String,
        value: f64,
    },
    /// A record without any metric.
    #[error("series {series:?}: no metrics given")]
    NoMetrics { series: String },
    /// More metrics than `max_metrics`, which bounds the state of a series.
    #[error("series {series:?}: {count} metrics, at most {max} allowed")]
    TooManyMetrics {
        series: String,
        count: usize,
        max: usize,
    },
    /// The same metric name twice in one record.
    #[error("series {series:?}: metric {metric:?} given twice")]
    DuplicateMetric { series: String, metric: String },
    /// A series keeps the metric names, in order, of its first record: its baselines are
    /// per metric, and the forest is trained on vectors of a fixed shape.
    #[error("series {series:?}: metrics {got:?} differ from the series' metrics {expected:?}")]
    MetricsChanged {
        series: String,
        expected: Vec<String>,
        got: Vec<String>,
    },
    /// A record older than the last one of its series: scoring it would use later data.
    #[error("series {series:?}: timestamp {timestamp} is before the last one seen, {last}")]
    OutOfOrder {
        series: String,
        timestamp: String,
        last: String,
    },
    /// `retrain` named a series the bank does not hold (never seen, or evicted).
    #[error("unknown series {0:?}")]
    UnknownSeries(String),
    /// A batch of points of different lengths, or a point of the wrong length.
    #[error("point {index} has {got} values, expected {expected}")]
    DimensionMismatch {
        index: usize,
        expected: usize,
        got: usize,
    },
    /// A forest needs at least two points to split.
    #[error("{got} training points, at least 2 needed")]
    TooFewPoints { got: usize },
    /// A malformed line of a labelled data set.
    #[error("line {line}: {problem}")]
    Parse { line: usize, problem: String },
    /// A configuration value out of its range.
    #[error("invalid detector configuration: {0}")]
    InvalidConfig(String),
    /// Saved state that does not read back whole (cut short, or not a series' state).
    #[error("the saved state of series {series:?} cannot be read back: {reason}")]
    UnreadableState {
        series: String,
        reason: &'static str,
    },
    /// Saved state of a detector configured otherwise: its verdicts would not be this one's.
    #[error("the saved state of series {series:?} was saved under another detector configuration")]
    StateOfAnotherConfig { series: String },
    /// A saved state given for a series the bank already holds.
    #[error("series {0:?} is held already; its saved state was not taken")]
    SeriesHeld(String),
    /// [`DetectorBank::absorb`](super::DetectorBank::absorb) of a bank it cannot take.
    #[error("cannot absorb that bank: {0}")]
    NotAbsorbable(&'static str),
}
