//! The raw job-execution record, as the connectors write it.
//!
//! Field names stay French on the wire (`Entreprise`, `Objet_Id`, `cpu_time (sec)`...);
//! in Rust they are English. Validation reads a JSON object field by field and reports
//! every problem at once, each naming the wire field, so a client fixes a record in one go.
//!
//! [`RawRecord::parse`] is on the ingest hot path, so it first tries a fast path (see
//! module `fast`) that reads the bytes straight into borrowed fields; whenever that path
//! declines, for whatever reason, the validating path above decides. Success values are
//! the same either way; errors always come from the validating path.

use crate::error::{ErrorKind, FieldError, RecordError};
use crate::keys;
use crate::time::{format_connector_time, parse_connector_time, parse_sequence_date};
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
    ///
    /// Valid records almost always take the fast path, which skips the intermediate
    /// `serde_json::Value` tree; anything it does not accept (including every invalid
    /// record) is re-read by the validating path, so the result is exactly that of
    /// [`RawRecord::from_json`] on the parsed JSON, detailed errors included.
    pub fn parse(bytes: &[u8]) -> Result<RawRecord, RecordError> {
        match fast::parse(bytes) {
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

/// The validating path: a `Value` tree, then [`RawRecord::from_json`]. The reference the
/// fast path is held to, and the only source of errors.
fn parse_via_value(bytes: &[u8]) -> Result<RawRecord, RecordError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
    RawRecord::from_json(&value)
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
        match parse_sequence_date(&s) {
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

/// The fast path of [`RawRecord::parse`]: no `Value` tree, and strings borrowed from the
/// input until they are moved into the record (escaped ones are unescaped once).
///
/// It never produces an error: it returns the record the validating path would return,
/// or `None` to let that path decide. That equivalence rests on:
///
/// * the same JSON language: the same `serde_json` deserializer reads the object with
///   the same depth limit; keys and known values are fully parsed (UTF-8, escapes and
///   number range checked); values of unknown fields are parsed as `Value`, exactly as
///   the validating path parses them, rather than skipped (skipping checks neither UTF-8,
///   lone surrogates, number range nor depth);
/// * only an object is read: the visitor has no `visit_seq` (a derived `Deserialize`
///   would also take an array of the values in field order);
/// * a repeated key keeps its last value, as `serde_json::Map` does;
/// * a key `serde_json` reserves for itself declines (see `SERDE_JSON_PRIVATE`);
/// * the per-field rules are those of `Reader`, as predicates: null, a missing field, a
///   wrong type or a broken rule declines.
mod fast {
    use super::{RawRecord, Status};
    use crate::time::{parse_connector_time, parse_sequence_date};
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
    use serde_json::Value;
    use std::borrow::Cow;
    use std::fmt;

    /// Prefix of the keys by which `serde_json` smuggles raw values and arbitrary-precision
    /// numbers through `Value`: a top-level object starting with one is not read as a map
    /// by the validating path, so the fast path leaves such records to it.
    const SERDE_JSON_PRIVATE: &str = "$serde_json::private::";

    /// The record, or `None` for "ask the validating path".
    pub(super) fn parse(bytes: &[u8]) -> Option<RawRecord> {
        serde_json::from_slice::<Wire<'_>>(bytes)
            .ok()?
            .into_record()
    }

    /// A scalar field value as it came, before any rule is applied.
    enum Scalar<'a> {
        Str(Cow<'a, str>),
        U64(u64),
        I64(i64),
        F64(f64),
    }

    impl<'de> Deserialize<'de> for Scalar<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ScalarVisitor)
        }
    }

    /// Takes strings and numbers; null, booleans, arrays and objects are refused by the
    /// default `Visitor` methods (the validating path reports them).
    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Borrowed(v)))
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Owned(v.to_owned())))
        }

        fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Owned(v)))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Scalar::U64(v))
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Scalar::I64(v))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Scalar::F64(v))
        }
    }

    /// The wire names of the record, plus everything else.
    enum Key {
        SequenceId,
        SequenceDate,
        SequenceHour,
        SequenceMinute,
        Company,
        Zone,
        Source,
        ObjectId,
        ObjectType,
        Transformation,
        Parameters,
        Status,
        Start,
        End,
        Duration,
        Description,
        CpuTime,
        MemoryUsed,
        Other,
        SerdeJsonPrivate,
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_identifier(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = Key;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Key, E> {
            Ok(match v {
                "No_Sequence" => Key::SequenceId,
                "Date_Sequence" => Key::SequenceDate,
                "Heure_Sequence" => Key::SequenceHour,
                "Minute_Sequence" => Key::SequenceMinute,
                "Entreprise" => Key::Company,
                "Zone" => Key::Zone,
                "Source" => Key::Source,
                "Objet_Id" => Key::ObjectId,
                "Objet" => Key::ObjectType,
                "Transformation" => Key::Transformation,
                "Parametres" => Key::Parameters,
                "Etat" => Key::Status,
                "Debut" => Key::Start,
                "Fin" => Key::End,
                "Duree secondes" => Key::Duration,
                "Description" => Key::Description,
                "cpu_time (sec)" => Key::CpuTime,
                "memory_used (bytes)" => Key::MemoryUsed,
                other if other.starts_with(SERDE_JSON_PRIVATE) => Key::SerdeJsonPrivate,
                _ => Key::Other,
            })
        }
    }

    /// The known fields as read, in wire order.
    #[derive(Default)]
    struct Wire<'a> {
        sequence_id: Option<Scalar<'a>>,
        sequence_date: Option<Scalar<'a>>,
        sequence_hour: Option<Scalar<'a>>,
        sequence_minute: Option<Scalar<'a>>,
        company: Option<Scalar<'a>>,
        zone: Option<Scalar<'a>>,
        source: Option<Scalar<'a>>,
        object_id: Option<Scalar<'a>>,
        object_type: Option<Scalar<'a>>,
        transformation: Option<Scalar<'a>>,
        parameters: Option<Scalar<'a>>,
        status: Option<Scalar<'a>>,
        start: Option<Scalar<'a>>,
        end: Option<Scalar<'a>>,
        duration_seconds: Option<Scalar<'a>>,
        description: Option<Scalar<'a>>,
        cpu_time_seconds: Option<Scalar<'a>>,
        memory_used_bytes: Option<Scalar<'a>>,
    }

    impl<'de> Deserialize<'de> for Wire<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(WireVisitor)
        }
    }

    struct WireVisitor;

    impl<'de> Visitor<'de> for WireVisitor {
        type Value = Wire<'de>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut wire = Wire::default();
            while let Some(key) = map.next_key::<Key>()? {
                let slot = match key {
                    Key::SequenceId => &mut wire.sequence_id,
                    Key::SequenceDate => &mut wire.sequence_date,
                    Key::SequenceHour => &mut wire.sequence_hour,
                    Key::SequenceMinute => &mut wire.sequence_minute,
                    Key::Company => &mut wire.company,
                    Key::Zone => &mut wire.zone,
                    Key::Source => &mut wire.source,
                    Key::ObjectId => &mut wire.object_id,
                    Key::ObjectType => &mut wire.object_type,
                    Key::Transformation => &mut wire.transformation,
                    Key::Parameters => &mut wire.parameters,
                    Key::Status => &mut wire.status,
                    Key::Start => &mut wire.start,
                    Key::End => &mut wire.end,
                    Key::Duration => &mut wire.duration_seconds,
                    Key::Description => &mut wire.description,
                    Key::CpuTime => &mut wire.cpu_time_seconds,
                    Key::MemoryUsed => &mut wire.memory_used_bytes,
                    Key::Other => {
                        // Parsed, not skipped, so it is refused exactly when the
                        // validating path refuses it.
                        map.next_value::<Value>()?;
                        continue;
                    }
                    Key::SerdeJsonPrivate => {
                        return Err(A::Error::custom("serde_json private key"));
                    }
                };
                // The last of repeated keys wins, as in `serde_json::Map`. An earlier
                // value that is not a scalar makes this path decline, which is safe.
                *slot = Some(map.next_value()?);
            }
            Ok(wire)
        }
    }

    impl Wire<'_> {
        /// `Reader`'s rules, field by field; `None` as soon as one is not met.
        fn into_record(self) -> Option<RawRecord> {
            Some(RawRecord {
                sequence_id: identifier(self.sequence_id)?,
                sequence_date: with_str(self.sequence_date, |s| parse_sequence_date(s).ok())?,
                sequence_hour: small_int(self.sequence_hour, 23)?,
                sequence_minute: small_int(self.sequence_minute, 59)?,
                company: identifier(self.company)?,
                zone: text(self.zone)?,
                source: source(self.source)?,
                object_id: integer(self.object_id)?,
                object_type: text(self.object_type)?,
                transformation: text(self.transformation)?,
                parameters: text(self.parameters)?,
                status: with_str(self.status, Status::parse)?,
                start: with_str(self.start, |s| parse_connector_time(s).ok())?,
                end: with_str(self.end, |s| parse_connector_time(s).ok())?,
                duration_seconds: non_negative(self.duration_seconds, false)?,
                description: text(self.description)?,
                cpu_time_seconds: non_negative(self.cpu_time_seconds, true)?,
                memory_used_bytes: integer(self.memory_used_bytes)?,
            })
        }
    }

    fn with_str<T>(value: Option<Scalar<'_>>, read: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        match value? {
            Scalar::Str(s) => read(&s),
            _ => None,
        }
    }

    /// `Reader::text`: any string.
    fn text(value: Option<Scalar<'_>>) -> Option<String> {
        match value? {
            Scalar::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// `Reader::identifier`: not blank, no `:`.
    fn identifier(value: Option<Scalar<'_>>) -> Option<String> {
        text(value).filter(|s| !s.trim().is_empty() && !s.contains(':'))
    }

    /// `Reader::source`: `keys::source_slug` is non-empty exactly when the text holds an
    /// ASCII letter, digit or `_` (trimming only removes whitespace, and in UTF-8 an ASCII
    /// byte is always that character); checked without building the slug.
    fn source(value: Option<Scalar<'_>>) -> Option<String> {
        text(value).filter(|s| s.bytes().any(|b| b.is_ascii_alphanumeric() || b == b'_'))
    }

    /// `Reader::integer`: `Number::as_i64`, so never a float (not even `-0` or `5.0`).
    fn integer(value: Option<Scalar<'_>>) -> Option<i64> {
        match value? {
            Scalar::U64(v) => i64::try_from(v).ok(),
            Scalar::I64(v) => Some(v),
            Scalar::F64(_) | Scalar::Str(_) => None,
        }
    }

    /// `Reader::small_int`: a string read as `u32` after trimming, or `Number::as_u64`.
    fn small_int(value: Option<Scalar<'_>>, max: u32) -> Option<u32> {
        let parsed = match value? {
            Scalar::Str(s) => s.trim().parse::<u32>().ok(),
            Scalar::U64(v) => u32::try_from(v).ok(),
            Scalar::I64(v) => u32::try_from(v).ok(),
            Scalar::F64(_) => None,
        };
        parsed.filter(|v| *v <= max)
    }

    /// `Reader::non_negative`: `Number::as_f64`, or a trimmed string read as `f64` when
    /// `from_string`; finite and `>= 0`.
    fn non_negative(value: Option<Scalar<'_>>, from_string: bool) -> Option<f64> {
        let parsed = match value? {
            Scalar::U64(v) => v as f64,
            Scalar::I64(v) => v as f64,
            Scalar::F64(v) => v,
            Scalar::Str(s) if from_string => s.trim().parse::<f64>().ok()?,
            Scalar::Str(_) => return None,
        };
        (parsed.is_finite() && parsed >= 0.0).then_some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// The 72 field records, one per line; read in place, never copied into the project.
    const SEED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seed-logs.json"
    ));

    const FIELDS: [&str; 18] = [
        "No_Sequence",
        "Date_Sequence",
        "Heure_Sequence",
        "Minute_Sequence",
        "Entreprise",
        "Zone",
        "Source",
        "Objet_Id",
        "Objet",
        "Transformation",
        "Parametres",
        "Etat",
        "Debut",
        "Fin",
        "Duree secondes",
        "Description",
        "cpu_time (sec)",
        "memory_used (bytes)",
    ];

    fn seed_lines() -> Vec<&'static str> {
        SEED.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    /// The fast path declines or returns exactly the validating path's record (floats
    /// compared bit for bit, `==` would equate `-0.0` and `0.0`), and `parse` always
    /// returns exactly the validating path's result.
    fn check_same(bytes: &[u8]) -> Result<(), TestCaseError> {
        let slow = parse_via_value(bytes);
        if let Some(fast) = fast::parse(bytes) {
            let text = String::from_utf8_lossy(bytes);
            let Ok(expected) = &slow else {
                return Err(TestCaseError::fail(format!(
                    "fast path accepted what the validating path refuses ({slow:?}): {text}"
                )));
            };
            prop_assert_eq!(&fast, expected, "{}", text);
            prop_assert_eq!(
                fast.duration_seconds.to_bits(),
                expected.duration_seconds.to_bits()
            );
            prop_assert_eq!(
                fast.cpu_time_seconds.to_bits(),
                expected.cpu_time_seconds.to_bits()
            );
            prop_assert_eq!(fast.to_json_bytes(), expected.to_json_bytes());
        }
        prop_assert_eq!(RawRecord::parse(bytes), slow);
        Ok(())
    }

    fn check(bytes: &[u8]) {
        if let Err(e) = check_same(bytes) {
            panic!("{e}");
        }
    }

    fn takes_fast_path(bytes: &[u8]) -> bool {
        fast::parse(bytes).is_some()
    }

    #[test]
    fn every_seed_record_takes_the_fast_path_with_the_same_result() {
        let lines = seed_lines();
        assert_eq!(lines.len(), 72);
        for line in lines {
            assert!(takes_fast_path(line.as_bytes()), "{line}");
            check(line.as_bytes());
        }
    }

    /// Seed record 0 with `extra` entries put first and `tail` entries put last.
    fn around(extra: &str, tail: &str) -> Vec<u8> {
        let line = seed_lines()[0];
        let inner = &line[1..line.len() - 1];
        let mut text = String::from("{");
        if !extra.is_empty() {
            text.push_str(extra);
            text.push_str(", ");
        }
        text.push_str(inner);
        if !tail.is_empty() {
            text.push_str(", ");
            text.push_str(tail);
        }
        text.push('}');
        text.into_bytes()
    }

    #[test]
    fn unknown_fields_are_allowed_on_the_fast_path() {
        let bytes = around(r#""extra": {"nested": [1, 2.5, "x", null, true]}"#, "");
        assert!(takes_fast_path(&bytes));
        check(&bytes);
    }

    #[test]
    fn repeated_keys_keep_the_last_value_on_both_paths() {
        for (first, last) in [
            (r#""Zone": "2-Std""#, r#""Zone": "3-Gold""#),
            (r#""Zone": 5"#, r#""Zone": "ok""#),
            (r#""Etat": "SUCCESS""#, r#""Etat": "DONE""#),
            (r#""Etat": "DONE""#, r#""Etat": "FAILED""#),
            (r#""Objet_Id": 1"#, r#""Objet_Id": null"#),
            (r#""Objet_Id": [1]"#, r#""Objet_Id": 2"#),
        ] {
            check(&around(first, last));
            check(&around(last, first));
        }
        let parsed = RawRecord::parse(&around("", r#""Zone": "3-Gold""#)).unwrap();
        assert_eq!(parsed.zone, "3-Gold");
        assert!(takes_fast_path(&around("", r#""Zone": "3-Gold""#)));
    }

    /// What a skipped (rather than parsed) unknown value would have let through, and the
    /// keys `serde_json` reserves (they only change the validating path's result when
    /// serde_json's `raw_value` feature is on, as it is in the services through axum; run
    /// `cargo test -p obs-records -p obs-service --lib raw::` to check with it).
    #[test]
    fn unknown_values_are_refused_exactly_when_the_validating_path_refuses_them() {
        let deep = |n: usize| format!(r#""deep": {}1{}"#, "[".repeat(n), "]".repeat(n));
        let mut cases: Vec<Vec<u8>> = vec![
            around(r#""x": "\ud800""#, ""),
            around(r#""x": "\udc00\ud800""#, ""),
            around(r#""x": 1e400"#, ""),
            around(r#""x": -1e400"#, ""),
            around(r#""x": 18446744073709551616"#, ""),
            around(r#""x": {"$serde_json::private::RawValue": "1"}"#, ""),
            around(r#""$serde_json::private::RawValue": "{}""#, ""),
            around(r#""$serde_json::private::Number": "1""#, ""),
        ];
        for n in 120..=132 {
            cases.push(around(&deep(n), ""));
        }
        let mut invalid_utf8 = around(r#""x": "é""#, "");
        if let Some(at) = invalid_utf8.iter().position(|b| *b == 0xC3) {
            invalid_utf8[at] = 0xFF;
        }
        cases.push(invalid_utf8);
        for case in cases {
            check(&case);
        }
        assert!(RawRecord::parse(&around(r#""x": "\ud800""#, "")).is_err());
        assert!(RawRecord::parse(&around(&deep(200), "")).is_err());
    }

    #[test]
    fn other_shapes_are_left_to_the_validating_path() {
        let line = seed_lines()[0];
        let record: Value = serde_json::from_str(line).unwrap();
        let values: Vec<Value> = FIELDS.iter().map(|f| record[*f].clone()).collect();
        let as_array = serde_json::to_vec(&values).unwrap();
        assert!(!takes_fast_path(&as_array));
        check(&as_array);
        for text in [
            format!("{line} x"),
            format!("{line} {{}}"),
            format!(" \n{line}\n "),
            format!("[{line}]"),
            line.replacen("\"Zone\"", "\"Zo\\u006ee\"", 1),
            line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": -0", 1),
            line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 1995.0", 1),
            line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 1.995e3", 1),
            line.replacen("\"Duree secondes\": 0.898215", "\"Duree secondes\": -0", 1),
            line.replacen(
                "\"Duree secondes\": 0.898215",
                "\"Duree secondes\": -0.0",
                1,
            ),
            line.replacen("\"Duree secondes\": 0.898215", "\"Duree secondes\": 7", 1),
            line.replacen(
                "\"cpu_time (sec)\": \"0.09\"",
                "\"cpu_time (sec)\": \" +1e2 \"",
                1,
            ),
            line.replacen(
                "\"cpu_time (sec)\": \"0.09\"",
                "\"cpu_time (sec)\": \"inf\"",
                1,
            ),
            line.replacen(
                "\"cpu_time (sec)\": \"0.09\"",
                "\"cpu_time (sec)\": \"-0\"",
                1,
            ),
            line.replacen(
                "\"Heure_Sequence\": \"16\"",
                "\"Heure_Sequence\": \" +7\\t\"",
                1,
            ),
            line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": 16", 1),
            line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": 16.0", 1),
            line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": null", 1),
            line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": -5", 1),
            line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": -0", 1),
            line.replacen(
                "\"Heure_Sequence\": \"16\"",
                "\"Heure_Sequence\": \"-0\"",
                1,
            ),
            line.replacen(
                "\"Minute_Sequence\": \"45\"",
                "\"Minute_Sequence\": 4294967341",
                1,
            ),
            line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": -1995", 1),
            line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 9223372036854775808", 1),
            line.replacen("\"Source\": \"zohoprojects\"", "\"Source\": \" -é- \"", 1),
            line.replacen("\"Source\": \"zohoprojects\"", "\"Source\": \"_\"", 1),
            line.replacen(
                "\"Entreprise\": \"akonovia\"",
                "\"Entreprise\": \"\\u0020\"",
                1,
            ),
            line.replacen(
                "\"Entreprise\": \"akonovia\"",
                "\"Entreprise\": \"a\\u003ab\"",
                1,
            ),
            line.replacen("05-09-2025 16:45:26.191702", "5-9-2025 16:45:26.191702", 1),
            line.replacen("05-09-2025 16:45:26.191702", "31-12-2016 23:59:60.5", 1),
            line.replacen("\"2025-09-05\"", "\"2025-9-5\"", 1),
        ] {
            check(text.as_bytes());
        }
        let escaped_key = line.replacen("\"Zone\"", "\"Zo\\u006ee\"", 1);
        assert!(takes_fast_path(escaped_key.as_bytes()));
    }

    /// A value put in a record: JSON, or raw bytes written verbatim (numbers in shapes
    /// `Value` does not keep, invalid strings, invalid JSON).
    #[derive(Debug, Clone)]
    enum Piece {
        Json(Value),
        Raw(Vec<u8>),
    }

    fn scalar_json() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-2i64..70).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-1.0f64..100.0).prop_map(Value::from),
            "[ -~éà😀\"\\\\\n\t:]{0,12}".prop_map(Value::from),
            "[ \t+-]{0,2}[0-9]{0,3}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?[ \n]?"
                .prop_map(Value::from),
            prop::sample::select(vec![
                "",
                " ",
                "inf",
                "NaN",
                "-inf",
                "infinity",
                "-0",
                "SUCCESS",
                "FAILED",
                "success",
                "16",
                "23",
                "24",
                "59",
                "60",
                "_",
                "--",
                "a:b",
                "Tout roule, pas de stress!",
            ])
            .prop_map(Value::from),
            "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}".prop_map(Value::from),
            "[0-3][0-9]-[01][0-9]-20[0-9]{2} [0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?"
                .prop_map(Value::from),
        ]
    }

    fn piece() -> impl Strategy<Value = Piece> {
        let json = scalar_json().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-z$:]{0,6}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop_oneof![
            8 => json.prop_map(Piece::Json),
            1 => prop::sample::select(vec![
                &b"-0"[..], b"-0.0", b"5.0", b"1E2", b"1e400", b"-1e400", b"1e-400",
                b"18446744073709551616", b"-9223372036854775809", b"9223372036854775808",
                b"\"\\ud800\"", b"\"\\ud83d\\ude00\"", b"\"\xff\"", b"\"\xc3\"", b"[[[[1]]]]",
                b"{\"a\":{}}", b"tru", b"01", b"\"\\u003a\"", b"\"\\/\"",
            ])
            .prop_map(|raw| Piece::Raw(raw.to_vec())),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
            2 => "[A-Za-z_ ()é]{0,12}",
            1 => Just("$serde_json::private::RawValue".to_owned()),
        ]
    }

    /// How strings (keys included) are escaped: as `serde_json` writes them, non-ASCII as
    /// `\u`, everything as `\u`, or every other character as `\u`.
    fn write_str(out: &mut Vec<u8>, text: &str, style: u8) {
        if style == 0 {
            out.extend(serde_json::to_vec(text).unwrap());
            return;
        }
        out.push(b'"');
        for (i, c) in text.chars().enumerate() {
            let escape = c == '"'
                || c == '\\'
                || c < ' '
                || (style == 1 && !c.is_ascii())
                || style == 2
                || (style == 3 && i % 2 == 0);
            if escape {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.extend(format!("\\u{unit:04x}").bytes());
                }
            } else {
                let mut buf = [0u8; 4];
                out.extend(c.encode_utf8(&mut buf).bytes());
            }
        }
        out.push(b'"');
    }

    fn write_json(out: &mut Vec<u8>, value: &Value, style: u8) {
        match value {
            Value::String(s) => write_str(out, s, style),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json(out, item, style);
                }
                out.push(b']');
            }
            Value::Object(map) => {
                out.push(b'{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k, style);
                    out.push(b':');
                    write_json(out, v, style);
                }
                out.push(b'}');
            }
            scalar => out.extend(serde_json::to_vec(scalar).unwrap()),
        }
    }

    /// A seed record with `edits` applied, as the list of its entries (repeats allowed).
    fn edited(index: usize, edits: &[(u8, String, Piece)]) -> Vec<(String, Piece)> {
        let record: Value = serde_json::from_str(seed_lines()[index]).unwrap();
        let mut entries: Vec<(String, Piece)> = record
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Piece::Json(v.clone())))
            .collect();
        for (op, key, piece) in edits {
            match op % 4 {
                0 => match entries.iter_mut().rev().find(|(k, _)| k == key) {
                    Some(entry) => entry.1 = piece.clone(),
                    None => entries.push((key.clone(), piece.clone())),
                },
                1 => entries.retain(|(k, _)| k != key),
                2 => entries.push((key.clone(), piece.clone())),
                _ => entries.insert(0, (key.clone(), piece.clone())),
            }
        }
        entries
    }

    fn write_record(entries: &[(String, Piece)], style: u8, spaced: bool) -> Vec<u8> {
        let gap: &[u8] = if spaced { b" \n\t" } else { b"" };
        let mut out = vec![b'{'];
        for (i, (key, piece)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend(gap);
            write_str(&mut out, key, style);
            out.extend(gap);
            out.push(b':');
            out.extend(gap);
            match piece {
                Piece::Json(value) => write_json(&mut out, value, style),
                Piece::Raw(raw) => out.extend(raw),
            }
        }
        out.extend(gap);
        out.push(b'}');
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Seed records, whole or edited (values replaced with anything, fields removed,
        /// repeated first or last, unknown fields added), written with any escaping.
        #[test]
        fn fast_path_agrees_with_the_validating_path_on_edited_records(
            index in 0usize..72,
            edits in prop::collection::vec((any::<u8>(), key(), piece()), 0..4),
            style in 0u8..4,
            spaced in any::<bool>(),
        ) {
            let bytes = write_record(&edited(index, &edits), style, spaced);
            check_same(&bytes)?;
            if edits.is_empty() {
                prop_assert!(takes_fast_path(&bytes));
            }
        }

        /// Seed records with one field re-written in every escaping: still the fast path.
        #[test]
        fn escaped_seed_records_take_the_fast_path(index in 0usize..72, style in 0u8..4) {
            let bytes = write_record(&edited(index, &[]), style, false);
            prop_assert!(takes_fast_path(&bytes));
            check_same(&bytes)?;
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_bytes(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            check_same(&bytes)?;
        }
    }
}
