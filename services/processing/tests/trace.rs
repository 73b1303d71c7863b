//! `GET /trace/{record_id}` on a real broker, through the three services: a good run is
//! ingested, standardized and processed, with the times between; a bad one is ingested
//! and dead-lettered with its reason; an unknown id is a 404; the index rebuilt by a
//! restarted instance answers the same; and its bound evicts the record seen first.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use obs_kafka::StageConfig;
use processing::trace::TraceConfig;
use processing::{AppState, ProcessingConfig};
use serde_json::Value;
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
    ingestion: Router,
    standardization: Arc<standardization::AppState>,
}

impl Stack {
    /// Ingestion, and standardization reading the connectors' times in Europe/Paris, where
    /// a time of the spring-forward gap does not exist: such a run passes ingestion and is
    /// dead-lettered by standardization.
    async fn start() -> Self {
        let topics = obs_testkit::unique_topics();
        let kafka = obs_testkit::kafka();
        obs_kafka::topics::ensure_topics(&kafka, "trace-test", &topics)
            .await
            .unwrap();
        let ingestion = ingestion::router(
            ingestion::AppState::new(ingestion::IngestionConfig {
                kafka: kafka.clone(),
                topics: topics.clone(),
                auth: obs_testkit::auth(),
                ..ingestion::IngestionConfig::default()
            })
            .unwrap(),
        );
        let mut config = standardization::StandardizationConfig {
            kafka: kafka.clone(),
            topics: topics.clone(),
            stage: stage_config(&topics, "standardization", "a"),
            auth: obs_testkit::auth(),
            ..standardization::StandardizationConfig::default()
        };
        config.standardize.time_zone = "Europe/Paris".into();
        let standardization = standardization::AppState::new(config).unwrap();
        standardization.start_stage().unwrap();
        Stack {
            topics,
            kafka,
            ingestion,
            standardization,
        }
    }

    fn processing(&self, trace: TraceConfig) -> Arc<AppState> {
        let config = ProcessingConfig {
            kafka: self.kafka.clone(),
            topics: self.topics.clone(),
            stage: stage_config(&self.topics, "processing", "a"),
            trace,
            auth: obs_testkit::auth(),
            ..ProcessingConfig::default()
        };
        let state = AppState::new(config).unwrap();
        state.start().unwrap();
        state
    }

    async fn ingest(&self, runs: &[Value]) {
        let body = runs
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let request = Request::post("/ingest/batch")
            .header("authorization", obs_testkit::bearer())
            .header("content-type", "application/x-ndjson")
            .body(Body::from(body))
            .unwrap();
        let (status, answer) = call(&self.ingestion, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["accepted"], runs.len(), "{answer}");
    }

    async fn stop(self) {
        tokio::task::spawn_blocking(move || self.standardization.stop_stage().unwrap())
            .await
            .unwrap();
    }
}

