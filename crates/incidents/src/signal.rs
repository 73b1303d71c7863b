//! What the incident book consumes from `incident-signals`: the runs the processing stage
//! scored (with their alerts, or none) and the operators' commands.

use chrono::{DateTime, Utc};
use obs_detector::processed::Alert;
use obs_records::standardize::StandardizedRecord;
use obs_records::{FailureKind, Status};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Value of the `schema-version` header on `incident-signals`.
pub const SIGNAL_SCHEMA_VERSION: &str = "incident-signal-v1";

/// The Kafka key of the signals of one source of one company (`{company}:{source}`): they
/// all land on one partition, in order.
pub fn scope_key(company: &str, source: &str) -> String {
    format!("{company}:{source}")
}

/// One input of the incident book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A run that raised alerts (all alerts of the run).
    Alerted { run: RunSummary, alerts: Vec<Alert> },
    /// A run that raised none, of a series that may be recovering.
    Normal { run: RunSummary },
    /// An operator's command.
    Command(Command),
}

impl Signal {
    /// The key to write the signal under; `None` for a command, which names an incident
    /// (the writer keys it by that incident's scope).
    pub fn scope_key(&self) -> Option<String> {
        match self {
            Signal::Alerted { run, .. } | Signal::Normal { run } => {
                Some(scope_key(&run.company, &run.source))
            }
            Signal::Command(_) => None,
        }
    }
}

/// What evidence shows of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub record_id: String,
    pub series_key: String,
    pub company: String,
    pub source: String,
    pub object_id: i64,
    pub object_type: String,
    pub status: Status,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub start_time: DateTime<Utc>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub end_time: DateTime<Utc>,
    pub duration_seconds: f64,
    pub error_kind: Option<FailureKind>,
    pub error_message: Option<String>,
    /// When processing scored it (wall clock of processing).
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub processed_at: DateTime<Utc>,
}

impl RunSummary {
    /// The summary of a standardized run scored at `processed_at`.
    pub fn of(record: &StandardizedRecord, processed_at: DateTime<Utc>) -> Self {
        RunSummary {
            record_id: record.record_id.clone(),
            series_key: record.series_key.clone(),
            company: record.company.clone(),
            source: record.source.clone(),
            object_id: record.object_id,
            object_type: record.object_type.clone(),
            status: record.status,
            start_time: record.start_time,
            end_time: record.end_time,
            duration_seconds: record.duration_seconds,
            error_kind: record.error_kind,
            error_message: record.error_message.clone(),
            processed_at,
        }
    }
}

/// An operator's command on one incident, from the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Unique per request: a command seen twice changes nothing the second time.
    pub command_id: String,
    pub incident_id: String,
    pub action: Action,
    pub by: String,
    pub note: Option<String>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub at: DateTime<Utc>,
}

/// What an operator asks of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Acknowledge,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
