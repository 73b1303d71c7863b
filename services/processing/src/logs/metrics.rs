//! The metrics of the log index, in the service's one registry (named as `docs/instrumentation.md` says).

use prometheus::{IntCounter, IntGauge};

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
