//! From an incident to an alert of Alertmanager's v2 API: its labels (the incident's
//! identity), annotations and times.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use obs_incidents::{Incident, IncidentStatus, ScopeKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// `alertname` of every alert the notifier sends.
pub const ALERT_NAME: &str = "ConnectorIncident";

/// One alert of Alertmanager's v2 API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct PostableAlert {
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
    #[serde(rename = "startsAt")]
    starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt")]
    ends_at: DateTime<Utc>,
}

impl PostableAlert {
    /// The alert of `incident` as of `now`: firing until `now + firing_for` (re-sent
    /// before then while it lasts), or resolved at its resolution.
    pub(super) fn of_incident(
        incident: &Incident,
        now: DateTime<Utc>,
        firing_for: ChronoDuration,
    ) -> Self {
        let scope = &incident.scope;
        let (kind, object, object_id) = match scope.kind {
            ScopeKind::Series => (
                "series",
                scope.object_type.clone().unwrap_or_default(),
                scope.object_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
            ScopeKind::Source => ("source", String::new(), String::new()),
        };
        let labels = [
            ("alertname", ALERT_NAME.to_owned()),
            ("incident_id", incident.id.clone()),
            ("severity", incident.severity.as_str().to_owned()),
            ("company", scope.company.clone()),
            ("source", scope.source.clone()),
            ("scope", kind.to_owned()),
            ("object", object),
            ("object_id", object_id),
        ];
        let acknowledged = incident
            .acknowledged
            .as_ref()
            .map(|mark| format!("acknowledged by {} at {}", mark.by, mark.at.to_rfc3339()))
            .unwrap_or_default();
        let annotations = [
            ("summary", incident.title.clone()),
            ("description", incident.summary.clone()),
            ("status", incident.status.as_str().to_owned()),
            ("acknowledged", acknowledged),
            ("alerts", incident.alerts_total.to_string()),
        ];
        let ends_at = match (incident.status, &incident.resolved) {
            (IncidentStatus::Resolved, Some(resolution)) => resolution.at,
            _ => now.checked_add_signed(firing_for).unwrap_or(now),
        };
        // Alertmanager treats an empty label as an absent one; leaving it out says so.
        let non_empty = |pairs: &mut dyn Iterator<Item = (&'static str, String)>| {
            pairs.filter(|(_, v)| !v.is_empty()).collect()
        };
        PostableAlert {
            labels: non_empty(&mut labels.into_iter()),
            annotations: non_empty(&mut annotations.into_iter()),
            starts_at: incident.opened_at,
            ends_at,
        }
    }
}

impl PostableAlert {
    /// This alert under an earlier severity of its incident, ended at `now`: an escalated
    /// incident's previous alert (its labels differ by `severity`) resolves at once instead
    /// of firing beside the new one until it expires.
    pub(super) fn superseded(mut self, severity: &str, now: DateTime<Utc>) -> Self {
        self.labels.insert("severity", severity.to_owned());
        self.ends_at = now;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alertmanager::testing::incident;

    #[test]
    fn an_open_incident_fires_until_it_is_sent_again() {
        let incident = incident(IncidentStatus::Open);
        let now = incident.opened_at + ChronoDuration::minutes(3);
        let alert = PostableAlert::of_incident(&incident, now, ChronoDuration::minutes(4));
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["labels"]["alertname"], ALERT_NAME);
        assert_eq!(json["labels"]["incident_id"], incident.id.as_str());
        assert_eq!(json["labels"]["severity"], "critical");
        assert_eq!(json["labels"]["scope"], "series");
        assert_eq!(json["labels"]["source"], "powerbi");
        assert_eq!(json["labels"]["object_id"], "1204");
        assert_eq!(json["annotations"]["summary"], incident.title.as_str());
        assert_eq!(
            (alert.starts_at, alert.ends_at),
            (incident.opened_at, now + ChronoDuration::minutes(4))
        );
    }

    #[test]
    fn a_resolved_incident_ends_when_it_was_resolved() {
        let incident = incident(IncidentStatus::Resolved);
        let resolved_at = incident.resolved.as_ref().unwrap().at;
        let later = resolved_at + ChronoDuration::hours(1);
        let alert = PostableAlert::of_incident(&incident, later, ChronoDuration::minutes(4));
        assert_eq!(alert.ends_at, resolved_at);
        assert_eq!(alert.annotations["status"], "resolved");
    }
}
