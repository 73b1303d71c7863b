//! What the processing stage publishes: a processed record per run on
//! `processed-metrics`, and one alert per anomalous run on `alerts`.

use crate::anomaly::{run_features, Assessment, DetectorBank, Verdict};
use crate::rules::{RuleHit, RuleKind, RulesConfig, RunMetrics, Severity};
use chrono::{DateTime, Utc};
use obs_records::standardize::StandardizedRecord;
use serde::{Deserialize, Serialize};

/// Value of the `schema-version` header on `processed-metrics`.
pub const PROCESSED_SCHEMA_VERSION: &str = "processed-v1";
/// Value of the `schema-version` header on `alerts`.
pub const ALERT_SCHEMA_VERSION: &str = "alert-v1";

/// The standardized record with its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessedRecord {
    #[serde(flatten)]
    pub record: StandardizedRecord,
    #[serde(flatten)]
    pub metrics: RunMetrics,
    /// Rules the run broke; empty for a normal run.
    pub rule_hits: Vec<RuleHit>,
    /// What the streaming detectors said of the run compared with its series' history
    /// (`None` when they were not asked, or refused the point: see `detector_error`).
    #[serde(default)]
    pub detector: Option<Verdict>,
    /// Why the detectors refused the point (out of order, non-finite...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_error: Option<String>,
    /// A rule broke, or the detectors reached their warning level.
    pub anomalous: bool,
    /// Severity of the rule hits (the detectors' own is in `detector`).
    pub severity: Option<Severity>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub processed_at: DateTime<Utc>,
}

impl ProcessedRecord {
    /// Scores one standardized record with the rules.
    pub fn score(record: StandardizedRecord, rules: &RulesConfig, now: DateTime<Utc>) -> Self {
        let metrics = rules.metrics(
            record.duration_seconds,
            record.cpu_time_seconds,
            record.memory_used_bytes,
        );
        let rule_hits = rules.evaluate(&record, &metrics);
        let severity = rules.severity(&rule_hits);
        ProcessedRecord {
            record,
            metrics,
            anomalous: !rule_hits.is_empty(),
            rule_hits,
            detector: None,
            detector_error: None,
            severity,
            processed_at: now,
        }
    }

    /// Scores one run as the processing stage does: the rules, then the streaming
    /// detectors of its series (which learn from it).
    pub fn assess(
        record: StandardizedRecord,
        rules: &RulesConfig,
        detectors: &mut DetectorBank,
        now: DateTime<Utc>,
    ) -> Self {
        let features = run_features(
            record.duration_seconds,
            record.cpu_time_seconds,
            record.memory_used_bytes as f64,
        );
        let verdict = detectors
            .observe(&record.series_key, record.start_time, &features)
            .map_err(|e| e.to_string());
        ProcessedRecord::score(record, rules, now).with_detector(verdict)
    }

    /// Adds the detectors' verdict (or why they refused the point).
    pub fn with_detector(mut self, verdict: Result<Verdict, String>) -> Self {
        match verdict {
            Ok(verdict) => {
                self.anomalous |= verdict.assessment().and_then(|a| a.severity).is_some();
                self.detector = Some(verdict);
            }
            Err(reason) => self.detector_error = Some(reason),
        }
        self
    }

    /// The alerts of this record: the rules alert when a rule broke, and the detector
    /// alert when the detectors reached their warning level or predict an outage.
    pub fn alerts(&self) -> Vec<Alert> {
        self.rules_alert()
            .into_iter()
            .chain(self.detector_alert())
            .collect()
    }

    /// The highest severity of the rules and the detectors.
    pub fn overall_severity(&self) -> Option<Severity> {
        let detector = self
            .detector
            .as_ref()
            .and_then(Verdict::assessment)
            .and_then(|a| a.severity);
        self.severity.max(detector)
    }

    fn rules_alert(&self) -> Option<Alert> {
        let severity = self.severity?;
        let rules: Vec<RuleKind> = self.rule_hits.iter().map(|h| h.rule).collect();
        let reasons: Vec<String> = self.rule_hits.iter().map(|h| h.reason.clone()).collect();
        Some(self.alert_of("rules", "rules", rules, severity, reasons))
    }

    /// An alert about this run; `id_suffix` makes its id stable per run and detector.
    fn alert_of(
        &self,
        id_suffix: &str,
        detector: &str,
        rules: Vec<RuleKind>,
        severity: Severity,
        reasons: Vec<String>,
    ) -> Alert {
        let r = &self.record;
        Alert {
            alert_id: format!("{}/{id_suffix}", r.record_id),
            series_key: r.series_key.clone(),
            record_id: r.record_id.clone(),
            source: r.source.clone(),
            company: r.company.clone(),
            object_id: r.object_id,
            object_type: r.object_type.clone(),
            detector: detector.into(),
            rules,
            severity,
            message: format!(
                "{} {} ({}): {}",
                r.source,
                r.object_type,
                r.object_id,
                reasons.join("; ")
            ),
            reasons,
            metrics: AlertMetrics {
                duration_seconds: r.duration_seconds,
                memory_used_bytes: r.memory_used_bytes,
                cpu_time_seconds: r.cpu_time_seconds,
                efficiency_score: self.metrics.efficiency_score,
            },
            run_started_at: r.start_time,
            raised_at: self.processed_at,
        }
    }

    fn detector_alert(&self) -> Option<Alert> {
        let assessment: &Assessment = self.detector.as_ref()?.assessment()?;
        let severity = match (assessment.severity, assessment.predictive_alert) {
            (Some(severity), _) => severity,
            (None, true) => Severity::Warning,
            (None, false) => return None,
        };
        let r = &self.record;
        let e = &assessment.explanation;
        let mut reasons = Vec::new();
        if assessment.severity.is_some() {
            reasons.push(format!(
                "{} {} = {:.4} against a baseline of {:.4} ({:?} detector, z {:.1}): anomaly score {:.2}",
                r.object_type, e.metric, e.value, e.baseline, e.detector, e.z, assessment.score
            ));
        }
        if assessment.predictive_alert {
            reasons.push(format!(
                "outage probability {:.2} has stayed high: the series has left its usual range",
                assessment.outage_probability
            ));
        }
        let detector = if assessment.severity.is_some() {
            "statistical"
        } else {
            "outage_prediction"
        };
        Some(self.alert_of("detector", detector, Vec::new(), severity, reasons))
    }
}

/// One alert: which run, what was wrong, how urgent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable: the same run and detector always give the same id, so a repeat can be
    /// de-duplicated downstream.
    pub alert_id: String,
    pub series_key: String,
    pub record_id: String,
    pub source: String,
    pub company: String,
    pub object_id: i64,
    pub object_type: String,
    /// `rules`, or the statistical detector that raised it.
    pub detector: String,
    pub rules: Vec<RuleKind>,
    pub severity: Severity,
    pub message: String,
    pub reasons: Vec<String>,
    pub metrics: AlertMetrics,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub run_started_at: DateTime<Utc>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub raised_at: DateTime<Utc>,
}

/// The run's figures, as the alert shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMetrics {
    pub duration_seconds: f64,
    pub memory_used_bytes: i64,
    pub cpu_time_seconds: f64,
    pub efficiency_score: f64,
}
