//! A stage's checkpoint figures: what it saved and what its restores took, under names of
//! its own (`processing_{names.metrics}_...`: a metric says no stage in a label).

use super::state::CheckpointNames;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts};

#[derive(Clone)]
pub struct CheckpointMetrics {
    /// States committed to the checkpoint topic, by kind (saved, forgotten).
    pub states_written: IntCounterVec,
    pub bytes_written: IntCounter,
    pub restores: IntCounter,
    pub restore_seconds: Histogram,
    /// Saved states a restore read back.
    pub restored: IntCounter,
    /// Input records restores replayed.
    pub replayed: IntCounter,
}

impl CheckpointMetrics {
    /// The metrics of the stage `names` describes, whose checkpoint topic is `topic`.
    pub fn register(
        metrics: &obs_service::Metrics,
        names: &CheckpointNames,
        topic: &str,
    ) -> Result<Self, prometheus::Error> {
        let CheckpointNames {
            metrics: stem,
            keys,
            inputs,
            stage,
            ..
        } = *names;
        let counter = |name: String, help: String| IntCounter::new(name, help);
        Ok(CheckpointMetrics {
            states_written: metrics.register(IntCounterVec::new(
                Opts::new(
                    format!("processing_{stem}_states_written_total"),
                    format!("States the {stage} committed to {topic}, one per {keys} saved, by kind (saved; forgotten: one the stage no longer holds)."),
                ),
                &["kind"],
            )?)?,
            bytes_written: metrics.register(counter(
                format!("processing_{stem}_state_bytes_written_total"),
                format!("Bytes of the states the {stage} committed to {topic} (before compression)."),
            )?)?,
            restores: metrics.register(counter(
                format!("processing_{stem}_restores_total"),
                format!("Input partitions whose state the {stage} restored from {topic} (after each assignment)."),
            )?)?,
            restore_seconds: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    format!("processing_{stem}_restore_seconds"),
                    format!("Time the {stage} took to restore one input partition's state: reading its saved states, then replaying its {inputs} since."),
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0]),
            )?)?,
            restored: metrics.register(counter(
                format!("processing_{stem}_restored_{keys}_total"),
                format!("Saved states ({keys}) the {stage}'s restores read back from {topic}."),
            )?)?,
            replayed: metrics.register(counter(
                format!("processing_{stem}_replayed_{inputs}_total"),
                format!("Input records ({inputs}) the {stage}'s restores replayed."),
            )?)?,
        })
    }
}
