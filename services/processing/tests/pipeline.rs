//! The field data through the three services on a real broker: the analytics answers, the
//! alerts, and the same answers after a restart and with two processing replicas.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use obs_kafka::headers::RECORD_ID;
use obs_kafka::StageConfig;
use obs_testkit::read_topic;
use processing::{AppState, ProcessingConfig, Role};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::Message;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);

struct Stack {
    topics: obs_testkit::TestTopics,
    kafka: obs_kafka::KafkaConfig,
}

impl Stack {
    fn new() -> Self {
        Stack {
            topics: obs_testkit::unique_topics(),
            kafka: obs_testkit::kafka(),
        }
    }

    fn stage(&self, group: &str, instance: &str) -> StageConfig {
        let group = format!("{group}-{}", self.topics.raw_logs.name);
        StageConfig {
            batch_max_ms: 50,
            transaction_timeout_ms: 10_000,
            transactional_id: format!("{group}-{instance}"),
            ..StageConfig::for_group(&group)
        }
    }

    fn processing(&self, instance: &str) -> Arc<AppState> {
        self.processing_as(instance, Role::All)
    }

    fn processing_as(&self, instance: &str, role: Role) -> Arc<AppState> {
        let config = ProcessingConfig {
            role,
            kafka: self.kafka.clone(),
            topics: self.topics.clone(),
            stage: self.stage("processing", instance),
            auth: obs_testkit::auth(),
            ..ProcessingConfig::default()
        };
        let state = AppState::new(config).unwrap();
        state.start().unwrap();
        state
    }

    /// Ingests the field data through ingestion and runs standardization over it.
    async fn ingest_and_standardize(&self) -> Arc<standardization::AppState> {
        obs_kafka::topics::ensure_topics(&self.kafka, "pipeline-test", &self.topics)
            .await
            .unwrap();
        let ingestion = ingestion::router(
            ingestion::AppState::new(ingestion::IngestionConfig {
                kafka: self.kafka.clone(),
                topics: self.topics.clone(),
                auth: obs_testkit::auth(),
                ..ingestion::IngestionConfig::default()
            })
            .unwrap(),
        );
        let request = Request::post("/ingest/batch")
            .header("authorization", obs_testkit::bearer())
            .header("content-type", "application/x-ndjson")
            .body(Body::from(std::fs::read(SEED).unwrap()))
            .unwrap();
        let (status, body) = call(&ingestion, request).await;
        assert_eq!(
            (status, body["accepted"].clone()),
            (StatusCode::ACCEPTED, Value::from(72))
        );
        let standardization =
            standardization::AppState::new(standardization::StandardizationConfig {
                kafka: self.kafka.clone(),
                topics: self.topics.clone(),
                stage: self.stage("standardization", "a"),
                auth: obs_testkit::auth(),
                ..standardization::StandardizationConfig::default()
            })
            .unwrap();
        standardization.start_stage().unwrap();
        standardization
    }

