//! The error-rate stage's transform: `standardized-app-logs` → `app-log-rates` (one record
//! per closed window) + `alerts` (when the streaming detectors flag a window's error rate),
//! exactly once in the stage's transactions.
//!
//! Each closed window's error rate is one point of the series `app:{service}` in a
//! [`DetectorBank`] of this stage's own, so a burst of errors is an anomaly like a slow
//! run. With checkpoints on, each service's window and series are saved to
//! `app-log-rate-state` in the stage's transactions and restored when a partition is
//! assigned ([`super::checkpoint`]), and when a transaction does not commit (its events
//! will be consumed again) the windows and the bank are rebuilt the same way, as the run
//! stage's detectors are.

use super::checkpoint::{ErrorRateState, RateLive};
use super::metrics::ErrorRateMetrics;
use super::rate_series::{observe_window, read_event, series_key, ERROR_RATE};
use super::windows::{service_key, ClosedWindow, ErrorRateWindows};
use crate::checkpoint::{forget_discarded, CheckpointBatch, Checkpoints};
use chrono::{SecondsFormat, Utc};
use obs_detector::processed::{AlertMetrics, ALERT_SCHEMA_VERSION};
use obs_detector::{Alert, DetectorBank, Severity, Verdict};
use obs_kafka::dead_letter::DeadLetterTally;
use obs_kafka::headers::{CONTENT_TYPE, RECORD_ID, SCHEMA_VERSION};
use obs_kafka::sync::lock;
use obs_kafka::{ErrorCounter, InputRecord, Outputs, TopicsConfig, Transform};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// The stage's name: its client id, and the `stage` of its dead letters.
pub const ERROR_RATE_STAGE: &str = "processing-app-logs";
/// `object_type` of an error-rate alert.
pub const APP_LOGS_OBJECT_TYPE: &str = "app-logs";
/// `schema_version` of a window record and its `schema-version` header.
pub const APP_LOG_RATE_SCHEMA_VERSION: &str = "app-log-rate-v1";

/// One closed window, as `app-log-rates` carries it (key = service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRateRecord {
    pub schema_version: String,
    /// `app:{service}`: the detectors' series.
    pub series_key: String,
    #[serde(flatten)]
    pub window: ClosedWindow,
    /// `errors / events`.
    pub error_rate: f64,
    /// The detectors' verdict on the point; `None` when they refused it (see
    /// `detector_error`).
    pub verdict: Option<Verdict>,
    /// Why the detectors refused the point (a window older than the series' last point,
    /// after its service was evicted and came back with late events).
    pub detector_error: Option<String>,
    /// The alert raised on this window, if any.
    pub alert_id: Option<String>,
}

/// What a batch leaves to count when its transaction commits.
#[derive(Default)]
pub struct RateBatch {
    windowed: u64,
    late: u64,
    windows: u64,
    alerts: Vec<Severity>,
    dead_letters: DeadLetterTally,
    /// What the batch saved to `app-log-rate-state` and which partitions it restored.
    checkpoints: CheckpointBatch,
}

pub struct ErrorRateTransform {
    windows: ErrorRateWindows,
    /// Shared with `/status`; locked per closed window by the stage's thread.
    detectors: Arc<Mutex<DetectorBank>>,
    rates_topic: Arc<str>,
    alerts_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: ErrorRateMetrics,
    errors: ErrorCounter,
    /// `None` with checkpoints off.
    checkpoints: Option<Checkpoints<ErrorRateState>>,
}

impl ErrorRateTransform {
    pub fn new(
        windows: ErrorRateWindows,
        detectors: Arc<Mutex<DetectorBank>>,
        topics: &TopicsConfig,
        metrics: ErrorRateMetrics,
        errors: ErrorCounter,
        checkpoints: Option<Checkpoints<ErrorRateState>>,
    ) -> Self {
        ErrorRateTransform {
            windows,
            detectors,
            rates_topic: topics.app_log_rates.name.as_str().into(),
            alerts_topic: topics.alerts.name.as_str().into(),
            dead_letter_topic: topics.dead_letters.name.as_str().into(),
            metrics,
            errors,
            checkpoints,
        }
    }

