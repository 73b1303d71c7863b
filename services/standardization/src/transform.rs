//! The stage's transform: one raw record → one standardized record, or one dead letter.

use obs_kafka::dead_letter::dead_letter;
use obs_kafka::{InputRecord, Outputs, Transform};
use obs_records::standardize::{
    standardize_bytes, StandardizeOptions, STANDARDIZED_SCHEMA_VERSION,
};
use obs_records::ErrorKind;
use prometheus::{IntCounterVec, Opts};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const STAGE: &str = "standardization";

/// Business counters of the stage, updated only for committed batches.
#[derive(Clone)]
pub struct StandardizationMetrics {
    /// Records by outcome: `standardized` or `dead_lettered`.
    pub records: IntCounterVec,
    /// Dead letters by error kind.
    pub dead_letters: IntCounterVec,
    /// Standardized records carrying each data-quality flag.
    pub quality_flags: IntCounterVec,
}

impl StandardizationMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(StandardizationMetrics {
            records: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_records_total",
                    "Raw records handled, by outcome (standardized, dead_lettered).",
                ),
                &["outcome"],
            )?)?,
            dead_letters: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_dead_letters_total",
                    "Raw records sent to dead-letters, by error kind.",
                ),
                &["kind"],
            )?)?,
            quality_flags: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_quality_flags_total",
                    "Standardized records with a data-quality flag, by flag.",
                ),
                &["flag"],
            )?)?,
        })
    }
}

/// Counts of the batch in flight, applied to the metrics when it commits.
#[derive(Default)]
pub struct Pending {
    standardized: u64,
    dead_letters: BTreeMap<&'static str, u64>,
    quality: BTreeMap<&'static str, u64>,
}

pub struct StandardizeTransform {
    options: StandardizeOptions,
    standardized_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: StandardizationMetrics,
}

impl StandardizeTransform {
    pub fn new(
        options: StandardizeOptions,
        standardized_topic: &str,
        dead_letter_topic: &str,
        metrics: StandardizationMetrics,
    ) -> Self {
        StandardizeTransform {
            options,
            standardized_topic: standardized_topic.into(),
            dead_letter_topic: dead_letter_topic.into(),
            metrics,
        }
    }
}

impl Transform for StandardizeTransform {
    type Batch = Pending;

    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut Pending, out: &mut Outputs) {
        let Some(payload) = input.payload.filter(|p| !p.is_empty()) else {
            *batch
                .dead_letters
                .entry(ErrorKind::MalformedJson.as_str())
                .or_default() += 1;
            dead_letter(
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
                for flag in &record.quality {
                    *batch.quality.entry(flag.as_str()).or_default() += 1;
                }
                batch.standardized += 1;
                out.record(&self.standardized_topic, Some(record.series_key.as_bytes()))
                    .next_hop_headers(input, STANDARDIZED_SCHEMA_VERSION)
                    .json(&record);
            }
            Err(error) => {
                let kind = error.kind().as_str();
                *batch.dead_letters.entry(kind).or_default() += 1;
                dead_letter(
                    out,
                    input,
                    &self.dead_letter_topic,
                    STAGE,
                    kind,
                    &error.to_string(),
                );
            }
        }
    }

    fn committed(&mut self, pending: Pending) {
        let m = &self.metrics;
        m.records
            .with_label_values(&["standardized"])
            .inc_by(pending.standardized);
        for (kind, count) in pending.dead_letters {
            m.records
                .with_label_values(&["dead_lettered"])
                .inc_by(count);
            m.dead_letters.with_label_values(&[kind]).inc_by(count);
        }
        for (flag, count) in pending.quality {
            m.quality_flags.with_label_values(&[flag]).inc_by(count);
        }
    }

    /// Nothing was counted yet: the records will be consumed and counted again.
    fn discarded(&mut self, _batches: Vec<Pending>) {}
}
