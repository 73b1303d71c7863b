//! The kinds of records ingestion takes: how each is validated, keyed and counted, and
//! which topic it goes to. The request paths are written once, generic over the kind.

use crate::metrics::{IngestionMetrics, KindCounters};
use obs_kafka::TopicsConfig;
use obs_records::{event_id, LogEvent, RawRecord, RecordError};
use obs_records::{LOG_EVENT_SCHEMA_VERSION, RAW_SCHEMA_VERSION};

/// What a valid record is published under.
pub struct Identity {
    /// The Kafka key.
    pub key: String,
    /// The `record-id` header.
    pub record_id: String,
}

/// One kind of record.
pub trait RecordKind {
    /// The `schema-version` header of its topic.
    const SCHEMA_VERSION: &'static str;

    /// Validates one record from its bytes.
    fn identify(bytes: &[u8]) -> Result<Identity, RecordError>;

    /// The topic it is published to.
    fn topic(topics: &TopicsConfig) -> &str;

    /// Its counters.
    fn counters(metrics: &IngestionMetrics) -> &KindCounters;
}

/// Job-execution records: keyed by series, to `raw-logs`.
pub struct Runs;

impl RecordKind for Runs {
    const SCHEMA_VERSION: &'static str = RAW_SCHEMA_VERSION;

    fn identify(bytes: &[u8]) -> Result<Identity, RecordError> {
        let record = RawRecord::parse(bytes)?;
        Ok(Identity {
            key: record.series_key(),
            record_id: record.record_id(),
        })
    }

    fn topic(topics: &TopicsConfig) -> &str {
        &topics.raw_logs.name
    }

    fn counters(metrics: &IngestionMetrics) -> &KindCounters {
        &metrics.runs
    }
}

/// Application log events: keyed by service (one service's events in order), to
/// `app-logs`; the record id is the event id.
pub struct LogEvents;

impl RecordKind for LogEvents {
    const SCHEMA_VERSION: &'static str = LOG_EVENT_SCHEMA_VERSION;

    fn identify(bytes: &[u8]) -> Result<Identity, RecordError> {
        let event = LogEvent::parse(bytes)?;
        Ok(Identity {
            key: event.service,
            record_id: event_id(bytes),
        })
    }

    fn topic(topics: &TopicsConfig) -> &str {
        &topics.app_logs.name
    }

    fn counters(metrics: &IngestionMetrics) -> &KindCounters {
        &metrics.log_events
    }
}
