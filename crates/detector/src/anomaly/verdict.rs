//! What the bank says about one observation.

use crate::rules::Severity;
use serde::{Deserialize, Serialize};

/// The outcome of [`DetectorBank::observe`](super::DetectorBank::observe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// The series is too young to judge: `seen` points before this one, `required` needed.
    /// The point still joins the history.
    InsufficientHistory { seen: usize, required: usize },
    /// The point was scored.
    Scored(Assessment),
}

impl Verdict {
    /// The combined score, when there is one.
    pub fn score(&self) -> Option<f64> {
        match self {
            Verdict::InsufficientHistory { .. } => None,
            Verdict::Scored(assessment) => Some(assessment.score),
        }
    }

    /// The assessment, when the point was scored.
    pub fn assessment(&self) -> Option<&Assessment> {
        match self {
            Verdict::InsufficientHistory { .. } => None,
            Verdict::Scored(assessment) => Some(assessment),
        }
    }
}

/// The scores of one point and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    /// Combined anomaly score in [0, 1]: `surprise / levels.max_surprise`, capped.
    pub score: f64,
    /// −log10 of the probability, under this series' recent history, of a point at least
    /// this unusual (all detectors and metrics together).
    pub surprise: f64,
    /// `None` below the warning level.
    pub severity: Option<Severity>,
    pub detectors: DetectorScores,
    /// The metric that contributed most, and against what.
    pub explanation: Explanation,
    /// Smoothed share, in [0, 1], of the recent points whose values (or moving average, or
    /// forest score) lay beyond the series' usual extremes: about 0.02–0.05 in normal
    /// operation, near 1 when the series has left its normal range. It stays up while
    /// the score, which reports changes, falls back. A heuristic, not a calibrated
    /// probability.
    pub outage_probability: f64,
    /// The outage probability has stayed at or above its alert level long enough.
    pub predictive_alert: bool,
}

/// Each detector's score in [0, 1], on the same scale as the combined one (its metrics
/// together); `None` for a detector that is turned off or not trained yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetectorScores {
    /// Rolling z-score of the values.
    pub zscore: Option<f64>,
    /// Rolling z-score of the changes between consecutive points.
    pub step: Option<f64>,
    pub ewma: Option<f64>,
    pub forest: Option<f64>,
    /// Contextual novelty: a value in a bin of the value axis the series never visited.
    pub novelty: Option<f64>,
    /// Seasonal surprise: recent values unlike the usual ones at this hour of the week.
    pub seasonal: Option<f64>,
}

/// One of the streaming detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    ZScore,
    Step,
    Ewma,
    Forest,
    Novelty,
    Seasonal,
}

/// The most surprising single finding behind a score. For the forest, which judges the
/// metrics together, the metric named is the one whose value is furthest from its rolling
/// baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explanation {
    pub detector: DetectorKind,
    pub metric: String,
    /// The metric's value, as given.
    pub value: f64,
    /// What it was compared with, in the metric's units: the rolling median (or mean) for
    /// the z-score and the forest, the previous value plus the typical change for the step,
    /// the moving average for the EWMA, the centre of the nearest bin visited for the
    /// novelty, the mean of this hour of the week for the seasonal surprise.
    pub baseline: f64,
    /// Signed distance from the baseline in units of its spread (on the log scale for the
    /// log-scaled metrics); for the step, of the change from the typical change; for the
    /// novelty, the distance in bins; for the seasonal surprise, the standard score of the
    /// recent mean distance from the hour's mean.
    pub z: f64,
    /// −log10 of the tail probability of this finding alone.
    pub surprise: f64,
}
