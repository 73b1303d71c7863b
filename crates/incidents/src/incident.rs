//! The incident: what the `incidents` topic holds (full state, key = id), and all the
//! book needs to be rebuilt from it.

use crate::signal::{scope_key, RunSummary};
use chrono::{DateTime, Utc};
use obs_detector::processed::Alert;
use obs_detector::Severity;
use obs_records::log_event::fnv1a_64;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Value of the `schema-version` header and field on `incidents`.
pub const INCIDENT_SCHEMA_VERSION: &str = "incident-v1";

/// The id of the incident opened by the alert `alert_id`: the same signals always give
/// the same ids, on every replica and after every restart.
pub fn incident_id(alert_id: &str) -> String {
    format!("inc-{:016x}", fnv1a_64(alert_id.as_bytes()))
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 3] = [
        IncidentStatus::Open,
        IncidentStatus::Acknowledged,
        IncidentStatus::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// Open or acknowledged: alerts of its scope still go to it.
    pub fn is_active(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One series (object), or a whole source of a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Series,
    Source,
}

/// What an incident is about; the series fields are set for a series incident only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    pub kind: ScopeKind,
    pub company: String,
    pub source: String,
    pub series_key: Option<String>,
    pub object_id: Option<i64>,
    pub object_type: Option<String>,
}

impl Scope {
    /// The key of the signals of this scope's source (see [`scope_key`]).
    pub fn key(&self) -> String {
        scope_key(&self.company, &self.source)
    }
}

/// Who acknowledged, when, and what they said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mark {
    pub by: String,
    pub note: Option<String>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub at: DateTime<Utc>,
}

/// Why and when an incident was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    #[serde(flatten)]
    pub reason: ResolveReason,
    /// The operator, for [`ResolveReason::Operator`].
    pub by: Option<String>,
    pub note: Option<String>,
    /// Wall clock of the resolving signal (for time-to-resolve).
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub at: DateTime<Utc>,
    /// Stream time when it was resolved: the reopening window counts from it.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub stream_time: DateTime<Utc>,
}

/// Why an incident was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ResolveReason {
    /// An operator resolved it.
    Operator,
    /// Every object of it had enough normal runs in a row.
    Recovered,
    /// No alert for the quiet period.
    Quiet,
    /// A source-wide incident took it over (see [`Incident::merged_into`]).
    Merged,
}

impl ResolveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveReason::Operator => "operator",
            ResolveReason::Recovered => "recovered",
            ResolveReason::Quiet => "quiet",
            ResolveReason::Merged => "merged",
        }
    }
}

/// One line of an incident's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Wall clock of the signal that caused it.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: TimelineEvent,
}

/// What happened to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TimelineEvent {
    Opened {
        alert_id: String,
        severity: Severity,
    },
    Alert {
        alert_id: String,
        severity: Severity,
        object_id: i64,
    },
    Escalated {
        from: Severity,
        to: Severity,
    },
    Acknowledged {
        by: String,
        note: Option<String>,
    },
    Resolved {
        #[serde(flatten)]
        reason: ResolveReason,
        by: Option<String>,
    },
    Reopened {
        alert_id: String,
    },
    /// This incident was taken over by the source-wide incident `into`.
    Merged {
        into: String,
    },
    /// This incident took over `incident_id`.
    Absorbed {
        incident_id: String,
    },
}

/// How one object of an incident is doing: what the recovery and the source-wide
/// grouping need, kept in the incident so that restoring it is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesProgress {
    pub object_id: i64,
    pub series_key: String,
    /// Event time (end) of its latest alerting run.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub last_alert_at: DateTime<Utc>,
    /// Normal runs in a row since its latest alert.
    pub normal_runs: u32,
}

/// Alerts of one series or one source grouped into one thing an operator handles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    /// `inc-` and 16 hex digits of the hash of the first alert's id (see [`incident_id`]).
    pub id: String,
    pub schema_version: String,
    pub status: IncidentStatus,
    pub scope: Scope,
    /// The highest of its alerts.
    pub severity: Severity,
    pub title: String,
    /// A sentence or two a person reads: since when, how many alerts and objects, the
    /// worst reason.
    pub summary: String,
    /// Wall clock (processed_at) of the first alert's run: time to acknowledge and to
    /// resolve count from it.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub opened_at: DateTime<Utc>,
    /// Event time (start) of the first alerting run.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub first_run_at: DateTime<Utc>,
    /// Event time (end) of the run that opened it, or last reopened it: whether it is
    /// recent enough to be merged into a source-wide incident.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub active_since: DateTime<Utc>,
    /// Event time (end) of the latest alerting run.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub last_alert_at: DateTime<Utc>,
    /// Wall clock of the signal of the latest change (processed_at or a command's at).
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub updated_at: DateTime<Utc>,
    /// The book's stream time at the latest change: a restored book resumes from the
    /// latest of them.
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub stream_time: DateTime<Utc>,
    pub acknowledged: Option<Mark>,
    pub resolved: Option<Resolution>,
    /// Times it was reopened.
    pub reopened: u32,
    pub alerts_total: u64,
    /// The newest alerts, at most `max_alerts`.
    pub alerts: Vec<Alert>,
    /// The runs involved (alerting ones and the recoveries), newest kept, at most
    /// `max_runs`.
    pub runs: Vec<RunSummary>,
    /// Object ids involved, sorted (those of [`Incident::series`]).
    pub objects: Vec<i64>,
    /// Per object, sorted by id, at most `max_objects` (the most recently alerting).
    pub series: Vec<SeriesProgress>,
    /// The first entry and the newest, at most `max_timeline`.
    pub timeline: Vec<TimelineEntry>,
    /// The source-wide incident that took this one over.
    pub merged_into: Option<String>,
    /// Ids of the commands applied, newest kept, at most `max_command_ids`.
    pub command_ids: Vec<String>,
    /// +1 on every change: of two copies, the higher is the newer.
    pub version: u64,
}
