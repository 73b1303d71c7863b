//! The raw record and its status, and how they are written back in the connectors'
//! wire format.

use super::fields::{Field, WIRE_FIELDS};
use crate::keys;
use crate::time::format_connector_time;
use chrono::{NaiveDate, NaiveDateTime};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Value of the `schema-version` header on `raw-logs`.
pub const RAW_SCHEMA_VERSION: &str = "raw-v1";

/// Outcome of one run. Only the statuses seen from the connectors are known; anything
/// else is refused rather than guessed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
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

/// One validated run of one object. Serializes back to the connectors' wire format, its
/// fields named as in [`WIRE_FIELDS`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub sequence_id: String,
    pub sequence_date: NaiveDate,
    pub sequence_hour: u32,
    pub sequence_minute: u32,
    pub company: String,
    pub zone: String,
    pub source: String,
    pub object_id: i64,
    pub object_type: String,
    pub transformation: String,
    pub parameters: String,
    pub status: Status,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub duration_seconds: f64,
    pub description: String,
    /// Arrives as a string (`"0.09"`); a JSON number is accepted too.
    pub cpu_time_seconds: f64,
    /// Can be negative in the field (a data-quality issue flagged downstream, not an error).
    pub memory_used_bytes: i64,
}

impl RawRecord {
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

/// Written by hand rather than derived so the field names come from `WIRE_FIELDS`; in wire
/// order, hour and minute as two-digit strings, times as the connectors write them.
impl Serialize for RawRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RawRecord", WIRE_FIELDS.len())?;
        s.serialize_field(Field::SequenceId.wire_name(), &self.sequence_id)?;
        s.serialize_field(Field::SequenceDate.wire_name(), &self.sequence_date)?;
        s.serialize_field(
            Field::SequenceHour.wire_name(),
            &two_digits(self.sequence_hour),
        )?;
        s.serialize_field(
            Field::SequenceMinute.wire_name(),
            &two_digits(self.sequence_minute),
        )?;
        s.serialize_field(Field::Company.wire_name(), &self.company)?;
        s.serialize_field(Field::Zone.wire_name(), &self.zone)?;
        s.serialize_field(Field::Source.wire_name(), &self.source)?;
        s.serialize_field(Field::ObjectId.wire_name(), &self.object_id)?;
        s.serialize_field(Field::ObjectType.wire_name(), &self.object_type)?;
        s.serialize_field(Field::Transformation.wire_name(), &self.transformation)?;
        s.serialize_field(Field::Parameters.wire_name(), &self.parameters)?;
        s.serialize_field(Field::Status.wire_name(), &self.status)?;
        s.serialize_field(
            Field::Start.wire_name(),
            &format_connector_time(&self.start),
        )?;
        s.serialize_field(Field::End.wire_name(), &format_connector_time(&self.end))?;
        s.serialize_field(Field::Duration.wire_name(), &self.duration_seconds)?;
        s.serialize_field(Field::Description.wire_name(), &self.description)?;
        s.serialize_field(
            Field::CpuTime.wire_name(),
            &cpu_as_string(self.cpu_time_seconds),
        )?;
        s.serialize_field(Field::MemoryUsed.wire_name(), &self.memory_used_bytes)?;
        s.end()
    }
}

fn two_digits(value: u32) -> String {
    format!("{value:02}")
}

/// `"0.09"`, `"1.00"`, `"12.3456"`: at least two decimals, as the connectors write it.
fn cpu_as_string(value: f64) -> String {
    let two = format!("{value:.2}");
    if two.parse::<f64>().ok() == Some(value) {
        two
    } else {
        value.to_string()
    }
}
