//! Scoring of job runs, pure and deterministic.
//!
//! * [`rules`]: efficiency score, resource utilization, throughput and the threshold rules
//!   an operator already knows to look for (failure, long run, high or negative memory,
//!   low efficiency);
//! * [`processed`]: the processed record and the alert the processing stage publishes.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod processed;
pub mod rules;

pub use processed::{Alert, ProcessedRecord};
pub use rules::{RuleHit, RuleKind, RulesConfig, RunMetrics, Severity};
