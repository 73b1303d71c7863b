//! Reading an application log event: [`LogEvent::parse`] validates every field and
//! reports every problem at once, each naming its field (`attributes.company` for an
//! attribute).
//!
//! Unknown top-level fields are refused, not ignored: a misspelt `levle` would otherwise
//! silently lose the client's level. Anything beyond the schema goes in `attributes`.

use super::event::{
    Attributes, LogEvent, LOG_EVENT_FIELDS, MAX_ATTRIBUTE_NAME_BYTES, MAX_IDENTIFIER_BYTES,
    MAX_OTHER_ATTRIBUTES, MAX_SERVICE_BYTES, UNDERSTOOD_ATTRIBUTES,
};
use crate::error::{type_name, ErrorKind, FieldError, RecordError};
use crate::keys;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Field names of the understood attributes in errors, in [`UNDERSTOOD_ATTRIBUTES`] order.
const ATTRIBUTE_FIELDS: [&str; 5] = [
    "attributes.company",
    "attributes.source",
    "attributes.object_id",
    "attributes.record_id",
    "attributes.trace_id",
];

impl LogEvent {
    /// Parses and validates one event from its bytes.
    pub fn parse(bytes: &[u8]) -> Result<LogEvent, RecordError> {
        let value: Value =
            crate::from_json_bytes(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        LogEvent::from_json(value)
    }

    /// Validates a JSON value, collecting every field problem.
    pub fn from_json(value: Value) -> Result<LogEvent, RecordError> {
        let Value::Object(mut object) = value else {
            return Err(RecordError::Invalid(vec![FieldError::new(
                "$",
                ErrorKind::NotAnObject,
                format!("expected a JSON object, got {}", type_name(&value)),
            )]));
        };
        let mut errors = Vec::new();
        for name in object.keys() {
            if !LOG_EVENT_FIELDS.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    "$",
                    ErrorKind::UnknownField,
                    format!(
                        "unknown field {name:?}: the fields are {}; anything else goes in attributes",
                        LOG_EVENT_FIELDS.join(", ")
                    ),
                ));
            }
        }
        let message = required_text(&mut object, "message", usize::MAX, &mut errors);
        let service = required_text(&mut object, "service", MAX_SERVICE_BYTES, &mut errors);
        let level = level(object.remove("level"), &mut errors);
        let timestamp = timestamp(object.remove("timestamp"), &mut errors);
        let attributes = attributes(object.remove("attributes"), &mut errors);
        let trace_id = optional_text(
            object.remove("trace_id"),
            "trace_id",
            MAX_IDENTIFIER_BYTES,
            &mut errors,
        );
        match (message, service) {
            (Some(message), Some(service)) if errors.is_empty() => Ok(LogEvent {
                message,
                service,
                level,
                timestamp,
                attributes,
                trace_id,
            }),
            _ => Err(RecordError::Invalid(errors)),
        }
    }
}

fn required_text(
    object: &mut Map<String, Value>,
    field: &'static str,
    max_bytes: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.remove(field) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(
                field,
                ErrorKind::MissingField,
                "required field is missing",
            ));
            None
        }
        value => optional_text(value, field, max_bytes, errors),
    }
}

/// A string that is not blank and at most `max_bytes` long; absent or null is `None`.
fn optional_text(
    value: Option<Value>,
    field: &'static str,
    max_bytes: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let text = match value? {
        Value::Null => return None,
        Value::String(text) => text,
        other => {
            errors.push(wrong_type(field, "a string", &other));
            return None;
        }
    };
    if text.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            ErrorKind::EmptyField,
            "must not be empty",
        ));
        return None;
    }
    if text.len() > max_bytes {
        errors.push(too_long(field, text.len(), max_bytes));
        return None;
    }
    Some(text)
}

/// A string, or an integer (a syslog number); kept as written.
fn level(value: Option<Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Some(number.to_string())
        }
        Some(Value::Number(number)) => {
            errors.push(FieldError::new(
                "level",
                ErrorKind::WrongType,
                format!("expected a string or an integer, got {number}"),
            ));
            None
        }
        value => optional_text(value, "level", MAX_IDENTIFIER_BYTES, errors),
    }
}

fn timestamp(value: Option<Value>, errors: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    let text = optional_text(value, "timestamp", MAX_IDENTIFIER_BYTES, errors)?;
    match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(time) => Some(time.with_timezone(&Utc)),
        Err(error) => {
            errors.push(FieldError::new(
                "timestamp",
                ErrorKind::InvalidTimestamp,
                format!("expected an RFC 3339 time (2026-11-21T07:43:00Z), got {text:?} ({error})"),
            ));
            None
        }
    }
}

fn attributes(value: Option<Value>, errors: &mut Vec<FieldError>) -> Attributes {
    let mut other = match value {
        None | Some(Value::Null) => return Attributes::default(),
        Some(Value::Object(object)) => object,
        Some(value) => {
            errors.push(wrong_type("attributes", "an object", &value));
            return Attributes::default();
        }
    };
    let [company, source, object_id, record_id, trace_id] = std::array::from_fn(|index| {
        let value = other.remove(UNDERSTOOD_ATTRIBUTES[index]);
        let field = ATTRIBUTE_FIELDS[index];
        match value {
            // The connectors' object ids are integers.
            Some(Value::Number(number)) if field == "attributes.object_id" && number.is_i64() => {
                Some(number.to_string())
            }
            value => optional_text(value, field, MAX_IDENTIFIER_BYTES, errors),
        }
    });
    if source
        .as_deref()
        .is_some_and(|source| keys::source_slug(source).is_empty())
    {
        errors.push(FieldError::new(
            "attributes.source",
            ErrorKind::EmptyField,
            "must contain a letter or digit",
        ));
    }
    if other.len() > MAX_OTHER_ATTRIBUTES {
        errors.push(FieldError::new(
            "attributes",
            ErrorKind::OutOfRange,
            format!(
                "{} attributes besides {}: at most {MAX_OTHER_ATTRIBUTES}",
                other.len(),
                UNDERSTOOD_ATTRIBUTES.join(", ")
            ),
        ));
    }
    if let Some(name) = other
        .keys()
        .find(|name| name.len() > MAX_ATTRIBUTE_NAME_BYTES)
    {
        errors.push(FieldError::new(
            "attributes",
            ErrorKind::OutOfRange,
            format!(
                "an attribute name of {} bytes (starting {:?}): at most {MAX_ATTRIBUTE_NAME_BYTES}",
                name.len(),
                name.chars().take(20).collect::<String>()
            ),
        ));
    }
    Attributes {
        company,
        source,
        object_id,
        record_id,
        trace_id,
        other,
    }
}

fn wrong_type(field: &'static str, expected: &str, found: &Value) -> FieldError {
    FieldError::new(
        field,
        ErrorKind::WrongType,
        format!("expected {expected}, got {}", type_name(found)),
    )
}

fn too_long(field: &'static str, length: usize, max_bytes: usize) -> FieldError {
    FieldError::new(
        field,
        ErrorKind::OutOfRange,
        format!("{length} bytes long: at most {max_bytes}"),
    )
}
