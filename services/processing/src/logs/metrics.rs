//! The metrics of the log index and of the error-rate stage, in the service's one
//! registry (named as `docs/instrumentation.md` says).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

/// The log index, updated by its reader as each event is read.
#[derive(Clone)]
pub struct IndexMetrics {
    pub(super) indexed: IntCounter,
    pub(super) evicted: IntCounter,
    pub(super) held: IntGauge,
    pub(super) held_bytes: IntGauge,
}

impl IndexMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(IndexMetrics {
            indexed: metrics.register(IntCounter::new(
                "processing_log_events_indexed_total",
                "Application log events added to the log index.",
            )?)?,
            evicted: metrics.register(IntCounter::new(
                "processing_log_events_evicted_total",
                "Application log events evicted from the log index (oldest first, past logs.index_capacity or logs.index_max_bytes).",
            )?)?,
            held: metrics.register(IntGauge::new(
                "processing_log_index_records",
                "Application log events held by the log index.",
            )?)?,
            held_bytes: metrics.register(IntGauge::new(
                "processing_log_index_bytes",
                "Estimated bytes held by the log index (the unit of logs.index_max_bytes).",
            )?)?,
        })
    }
}

/// The error-rate stage, counted when its batch commits.
#[derive(Clone)]
pub struct ErrorRateMetrics {
    pub(super) windowed: IntCounter,
    pub(super) late: IntCounter,
    pub(super) windows: IntCounter,
    pub(super) alerts: IntCounterVec,
}

impl ErrorRateMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(ErrorRateMetrics {
            windowed: metrics.register(IntCounter::new(
                "processing_app_log_events_windowed_total",
                "Application log events counted in their service's error-rate window.",
            )?)?,
            late: metrics.register(IntCounter::new(
                "processing_app_log_events_late_total",
                "Application log events older than their service's open window, whose own window had closed: counted in no window.",
            )?)?,
            windows: metrics.register(IntCounter::new(
                "processing_app_log_windows_total",
                "Error-rate windows closed (one record each on app-log-rates).",
            )?)?,
            alerts: metrics.register(IntCounterVec::new(
                Opts::new(
                    "processing_app_log_error_rate_alerts_total",
                    "Alerts raised by the streaming detectors on a service's error rate, by severity.",
                ),
                &["severity"],
            )?)?,
        })
    }
}
