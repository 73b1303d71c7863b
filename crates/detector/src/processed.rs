//! What the processing stage publishes: a processed record per run on
//! `processed-metrics`, and an alert on `alerts` for a run that pages someone.

use crate::anomaly::{
    run_features, AlertCause, AlertReason, DetectorBank, DetectorError, Judgement, RunFacts,
    Verdict,
};
use crate::rules::{RuleHit, RuleKind, RulesConfig, RunMetrics, Severity};
use chrono::{DateTime, Utc};
use obs_records::standardize::StandardizedRecord;
use serde::{Deserialize, Serialize};

/// Value of the `schema-version` header on `processed-metrics`.
pub const PROCESSED_SCHEMA_VERSION: &str = "processed-v1";
/// Value of the `schema-version` header on `alerts`.
pub const ALERT_SCHEMA_VERSION: &str = "alert-v1";

/// The standardized record with its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    #[schema(nullable = false)]
    pub detector_error: Option<String>,
    /// Set when the run came after a later run of its series: the detectors, which learn
    /// each series in time order, left it out, and the rules alone scored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub late: Option<Late>,
    /// What the object's own history says of the run: whether it pages someone, and why
    /// (`None` when the run was scored by the rules alone, which then alert as they hit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub judgement: Option<Judgement>,
    /// A rule broke, or the detectors reached their warning level (whether or not it
    /// pages: see `judgement`).
    pub anomalous: bool,
    /// Severity of the rule hits (the detectors' own is in `detector`).
    pub severity: Option<Severity>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub processed_at: DateTime<Utc>,
}

