//! Reading a raw record: [`RawRecord::parse`] from bytes, trying the fast path first, and
//! the validating path ([`RawRecord::from_json`]), which decides whenever the fast path
//! declines and reports every bad field at once, each named by its wire name.

use super::fast_path;
use super::fields::Field;
use super::record::{RawRecord, Status};
use crate::error::{type_name, ErrorKind, FieldError, RecordError};
use crate::keys;
use crate::time::{parse_connector_time, parse_sequence_date};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

impl RawRecord {
    /// Parses and validates one record from its bytes.
    ///
    /// Valid records almost always take the fast path, which skips the intermediate
    /// `serde_json::Value` tree; anything it does not accept (including every invalid
    /// record) is re-read by the validating path, so the result is exactly that of
    /// [`RawRecord::from_json`] on the parsed JSON, detailed errors included.
    pub fn parse(bytes: &[u8]) -> Result<RawRecord, RecordError> {
        match fast_path::parse(bytes) {
            Some(record) => Ok(record),
            None => parse_via_value(bytes),
        }
    }

    /// Validates a JSON value, collecting every field problem.
    pub fn from_json(value: &Value) -> Result<RawRecord, RecordError> {
        let Some(object) = value.as_object() else {
            return Err(RecordError::Invalid(vec![FieldError::new(
                "$",
                ErrorKind::NotAnObject,
                format!("expected a JSON object, got {}", type_name(value)),
            )]));
        };
        let mut r = Reader {
            object,
            errors: Vec::new(),
        };
        let sequence_id = r.identifier(Field::SequenceId);
        let sequence_date = r.date(Field::SequenceDate);
        let sequence_hour = r.small_int(Field::SequenceHour, 23);
        let sequence_minute = r.small_int(Field::SequenceMinute, 59);
        let company = r.identifier(Field::Company);
        let zone = r.text(Field::Zone);
        let source = r.source(Field::Source);
        let object_id = r.integer(Field::ObjectId);
        let object_type = r.text(Field::ObjectType);
        let transformation = r.text(Field::Transformation);
        let parameters = r.text(Field::Parameters);
        let status = r.status(Field::Status);
        let start = r.timestamp(Field::Start);
        let end = r.timestamp(Field::End);
        let duration_seconds = r.non_negative(Field::Duration, false);
        let description = r.text(Field::Description);
        let cpu_time_seconds = r.non_negative(Field::CpuTime, true);
        let memory_used_bytes = r.integer(Field::MemoryUsed);

        match (
            sequence_id,
            sequence_date,
            sequence_hour,
            sequence_minute,
            company,
            zone,
            source,
            object_id,
            object_type,
            transformation,
            parameters,
            status,
            start,
            end,
            duration_seconds,
            description,
            cpu_time_seconds,
            memory_used_bytes,
        ) {
            (
                Some(sequence_id),
                Some(sequence_date),
                Some(sequence_hour),
                Some(sequence_minute),
                Some(company),
                Some(zone),
                Some(source),
                Some(object_id),
                Some(object_type),
                Some(transformation),
                Some(parameters),
                Some(status),
                Some(start),
                Some(end),
                Some(duration_seconds),
                Some(description),
                Some(cpu_time_seconds),
                Some(memory_used_bytes),
            ) if r.errors.is_empty() => Ok(RawRecord {
                sequence_id,
                sequence_date,
                sequence_hour,
                sequence_minute,
                company,
                zone,
                source,
                object_id,
                object_type,
                transformation,
                parameters,
                status,
                start,
                end,
                duration_seconds,
                description,
                cpu_time_seconds,
                memory_used_bytes,
            }),
            _ => Err(RecordError::Invalid(r.errors)),
        }
    }
}

