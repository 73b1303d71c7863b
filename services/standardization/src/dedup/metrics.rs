//! The de-duplication's metrics (docs/instrumentation.md).

use prometheus::{IntCounter, IntGauge};

/// The de-duplication's metrics, shared with `/status`.
#[derive(Clone)]
pub struct DedupMetrics {
    pub dropped: IntCounter,
    pub remembered: IntGauge,
    pub evicted: IntCounter,
}

impl DedupMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(DedupMetrics {
            dropped: metrics.register(IntCounter::new(
                "standardization_duplicates_dropped_total",
                "Raw records dropped because their run id was standardized already within dedup.horizon_seconds.",
            )?)?,
            remembered: metrics.register(IntGauge::new(
                "standardization_dedup_ids",
                "Run ids the de-duplication remembers (at most dedup.max_ids).",
            )?)?,
            evicted: metrics.register(IntCounter::new(
                "standardization_dedup_ids_evicted_total",
                "Run ids forgotten before their horizon because dedup.max_ids was reached.",
            )?)?,
        })
    }
}
