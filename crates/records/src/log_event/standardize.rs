//! From the bytes of a posted event to its standardized form: severity from the level or,
//! failing that, from a classifier the caller passes in (this crate knows no model).

use super::event::LogEvent;
use super::id::event_id;
use super::severity::{LogSeverity, SeveritySource};
use super::standardized::{
    StandardizedLogEvent, TimestampSource, STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use crate::error::RecordError;
use crate::keys;
use chrono::{DateTime, Utc};

/// Reads a severity from a message's text.
pub trait SeverityClassifier {
    /// The most likely severity of `message` and its probability, in `[0, 1]`.
    fn classify(&self, message: &str) -> (LogSeverity, f64);
}

/// Parses, validates and standardizes one event. `received_at` stands in for a missing
/// `timestamp`; `classifier` reads the severity when the level is absent or unknown.
pub fn standardize_log_event(
    bytes: &[u8],
    received_at: DateTime<Utc>,
    classifier: &impl SeverityClassifier,
) -> Result<StandardizedLogEvent, RecordError> {
    let event = LogEvent::parse(bytes)?;
    let given = event.level.as_deref().and_then(LogSeverity::from_level);
    let (severity, severity_source, severity_confidence) = match given {
        Some(severity) => (severity, SeveritySource::Given, 1.0),
        None => {
            let (severity, confidence) = classifier.classify(&event.message);
            (
                severity,
                SeveritySource::Classified,
                confidence.clamp(0.0, 1.0),
            )
        }
    };
    let (timestamp, timestamp_source) = match event.timestamp {
        Some(timestamp) => (timestamp, TimestampSource::Given),
        None => (received_at, TimestampSource::Received),
    };
    let attributes = event.attributes;
    Ok(StandardizedLogEvent {
        event_id: event_id(bytes),
        schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
        service: event.service,
        message: event.message,
        level: event.level,
        severity,
        severity_source,
        severity_confidence,
        timestamp,
        timestamp_source,
        company: attributes.company,
        source: attributes.source.as_deref().map(keys::source_slug),
        object_id: attributes.object_id,
        record_id: attributes.record_id,
        trace_id: event.trace_id.or(attributes.trace_id),
        attributes: attributes.other,
    })
}
