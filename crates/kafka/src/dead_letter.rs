//! Dead letters: records a stage cannot handle honestly.
//!
//! The payload and key are the original bytes, untouched; the original headers are kept;
//! why and where from goes into `dead-letter-*` headers (as Kafka Connect does), so an
//! operator sees the exact input in Kafka UI and can replay it after a fix.

use crate::stage::{InputRecord, Outputs};
use chrono::{SecondsFormat, Utc};
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
    let mut writer = out.record(topic, input.key).input_headers(input);
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
