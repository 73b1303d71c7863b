//! The log index against a real broker: every partition of `standardized-app-logs` read
//! from the beginning, unreadable payloads skipped, partitions added later read too, and
//! `GET /logs` with each of its filters.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use obs_detector::DetectorConfig;
use obs_kafka::KafkaConfig;
use obs_records::{
    LogSeverity, SeveritySource, StandardizedLogEvent, TimestampSource,
    STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use processing::logs::{Logs, LogsConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Span::minutes(minute)
}

fn event(service: &str, minute: i64, severity: LogSeverity, message: &str) -> Vec<u8> {
    serde_json::to_vec(&StandardizedLogEvent {
        event_id: format!("{service}-{minute}"),
        schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
        service: service.into(),
        message: message.into(),
        level: Some(severity.as_str().into()),
        severity,
        severity_source: SeveritySource::Given,
        severity_confidence: 1.0,
        timestamp: at(minute),
        timestamp_source: TimestampSource::Given,
        company: Some("acme".into()),
        source: None,
        object_id: None,
        record_id: None,
        trace_id: None,
        attributes: serde_json::Map::new(),
    })
    .unwrap()
}

async fn send(producer: &FutureProducer, topic: &str, partition: i32, payload: &[u8]) {
    let started = Instant::now();
    // Retried while a partition just added is not in the producer's metadata yet.
    while let Err((error, _)) = producer
        .send(
            FutureRecord::<(), [u8]>::to(topic)
                .partition(partition)
                .payload(payload),
            Duration::from_secs(10),
        )
        .await
    {
        assert!(started.elapsed() < Duration::from_secs(30), "{error}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn producer(kafka: &KafkaConfig) -> FutureProducer {
    kafka
        .client_config("log-index-test")
        .set("acks", "all")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap()
}

/// `GET uri`: status, `x-view-caught-up`, body.
async fn get(logs: &Logs, uri: &str) -> (StatusCode, Option<String>, Value) {
    let response = axum::Router::from(logs.router())
        .oneshot(
            Request::get(uri)
                .header("authorization", obs_testkit::bearer())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let caught_up = response
        .headers()
        .get("x-view-caught-up")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, caught_up, serde_json::from_slice(&bytes).unwrap())
}

fn messages(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the index holds `held` events, and returns the unfiltered answer.
async fn wait_for_held(logs: &Logs, held: u64) -> Value {
    let started = Instant::now();
    loop {
        let (_, caught_up, body) = get(logs, "/logs?limit=1000").await;
        if caught_up.as_deref() == Some("true") && body["index"]["held"] == held {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {held} events: {}",
            serde_json::json!(logs.status())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_reads_every_partition_and_answers_each_filter() {
    let kafka = obs_testkit::kafka();
    let mut topics = obs_testkit::unique_topics();
    topics.standardized_app_logs.partitions = 2;
    obs_kafka::topics::ensure_topics(&kafka, "log-index-test", &topics)
        .await
        .unwrap();
    let topic = topics.standardized_app_logs.name.clone();
    let producer = producer(&kafka);
    use LogSeverity::*;
    let published = [
        (0, "billing", 0, Info, "Invoice INV-1 sent"),
        (1, "billing", 1, Error, "Invoice INV-2 failed: SMTP timeout"),
        (
            0,
            "sync-worker",
            2,
            Warning,
            "Slow sync of PowerBI datasets",
        ),
        (1, "Sync Worker", 3, Critical, "Database down"),
        (0, "billing", 4, Debug, "tick"),
    ];
    for (partition, service, minute, severity, message) in published {
        send(
            &producer,
            &topic,
            partition,
            &event(service, minute, severity, message),
        )
        .await;
    }
    send(&producer, &topic, 1, b"not an event").await;

    let registry = obs_service::Metrics::new();
    let logs = Logs::new(
        LogsConfig {
            partition_check_ms: 200,
            ..LogsConfig::default()
        },
        DetectorConfig::default(),
        &registry,
    )
    .unwrap();
    logs.start_reader(&kafka, &topics, &registry).unwrap();
    let all = wait_for_held(&logs, 5).await;
    assert_eq!(
        messages(&all),
        [
            "tick",
            "Database down",
            "Slow sync of PowerBI datasets",
            "Invoice INV-2 failed: SMTP timeout",
            "Invoice INV-1 sent"
        ],
        "newest first across partitions"
    );
    assert_eq!(all["total_matched"], 5);
    assert_eq!(all["index"]["oldest"], "2026-03-02T09:00:00Z");
    assert_eq!(
        serde_json::json!(logs.status())["reader"]["parse_errors"],
        1
    );

    for (query, expected) in [
        (
            "service=SYNC-WORKER",
            vec!["Database down", "Slow sync of PowerBI datasets"],
        ),
        (
            "severity=error",
            vec!["Database down", "Invoice INV-2 failed: SMTP timeout"],
        ),
        (
            "q=invoice",
            vec!["Invoice INV-2 failed: SMTP timeout", "Invoice INV-1 sent"],
        ),
        (
            "from=2026-03-02T09:01:00Z&to=2026-03-02T09:03:00Z",
            vec![
                "Database down",
                "Slow sync of PowerBI datasets",
                "Invoice INV-2 failed: SMTP timeout",
            ],
        ),
        ("limit=2", vec!["tick", "Database down"]),
        (
            "service=billing&severity=info&q=INV",
            vec!["Invoice INV-2 failed: SMTP timeout", "Invoice INV-1 sent"],
        ),
    ] {
        let (status, caught_up, body) = get(&logs, &format!("/logs?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(caught_up.as_deref(), Some("true"));
        assert_eq!(messages(&body), expected, "{query}");
    }
    let (_, _, body) = get(&logs, "/logs?limit=2").await;
    assert_eq!(body["total_matched"], 5, "counted beyond the limit");
    let (status, _, body) = get(&logs, "/logs?severity=loud").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"]["parameter"], "severity");

    // Live: a new event, and one on a partition added after the reader started.
    send(
        &producer,
        &topic,
        0,
        &event("billing", 5, Info, "Invoice INV-3 sent"),
    )
    .await;
    let admin: AdminClient<DefaultClientContext> =
        kafka.client_config("log-index-test").create().unwrap();
    let results = admin
        .create_partitions(&[NewPartitions::new(&topic, 3)], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    send(
        &producer,
        &topic,
        2,
        &event("payroll", 6, Error, "Payslips not generated"),
    )
    .await;
    let all = wait_for_held(&logs, 7).await;
    assert_eq!(
        messages(&all)[..2],
        ["Payslips not generated", "Invoice INV-3 sent"]
    );
    let rendered = registry.render();
    assert!(
        rendered.contains("processing_log_events_indexed_total 7"),
        "{rendered}"
    );
    assert!(
        rendered.contains("processing_log_index_records 7"),
        "{rendered}"
    );
    logs.stop().unwrap();
}
