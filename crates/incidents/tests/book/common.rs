//! Builders of signals for the incident book's tests: runs of company `acme`, minutes
//! after a fixed start.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use obs_detector::processed::{Alert, AlertMetrics};
use obs_detector::{AlertReason, RuleKind, Severity};
use obs_incidents::{
    Action, Command, Incident, IncidentBook, IncidentError, RunSummary, Signal, Transition,
};
use obs_records::{FailureKind, Status};

pub const COMPANY: &str = "acme";
pub const SOURCE: &str = "zoho";

/// `minutes` after the start of the test stream.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 5, 12, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

/// A run of `object_id` of `source` ending at minute `end`, scored a second later.
pub fn run_of(source: &str, object_id: i64, end: i64, status: Status) -> RunSummary {
    let failed = status == Status::Failed;
    RunSummary {
        record_id: format!("{COMPANY}:{end}:{object_id}"),
        series_key: format!("{COMPANY}:{source}:{object_id}"),
        company: COMPANY.into(),
        source: source.into(),
        object_id,
        object_type: "Contacts".into(),
        status,
        start_time: at(end) - TimeDelta::seconds(90),
        end_time: at(end),
        duration_seconds: 90.0,
        error_kind: failed.then_some(FailureKind::Timeout),
        error_message: failed.then(|| "Read timed out".to_owned()),
        processed_at: at(end) + TimeDelta::seconds(1),
    }
}

/// The alert of `run`: a failure (critical) or a long duration (warning).
pub fn alert_of(run: &RunSummary, severity: Severity) -> Alert {
    let (rule, reason, cause) = match severity {
        Severity::Critical => (
            RuleKind::Failure,
            "run FAILED: Read timed out",
            AlertReason::Failure,
        ),
        Severity::Warning => (
            RuleKind::LongDuration,
            "duration 90.0 s above 60 s",
            AlertReason::Duration,
        ),
    };
    Alert {
        alert_id: format!("{}/rules", run.record_id),
        series_key: run.series_key.clone(),
        record_id: run.record_id.clone(),
        source: run.source.clone(),
        company: run.company.clone(),
        object_id: run.object_id,
        object_type: run.object_type.clone(),
        detector: "rules".into(),
        rules: vec![rule],
        severity,
        message: format!(
            "{} {} ({}): {reason}",
            run.source, run.object_type, run.object_id
        ),
        reasons: vec![reason.into()],
        cause: Some(cause),
        why: format!("{reason}, with no history of this object to compare with"),
        metrics: AlertMetrics {
            duration_seconds: run.duration_seconds,
            memory_used_bytes: 1,
            cpu_time_seconds: 1.0,
            efficiency_score: 50.0,
        },
        run_started_at: run.start_time,
        raised_at: run.processed_at,
    }
}

/// An alerting run of `object_id` of `source` ending at minute `end`.
pub fn alerted_in(source: &str, object_id: i64, end: i64, severity: Severity) -> Signal {
    let status = match severity {
        Severity::Critical => Status::Failed,
        Severity::Warning => Status::Success,
    };
    let run = run_of(source, object_id, end, status);
    let alerts = vec![alert_of(&run, severity)];
    Signal::Alerted { run, alerts }
}

/// A critical alert of `object_id` of [`SOURCE`] at minute `end`.
pub fn alerted(object_id: i64, end: i64) -> Signal {
    alerted_in(SOURCE, object_id, end, Severity::Critical)
}

pub fn normal_in(source: &str, object_id: i64, end: i64) -> Signal {
    Signal::Normal {
        run: run_of(source, object_id, end, Status::Success),
    }
}

/// A normal run of `object_id` of [`SOURCE`] at minute `end`.
pub fn normal(object_id: i64, end: i64) -> Signal {
    normal_in(SOURCE, object_id, end)
}

pub fn command(command_id: &str, incident_id: &str, action: Action, minute: i64) -> Signal {
    Signal::Command(Command {
        command_id: command_id.into(),
        incident_id: incident_id.into(),
        action,
        by: "dana".into(),
        note: Some("on it".into()),
        at: at(minute),
    })
}

/// The changes as (id, transition) pairs.
pub fn summary(changes: &[Change]) -> Vec<(String, Transition)> {
    changes
        .iter()
        .map(|c| (c.incident.id.clone(), c.transition))
        .collect()
}

/// A change with the state it left, copied out right after its signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub incident: Incident,
    pub transition: Transition,
}

/// Applies `signal`, copying out the state of each incident it changed.
pub fn apply_signal(
    book: &mut IncidentBook,
    signal: &Signal,
) -> Result<Vec<Change>, IncidentError> {
    let applied = book.apply(signal)?;
    Ok(book
        .changed(&applied)
        .map(|(incident, transition)| Change {
            incident: incident.clone(),
            transition,
        })
        .collect())
}
