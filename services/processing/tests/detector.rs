//! The streaming detectors inside processing, on a real broker: a run far outside its
//! series' history raises a detector alert with an explanation; retrain on demand; a run
//! that comes after a later one of its series is flagged late, scored by the rules and
//! counted.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use obs_kafka::{KafkaConfig, TopicsConfig};
use obs_records::standardize::StandardizedRecord;
use obs_testkit::{produce, read_topic};
use processing::AppState;
use rdkafka::message::OwnedHeaders;
use rdkafka::Message;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

mod support;

/// Run `i` of the one series these tests feed (object 7, hourly).
fn run(i: i64, duration: f64, memory: i64) -> StandardizedRecord {
    support::run(7, i, duration, memory)
}

/// `records` on the topics' `standardized-logs`, and a processing instance started on them.
fn process(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    records: &[StandardizedRecord],
) -> Arc<AppState> {
    let messages = records
        .iter()
        .map(|r| {
            (
                Some(r.series_key.clone().into_bytes()),
                serde_json::to_vec(r).unwrap(),
                OwnedHeaders::new(),
            )
        })
        .collect();
    produce(kafka, &topics.standardized_logs.name, messages);
    let state = AppState::new(support::config(kafka, topics)).unwrap();
    state.start().unwrap();
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_far_from_its_history_raises_a_detector_alert() {
    let topics = obs_testkit::unique_topics();
    let kafka = obs_testkit::kafka();
    obs_kafka::topics::ensure_topics(&kafka, "detector-test", &topics)
        .await
        .unwrap();
    // 150 ordinary hourly runs (a little noise), then one 30 times slower.
    let mut records: Vec<StandardizedRecord> = (0..150)
        .map(|i| run(i, 2.0 + (i % 5) as f64 * 0.1, 5_000_000 + (i % 3) * 100_000))
        .collect();
    records.push(run(150, 60.0, 5_100_000));
    let state = process(&kafka, &topics, &records);

    let processed = read_topic(
        &kafka,
        &topics.processed_metrics.name,
        151,
        Duration::from_secs(3),
        Duration::from_secs(90),
    );
    assert_eq!(processed.len(), 151);
    let last: Value = processed
        .iter()
        .map(|m| serde_json::from_slice::<Value>(m.payload().unwrap()).unwrap())
        .find(|p| p["record_id"] == "acme:150:7")
        .unwrap();
    assert_eq!(last["detector"]["status"], "scored", "{}", last["detector"]);
    assert!(
        last["detector"]["score"].as_f64().unwrap() >= 0.5,
        "{}",
        last["detector"]
    );
    assert_eq!(last["anomalous"], true);
    let first: Value = serde_json::from_slice(processed[0].payload().unwrap()).unwrap();
    assert_eq!(
        first["detector"]["status"], "insufficient_history",
        "{}",
        first["detector"]
    );

    let alerts: Vec<Value> = read_topic(
        &kafka,
        &topics.alerts.name,
        1,
        Duration::from_secs(3),
        Duration::from_secs(30),
    )
    .iter()
    .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
    .collect();
    let alert = alerts
        .iter()
        .find(|a| a["alert_id"] == "acme:150:7/detector")
        .unwrap_or_else(|| panic!("no detector alert for the slow run: {alerts:?}"));
    assert_eq!(alert["detector"], "statistical");
    let reason = alert["reasons"][0].as_str().unwrap();
    // The slow run moved duration and CPU together; either may be named as the most surprising.
    assert!(
        (reason.contains("duration_seconds") || reason.contains("cpu_"))
            && reason.contains("baseline")
            && reason.contains("anomaly score"),
        "{reason}"
    );

    let router = processing::router(state.clone());
    let post = |uri: &str| {
        Request::post(uri)
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap()
    };
    let response = router
        .clone()
        .oneshot(post("/detector/retrain?series=acme:powerbi:7"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["scheduled"], "series", "{body}");
    let response = router
        .clone()
        .oneshot(post("/detector/retrain?series=nope"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = router
        .clone()
        .oneshot(post("/detector/retrain?serie=x"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_run_is_flagged_scored_by_the_rules_and_counted() {
    let topics = obs_testkit::unique_topics();
    let kafka = obs_testkit::kafka();
    obs_kafka::topics::ensure_topics(&kafka, "detector-test", &topics)
        .await
        .unwrap();
    // Hours 0 to 4 in order, then hour 2 of another sequence, arriving last, too big.
    let mut records: Vec<StandardizedRecord> = (0..5).map(|i| run(i, 2.0, 5_000_000)).collect();
    let mut late = run(2, 2.0, 500_000_000);
    late.record_id = "acme:late:7".into();
    late.sequence_id = "late".into();
    records.push(late);
    let state = process(&kafka, &topics, &records);

    let processed: Vec<Value> = read_topic(
        &kafka,
        &topics.processed_metrics.name,
        6,
        Duration::from_secs(3),
        Duration::from_secs(90),
    )
    .iter()
    .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
    .collect();
    assert_eq!(processed.len(), 6);
    let late = processed
        .iter()
        .find(|p| p["record_id"] == "acme:late:7")
        .unwrap();
    assert_eq!(late["late"]["reason"], "older_than_series_latest", "{late}");
    assert_eq!(late["late"]["series_latest"], "2025-09-01T04:00:00+00:00");
    assert!(late["detector"].is_null());
    assert_eq!(late["anomalous"], true, "the rules scored it: {late}");
    assert!(processed
        .iter()
        .filter(|p| p["record_id"] != "acme:late:7")
        .all(|p| p.get("late").is_none()));
    let alerts: Vec<Value> = read_topic(
        &kafka,
        &topics.alerts.name,
        1,
        Duration::from_secs(3),
        Duration::from_secs(30),
    )
    .iter()
    .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
    .collect();
    assert!(
        alerts.iter().any(|a| a["record_id"] == "acme:late:7"),
        "the late run alerts as its rule hit: {alerts:?}"
    );

    // The counters move once the loop has settled the commit: a moment after the read.
    let router = processing::router(state.clone());
    let mut late_lines = String::new();
    for _ in 0..100 {
        late_lines = obs_testkit::metrics_text(&router)
            .await
            .lines()
            .filter(|l| l.starts_with("processing_late_runs_total"))
            .collect();
        if late_lines == "processing_late_runs_total 1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(late_lines, "processing_late_runs_total 1");
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}