    /// Scores the window's error rate and writes its record, and its alert when the
    /// detectors flag it.
    fn close(&mut self, window: ClosedWindow, batch: &mut RateBatch, out: &mut Outputs) {
        let series_key = series_key(&window.service);
        // The window's id: the same when its events are consumed again.
        let window_id = format!(
            "{series_key}@{}",
            window
                .window_start
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let error_rate = window.error_rate();
        let observed = observe_window(&mut lock(&self.detectors), &window);
        let (verdict, detector_error) = match observed {
            Ok(verdict) => (Some(verdict), None),
            Err(error) => (None, Some(error.to_string())),
        };
        let alert = verdict
            .as_ref()
            .and_then(|verdict| alert_of(&window, &series_key, &window_id, verdict));
        if let Some(alert) = &alert {
            out.record(&self.alerts_topic, Some(series_key.as_bytes()))
                .header(RECORD_ID, Some(alert.record_id.as_bytes()))
                .header(SCHEMA_VERSION, Some(ALERT_SCHEMA_VERSION.as_bytes()))
                .header(CONTENT_TYPE, Some(b"application/json"))
                .json(alert);
            batch.alerts.push(alert.severity);
        }
        let record = ErrorRateRecord {
            schema_version: APP_LOG_RATE_SCHEMA_VERSION.into(),
            series_key,
            error_rate,
            verdict,
            detector_error,
            alert_id: alert.map(|alert| alert.alert_id),
            window,
        };
        out.record(&self.rates_topic, Some(record.window.service.as_bytes()))
            .header(RECORD_ID, Some(window_id.as_bytes()))
            .header(SCHEMA_VERSION, Some(APP_LOG_RATE_SCHEMA_VERSION.as_bytes()))
            .header(CONTENT_TYPE, Some(b"application/json"))
            .json(&record);
        batch.windows += 1;
    }
}

/// The alert on `window` (of id `window_id`) when the detectors reached their warning
/// level or predict an outage of the service's error rate.
fn alert_of(
    window: &ClosedWindow,
    series_key: &str,
    window_id: &str,
    verdict: &Verdict,
) -> Option<Alert> {
    let assessment = verdict.assessment()?;
    let severity = match (assessment.severity, assessment.predictive_alert) {
        (Some(severity), _) => severity,
        (None, true) => Severity::Warning,
        (None, false) => return None,
    };
    let e = &assessment.explanation;
    let mut reasons = Vec::new();
    if assessment.severity.is_some() {
        reasons.push(format!(
            "error rate {:.4} ({} of {} events) against a baseline of {:.4} ({:?} detector, z {:.1}): anomaly score {:.2}",
            window.error_rate(), window.errors, window.events, e.baseline, e.detector, e.z, assessment.score
        ));
    }
    if assessment.predictive_alert {
        reasons.push(format!(
            "outage probability {:.2} has stayed high: the error rate has left its usual range",
            assessment.outage_probability
        ));
    }
    Some(Alert {
        alert_id: format!("{window_id}/{ERROR_RATE}"),
        series_key: series_key.to_owned(),
        record_id: window_id.to_owned(),
        source: window.service.clone(),
        company: window.company.clone(),
        object_id: 0,
        object_type: APP_LOGS_OBJECT_TYPE.into(),
        detector: ERROR_RATE.into(),
        rules: Vec::new(),
        severity,
        message: format!(
            "{}: {:.1} % of its log events were errors in the window from {} ({} of {}): {}",
            window.service,
            window.error_rate() * 100.0,
            window
                .window_start
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            window.errors,
            window.events,
            reasons.join("; ")
        ),
        reasons,
        cause: None,
        why: format!(
            "error rate {:.1} % ({} of {} events), usually about {:.1} % for this service (since {})",
            window.error_rate() * 100.0,
            window.errors,
            window.events,
            e.baseline * 100.0,
            window
                .window_start
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        metrics: AlertMetrics {
            duration_seconds: 0.0,
            memory_used_bytes: 0,
            cpu_time_seconds: 0.0,
            efficiency_score: 0.0,
        },
        run_started_at: window.window_start,
        raised_at: Utc::now(),
    })
}

impl Transform for ErrorRateTransform {
    type Batch = RateBatch;

    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut RateBatch, out: &mut Outputs) {
        if let Some(checkpoints) = &mut self.checkpoints {
            let live = RateLive {
                windows: &mut self.windows,
                bank: &self.detectors,
            };
            checkpoints.before_run(input, live, &mut batch.checkpoints, out);
        }
        let event = match read_event(input.payload) {
            Ok(event) => event,
            Err(reason) => {
                batch.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    ERROR_RATE_STAGE,
                    "unreadable_standardized_log_event",
                    &reason,
                );
                return;
            }
        };
        let placed = self.windows.add(&event);
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.seen(input.partition, &service_key(&event.service), input.offset);
        }
        if placed.late {
            batch.late += 1;
        } else {
            batch.windowed += 1;
        }
        if let Some(window) = placed.closed {
            self.close(window, batch, out);
        }
    }

    /// Their events will be consumed again: the windows and the detectors must not count
    /// them twice, so they are forgotten and rebuilt as after a rebalance
    /// ([`forget_discarded`]); what the batches saved or restored needs no taking back.
    fn discarded(&mut self, _batches: Vec<RateBatch>) {
        let live = RateLive {
            windows: &mut self.windows,
            bank: &self.detectors,
        };
        forget_discarded(self.checkpoints.as_mut(), live);
    }

    /// A new assignment: with checkpoints, the windows and the bank are rebuilt,
    /// partition by partition; without, they are kept as they are.
    fn rebalanced(&mut self, _assigned: &[i32]) {
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.rebalanced(RateLive {
                windows: &mut self.windows,
                bank: &self.detectors,
            });
        }
    }

    fn committed(&mut self, batch: RateBatch) {
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.committed(batch.checkpoints);
        }
        batch.dead_letters.commit(&self.errors);
        let m = &self.metrics;
        m.windowed.inc_by(batch.windowed);
        m.late.inc_by(batch.late);
        m.windows.inc_by(batch.windows);
        for severity in batch.alerts {
            m.alerts.with_label_values(&[severity.as_str()]).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::event;
    use chrono::Duration;
    use obs_detector::DetectorConfig;
    use obs_records::LogSeverity;

    fn transform() -> ErrorRateTransform {
        let config = DetectorConfig {
            min_history: 30,
            ..DetectorConfig::default()
        };
        ErrorRateTransform::new(
            ErrorRateWindows::new(60, 100),
            Arc::new(Mutex::new(DetectorBank::new(config).unwrap())),
            &TopicsConfig::default(),
            ErrorRateMetrics::register(&obs_service::Metrics::new()).unwrap(),
            ErrorCounter::unregistered(),
            None,
        )
    }

    /// `errors` error events out of ten in minute `minute`, for `billing` of `acme`.
    fn minute(minute: i64, errors: usize) -> Vec<Vec<u8>> {
        (0..10)
            .map(|n| {
                let mut e = event("Billing", minute, &format!("event {n}"));
                e.timestamp += Duration::seconds(n as i64 * 5);
                e.company = Some("acme".into());
                if n < errors {
                    e.severity = LogSeverity::Error;
                }
                serde_json::to_vec(&e).unwrap()
            })
            .collect()
    }

    /// Feeds `payloads` as one batch; the outputs by topic.
    fn feed(
        transform: &mut ErrorRateTransform,
        payloads: &[Vec<u8>],
    ) -> (RateBatch, Vec<ErrorRateRecord>, Vec<Alert>) {
        let mut batch = RateBatch::default();
        let mut out = Outputs::default();
        for (offset, payload) in payloads.iter().enumerate() {
            let input = InputRecord {
                topic: "standardized-app-logs",
                partition: 0,
                offset: offset as i64,
                key: Some(b"Billing"),
                payload: Some(payload),
                headers: None,
                timestamp_ms: None,
            };
            transform.transform(&input, &mut batch, &mut out);
        }
        let mut records = Vec::new();
        let mut alerts = Vec::new();
        for output in out.iter() {
            match &**output.topic {
                "app-log-rates" => records.push(serde_json::from_slice(output.payload).unwrap()),
                "alerts" => alerts.push(serde_json::from_slice(output.payload).unwrap()),
                other => panic!("unexpected output on {other}"),
            }
        }
        (batch, records, alerts)
    }

    /// Calm minutes: one error in ten, every seventh minute two, otherwise none.
    fn calm(minutes: std::ops::Range<i64>) -> Vec<Vec<u8>> {
        minutes
            .flat_map(|m| {
                minute(
                    m,
                    if m % 7 == 0 {
                        2
                    } else {
                        usize::from(m % 3 == 0)
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_burst_of_errors_after_a_calm_period_raises_an_error_rate_alert() {
        let mut transform = transform();
        let (batch, records, alerts) = feed(&mut transform, &calm(0..60));
        transform.committed(batch);
        assert_eq!(records.len(), 59, "the last minute is still open");
        assert!(alerts.is_empty(), "{alerts:#?}");
        let mut burst = minute(60, 9);
        burst.extend(minute(61, 0));
        let (batch, records, alerts) = feed(&mut transform, &burst);
        transform.committed(batch);
        let burst_record = records
            .iter()
            .find(|r| r.window.window_start == crate::logs::testing::at(60))
            .unwrap();
        assert_eq!(
            (burst_record.window.events, burst_record.window.errors),
            (10, 9)
        );
        assert_eq!(alerts.len(), 1, "{records:#?}");
        let alert = &alerts[0];
        assert_eq!(
            (
                alert.detector.as_str(),
                alert.source.as_str(),
                alert.company.as_str()
            ),
            ("error_rate", "billing", "acme")
        );
        assert_eq!(
            (alert.object_id, alert.object_type.as_str()),
            (0, "app-logs")
        );
        assert_eq!(alert.series_key, "app:billing");
        assert!(
            alert.reasons[0].contains("error rate 0.9000"),
            "{:?}",
            alert.reasons
        );
        assert_eq!(
            burst_record.alert_id.as_deref(),
            Some(alert.alert_id.as_str())
        );
    }

    #[test]
    /// With checkpoints off nothing can rebuild the windows and the detectors, so a
    /// discarded batch forgets them, as a restart does, rather than count its events twice.
    fn a_discarded_batch_without_checkpoints_forgets_the_windows_and_detectors() {
        let mut fresh = transform();
        let (_, expected, _) = feed(&mut fresh, &calm(40..45));

        let mut twice = transform();
        let (batch, _, _) = feed(&mut twice, &calm(0..40));
        twice.committed(batch);
        let (discarded, _, _) = feed(&mut twice, &calm(40..45));
        twice.discarded(vec![discarded]);
        let (_, again, _) = feed(&mut twice, &calm(40..45));
        assert_eq!(again, expected);
    }

    #[test]
    fn an_unreadable_event_is_a_dead_letter() {
        let mut transform = transform();
        let mut batch = RateBatch::default();
        let mut out = Outputs::default();
        let input = InputRecord {
            topic: "standardized-app-logs",
            partition: 0,
            offset: 0,
            key: None,
            payload: Some(b"{"),
            headers: None,
            timestamp_ms: None,
        };
        transform.transform(&input, &mut batch, &mut out);
        let outputs: Vec<_> = out.iter().collect();
        assert_eq!(outputs.len(), 1);
        assert_eq!(&**outputs[0].topic, "dead-letters");
    }
}
