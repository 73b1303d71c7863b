//! Dead letters: records a stage cannot handle honestly.
//!
//! The payload and key are the original bytes, untouched; the original headers are kept;
//! why and where from goes into `dead-letter-*` headers (as Kafka Connect does), so an
//! operator sees the exact input in Kafka UI and can replay it after a fix.

use crate::error_counter::{ErrorCounter, ErrorStage};
use crate::stage::{InputRecord, Outputs};
use chrono::{SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const STAGE: &str = "dead-letter-stage";
pub const ERROR_KIND: &str = "dead-letter-error-kind";
pub const REASON: &str = "dead-letter-reason";
pub const SOURCE_TOPIC: &str = "dead-letter-source-topic";
pub const SOURCE_PARTITION: &str = "dead-letter-source-partition";
pub const SOURCE_OFFSET: &str = "dead-letter-source-offset";
pub const FAILED_AT: &str = "dead-letter-failed-at";

/// Writes the dead letter of `input` to `out`: refused by `stage` for `reason`
/// (classified as `kind`).
pub fn dead_letter(
    out: &mut Outputs,
    input: &InputRecord<'_>,
    topic: &Arc<str>,
    stage: &str,
    kind: &str,
    reason: &str,
) {
    let partition = input.partition.to_string();
    let offset = input.offset.to_string();
    let failed_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut writer = out
        .record(topic, input.key)
        .input_headers(input)
        .position_of(input);
    for (key, value) in [
        (STAGE, stage),
        (ERROR_KIND, kind),
        (REASON, reason),
        (SOURCE_TOPIC, input.topic),
        (SOURCE_PARTITION, partition.as_str()),
        (SOURCE_OFFSET, offset.as_str()),
        (FAILED_AT, failed_at.as_str()),
    ] {
        writer = writer.header(key, Some(value.as_bytes()));
    }
    writer.payload(input.payload.unwrap_or_default());
}

/// The dead letters a stage's batch wrote, by error kind: part of its `Transform::Batch`,
/// counted once, in `errors_total{stage="processing"}`, when the batch commits.
#[derive(Debug, Default)]
pub struct DeadLetterTally {
    by_kind: BTreeMap<&'static str, u64>,
}

impl DeadLetterTally {
    /// Writes the dead letter of `input` (see [`dead_letter`]) and counts it.
    pub fn write(
        &mut self,
        out: &mut Outputs,
        input: &InputRecord<'_>,
        topic: &Arc<str>,
        stage: &str,
        kind: &'static str,
        reason: &str,
    ) {
        *self.by_kind.entry(kind).or_default() += 1;
        dead_letter(out, input, topic, stage, kind, reason);
    }

    /// The batch committed: its dead letters are counted in `errors`; how many there were.
    pub fn commit(self, errors: &ErrorCounter) -> u64 {
        let mut total = 0;
        for (kind, count) in self.by_kind {
            errors.invalid_input(ErrorStage::Processing, kind, count, &"dead-lettered");
            total += count;
        }
        total
    }
}
