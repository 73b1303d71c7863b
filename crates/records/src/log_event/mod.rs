//! Application log events: what applications and connectors post to `POST /log`, and
//! their standardized form.
//!
//! * `event`: the event as posted, its fields and their bounds; `reader` validates it
//!   ([`LogEvent::parse`]), naming every bad field, with the errors of the whole crate
//!   ([`RecordError`](crate::RecordError)).
//! * `severity`: the five severities and the normalization of a client's `level`.
//! * `id`: the event id, deterministic from the event's bytes.
//! * `standardized` and `standardize`: the standardized event and how it is made, given
//!   the time the event was received and a [`SeverityClassifier`] for events without a
//!   usable level.

mod event;
mod id;
mod reader;
mod severity;
mod standardize;
mod standardized;

pub use event::{
    Attributes, LogEvent, LOG_EVENT_FIELDS, LOG_EVENT_SCHEMA_VERSION, MAX_ATTRIBUTE_NAME_BYTES,
    MAX_IDENTIFIER_BYTES, MAX_OTHER_ATTRIBUTES, MAX_SERVICE_BYTES, UNDERSTOOD_ATTRIBUTES,
};
pub use id::{event_id, fnv1a_64};
pub use severity::{LogSeverity, SeveritySource};
pub use standardize::{standardize_log_event, SeverityClassifier};
pub use standardized::{
    StandardizedLogEvent, TimestampSource, STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
