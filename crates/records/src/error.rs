//! The one error type of this crate: why a record was refused, field by field.

use serde::Serialize;
use std::fmt;

/// Machine-readable class of a record problem; used as the dead-letter `error_kind`
/// and as a bounded metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The bytes are not JSON.
    MalformedJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A text field that identifies the record is empty.
    EmptyField,
    /// A timestamp or date that does not parse.
    InvalidTimestamp,
    /// An `Etat` outside the known statuses.
    UnknownStatus,
    /// A number that parses but is out of its range (negative duration, NaN...), or a
    /// text or list longer than its bound.
    OutOfRange,
    /// A field the schema does not have (application log events, which are strict).
    UnknownField,
}

impl ErrorKind {
    /// The label used in JSON bodies, dead letters and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::NotAnObject => "not_an_object",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::EmptyField => "empty_field",
            ErrorKind::InvalidTimestamp => "invalid_timestamp",
            ErrorKind::UnknownStatus => "unknown_status",
            ErrorKind::OutOfRange => "out_of_range",
            ErrorKind::UnknownField => "unknown_field",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field, named by its wire name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Wire name of the field (`Objet_Id`, `cpu_time (sec)`...), or `$` for the whole record.
    pub field: &'static str,
    pub kind: ErrorKind,
    /// Human-readable problem, without the field name.
    pub problem: String,
}

impl FieldError {
    pub fn new(field: &'static str, kind: ErrorKind, problem: impl Into<String>) -> Self {
        Self {
            field,
            kind,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not JSON; the message says where.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON, but one or more fields are wrong; every one of them is listed.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
}

impl RecordError {
    /// The kind of the first problem: the one a dead letter is filed under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RecordError::Malformed(_) => ErrorKind::MalformedJson,
            RecordError::Invalid(errors) => errors
                .first()
                .map(|e| e.kind)
                .unwrap_or(ErrorKind::NotAnObject),
        }
    }

    /// Every problem as one readable line each (`field: problem`).
    pub fn messages(&self) -> Vec<String> {
        match self {
            RecordError::Malformed(msg) => vec![format!("malformed JSON: {msg}")],
            RecordError::Invalid(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a JSON value's type is named in a problem (`expected a string, got a number`).
pub(crate) fn type_name(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