fn stage_config(topics: &obs_testkit::TestTopics, group: &str, instance: &str) -> StageConfig {
    let group = format!("{group}-{}", topics.raw_logs.name);
    StageConfig {
        batch_max_ms: 50,
        transaction_timeout_ms: 10_000,
        transactional_id: format!("{group}-{instance}"),
        ..StageConfig::for_group(&group)
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

async fn get(state: &Arc<AppState>, uri: &str) -> (StatusCode, Value) {
    let router = processing::router(state.clone());
    call(
        &router,
        Request::get(uri)
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The trace of `record_id` once `done` holds of it (60 s at most).
async fn trace_when(
    state: &Arc<AppState>,
    record_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let uri = format!("/trace/{record_id}");
    let started = Instant::now();
    loop {
        let (status, answer) = get(state, &uri).await;
        if status == StatusCode::OK && done(&answer) {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for the trace of {record_id}: {status} {answer:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn complete(trace: &Value) -> bool {
    trace["complete"] == true
}

/// The first run of the field sample, as object `object_id` (a record id of its own).
fn run(object_id: i64) -> Value {
    let line = std::fs::read_to_string(SEED).unwrap();
    let mut run: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    run["Objet_Id"] = object_id.into();
    run
}

fn record_id(run: &Value) -> String {
    format!(
        "{}:{}:{}",
        run["Entreprise"].as_str().unwrap(),
        run["No_Sequence"].as_str().unwrap(),
        run["Objet_Id"]
    )
}

fn stage_names(trace: &Value) -> Vec<&str> {
    trace["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect()
}

async fn stop(state: Arc<AppState>) {
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_run_is_processed_a_bad_one_dead_lettered_and_an_unknown_id_is_a_404() {
    let stack = Stack::start().await;
    let processing = stack.processing(TraceConfig::default());
    let good = run(1995);
    // 30 March 2025, 02:30 in Paris: the clocks went from 02:00 to 03:00.
    let mut bad = run(1996);
    for (field, value) in [
        ("No_Sequence", "2025-03-30-02-30"),
        ("Date_Sequence", "2025-03-30"),
        ("Heure_Sequence", "02"),
        ("Minute_Sequence", "30"),
        ("Debut", "30-03-2025 02:30:10.000000"),
        ("Fin", "30-03-2025 02:30:11.000000"),
    ] {
        bad[field] = value.into();
    }
    stack.ingest(&[good.clone(), bad.clone()]).await;
    let topics = &stack.topics;

    let trace = trace_when(&processing, &record_id(&good), complete).await;
    assert_eq!(trace["record_id"], record_id(&good));
    assert_eq!(
        stage_names(&trace),
        ["ingested", "standardized", "processed"],
        "{trace:#}"
    );
    let stages = trace["stages"].as_array().unwrap();
    for (stage, topic) in stages.iter().zip([
        &topics.raw_logs.name,
        &topics.standardized_logs.name,
        &topics.processed_metrics.name,
    ]) {
        assert_eq!(stage["topic"], *topic, "{stage}");
        assert!(stage["offset"].as_i64().unwrap() >= 0, "{stage}");
        assert!(stage["partition"].as_i64().unwrap() >= 0, "{stage}");
        let at = stage["at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{stage}");
    }
    let processed = &stages[2];
    assert_eq!(processed["anomalous"], false, "{processed}");
    assert_eq!(processed["severity"], Value::Null);
    assert_eq!(processed["rule_hits"], serde_json::json!([]));
    assert_eq!(processed["detector"], Value::Null, "too young a series");
    assert_eq!(processed["alerts"], 0);
    assert!(processed["efficiency_score"].as_f64().unwrap() > 0.0);
    let durations = &trace["durations_ms"];
    for name in [
        "ingested_to_standardized",
        "standardized_to_processed",
        "ingested_to_processed",
    ] {
        let ms = durations[name].as_i64().unwrap();
        assert!((0..60_000).contains(&ms), "{name}: {durations}");
    }
    assert_eq!(
        durations["ingested_to_processed"].as_i64(),
        Some(
            durations["ingested_to_standardized"].as_i64().unwrap()
                + durations["standardized_to_processed"].as_i64().unwrap()
        )
    );

    let trace = trace_when(&processing, &record_id(&bad), complete).await;
    assert_eq!(
        stage_names(&trace),
        ["ingested", "dead_lettered"],
        "{trace:#}"
    );
    let dead = &trace["stages"][1];
    assert_eq!(dead["topic"], topics.dead_letters.name);
    assert_eq!(dead["stage_of_failure"], "standardization");
    assert_eq!(dead["error_type"], "invalid_timestamp");
    assert!(dead["reason"].as_str().unwrap().contains("Debut"), "{dead}");
    assert_eq!(trace["durations_ms"]["ingested_to_processed"], Value::Null);

    let (status, answer) = get(&processing, "/trace/akonovia:2025-09-05-16-45:7").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "unknown_record");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the trace index holds the last 2 records (oldest from 20"),
        "{message}"
    );

    // A restarted instance rebuilds the same traces from the topics.
    let before = trace_when(&processing, &record_id(&good), complete).await;
    stop(processing).await;
    let processing = stack.processing(TraceConfig::default());
    let after = trace_when(&processing, &record_id(&good), |t| {
        complete(t) && t["view_caught_up"] == true
    })
    .await;
    assert_eq!(after["stages"], before["stages"]);
    let (_, status) = get(&processing, "/status").await;
    assert_eq!(status["trace"]["index"]["held"], 2, "{status:#}");
    assert_eq!(status["trace"]["reader"]["parse_errors"], 0, "{status:#}");
    stop(processing).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_evicts_the_record_seen_first() {
    let stack = Stack::start().await;
    let processing = stack.processing(TraceConfig {
        capacity: 3,
        ..TraceConfig::default()
    });
    let runs: Vec<Value> = (2001..=2005).map(run).collect();
    // One at a time, so that the index sees them in this order.
    for run in &runs {
        stack.ingest(std::slice::from_ref(run)).await;
        trace_when(&processing, &record_id(run), complete).await;
    }
    for evicted in &runs[..2] {
        let (status, answer) = get(&processing, &format!("/trace/{}", record_id(evicted))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["details"]["held"], 3);
        assert_eq!(answer["error"]["details"]["capacity"], 3);
    }
    for held in &runs[2..] {
        let (status, answer) = get(&processing, &format!("/trace/{}", record_id(held))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            stage_names(&answer),
            ["ingested", "standardized", "processed"]
        );
    }
    let router = processing::router(processing.clone());
    let metrics = obs_testkit::metrics_text(&router).await;
    for line in [
        "processing_trace_index_records 3",
        "processing_trace_records_evicted_total 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    stop(processing).await;
    stack.stop().await;
}