/// The validating path: a `Value` tree, then [`RawRecord::from_json`]. The reference the
/// fast path is held to, and the only source of errors.
pub(super) fn parse_via_value(bytes: &[u8]) -> Result<RawRecord, RecordError> {
    let value: Value =
        crate::from_json_bytes(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
    RawRecord::from_json(&value)
}

/// Reads fields of one JSON object, recording each problem once.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn fail<T>(&mut self, field: Field, kind: ErrorKind, problem: String) -> Option<T> {
        self.errors
            .push(FieldError::new(field.wire_name(), kind, problem));
        None
    }

    fn present(&mut self, field: Field) -> Option<&'a Value> {
        match self.object.get(field.wire_name()) {
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(
                    field.wire_name(),
                    ErrorKind::MissingField,
                    "required field is missing",
                ));
                None
            }
            Some(v) => Some(v),
        }
    }

    fn string(&mut self, field: Field) -> Option<String> {
        match self.present(field)? {
            Value::String(s) => Some(s.clone()),
            other => {
                let found = type_name(other);
                self.fail(
                    field,
                    ErrorKind::WrongType,
                    format!("expected a string, got {found}"),
                )
            }
        }
    }

    /// Free text; may be empty.
    fn text(&mut self, field: Field) -> Option<String> {
        self.string(field)
    }

    /// Text that takes part in a key: non-empty and without the `:` key separator.
    fn identifier(&mut self, field: Field) -> Option<String> {
        let s = self.string(field)?;
        if s.trim().is_empty() {
            return self.fail(field, ErrorKind::EmptyField, "must not be empty".into());
        }
        if s.contains(':') {
            return self.fail(
                field,
                ErrorKind::OutOfRange,
                format!("must not contain ':' (the key separator), got {s:?}"),
            );
        }
        Some(s)
    }

    fn source(&mut self, field: Field) -> Option<String> {
        let s = self.string(field)?;
        if keys::source_slug(&s).is_empty() {
            return self.fail(
                field,
                ErrorKind::EmptyField,
                format!("must contain a letter or digit, got {s:?}"),
            );
        }
        Some(s)
    }

    fn integer(&mut self, field: Field) -> Option<i64> {
        match self.present(field)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(i),
                None => self.fail(
                    field,
                    ErrorKind::WrongType,
                    format!("expected an integer, got {n}"),
                ),
            },
            other => {
                let found = type_name(other);
                self.fail(
                    field,
                    ErrorKind::WrongType,
                    format!("expected an integer, got {found}"),
                )
            }
        }
    }

    /// An integer in `0..=max`, written as a string (`"16"`) or a number.
    fn small_int(&mut self, field: Field, max: u32) -> Option<u32> {
        let parsed = match self.present(field)? {
            Value::String(s) => s.trim().parse::<u32>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            other => {
                let found = type_name(other);
                return self.fail(
                    field,
                    ErrorKind::WrongType,
                    format!("expected an integer 0-{max} as a string, got {found}"),
                );
            }
        };
        match parsed {
            Some(v) if v <= max => Some(v),
            _ => {
                let shown = self
                    .object
                    .get(field.wire_name())
                    .map(Value::to_string)
                    .unwrap_or_default();
                self.fail(
                    field,
                    ErrorKind::OutOfRange,
                    format!("expected an integer 0-{max}, got {shown}"),
                )
            }
        }
    }

    /// A finite number ≥ 0; `from_string` also accepts it written as a string.
    fn non_negative(&mut self, field: Field, from_string: bool) -> Option<f64> {
        let value = match self.present(field)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if from_string => match s.trim().parse::<f64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    return self.fail(
                        field,
                        ErrorKind::WrongType,
                        format!("expected a number or a numeric string, got {s:?}"),
                    )
                }
            },
            other => {
                let found = type_name(other);
                let expected = if from_string {
                    "a number or a numeric string"
                } else {
                    "a number"
                };
                return self.fail(
                    field,
                    ErrorKind::WrongType,
                    format!("expected {expected}, got {found}"),
                );
            }
        };
        match value {
            Some(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                let shown = self
                    .object
                    .get(field.wire_name())
                    .map(Value::to_string)
                    .unwrap_or_default();
                self.fail(
                    field,
                    ErrorKind::OutOfRange,
                    format!("expected a finite number >= 0, got {shown}"),
                )
            }
        }
    }

    fn date(&mut self, field: Field) -> Option<NaiveDate> {
        let s = self.string(field)?;
        match parse_sequence_date(&s) {
            Ok(d) => Some(d),
            Err(e) => self.fail(
                field,
                ErrorKind::InvalidTimestamp,
                format!("expected a date YYYY-MM-DD, got {s:?} ({e})"),
            ),
        }
    }

    fn timestamp(&mut self, field: Field) -> Option<NaiveDateTime> {
        let s = self.string(field)?;
        match parse_connector_time(&s) {
            Ok(t) => Some(t),
            Err(e) => self.fail(
                field,
                ErrorKind::InvalidTimestamp,
                format!("expected DD-MM-YYYY HH:MM:SS[.ffffff], got {s:?} ({e})"),
            ),
        }
    }

    fn status(&mut self, field: Field) -> Option<Status> {
        let s = self.string(field)?;
        match Status::parse(&s) {
            Some(status) => Some(status),
            None => self.fail(
                field,
                ErrorKind::UnknownStatus,
                format!("expected one of SUCCESS, FAILED, got {s:?}"),
            ),
        }
    }
}
