//! The standardized application log event: what `standardized-app-logs` carries, as JSON.

use super::severity::{LogSeverity, SeveritySource};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `schema_version` of a standardized event and its `schema-version` header.
pub const STANDARDIZED_LOG_EVENT_SCHEMA_VERSION: &str = "standardized-app-log-v1";

/// Where an event's `timestamp` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimestampSource {
    /// The client's `timestamp`.
    Given,
    /// The client sent none: the time ingestion received the event.
    Received,
}

/// One application log event, standardized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StandardizedLogEvent {
    /// [`event_id`](super::event_id) of the bytes the client sent.
    pub event_id: String,
    /// [`STANDARDIZED_LOG_EVENT_SCHEMA_VERSION`].
    pub schema_version: String,
    pub service: String,
    pub message: String,
    /// The client's `level` as written, when it sent one (also when it was not
    /// recognized, so an operator sees what was sent).
    pub level: Option<String>,
    pub severity: LogSeverity,
    pub severity_source: SeveritySource,
    /// 1 when given; the classifier's probability of `severity` otherwise.
    pub severity_confidence: f64,
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub timestamp: DateTime<Utc>,
    pub timestamp_source: TimestampSource,
    pub company: Option<String>,
    /// Lower-case slug of the `source` attribute, as the runs' `source`, so events and
    /// runs of one connector match.
    pub source: Option<String>,
    pub object_id: Option<String>,
    pub record_id: Option<String>,
    /// The event's `trace_id`, else its `trace_id` attribute.
    pub trace_id: Option<String>,
    /// The attributes beyond the understood ones, as sent.
    #[schema(value_type = HashMap<String, Value>)]
    pub attributes: Map<String, Value>,
}
