//! Scoring of job runs, pure and deterministic.
//!
//! * [`rules`]: efficiency score, resource utilization, throughput and the threshold rules
//!   an operator already knows to look for (failure, long run, high or negative memory,
//!   low efficiency);
//! * [`processed`]: the processed record and the alert the processing stage publishes;
//! * [`anomaly`]: streaming statistical and ML detectors (z-scores, EWMA, Isolation
//!   Forest) per series and metric, combined into one score.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod anomaly;
pub mod processed;
pub mod rules;

pub use anomaly::{
    AlertCause, AlertReason, DetectorBank, DetectorConfig, DetectorError, Judgement, Verdict,
};
pub use processed::{Alert, Late, LateReason, ProcessedRecord};
pub use rules::{RuleHit, RuleKind, RulesConfig, RunMetrics, Severity};
