//! Events for the unit tests of the log index, its queries and the error-rate windows.

use chrono::{DateTime, Duration, TimeZone, Utc};
use obs_records::{
    LogSeverity, SeveritySource, StandardizedLogEvent, TimestampSource,
    STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use serde_json::Map;

/// `minutes` after 2024-05-01T10:00:00Z.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// An `info` event of `service` at [`at`]`(minute)`, without attributes.
pub fn event(service: &str, minute: i64, message: &str) -> StandardizedLogEvent {
    StandardizedLogEvent {
        event_id: format!("{service}-{minute}-{message}"),
        schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
        service: service.into(),
        message: message.into(),
        level: None,
        severity: LogSeverity::Info,
        severity_source: SeveritySource::Given,
        severity_confidence: 1.0,
        timestamp: at(minute),
        timestamp_source: TimestampSource::Given,
        company: None,
        source: None,
        object_id: None,
        record_id: None,
        trace_id: None,
        attributes: Map::new(),
    }
}
