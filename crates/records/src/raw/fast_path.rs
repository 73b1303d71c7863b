//! The fast path of [`RawRecord::parse`]: no `Value` tree, and strings borrowed from the
//! input until they are moved into the record (escaped ones are unescaped once).
//!
//! It never produces an error: it returns the record the validating path would return,
//! or `None` to let that path decide. That equivalence rests on:
//!
//! * the same JSON language: the same `serde_json` deserializer reads the object with
//!   the same depth limit; keys and known values are fully parsed (UTF-8, escapes and
//!   number range checked); values of unknown fields are parsed as `Value`, exactly as
//!   the validating path parses them, rather than skipped (skipping checks neither UTF-8,
//!   lone surrogates, number range nor depth);
//! * only an object is read: the visitor has no `visit_seq` (a derived `Deserialize`
//!   would also take an array of the values in field order);
//! * a repeated key keeps its last value, as `serde_json::Map` does;
//! * a key `serde_json` reserves for itself declines (see `SERDE_JSON_PRIVATE`);
//! * the per-field rules are those of `Reader`, as predicates: null, a missing field, a
//!   wrong type or a broken rule declines.

use super::fields::{Field, WIRE_FIELDS};
use super::record::{RawRecord, Status};
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
    crate::from_json_bytes::<Wire<'_>>(bytes)
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

/// A key of the record: one of its fields, or anything else.
enum Key {
    Field(Field),
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
        Ok(match Field::from_wire_name(v) {
            Some(field) => Key::Field(field),
            None if v.starts_with(SERDE_JSON_PRIVATE) => Key::SerdeJsonPrivate,
            None => Key::Other,
        })
    }
}

/// The known fields as read, indexed by [`Field`].
#[derive(Default)]
struct Wire<'a>([Option<Scalar<'a>>; WIRE_FIELDS.len()]);

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
                Key::Field(field) => &mut wire.0[field as usize],
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

impl<'a> Wire<'a> {
    fn take(&mut self, field: Field) -> Option<Scalar<'a>> {
        self.0[field as usize].take()
    }

    /// `Reader`'s rules, field by field; `None` as soon as one is not met.
    fn into_record(mut self) -> Option<RawRecord> {
        Some(RawRecord {
            sequence_id: identifier(self.take(Field::SequenceId))?,
            sequence_date: with_str(self.take(Field::SequenceDate), |s| {
                parse_sequence_date(s).ok()
            })?,
            sequence_hour: small_int(self.take(Field::SequenceHour), 23)?,
            sequence_minute: small_int(self.take(Field::SequenceMinute), 59)?,
            company: identifier(self.take(Field::Company))?,
            zone: text(self.take(Field::Zone))?,
            source: source(self.take(Field::Source))?,
            object_id: integer(self.take(Field::ObjectId))?,
            object_type: text(self.take(Field::ObjectType))?,
            transformation: text(self.take(Field::Transformation))?,
            parameters: text(self.take(Field::Parameters))?,
            status: with_str(self.take(Field::Status), Status::parse)?,
            start: with_str(self.take(Field::Start), |s| parse_connector_time(s).ok())?,
            end: with_str(self.take(Field::End), |s| parse_connector_time(s).ok())?,
            duration_seconds: non_negative(self.take(Field::Duration), false)?,
            description: text(self.take(Field::Description))?,
            cpu_time_seconds: non_negative(self.take(Field::CpuTime), true)?,
            memory_used_bytes: integer(self.take(Field::MemoryUsed))?,
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
