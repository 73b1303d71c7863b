//! Each service's error rate as a detector series, on a real broker: a burst of error
//! events after a calm period raises an `error_rate` alert, in the same transactions as
//! the window records on `app-log-rates`.

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use obs_detector::{Alert, DetectorConfig};
use obs_kafka::{RecordHeaders, StageConfig, TraceParent};
use obs_records::{
    LogSeverity, SeveritySource, StandardizedLogEvent, TimestampSource,
    STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use obs_testkit::{key_of, produce, read_topic, TestMessage};
use processing::logs::{ErrorRateRecord, LogsConfig};
use processing::{AppState, ProcessingConfig};
use rdkafka::Message;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

fn at(minute: i64, second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
        + Span::minutes(minute)
        + Span::seconds(second)
}

/// Ten events of `billing` in `minute`, `errors` of them errors, as standardization
/// publishes them (key = service).
fn minute(minute: i64, errors: usize) -> Vec<TestMessage> {
    (0..10)
        .map(|n| {
            let severity = if n < errors {
                LogSeverity::Error
            } else {
                LogSeverity::Info
            };
            let event = StandardizedLogEvent {
                event_id: format!("{minute}-{n}"),
                schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
                service: "billing".into(),
                message: format!("invoice run {minute}.{n}"),
                level: Some(severity.as_str().into()),
                severity,
                severity_source: SeveritySource::Given,
                severity_confidence: 1.0,
                timestamp: at(minute, n as i64 * 5),
                timestamp_source: TimestampSource::Given,
                company: Some("acme".into()),
                source: None,
                object_id: None,
                record_id: None,
                trace_id: None,
                attributes: serde_json::Map::new(),
            };
            let headers = RecordHeaders {
                record_id: event.event_id.clone(),
                schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
                content_type: "application/json".into(),
                ingested_at: Utc::now(),
                traceparent: TraceParent::new_root(),
            };
            (
                Some(b"billing".to_vec()),
                serde_json::to_vec(&event).unwrap(),
                headers.to_kafka(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_errors_after_a_calm_period_raises_an_alert() {
    let kafka = obs_testkit::kafka();
    let topics = obs_testkit::unique_topics();
    obs_kafka::topics::ensure_topics(&kafka, "error-rate-test", &topics)
        .await
        .unwrap();
    // An hour of calm (no error, one in ten every third minute, two every seventh), then
    // a minute of nine errors in ten, closed by the next minute's first event.
    let mut messages: Vec<TestMessage> = (0..60)
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
        .collect();
    messages.extend(minute(60, 9));
    messages.extend(minute(61, 0));
    produce(&kafka, &topics.standardized_app_logs.name, messages);

    let group = format!("test-{}", topics.raw_logs.name);
    let config = ProcessingConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        stage: StageConfig {
            batch_max_ms: 50,
            transaction_timeout_ms: 10_000,
            transactional_id: format!("{group}-a"),
            ..StageConfig::for_group(&group)
        },
        detector: DetectorConfig {
            min_history: 30,
            ..DetectorConfig::default()
        },
        logs: LogsConfig {
            error_rate_window_seconds: 60,
            ..LogsConfig::default()
        },
        auth: obs_testkit::auth(),
        ..ProcessingConfig::default()
    };
    let state = AppState::new(config).unwrap();
    state.start().unwrap();

    let read = |topic: &str, expected| {
        read_topic(
            &kafka,
            topic,
            expected,
            Duration::from_secs(3),
            Duration::from_secs(90),
        )
    };
    let windows: Vec<ErrorRateRecord> = read(&topics.app_log_rates.name, 61)
        .iter()
        .map(|m| {
            assert_eq!(key_of(m), "billing", "keyed by service");
            serde_json::from_slice(m.payload().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(windows.len(), 61, "every minute but the last, once");
    let alerts: Vec<Alert> = read(&topics.alerts.name, 1)
        .iter()
        .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(
        (
            alert.detector.as_str(),
            alert.source.as_str(),
            alert.company.as_str(),
            alert.object_id,
            alert.object_type.as_str()
        ),
        ("error_rate", "billing", "acme", 0, "app-logs")
    );
    assert_eq!(alert.run_started_at, at(60, 0));
    assert!(
        alert.reasons[0].starts_with("error rate 0.9000 (9 of 10 events) against a baseline of"),
        "{:?}",
        alert.reasons
    );
    let burst = windows
        .iter()
        .find(|w| w.window.window_start == at(60, 0))
        .unwrap();
    assert_eq!((burst.window.events, burst.window.errors), (10, 9));
    assert_eq!(burst.alert_id.as_deref(), Some(alert.alert_id.as_str()));
    assert!(windows
        .iter()
        .filter(|w| w.window.window_start != at(60, 0))
        .all(|w| w.alert_id.is_none()));

    let metrics = obs_testkit::metrics_text(&processing::router(state.clone())).await;
    for line in [
        "processing_app_log_events_windowed_total 620",
        "processing_app_log_windows_total 61",
        "processing_app_log_error_rate_alerts_total{severity=\"",
        "stage_records_consumed_total{input=\"log_events\"} 620",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let response = processing::router(state.clone())
        .oneshot(
            Request::get("/status")
                .header("authorization", obs_testkit::bearer())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        status["logs"]["error_rate_stage"]["group_id"],
        format!("{group}-app-logs")
    );
    assert_eq!(status["logs"]["error_rate_detector"]["series"], 1);
    state.stop().unwrap();
}
