//! The application log event as a client posts it, its wire fields and their bounds.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Value of the `schema-version` header on `app-logs`.
pub const LOG_EVENT_SCHEMA_VERSION: &str = "app-log-v1";

/// The top-level fields of an event, in the order validation reports problems in.
pub const LOG_EVENT_FIELDS: [&str; 6] = [
    "message",
    "service",
    "level",
    "timestamp",
    "attributes",
    "trace_id",
];

/// The attributes an event's correlation rests on, read as strings.
pub const UNDERSTOOD_ATTRIBUTES: [&str; 5] =
    ["company", "source", "object_id", "record_id", "trace_id"];

/// Longest `service`: it is the Kafka key and a (bounded) metric label, not free text.
pub const MAX_SERVICE_BYTES: usize = 128;
/// Longest `level`, `trace_id` and understood attribute: identifiers, not free text.
pub const MAX_IDENTIFIER_BYTES: usize = 256;
/// Most attributes beyond the understood ones; an event is not a document store.
pub const MAX_OTHER_ATTRIBUTES: usize = 64;
/// Longest name of an attribute.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 128;

/// One validated application log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// What happened; never empty.
    pub message: String,
    /// The application or connector that wrote it; never empty.
    pub service: String,
    /// The client's level as written, when it sent one (normalized later, see
    /// [`LogSeverity::from_level`](super::LogSeverity::from_level)).
    pub level: Option<String>,
    /// When it happened, if the client said; converted to UTC.
    pub timestamp: Option<DateTime<Utc>>,
    pub attributes: Attributes,
    pub trace_id: Option<String>,
}

/// The event's `attributes`: the understood ones as fields, the others kept as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub company: Option<String>,
    pub source: Option<String>,
    /// A string, or an integer written as its decimal text (the connectors' ids are
    /// integers).
    pub object_id: Option<String>,
    pub record_id: Option<String>,
    pub trace_id: Option<String>,
    /// Every other attribute, at most [`MAX_OTHER_ATTRIBUTES`].
    pub other: Map<String, Value>,
}
