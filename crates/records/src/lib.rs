//! Record schemas shared by every stage.
//!
//! * [`raw`]: the job-execution record exactly as the connectors write it (French wire
//!   names), and its validation, which reports every bad field at once.
//! * [`keys`]: the series key and record id every topic is keyed and traced by.
//! * [`log_event`]: application log events (`POST /log`), their severity and their
//!   standardized form.
//! * [`framing`]: splitting NDJSON and JSON-array bodies into records, incrementally, so
//!   uploads are streamed rather than loaded whole.
//! * [`json`]: JSON read from bytes, checked for UTF-8 once.
//!
//! Nothing here does I/O; the services wire it to HTTP and Kafka.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod error;
pub mod framing;
pub mod json;
pub mod keys;
pub mod log_event;
pub mod raw;
pub mod standardize;
pub mod time;

pub use error::{ErrorKind, FieldError, RecordError};
pub use json::from_json_bytes;
pub use keys::{record_id, series_key, source_slug};
pub use log_event::{
    event_id, standardize_log_event, LogEvent, LogSeverity, SeverityClassifier, SeveritySource,
    StandardizedLogEvent, TimestampSource, LOG_EVENT_SCHEMA_VERSION,
    STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
pub use raw::{RawRecord, Status, RAW_SCHEMA_VERSION, WIRE_FIELDS};
pub use standardize::{
    parse_time_zone, standardize, standardize_bytes, FailureKind, QualityFlag, StandardizeOptions,
    StandardizedRecord, UnknownTimeZone, STANDARDIZED_SCHEMA_VERSION,
};
