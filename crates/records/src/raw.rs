//! The raw job-execution record, as the connectors write it.
//!
//! Field names stay French on the wire (`Entreprise`, `Objet_Id`, `cpu_time (sec)`...);
//! in Rust they are English. Validation reads a JSON object field by field and reports
//! every problem at once, each naming the wire field, so a client fixes a record in one go.

use crate::error::{ErrorKind, FieldError, RecordError};
use crate::keys;
use crate::time::{format_connector_time, parse_connector_time};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Value of the `schema-version` header on `raw-logs`.
pub const RAW_SCHEMA_VERSION: &str = "raw-v1";

/// Outcome of one run. Only the statuses seen from the connectors are known; anything
/// else is refused rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    pub const ALL: [Status; 2] = [Status::Success, Status::Failed];

    /// The wire spelling (`SUCCESS`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One validated run of one object. Serializes back to the connectors' wire format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawRecord {
    #[serde(rename = "No_Sequence")]
    pub sequence_id: String,
    #[serde(rename = "Date_Sequence")]
    pub sequence_date: NaiveDate,
    #[serde(rename = "Heure_Sequence", serialize_with = "two_digits")]
    pub sequence_hour: u32,
    #[serde(rename = "Minute_Sequence", serialize_with = "two_digits")]
    pub sequence_minute: u32,
    #[serde(rename = "Entreprise")]
    pub company: String,
    #[serde(rename = "Zone")]
    pub zone: String,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Objet_Id")]
    pub object_id: i64,
    #[serde(rename = "Objet")]
    pub object_type: String,
    #[serde(rename = "Transformation")]
    pub transformation: String,
    #[serde(rename = "Parametres")]
    pub parameters: String,
    #[serde(rename = "Etat")]
    pub status: Status,
    #[serde(rename = "Debut", serialize_with = "connector_time")]
    pub start: NaiveDateTime,
    #[serde(rename = "Fin", serialize_with = "connector_time")]
    pub end: NaiveDateTime,
    #[serde(rename = "Duree secondes")]
    pub duration_seconds: f64,
    #[serde(rename = "Description")]
    pub description: String,
    /// Arrives as a string (`"0.09"`); a JSON number is accepted too.
    #[serde(rename = "cpu_time (sec)", serialize_with = "cpu_as_string")]
    pub cpu_time_seconds: f64,
    /// Can be negative in the field (a data-quality issue flagged downstream, not an error).
    #[serde(rename = "memory_used (bytes)")]
    pub memory_used_bytes: i64,
}

impl RawRecord {
    /// Parses and validates one record from its bytes.
    pub fn parse(bytes: &[u8]) -> Result<RawRecord, RecordError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        RawRecord::from_json(&value)
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
        let sequence_id = r.identifier("No_Sequence");
        let sequence_date = r.date("Date_Sequence");
        let sequence_hour = r.small_int("Heure_Sequence", 23);
        let sequence_minute = r.small_int("Minute_Sequence", 59);
        let company = r.identifier("Entreprise");
        let zone = r.text("Zone");
        let source = r.source("Source");
        let object_id = r.integer("Objet_Id");
        let object_type = r.text("Objet");
        let transformation = r.text("Transformation");
        let parameters = r.text("Parametres");
        let status = r.status("Etat");
        let start = r.timestamp("Debut");
        let end = r.timestamp("Fin");
        let duration_seconds = r.non_negative("Duree secondes", false);
        let description = r.text("Description");
        let cpu_time_seconds = r.non_negative("cpu_time (sec)", true);
        let memory_used_bytes = r.integer("memory_used (bytes)");

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

    /// Lower-case slug of `Source`.
    pub fn source_slug(&self) -> String {
        keys::source_slug(&self.source)
    }

    /// `{company}:{source slug}:{object_id}`: the Kafka key of every topic.
    pub fn series_key(&self) -> String {
        keys::series_key(&self.company, &self.source_slug(), self.object_id)
    }

    /// `{company}:{sequence_id}:{object_id}`: identifies this run.
    pub fn record_id(&self) -> String {
        keys::record_id(&self.company, &self.sequence_id, self.object_id)
    }

    /// The record as compact JSON in the connectors' wire format.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serializing plain strings, numbers and dates cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Reads fields of one JSON object, recording each problem once.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn fail<T>(&mut self, field: &'static str, kind: ErrorKind, problem: String) -> Option<T> {
        self.errors.push(FieldError::new(field, kind, problem));
        None
    }

    fn present(&mut self, field: &'static str) -> Option<&'a Value> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(
                    field,
                    ErrorKind::MissingField,
                    "required field is missing",
                ));
                None
            }
            Some(v) => Some(v),
        }
    }

    fn string(&mut self, field: &'static str) -> Option<String> {
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
    fn text(&mut self, field: &'static str) -> Option<String> {
        self.string(field)
    }

    /// Text that takes part in a key: non-empty and without the `:` key separator.
    fn identifier(&mut self, field: &'static str) -> Option<String> {
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

    fn source(&mut self, field: &'static str) -> Option<String> {
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

    fn integer(&mut self, field: &'static str) -> Option<i64> {
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
    fn small_int(&mut self, field: &'static str, max: u32) -> Option<u32> {
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
                    .get(field)
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
    fn non_negative(&mut self, field: &'static str, from_string: bool) -> Option<f64> {
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
                    .get(field)
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

    fn date(&mut self, field: &'static str) -> Option<NaiveDate> {
        let s = self.string(field)?;
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(e) => self.fail(
                field,
                ErrorKind::InvalidTimestamp,
                format!("expected a date YYYY-MM-DD, got {s:?} ({e})"),
            ),
        }
    }

    fn timestamp(&mut self, field: &'static str) -> Option<NaiveDateTime> {
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

    fn status(&mut self, field: &'static str) -> Option<Status> {
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

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn two_digits<S: Serializer>(value: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{value:02}"))
}

fn connector_time<S: Serializer>(value: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_connector_time(value))
}

/// `"0.09"`, `"1.00"`, `"12.3456"`: at least two decimals, as the connectors write it.
fn cpu_as_string<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    let two = format!("{value:.2}");
    if two.parse::<f64>().ok() == Some(*value) {
        s.serialize_str(&two)
    } else {
        s.serialize_str(&value.to_string())
    }
}
