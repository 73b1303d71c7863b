//! The title and summary a person reads, written from the incident's state after every
//! change.

use crate::incident::{Incident, IncidentStatus, ScopeKind};
use chrono::{DateTime, Utc};
use obs_detector::processed::Alert;
use obs_detector::{RuleKind, Severity};

/// Rewrites the incident's title and summary.
pub(crate) fn describe(incident: &mut Incident) {
    incident.title = title(incident);
    incident.summary = summary(incident);
}

fn title(incident: &Incident) -> String {
    let scope = &incident.scope;
    let worst = worst_alert(incident);
    match scope.kind {
        ScopeKind::Series => format!(
            "{} {} ({}): {}",
            scope.source,
            scope.object_type.as_deref().unwrap_or("object"),
            scope
                .object_id
                .map_or_else(|| "?".to_owned(), |id| id.to_string()),
            worst.map_or_else(|| "alerting".to_owned(), |alert| headline(incident, alert)),
        ),
        ScopeKind::Source => format!(
            "{} ({}): {} {}",
            scope.source,
            scope.company,
            count(incident.objects.len() as u64, "object"),
            if worst.is_some_and(is_failure) {
                "failing"
            } else {
                "alerting"
            },
        ),
    }
}

fn summary(incident: &Incident) -> String {
    let mut text = format!(
        "{} since {} (event time): {} on {}, the latest at {}.",
        match incident.severity {
            Severity::Warning => "Warning",
            Severity::Critical => "Critical",
        },
        minute(incident.first_run_at),
        count(incident.alerts_total, "alert"),
        count(incident.objects.len() as u64, "object"),
        minute(incident.last_alert_at),
    );
    if let Some(reason) = worst_alert(incident).map(|a| a.reasons.first().unwrap_or(&a.message)) {
        text.push_str(&format!(" Worst: {reason}."));
    }
    if incident.reopened > 0 {
        text.push_str(&format!(
            " Reopened {}.",
            count(u64::from(incident.reopened), "time")
        ));
    }
    match (incident.status, &incident.acknowledged, &incident.resolved) {
        (IncidentStatus::Acknowledged, Some(mark), _) => {
            text.push_str(&format!(" Acknowledged by {}.", mark.by));
        }
        (IncidentStatus::Resolved, _, Some(resolution)) => {
            match (&incident.merged_into, &resolution.by) {
                (Some(into), _) => text.push_str(&format!(" Merged into {into}.")),
                (None, Some(by)) => text.push_str(&format!(" Resolved by {by}.")),
                (None, None) => {
                    text.push_str(&format!(" Resolved ({}).", resolution.reason.as_str()))
                }
            }
        }
        _ => {}
    }
    text
}

/// The newest alert of the incident's severity.
fn worst_alert(incident: &Incident) -> Option<&Alert> {
    incident
        .alerts
        .iter()
        .rev()
        .find(|a| a.severity == incident.severity)
        .or(incident.alerts.last())
}

fn is_failure(alert: &Alert) -> bool {
    alert.rules.contains(&RuleKind::Failure)
}

/// A few words on what an alert says: the failure's class, the rules broken, or the
/// detector.
fn headline(incident: &Incident, alert: &Alert) -> String {
    if is_failure(alert) {
        let kind = incident
            .runs
            .iter()
            .rev()
            .find(|run| run.record_id == alert.record_id)
            .and_then(|run| run.error_kind);
        match kind {
            Some(kind) => format!("failing ({kind})"),
            None => "failing".to_owned(),
        }
    } else if !alert.rules.is_empty() {
        let rules: Vec<String> = alert
            .rules
            .iter()
            .map(|rule| rule.as_str().replace('_', " "))
            .collect();
        rules.join(", ")
    } else if alert.detector == "outage_prediction" {
        "outage predicted".to_owned()
    } else {
        format!("unusual run ({} detector)", alert.detector)
    }
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn minute(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}
