//! The log-event loop against a real Kafka broker: events come out standardized with a
//! severity given or classified, and what cannot be read becomes a dead letter with its
//! bytes, exactly once.

use chrono::{DateTime, Utc};
use obs_kafka::{dead_letter, RecordHeaders, TraceParent};
use obs_records::{
    event_id, LogSeverity, SeveritySource, StandardizedLogEvent, TimestampSource,
    LOG_EVENT_SCHEMA_VERSION,
};
use obs_testkit::{key_of, produce, TestMessage};
use rdkafka::Message;
use serde_json::json;
use standardization::{AppState, StandardizationConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use support::{config, header, read};

mod support;

async fn start(config: &StandardizationConfig) -> Arc<AppState> {
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let state = AppState::new(config.clone()).unwrap();
    state.start_log_stage().unwrap();
    state
}

fn ingested_at() -> DateTime<Utc> {
    "2026-11-21T08:00:00.500Z".parse().unwrap()
}

/// An event as ingestion publishes it: key = service, the record headers.
fn event_message(event: &serde_json::Value) -> TestMessage {
    let bytes = event.to_string().into_bytes();
    let headers = RecordHeaders {
        record_id: event_id(&bytes),
        schema_version: LOG_EVENT_SCHEMA_VERSION.into(),
        content_type: "application/json".into(),
        ingested_at: ingested_at(),
        traceparent: TraceParent::new_root(),
    };
    let key = event["service"].as_str().map(|s| s.as_bytes().to_vec());
    (key, bytes, headers.to_kafka())
}

async fn get(router: &axum::Router, path: &str) -> String {
    use tower::ServiceExt;
    let request = axum::http::Request::get(path)
        .header("authorization", obs_testkit::bearer())
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The committed log-event totals once `expected` inputs are counted.
async fn totals(state: &AppState, expected: u64) -> (u64, u64, u64) {
    for _ in 0..100 {
        let totals = state.log_stage_totals();
        if totals.0 >= expected {
            return totals;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.log_stage_totals()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_standardized_with_a_given_or_classified_severity() {
    let (config, _topics) = config();
    let state = start(&config).await;
    let events = [
        json!({"service": "billing", "message": "Invoice INV-7 issued", "level": "WARN",
            "timestamp": "2026-11-21T07:43:00Z", "attributes": {"company": "akonovia",
            "source": "PowerBI", "object_id": 1204, "tenant": "t1"}}),
        json!({"service": "zoho", "message": "Connection refused: db-1:5432, query failed"}),
        json!({"service": "zoho", "message": "FATAL: cluster down, out of memory, service killed",
            "level": "loud"}),
        json!({"service": "efficy", "message": "Sync of object 88 completed successfully",
            "level": 6}),
    ];
    produce(
        &config.kafka,
        &config.topics.app_logs.name,
        events.iter().map(event_message).collect(),
    );
    let out = read(
        &config,
        &config.topics.standardized_app_logs.name,
        events.len(),
    );
    assert_eq!(out.len(), events.len());
    assert!(read(&config, &config.topics.dead_letters.name, 0).is_empty());
    let by_message: HashMap<String, (StandardizedLogEvent, String)> = out
        .iter()
        .map(|m| {
            let event: StandardizedLogEvent = serde_json::from_slice(m.payload().unwrap()).unwrap();
            assert_eq!(key_of(m), event.service, "keyed by service");
            assert_eq!(header(m, "record-id"), Some(event.event_id.as_str()));
            assert_eq!(header(m, "schema-version"), Some("standardized-app-log-v1"));
            (event.message.clone(), (event, key_of(m)))
        })
        .collect();

    let (given, _) = &by_message["Invoice INV-7 issued"];
    assert_eq!(
        (
            given.severity,
            given.severity_source,
            given.severity_confidence
        ),
        (LogSeverity::Warning, SeveritySource::Given, 1.0)
    );
    assert_eq!(given.level.as_deref(), Some("WARN"));
    assert_eq!(given.timestamp_source, TimestampSource::Given);
    assert_eq!(given.source.as_deref(), Some("powerbi"));
    assert_eq!(given.object_id.as_deref(), Some("1204"));
    assert_eq!(given.attributes["tenant"], "t1");
    assert_eq!(given.event_id, event_id(events[0].to_string().as_bytes()));

    let (refused, _) = &by_message["Connection refused: db-1:5432, query failed"];
    assert_eq!(refused.severity_source, SeveritySource::Classified);
    assert_eq!(refused.severity, LogSeverity::Error);
    assert!((0.0..=1.0).contains(&refused.severity_confidence));
    assert_eq!(refused.timestamp_source, TimestampSource::Received);
    assert_eq!(
        refused.timestamp,
        ingested_at(),
        "the time ingestion received it"
    );

    let (fatal, _) = &by_message["FATAL: cluster down, out of memory, service killed"];
    assert_eq!(
        (fatal.severity, fatal.severity_source),
        (LogSeverity::Critical, SeveritySource::Classified),
        "an unknown level is classified"
    );
    assert_eq!(fatal.level.as_deref(), Some("loud"));

    let (syslog, _) = &by_message["Sync of object 88 completed successfully"];
    assert_eq!(
        (syslog.severity, syslog.severity_source),
        (LogSeverity::Info, SeveritySource::Given)
    );

    assert_eq!(totals(&state, 4).await, (4, 4, 0));
    let router = standardization::router(state.clone());
    let metrics = get(&router, "/metrics").await;
    for line in [
        "standardization_log_events_total{service=\"billing\",severity=\"warning\"} 1",
        "standardization_log_events_total{service=\"zoho\",severity=\"error\"} 1",
        "standardization_log_events_classified_total{severity=\"critical\"} 1",
        "stage_records_consumed_total{input=\"log_events\"} 4",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let status: serde_json::Value = serde_json::from_str(&get(&router, "/status").await).unwrap();
    assert_eq!(
        status["log_events"],
        json!({"in": 4, "standardized": 4, "dead_lettered": 0})
    );
    assert_eq!(
        status["log_events_stage"]["group_id"],
        format!("{}-app-logs", config.stage.group_id)
    );
    let health: serde_json::Value = serde_json::from_str(&get(&router, "/health").await).unwrap();
    let checks = health["checks"].as_array().unwrap();
    assert!(
        checks.contains(&json!({"name": "app_logs_loop", "ok": true, "probe": "live"})),
        "{health}"
    );
    tokio::task::spawn_blocking(move || state.stop_log_stage())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_events_become_dead_letters_with_their_bytes() {
    let (config, _topics) = config();
    let state = start(&config).await;
    let corpus: Vec<(&str, Vec<u8>)> = vec![
        ("malformed_json", b"{\"service\": \"zoho\", ".to_vec()),
        ("malformed_json", Vec::new()),
        ("not_an_object", b"[\"a\"]".to_vec()),
        ("missing_field", br#"{"service":"zoho"}"#.to_vec()),
        (
            "unknown_field",
            br#"{"service":"zoho","message":"m","severity":"high"}"#.to_vec(),
        ),
        (
            "invalid_timestamp",
            br#"{"service":"zoho","message":"m","timestamp":"now"}"#.to_vec(),
        ),
    ];
    let mut messages: Vec<TestMessage> = corpus
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let headers = rdkafka::message::OwnedHeaders::new().insert(rdkafka::message::Header {
                key: "case",
                value: Some(&i.to_string()),
            });
            (
                Some(format!("key-{i}").into_bytes()),
                bytes.clone(),
                headers,
            )
        })
        .collect();
    messages.push(event_message(&json!({"service": "zoho", "message": "ok"})));
    produce(&config.kafka, &config.topics.app_logs.name, messages);

    let dead = read(&config, &config.topics.dead_letters.name, corpus.len());
    assert_eq!(dead.len(), corpus.len());
    for message in &dead {
        let case: usize = header(message, "case").unwrap().parse().unwrap();
        let (kind, bytes) = &corpus[case];
        assert_eq!(
            message.payload().unwrap_or_default(),
            bytes.as_slice(),
            "case {case}"
        );
        assert_eq!(key_of(message), format!("key-{case}"));
        assert_eq!(
            header(message, dead_letter::ERROR_KIND),
            Some(*kind),
            "case {case}"
        );
        assert_eq!(
            header(message, dead_letter::STAGE),
            Some("standardization-app-logs")
        );
        assert_eq!(
            header(message, dead_letter::SOURCE_TOPIC),
            Some(config.topics.app_logs.name.as_str())
        );
        assert!(!header(message, dead_letter::REASON).unwrap().is_empty());
    }
    assert_eq!(
        read(&config, &config.topics.standardized_app_logs.name, 1).len(),
        1
    );
    assert_eq!(
        totals(&state, 7).await,
        (7, 1, 6),
        "in = standardized + dead-lettered"
    );
    tokio::task::spawn_blocking(move || state.stop_log_stage())
        .await
        .unwrap()
        .unwrap();
}
