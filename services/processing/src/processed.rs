//! The fields of a processed record (`obs_detector::ProcessedRecord` on
//! `processed-metrics`) that the views read: the analytics view's aggregates and the trace's
//! scores. The views' follower parses them once for both ([`crate::views`]), borrowing the
//! strings from the JSON; serde skips the other fields without building them. The whole
//! record is never rebuilt, which is most of the cost of reading every record the stage
//! writes.

use chrono::{DateTime, Utc};
use obs_detector::{RuleKind, Severity};
use obs_records::{FailureKind, Status};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Deserialize)]
pub struct ProcessedFields<'a> {
    #[serde(borrow)]
    pub series_key: Cow<'a, str>,
    #[serde(borrow)]
    pub company: Cow<'a, str>,
    #[serde(borrow)]
    pub source: Cow<'a, str>,
    pub object_id: i64,
    #[serde(borrow)]
    pub object_type: Cow<'a, str>,
    pub error_kind: Option<FailureKind>,
    pub status: Status,
    #[serde(deserialize_with = "obs_records::time::deserialize_rfc3339")]
    pub start_time: DateTime<Utc>,
    pub duration_seconds: f64,
    pub cpu_time_seconds: f64,
    pub memory_used_bytes: i64,
    pub efficiency_score: f64,
    pub anomalous: bool,
    #[serde(deserialize_with = "obs_records::time::deserialize_rfc3339")]
    pub processed_at: DateTime<Utc>,
    /// The rules' severity.
    pub severity: Option<Severity>,
    pub rule_hits: Vec<RuleHitName>,
    pub detector: Option<VerdictFields>,
}

impl<'a> ProcessedFields<'a> {
    /// The fields of the processed record `json`.
    pub fn read(json: &'a [u8]) -> Result<Self, serde_json::Error> {
        obs_records::from_json_bytes(json)
    }

    /// As `ProcessedRecord::alerts` counts them: one of the rules when they set a
    /// severity, one of the detectors at their warning level or with a predictive alert.
    pub fn alerts(&self) -> u8 {
        let detector = self
            .detector
            .as_ref()
            .is_some_and(|d| d.severity.is_some() || d.predictive_alert);
        u8::from(self.severity.is_some()) + u8::from(detector)
    }
}

/// Of a rule hit, the rule.
#[derive(Debug, Deserialize)]
pub struct RuleHitName {
    pub rule: RuleKind,
}

/// Of the detectors' verdict: absent fields when it is `insufficient_history`.
#[derive(Debug, Deserialize)]
pub struct VerdictFields {
    pub score: Option<f64>,
    pub severity: Option<Severity>,
    #[serde(default)]
    pub predictive_alert: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::processed;

    #[test]
    fn reads_what_the_stage_writes_and_refuses_what_is_not_a_processed_record() {
        let record = processed(3, "zoho", Status::Failed, 4.5, 2_048, 1.25);
        let json = serde_json::to_vec(&record).unwrap();
        let fields = ProcessedFields::read(&json).unwrap();
        assert_eq!(fields.series_key, record.record.series_key);
        assert_eq!(
            (&*fields.company, &*fields.source, &*fields.object_type),
            ("acme", "zoho", "Projects")
        );
        assert_eq!(fields.object_id, 103);
        assert_eq!(fields.status, Status::Failed);
        assert_eq!(fields.start_time, record.record.start_time);
        assert_eq!(fields.processed_at, record.processed_at);
        assert_eq!(
            (
                fields.duration_seconds,
                fields.cpu_time_seconds,
                fields.memory_used_bytes
            ),
            (4.5, 1.25, 2_048)
        );
        assert_eq!(fields.efficiency_score, record.metrics.efficiency_score);
        assert_eq!(fields.anomalous, record.anomalous);
        assert_eq!(fields.severity, record.severity);
        assert_eq!(usize::from(fields.alerts()), record.alerts().len());
        let rules: Vec<RuleKind> = fields.rule_hits.iter().map(|h| h.rule).collect();
        let expected: Vec<RuleKind> = record.rule_hits.iter().map(|h| h.rule).collect();
        assert_eq!(rules, expected);
        assert!(ProcessedFields::read(b"{}").is_err());
        assert!(ProcessedFields::read(b"{not json").is_err());
    }
}
