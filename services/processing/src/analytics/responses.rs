//! The answers of the `/analytics/*` endpoints, as they are serialized.

use chrono::{DateTime, Utc};
use obs_detector::{Alert, ProcessedRecord};
use obs_records::{FailureKind, Status};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// `GET /analytics/summary`. Rates are fractions in [0, 1]; rates and averages are `null`
/// before the first record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = AnalyticsSummary)]
pub struct Summary {
    pub total_logs_processed: u64,
    pub success_count: u64,
    pub failed_count: u64,
    pub success_rate: Option<f64>,
    /// Anomalous records (a record breaking several rules counts once).
    pub anomaly_count: u64,
    pub anomaly_rate: Option<f64>,
    pub average_efficiency_score: Option<f64>,
    pub average_duration_seconds: Option<f64>,
    /// Sources with their own statistics (at most `max_sources`).
    pub total_sources: usize,
    /// Runs of sources beyond `max_sources`: in the totals, not in `/analytics/sources`.
    pub records_from_untracked_sources: u64,
    /// The latest `processed_at` applied: replaying the topics after a restart gives the
    /// same value, unlike the time the reader applied it.
    pub last_updated: Option<DateTime<Utc>>,
}

/// One source on `GET /analytics/sources`. Quantiles are estimates within
/// `quantile_relative_accuracy` of a value observed at that rank.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SourceSummary {
    pub source: String,
    pub total_runs: u64,
    pub success_count: u64,
    pub failed_count: u64,
    /// Fraction in [0, 1].
    pub success_rate: f64,
    pub anomaly_count: u64,
    pub duration_p50_seconds: Option<f64>,
    pub duration_p95_seconds: Option<f64>,
    pub duration_p99_seconds: Option<f64>,
    pub memory_p95_bytes: Option<f64>,
    pub cpu_p95_seconds: Option<f64>,
    /// The latest `start_time` of the source's runs.
    pub last_run_at: DateTime<Utc>,
    pub average_efficiency_score: f64,
}

/// One object (series) of the fleet: its latest run and its usual rhythm (for the console).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectSummary {
    pub company: String,
    /// The source slug.
    pub source: String,
    pub object_id: i64,
    pub object_type: String,
    pub total_runs: u64,
    pub failed_count: u64,
    pub anomaly_count: u64,
    /// The latest `start_time` of the object's runs.
    pub last_run_at: DateTime<Utc>,
    /// Of the run that started at `last_run_at`.
    pub last_status: Status,
    pub last_anomalous: bool,
    pub last_error_kind: Option<FailureKind>,
    /// Typical time between the starts of two consecutive runs (a moving average);
    /// `None` before a second run.
    pub usual_interval_seconds: Option<f64>,
}

/// `GET /analytics/sources`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SourcesReport {
    /// Sorted by source name.
    pub sources: Vec<SourceSummary>,
    pub total_sources: usize,
    pub records_from_untracked_sources: u64,
    pub quantile_relative_accuracy: f64,
}

/// `GET /analytics/recent`: newest `processed_at` first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecentRecords {
    pub count: usize,
    /// Processed records as the stage wrote them.
    #[schema(value_type = Vec<ProcessedRecord>)]
    pub records: Vec<Box<RawValue>>,
}

/// `GET /analytics/anomalies`: newest `raised_at` first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Anomalies {
    pub count: usize,
    pub anomalies: Vec<Alert>,
}
