//! From a record of the `alerts` topic to an alert of Alertmanager's v2 API: its labels
//! (the alert's identity), annotations and times.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `alertname` of every alert the forwarder sends.
pub const ALERT_NAME: &str = "ConnectorRunAnomaly";

/// What the forwarder reads of an alert record. Deliberately lenient (rules as text,
/// optional context) so it forwards what any detector raises, including kinds added later.
#[derive(Debug, Clone, Deserialize)]
struct AlertRecord {
    alert_id: String,
    series_key: String,
    record_id: String,
    severity: String,
    message: String,
    raised_at: DateTime<Utc>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    object_id: Option<i64>,
    #[serde(default)]
    object_type: String,
    #[serde(default)]
    detector: String,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    reasons: Vec<String>,
}

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
    /// The alert of the JSON payload of an alert record, ending `ttl` after it was raised.
    pub(super) fn from_json(payload: &[u8], ttl: ChronoDuration) -> serde_json::Result<Self> {
        let record = serde_json::from_slice::<AlertRecord>(payload)?;
        Ok(PostableAlert::from_record(record, ttl))
    }

    fn from_record(alert: AlertRecord, ttl: ChronoDuration) -> Self {
        let mut rules = alert.rules;
        rules.sort();
        rules.dedup();
        let labels = [
            ("alertname", ALERT_NAME.to_owned()),
            ("severity", alert.severity),
            ("source", alert.source),
            ("company", alert.company),
            ("object", alert.object_type),
            (
                "object_id",
                alert.object_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
            ("series_key", alert.series_key),
            ("detector", alert.detector),
            ("rules", rules.join(",")),
        ];
        let annotations = [
            ("summary", alert.message),
            ("reasons", alert.reasons.join("; ")),
            ("record_id", alert.record_id),
            ("alert_id", alert.alert_id),
        ];
        // Alertmanager treats an empty label as an absent one; leaving it out says so.
        let non_empty = |pairs: &mut dyn Iterator<Item = (&'static str, String)>| {
            pairs.filter(|(_, v)| !v.is_empty()).collect()
        };
        PostableAlert {
            labels: non_empty(&mut labels.into_iter()),
            annotations: non_empty(&mut annotations.into_iter()),
            starts_at: alert.raised_at,
            ends_at: alert
                .raised_at
                .checked_add_signed(ttl)
                .unwrap_or(alert.raised_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alertmanager::testing::alert_record_json;

    fn record() -> AlertRecord {
        serde_json::from_value(alert_record_json()).unwrap()
    }

    #[test]
    fn alert_records_become_alertmanager_alerts() {
        let alert = PostableAlert::from_record(record(), ChronoDuration::hours(1));
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "labels": {
                    "alertname": "ConnectorRunAnomaly",
                    "severity": "critical",
                    "source": "powerbi",
                    "company": "akonovia",
                    "object": "Datasets",
                    "object_id": "1204",
                    "series_key": "akonovia:powerbi:1204",
                    "detector": "rules",
                    "rules": "failure,high_memory",
                },
                "annotations": {
                    "summary": "powerbi Datasets (1204): FAILED; memory 2e8 B",
                    "reasons": "FAILED; memory 2e8 B",
                    "record_id": "akonovia:2025-09-03-17-20:1204",
                    "alert_id": "akonovia:2025-09-03-17-20:1204/rules",
                },
                "startsAt": "2025-09-03T17:21:00Z",
                "endsAt": "2025-09-03T18:21:00Z",
            })
        );
    }

    #[test]
    fn missing_context_leaves_labels_out_instead_of_empty() {
        let minimal: AlertRecord = serde_json::from_value(serde_json::json!({
            "alert_id": "a/zscore", "series_key": "c:s:1", "record_id": "c:1:1",
            "severity": "warning", "message": "odd", "raised_at": "2025-09-03T17:21:00Z",
            "detector": "zscore"
        }))
        .unwrap();
        let alert = PostableAlert::from_record(minimal, ChronoDuration::minutes(5));
        let names: Vec<_> = alert.labels.keys().copied().collect();
        assert_eq!(names, ["alertname", "detector", "series_key", "severity"]);
        assert!(!alert.annotations.contains_key("reasons"));
    }
}
