//! The stage's transform: one raw record → one standardized record, or one dead letter,
//! or nothing when its run was standardized already ([`crate::dedup`]).

use crate::dedup::{Dedup, DedupBatch};
use obs_kafka::dead_letter::DeadLetterTally;
use obs_kafka::ErrorCounter;
use obs_kafka::{InputRecord, Outputs, Transform};
use obs_records::standardize::{
    standardize_bytes, StandardizeOptions, STANDARDIZED_SCHEMA_VERSION,
};
use obs_records::ErrorKind;
use prometheus::{IntCounter, IntCounterVec, Opts};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const STAGE: &str = "standardization";

/// Business counters of the stage, updated only for committed batches: each raw record is
/// counted once, as standardized, as a duplicate dropped
/// (`standardization_duplicates_dropped_total`, with the de-duplication's metrics) or as an
/// error (`errors_total{stage="processing"}`, by the error kind it was dead-lettered under).
#[derive(Clone)]
pub struct StandardizationMetrics {
    standardized: IntCounter,
    errors: ErrorCounter,
    /// Total of the dead letters above, for `/status`.
    dead_lettered: Arc<AtomicU64>,
    /// Standardized records carrying each data-quality flag.
    quality_flags: IntCounterVec,
}

impl StandardizationMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(StandardizationMetrics {
            standardized: metrics.register(IntCounter::new(
                "standardization_records_standardized_total",
                "Raw records standardized (the others are errors_total{stage=\"processing\"}, dead-lettered).",
            )?)?,
            errors: metrics.errors().clone(),
            dead_lettered: Arc::default(),
            quality_flags: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_quality_flags_total",
                    "Standardized records with a data-quality flag, by flag.",
                ),
                &["flag"],
            )?)?,
        })
    }

    /// Committed records: `(standardized, dead-lettered)`.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.standardized.get(),
            self.dead_lettered.load(Ordering::Relaxed),
        )
    }
}

/// Counts of the batch in flight, applied to the metrics when it commits.
#[derive(Default)]
pub struct Pending {
    standardized: u64,
    dead_letters: DeadLetterTally,
    quality: BTreeMap<&'static str, u64>,
    dedup: DedupBatch,
}

pub struct StandardizeTransform {
    options: StandardizeOptions,
    standardized_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: StandardizationMetrics,
    dedup: Dedup,
}

impl StandardizeTransform {
    pub fn new(
        options: StandardizeOptions,
        standardized_topic: &str,
        dead_letter_topic: &str,
        metrics: StandardizationMetrics,
        dedup: Dedup,
    ) -> Self {
        StandardizeTransform {
            options,
            standardized_topic: standardized_topic.into(),
            dead_letter_topic: dead_letter_topic.into(),
            metrics,
            dedup,
        }
    }
}

impl Transform for StandardizeTransform {
    type Batch = Pending;

    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut Pending, out: &mut Outputs) {
        let Some(payload) = input.payload.filter(|p| !p.is_empty()) else {
            batch.dead_letters.write(
                out,
                input,
                &self.dead_letter_topic,
                STAGE,
                ErrorKind::MalformedJson.as_str(),
                "empty payload: no bytes to read",
            );
            return;
        };
        match standardize_bytes(payload, &self.options) {
            Ok(record) => {
                if !self.dedup.first_time(input, &record, &mut batch.dedup) {
                    return;
                }
                for flag in &record.quality {
                    *batch.quality.entry(flag.as_str()).or_default() += 1;
                }
                batch.standardized += 1;
                out.record(&self.standardized_topic, Some(record.series_key.as_bytes()))
                    .next_hop_headers(input, STANDARDIZED_SCHEMA_VERSION)
                    .json(&record);
            }
            Err(error) => {
                batch.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    STAGE,
                    error.kind().as_str(),
                    &error.to_string(),
                );
            }
        }
    }

    fn seal(&mut self, batch: &mut Pending, out: &mut Outputs) {
        self.dedup.seal(&batch.dedup, out);
    }

    fn committed(&mut self, pending: Pending) {
        self.dedup.committed(&pending.dedup);
        let m = &self.metrics;
        m.standardized.inc_by(pending.standardized);
        let dead = pending.dead_letters.commit(&m.errors);
        m.dead_lettered.fetch_add(dead, Ordering::Relaxed);
        for (flag, count) in pending.quality {
            m.quality_flags.with_label_values(&[flag]).inc_by(count);
        }
    }

    /// Nothing was counted yet: the records will be consumed and counted again, their
    /// ids seen again for the first time.
    fn discarded(&mut self, batches: Vec<Pending>) {
        for batch in batches {
            self.dedup.discarded(batch.dedup);
        }
    }

    /// Each partition's ids are rebuilt from what its previous owners committed.
    fn rebalanced(&mut self, assigned: &[i32]) {
        self.dedup.rebalanced(assigned);
    }
}
