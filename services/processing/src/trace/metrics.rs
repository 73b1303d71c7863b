//! The trace index's metrics, in the service's one registry (named as
//! `docs/instrumentation.md` says).

use prometheus::{IntCounter, IntGauge};

/// Updated by the trace reader as it reads.
#[derive(Clone)]
pub struct TraceMetrics {
    pub(super) held: IntGauge,
    pub(super) evicted: IntCounter,
}

impl TraceMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(TraceMetrics {
            held: metrics.register(IntGauge::new(
                "processing_trace_index_records",
                "Records whose trace the trace index holds.",
            )?)?,
            evicted: metrics.register(IntCounter::new(
                "processing_trace_records_evicted_total",
                "Records evicted from the trace index (the one seen first, past trace.capacity).",
            )?)?,
        })
    }
}