    fn read(&self, topic: &str, expected: usize) -> Vec<OwnedMessage> {
        read_topic(
            &self.kafka,
            topic,
            expected,
            Duration::from_secs(3),
            Duration::from_secs(90),
        )
    }
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(state: &Arc<AppState>, uri: &str) -> Value {
    let (status, body) = request(state, "GET", uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

async fn request(state: &Arc<AppState>, method: &str, uri: &str) -> (StatusCode, Value) {
    call(
        &processing::router(state.clone()),
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// `/health/ready`'s answer once it is 200, or the last one after 90 s.
async fn ready(state: &Arc<AppState>) -> (StatusCode, Value) {
    let started = Instant::now();
    loop {
        let answer = request(state, "GET", "/health/ready").await;
        if answer.0 == StatusCode::OK || started.elapsed() > Duration::from_secs(90) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The summary once the view holds `expected` records.
async fn summary_when_complete(state: &Arc<AppState>, expected: u64) -> Value {
    let started = Instant::now();
    loop {
        let summary = get(state, "/analytics/summary").await;
        if summary["total_logs_processed"] == expected
            || started.elapsed() > Duration::from_secs(90)
        {
            return summary;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_field_summary(summary: &Value) {
    assert_eq!(summary["total_logs_processed"], 72, "{summary}");
    assert_eq!(summary["success_count"], 71);
    assert_eq!(summary["failed_count"], 1);
    assert_eq!(summary["total_sources"], 6);
    assert_eq!(summary["anomaly_count"], 11);
    let efficiency = summary["average_efficiency_score"].as_f64().unwrap();
    assert!((efficiency - 67.10).abs() <= 0.01, "{efficiency}");
}

async fn assert_field_anomalies(state: &Arc<AppState>) {
    // The view reads `alerts` beside `processed-metrics`: the alerts of records already
    // counted may still be on their way.
    let started = Instant::now();
    let anomalies = loop {
        let anomalies = get(state, "/analytics/anomalies?limit=500").await;
        if anomalies["count"] == 11 || started.elapsed() > Duration::from_secs(90) {
            break anomalies;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let list = anomalies["anomalies"].as_array().unwrap();
    assert_eq!(list.len(), 11, "{anomalies}");
    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    for alert in list {
        assert!(!alert["reasons"].as_array().unwrap().is_empty());
        for rule in alert["rules"].as_array().unwrap() {
            *rules.entry(rule.as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    let expected: BTreeMap<String, usize> = [
        ("failure", 1),
        ("high_memory", 4),
        ("low_efficiency", 8),
        ("negative_memory", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(rules, expected);
    let failed = list.iter().find(|a| a["rules"][0] == "failure").unwrap();
    assert_eq!(failed["severity"], "critical");
    assert_eq!(failed["object_id"], 1035);
}

fn record_ids(messages: &[OwnedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let headers = m.headers().unwrap();
            let id = headers
                .iter()
                .find(|h| h.key == RECORD_ID)
                .unwrap()
                .value
                .unwrap();
            String::from_utf8(id.to_vec()).unwrap()
        })
        .collect()
}

async fn stop(state: Arc<AppState>) {
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_data_end_to_end_then_the_same_after_a_restart() {
    let stack = Stack::new();
    let standardization = stack.ingest_and_standardize().await;
    let processing = stack.processing("a");

    let summary = summary_when_complete(&processing, 72).await;
    assert_field_summary(&summary);
    assert_field_anomalies(&processing).await;
    let sources = get(&processing, "/analytics/sources").await;
    assert_eq!(sources["sources"].as_array().unwrap().len(), 6, "{sources}");
    let recent = get(&processing, "/analytics/recent?limit=5&status=FAILED").await;
    assert_eq!(recent["records"].as_array().unwrap().len(), 1, "{recent}");
    let alerts = stack.read(&stack.topics.alerts.name, 11);
    assert_eq!(alerts.len(), 11);
    assert_eq!(
        stack.read(&stack.topics.processed_metrics.name, 72).len(),
        72
    );

    // A restart rebuilds the view from the topics and raises no new alert.
    stop(processing).await;
    let restarted = stack.processing("a");
    let again = summary_when_complete(&restarted, 72).await;
    assert_eq!(
        (
            again["anomaly_count"].clone(),
            again["total_logs_processed"].clone()
        ),
        (
            summary["anomaly_count"].clone(),
            summary["total_logs_processed"].clone()
        )
    );
    assert_field_summary(&again);
    assert_field_anomalies(&restarted).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.read(&stack.topics.alerts.name, 11).len(),
        11,
        "no new alerts"
    );
    assert_eq!(
        stack.read(&stack.topics.processed_metrics.name, 72).len(),
        72
    );
    stop(restarted).await;
    tokio::task::spawn_blocking(move || standardization.stop_stage())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processing_replicas_give_the_same_answers_and_process_each_record_once() {
    let stack = Stack::new();
    let first = stack.processing("a");
    let second = stack.processing("b");
    // Let both join the group before the records arrive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let standardization = stack.ingest_and_standardize().await;

    for replica in [&first, &second] {
        assert_field_summary(&summary_when_complete(replica, 72).await);
        assert_field_anomalies(replica).await;
    }
    let processed = stack.read(&stack.topics.processed_metrics.name, 72);
    let ids = record_ids(&processed);
    assert_eq!(ids.len(), 72);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        72,
        "each record processed once"
    );
    assert_eq!(stack.read(&stack.topics.alerts.name, 11).len(), 11);
    let consumed: Vec<u64> = [&first, &second]
        .iter()
        .map(|s| s.stage_consumed())
        .collect();
    assert_eq!(
        consumed.iter().sum::<u64>(),
        72,
        "the replicas shared the work: {consumed:?}"
    );

    stop(first).await;
    stop(second).await;
    tokio::task::spawn_blocking(move || standardization.stop_stage())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stages_instance_and_a_views_instance_share_the_work_between_them() {
    let stack = Stack::new();
    let stages = stack.processing_as("a", Role::Stages);
    let views = stack.processing_as("v", Role::Views);
    let standardization = stack.ingest_and_standardize().await;

    // The views instance answers for what the stages instance processed.
    assert_field_summary(&summary_when_complete(&views, 72).await);
    assert_field_anomalies(&views).await;
    assert_eq!(stages.stage_consumed(), 72);
    assert_eq!(views.stage_consumed(), 0, "the views run no stage");
    assert_eq!(
        stack.read(&stack.topics.processed_metrics.name, 72).len(),
        72
    );
    let started = Instant::now();
    let incidents = loop {
        let incidents = get(&views, "/incidents?limit=100").await;
        if !incidents["incidents"].as_array().unwrap().is_empty()
            || started.elapsed() > Duration::from_secs(90)
        {
            break incidents;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        !incidents["incidents"].as_array().unwrap().is_empty(),
        "the views instance shows the incidents the stages opened"
    );

    // Each is ready on its own parts, and serves only its own routes.
    for (instance, role) in [(&stages, "stages"), (&views, "views")] {
        let (status, body) = ready(instance).await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
        assert_eq!(get(instance, "/status").await["role"], role);
    }
    let (_, stages_health) = request(&stages, "GET", "/health").await;
    let (_, views_health) = request(&views, "GET", "/health").await;
    let checks = |health: &Value| -> Vec<String> {
        let checks = health["checks"].as_array().unwrap();
        checks
            .iter()
            .map(|c| c["name"].to_string().replace('"', ""))
            .collect()
    };
    assert!(checks(&stages_health).contains(&"stage_partitions".into()));
    assert!(checks(&stages_health).contains(&"incident_stage_partitions".into()));
    assert!(!checks(&stages_health).contains(&"analytics_view".into()));
    assert!(checks(&views_health).contains(&"analytics_view".into()));
    assert!(!checks(&views_health).contains(&"stage_partitions".into()));
    for uri in ["/analytics/summary", "/incidents", "/logs", "/console/"] {
        assert_eq!(
            request(&stages, "GET", uri).await.0,
            StatusCode::NOT_FOUND,
            "stages: {uri}"
        );
    }
    assert_eq!(
        request(&views, "POST", "/detector/retrain").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        request(&stages, "POST", "/detector/retrain").await.0,
        StatusCode::ACCEPTED
    );

    stop(stages).await;
    stop(views).await;
    tokio::task::spawn_blocking(move || standardization.stop_stage())
        .await
        .unwrap()
        .unwrap();
}