/// Why a valid run was left out by the detectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Late {
    pub reason: LateReason,
    /// Start (RFC 3339) of the latest run of the series the detectors had learned.
    pub series_latest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LateReason {
    /// It started before the latest run of its series the detectors had learned: scoring
    /// it against that history would judge it by its future, and learning it would put the
    /// series out of order; the same on every replay, so verdicts stay deterministic.
    OlderThanSeriesLatest,
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
            late: None,
            judgement: None,
            severity,
            processed_at: now,
        }
    }

    /// Scores one run as the processing stage does: the rules, then the streaming
    /// detectors and the habits of its series (which learn from it).
    pub fn assess(
        record: StandardizedRecord,
        rules: &RulesConfig,
        detectors: &mut DetectorBank,
        now: DateTime<Utc>,
    ) -> Self {
        let processed = ProcessedRecord::score(record, rules, now);
        let r = &processed.record;
        let features = run_features(
            r.duration_seconds,
            r.cpu_time_seconds,
            r.memory_used_bytes as f64,
        );
        let hits: Vec<RuleKind> = processed.rule_hits.iter().map(|h| h.rule).collect();
        let run = RunFacts {
            started_at: r.start_time,
            failed: hits.contains(&RuleKind::Failure),
            error_message: r.error_message.as_deref(),
            duration_seconds: r.duration_seconds,
            memory_bytes: r.memory_used_bytes as f64,
            cpu_seconds: r.cpu_time_seconds,
            rules: &hits,
            efficiency_lost_to: if rules
                .efficiency_lost_to_memory(r.duration_seconds, r.memory_used_bytes)
            {
                AlertReason::Memory
            } else {
                AlertReason::Duration
            },
        };
        let mut late = None;
        let (verdict, judgement) =
            match detectors.observe_run(&r.series_key, r.start_time, &features, Some(&run)) {
                Ok((verdict, judgement)) => (Ok(verdict), judgement),
                Err(error) => {
                    if let DetectorError::OutOfOrder { last, .. } = &error {
                        late = Some(Late {
                            reason: LateReason::OlderThanSeriesLatest,
                            series_latest: last.clone(),
                        });
                    }
                    (Err(error.to_string()), None)
                }
            };
        let mut processed = processed.with_detector(verdict);
        processed.judgement = judgement;
        processed.late = late;
        processed
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

    /// The alerts of this record. Judged against the object's history (see `judgement`),
    /// at most one: the rules alert when the run pages someone and broke a rule, the
    /// detector alert when it pages someone without breaking one. Scored by the rules
    /// alone: the rules alert when a rule broke, and the detector alert when the detectors
    /// reached their warning level or predict an outage.
    pub fn alerts(&self) -> Vec<Alert> {
        match &self.judgement {
            Some(Judgement { alert: None }) => Vec::new(),
            Some(Judgement { alert: Some(cause) }) => {
                let alert = if self.rule_hits.is_empty() {
                    self.detector_alert(cause.clone(), true)
                } else {
                    self.rules_alert(cause.clone())
                };
                alert.into_iter().collect()
            }
            None => {
                let rules = self.rules_alert(self.rules_cause());
                let detector = self
                    .detector_cause()
                    .and_then(|c| self.detector_alert(c, false));
                rules.into_iter().chain(detector).collect()
            }
        }
    }

    /// Why the rules alert, for a run scored without its history: its first rule.
    fn rules_cause(&self) -> AlertCause {
        let reason = match self.rule_hits.first().map(|h| h.rule) {
            Some(RuleKind::Failure) => AlertReason::Failure,
            Some(RuleKind::NegativeMemory) => AlertReason::NegativeMemory,
            Some(RuleKind::HighMemory) => AlertReason::Memory,
            _ => AlertReason::Duration,
        };
        let first = self.rule_hits.first().map_or("", |h| h.reason.as_str());
        AlertCause {
            reason,
            why: format!("{first}, with no history of this object to compare with"),
        }
    }

    /// Why the detectors alert, for a run scored without its history.
    fn detector_cause(&self) -> Option<AlertCause> {
        let assessment = self.detector.as_ref()?.assessment()?;
        let e = &assessment.explanation;
        let reason = if e.metric.starts_with("memory") {
            AlertReason::Memory
        } else if e.metric.starts_with("cpu") {
            AlertReason::Cpu
        } else {
            AlertReason::Duration
        };
        Some(AlertCause {
            reason,
            why: format!(
                "{} {:.4}, usually about {:.4} for this object",
                e.metric, e.value, e.baseline
            ),
        })
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

    fn rules_alert(&self, cause: AlertCause) -> Option<Alert> {
        let severity = self.severity?;
        let rules: Vec<RuleKind> = self.rule_hits.iter().map(|h| h.rule).collect();
        let reasons: Vec<String> = self.rule_hits.iter().map(|h| h.reason.clone()).collect();
        Some(self.alert_of("rules", "rules", rules, severity, reasons, cause))
    }

    /// An alert about this run; `id_suffix` makes its id stable per run and detector.
    fn alert_of(
        &self,
        id_suffix: &str,
        detector: &str,
        rules: Vec<RuleKind>,
        severity: Severity,
        reasons: Vec<String>,
        cause: AlertCause,
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
            cause: Some(cause.reason),
            why: cause.why,
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

    /// The detectors' alert. `paged`: the habits decided the run pages someone (it is
    /// raised at the detectors' severity, or as a warning); otherwise only when the
    /// detectors reached their warning level or predict an outage.
    fn detector_alert(&self, cause: AlertCause, paged: bool) -> Option<Alert> {
        let assessment = self.detector.as_ref().and_then(Verdict::assessment);
        let severity = assessment.and_then(|a| a.severity);
        let predictive = assessment.is_some_and(|a| a.predictive_alert);
        let severity = match (severity, predictive) {
            (Some(severity), _) => severity,
            (None, true) => Severity::Warning,
            (None, false) if paged => Severity::Warning,
            (None, false) => return None,
        };
        let r = &self.record;
        let mut reasons = Vec::new();
        if let Some(assessment) = assessment.filter(|a| a.severity.is_some()) {
            let e = &assessment.explanation;
            reasons.push(format!(
                "{} {} = {:.4} against a baseline of {:.4} ({:?} detector, z {:.1}): anomaly score {:.2}",
                r.object_type, e.metric, e.value, e.baseline, e.detector, e.z, assessment.score
            ));
        }
        if let Some(assessment) = assessment.filter(|a| a.predictive_alert) {
            reasons.push(format!(
                "outage probability {:.2} has stayed high: the series has left its usual range",
                assessment.outage_probability
            ));
        }
        if reasons.is_empty() {
            reasons.push(cause.why.clone());
        }
        let detector = if predictive && assessment.is_some_and(|a| a.severity.is_none()) {
            "outage_prediction"
        } else {
            "statistical"
        };
        Some(self.alert_of("detector", detector, Vec::new(), severity, reasons, cause))
    }
}

/// One alert: which run, what was wrong, how urgent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// What the alert is about (absent from alerts written before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cause: Option<AlertReason>,
    /// One sentence: the value, its usual range for this object, and since when.
    #[serde(default)]
    #[schema(required = true)]
    pub why: String,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertMetrics {
    pub duration_seconds: f64,
    pub memory_used_bytes: i64,
    pub cpu_time_seconds: f64,
    pub efficiency_score: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::DetectorConfig;
    use chrono::{Duration, TimeZone};
    use obs_records::Status;

    fn run(hour: i64, memory: i64) -> StandardizedRecord {
        let start = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap() + Duration::hours(hour);
        StandardizedRecord {
            record_id: format!("acme:{hour}:7"),
            series_key: "acme:powerbi:7".into(),
            schema_version: "standardized-v1".into(),
            sequence_id: hour.to_string(),
            sequence_time: start,
            company: "acme".into(),
            zone: "1-Raw".into(),
            source: "powerbi".into(),
            object_id: 7,
            object_type: "datasets".into(),
            transformation: "PowerBI_API_get_data".into(),
            status: Status::Success,
            start_time: start,
            end_time: start + Duration::seconds(2),
            duration_seconds: 2.0,
            cpu_time_seconds: 0.2,
            memory_used_bytes: memory,
            description: "Tout roule, pas de stress!".into(),
            error_message: None,
            error_kind: None,
            quality: Vec::new(),
        }
    }

    #[test]
    fn a_run_older_than_its_series_latest_is_flagged_late_and_scored_by_the_rules() {
        let rules = RulesConfig::default();
        let mut bank = DetectorBank::new(DetectorConfig::default()).unwrap();
        let now = Utc::now();
        for hour in [0, 1, 3] {
            let processed = ProcessedRecord::assess(run(hour, 5_000_000), &rules, &mut bank, now);
            assert_eq!(processed.late, None);
            assert!(processed.detector.is_some());
        }
        // Between runs 1 and 3, using too much memory: a rule hit.
        let late = ProcessedRecord::assess(run(2, 500_000_000), &rules, &mut bank, now);
        assert_eq!(
            late.late,
            Some(Late {
                reason: LateReason::OlderThanSeriesLatest,
                series_latest: "2025-09-01T03:00:00+00:00".into(),
            })
        );
        assert_eq!(late.detector, None);
        assert!(late.detector_error.is_some());
        assert!(late.anomalous, "the rules scored it");
        assert!(late
            .rule_hits
            .iter()
            .any(|h| h.rule == RuleKind::HighMemory));
        assert!(!late.alerts().is_empty(), "and it alerts as the rules hit");
        let json = serde_json::to_value(&late).unwrap();
        assert_eq!(json["late"]["reason"], "older_than_series_latest");
        // The series goes on in order, unharmed.
        let next = ProcessedRecord::assess(run(4, 5_000_000), &rules, &mut bank, now);
        assert_eq!(next.late, None);
        assert!(next.detector.is_some());
    }
}
