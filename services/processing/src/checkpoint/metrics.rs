//! The checkpoints' figures: what the run stage saved and what its restores took.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts};

#[derive(Clone)]
pub struct CheckpointMetrics {
    /// Series states committed to `detector-state`, by kind (saved, forgotten).
    pub states_written: IntCounterVec,
    pub bytes_written: IntCounter,
    pub restores: IntCounter,
    pub restore_seconds: Histogram,
    pub restored_series: IntCounter,
    pub replayed_runs: IntCounter,
}

impl CheckpointMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| IntCounter::new(name, help);
        Ok(CheckpointMetrics {
            states_written: metrics.register(IntCounterVec::new(
                Opts::new(
                    "processing_detector_states_written_total",
                    "Series states the run stage committed to detector-state, by kind (saved; forgotten: a series the detectors no longer hold).",
                ),
                &["kind"],
            )?)?,
            bytes_written: metrics.register(counter(
                "processing_detector_state_bytes_written_total",
                "Bytes of the series states committed to detector-state (before compression).",
            )?)?,
            restores: metrics.register(counter(
                "processing_detector_restores_total",
                "Partitions of standardized-logs whose detector state the run stage restored (after each assignment).",
            )?)?,
            restore_seconds: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "processing_detector_restore_seconds",
                    "Time to restore one partition's detector state: reading its saved states, then replaying its runs since.",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
            )?)?,
            restored_series: metrics.register(counter(
                "processing_detector_restored_series_total",
                "Series whose saved state a restore read back.",
            )?)?,
            replayed_runs: metrics.register(counter(
                "processing_detector_replayed_runs_total",
                "Runs of standardized-logs that restores replayed into the detectors.",
            )?)?,
        })
    }
}
