//! Incidents on a real broker, through the three services: the field sample plus a burst of
//! failures of one source → one source-wide incident with its evidence (the failed runs,
//! the log events of that source in the window and not those outside it); its lifecycle
//! through the API; the same incidents after a restart; reopening; resolution by recovery.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use obs_kafka::StageConfig;
use processing::{AppState, ProcessingConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);
const COMPANY: &str = "akonovia";
/// The burst's source, as connectors write it and as standardization slugs it.
const SOURCE: &str = "Efficy";
const SOURCE_SLUG: &str = "efficy";
const BURST_OBJECTS: [i64; 4] = [1014, 1015, 1016, 1017];

struct Stack {
    topics: obs_testkit::TestTopics,
    kafka: obs_kafka::KafkaConfig,
    ingestion: Router,
    standardization: Arc<standardization::AppState>,
}

impl Stack {
    async fn start() -> Self {
        let topics = obs_testkit::unique_topics();
        let kafka = obs_testkit::kafka();
        obs_kafka::topics::ensure_topics(&kafka, "incidents-test", &topics)
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
        let standardization =
            standardization::AppState::new(standardization::StandardizationConfig {
                kafka: kafka.clone(),
                topics: topics.clone(),
                stage: stage_config(&topics, "standardization", "a"),
                auth: obs_testkit::auth(),
                ..standardization::StandardizationConfig::default()
            })
            .unwrap();
        standardization.start_stage().unwrap();
        standardization.start_log_stage().unwrap();
        Stack {
            topics,
            kafka,
            ingestion,
            standardization,
        }
    }

    fn processing(&self, instance: &str) -> Arc<AppState> {
        let config = ProcessingConfig {
            kafka: self.kafka.clone(),
            topics: self.topics.clone(),
            stage: stage_config(&self.topics, "processing", instance),
            auth: obs_testkit::auth(),
            ..ProcessingConfig::default()
        };
        let state = AppState::new(config).unwrap();
        state.start().unwrap();
        state
    }

    async fn ingest(&self, uri: &str, content_type: &str, body: String) {
        let request = Request::post(uri)
            .header("authorization", obs_testkit::bearer())
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        let (status, answer) = call(&self.ingestion, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{uri}: {answer}");
    }

    /// The field sample, then a burst of failures of [`BURST_OBJECTS`] a minute apart.
    async fn ingest_sample_and_burst(&self) {
        let seed = std::fs::read_to_string(SEED).unwrap();
        self.ingest("/ingest/batch", "application/x-ndjson", seed)
            .await;
        let burst = BURST_OBJECTS
            .iter()
            .enumerate()
            .map(|(i, &object)| run(object, 50 + i as u32, true));
        self.ingest("/ingest/batch", "application/x-ndjson", ndjson(burst))
            .await;
    }

    async fn stop(self) {
        tokio::task::spawn_blocking(move || {
            self.standardization.stop_stage().unwrap();
            self.standardization.stop_log_stage().unwrap();
        })
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

async fn get(state: &Arc<AppState>, uri: &str) -> Value {
    let (status, body) = answer_of(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

/// `GET uri` of an instance in this process, whatever its status.
async fn answer_of(state: &Arc<AppState>, uri: &str) -> (StatusCode, Value) {
    let router = processing::router(state.clone());
    let request = Request::get(uri)
        .header("authorization", obs_testkit::bearer())
        .body(Body::empty())
        .unwrap();
    call(&router, request).await
}

async fn post(state: &Arc<AppState>, uri: &str, body: Value) -> (StatusCode, Value) {
    let router = processing::router(state.clone());
    let request = Request::post(uri)
        .header("authorization", obs_testkit::bearer())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    call(&router, request).await
}

/// Polls `uri` until it answers 200 and `done` holds of its answer (60 s at most).
async fn wait_for(
    state: &Arc<AppState>,
    uri: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let router = processing::router(state.clone());
    let started = Instant::now();
    loop {
        let request = Request::get(uri)
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap();
        let (status, answer) = call(&router, request).await;
        if status == StatusCode::OK && done(&answer) {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {status} {answer:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A run of the burst's source written as the connectors write it, from the field
/// sample's first Efficy row.
fn run(object_id: i64, minute: u32, failed: bool) -> String {
    let template = std::fs::read_to_string(SEED)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["Source"] == SOURCE)
        .unwrap();
    let mut run = template;
    let sequence = format!("2025-09-05-16-{minute:02}");
    run["No_Sequence"] = sequence.into();
    run["Minute_Sequence"] = format!("{minute:02}").into();
    run["Objet_Id"] = object_id.into();
    run["Debut"] = format!("05-09-2025 16:{minute:02}:10.000000").into();
    run["Fin"] = format!("05-09-2025 16:{minute:02}:18.774434").into();
    run["Duree secondes"] = 8.774434.into();
    if failed {
        run["Etat"] = "FAILED".into();
        run["Description"] = "Erreur: HTTPSConnectionPool read timed out".into();
    }
    run.to_string()
}

fn ndjson(lines: impl IntoIterator<Item = String>) -> String {
    lines.into_iter().collect::<Vec<_>>().join("\n")
}

fn log_event(message: &str, service: &str, at: &str, attributes: Value) -> String {
    json!({
        "message": message,
        "service": service,
        "level": "error",
        "timestamp": at,
        "attributes": attributes,
    })
    .to_string()
}

fn texts(values: &Value, field: &str) -> Vec<String> {
    let mut texts: Vec<String> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failures_is_one_source_wide_incident_with_its_evidence_and_lifecycle() {
    let stack = Stack::start().await;
    stack.ingest_sample_and_burst().await;
    let attributes = json!({ "company": COMPANY, "source": SOURCE });
    let events = [
        log_event(
            "efficy API answered 503",
            "connector-runner",
            "2025-09-05T16:52:00Z",
            attributes.clone(),
        ),
        log_event(
            "efficy token refresh failed",
            "connector-runner",
            "2025-09-05T16:40:00Z",
            attributes.clone(),
        ),
        log_event(
            "efficy pool exhausted",
            SOURCE_SLUG,
            "2025-09-05T16:51:00Z",
            json!({}),
        ),
        log_event(
            "efficy nightly cleanup",
            "connector-runner",
            "2025-09-05T18:00:00Z",
            attributes,
        ),
        log_event(
            "zoho quota reached",
            "connector-runner",
            "2025-09-05T16:52:00Z",
            json!({ "company": COMPANY, "source": "zohobooks" }),
        ),
    ];
    stack
        .ingest("/log", "application/x-ndjson", ndjson(events))
        .await;

    let processing = stack.processing("a");
    let uri = format!("/incidents?source={SOURCE_SLUG}&company={COMPANY}");
    let listing = wait_for(&processing, &uri, "the burst's incident", |answer| {
        answer["incidents"].as_array().is_some_and(|list| {
            list.iter().any(|i| {
                i["scope"]["kind"] == "source"
                    && BURST_OBJECTS
                        .iter()
                        .all(|o| i["objects"].as_array().unwrap().contains(&json!(o)))
            })
        })
    })
    .await;
    let active: Vec<&Value> = listing["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] != "resolved")
        .collect();
    assert_eq!(
        active.len(),
        1,
        "one incident for the source, not one per object: {listing:#}"
    );
    let incident = active[0];
    assert_eq!(incident["severity"], "critical", "{incident:#}");
    let id = incident["id"].as_str().unwrap().to_owned();

    // Its evidence: the failed runs, the log events of the source in the window.
    let shown = wait_for(
        &processing,
        &format!("/incidents/{id}"),
        "the log events",
        |answer| {
            answer["incident"]["evidence"]["log_events"]
                .as_array()
                .is_some_and(|e| e.len() >= 3)
        },
    )
    .await;
    let evidence = &shown["incident"]["evidence"];
    let failed_runs: Vec<i64> = evidence["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "FAILED")
        .map(|r| r["object_id"].as_i64().unwrap())
        .collect();
    for object in BURST_OBJECTS {
        assert!(
            failed_runs.contains(&object),
            "failed run of {object} in {evidence:#}"
        );
    }
    assert!(!evidence["alerts"].as_array().unwrap().is_empty());
    assert_eq!(
        texts(&evidence["log_events"], "message"),
        [
            "efficy API answered 503",
            "efficy pool exhausted",
            "efficy token refresh failed"
        ],
        "{evidence:#}"
    );
    assert!(!shown["incident"]["timeline"].as_array().unwrap().is_empty());

    // The lifecycle through the API.
    let base = format!("/incidents/{id}");
    let (status, body) = post(
        &processing,
        &format!("{base}/acknowledge"),
        json!({ "note": "x" }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("by")),
        "{body}"
    );
    let (status, _) = post(
        &processing,
        "/incidents/inc-0000000000000000/acknowledge",
        json!({ "by": "alice" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post(
        &processing,
        &format!("{base}/acknowledge"),
        json!({ "by": "alice", "note": "looking" }),
    )
    .await;
    assert_eq!(
        (status, body["incident"]["status"].clone()),
        (StatusCode::OK, json!("acknowledged")),
        "{body}"
    );
    assert_eq!(body["incident"]["acknowledged"]["by"], "alice");
    let (status, _) = post(
        &processing,
        &format!("{base}/acknowledge"),
        json!({ "by": "bob" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = post(
        &processing,
        &format!("{base}/resolve"),
        json!({ "by": "alice", "note": "API back" }),
    )
    .await;
    assert_eq!(
        (status, body["incident"]["status"].clone()),
        (StatusCode::OK, json!("resolved")),
        "{body}"
    );
    let (status, body) = post(
        &processing,
        &format!("{base}/resolve"),
        json!({ "by": "alice" }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("impossible_transition")),
        "{body}"
    );
    let resolved = get(&processing, &base).await;

    // A restart (another instance of the same name) gives the same incidents, the same states.
    tokio::task::spawn_blocking({
        let processing = processing.clone();
        move || processing.stop().unwrap()
    })
    .await
    .unwrap();
    let restarted = stack.processing("a");
    let again = wait_for(&restarted, &base, "the view after a restart", |a| {
        a["view_caught_up"] == true
    })
    .await;
    assert_eq!(again["incident"], resolved["incident"]);

    // The same source failing again within the reopening window: the same incident, open.
    stack
        .ingest(
            "/ingest/batch",
            "application/x-ndjson",
            ndjson([run(1014, 56, true)]),
        )
        .await;
    let reopened = wait_for(&restarted, &base, "the reopening", |a| {
        a["incident"]["status"] == "open"
    })
    .await;
    assert_eq!(reopened["incident"]["reopened"], 1, "{reopened:#}");

    // Every object of it runs normally twice: resolved by recovery.
    let objects: Vec<i64> = reopened["incident"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_i64().unwrap())
        .collect();
    let normal = objects
        .iter()
        .flat_map(|&o| [run(o, 57, false), run(o, 58, false)]);
    stack
        .ingest("/ingest/batch", "application/x-ndjson", ndjson(normal))
        .await;
    let recovered = wait_for(&restarted, &base, "the recovery", |a| {
        a["incident"]["status"] == "resolved"
    })
    .await;
    assert_eq!(
        recovered["incident"]["resolved"]["reason"], "recovered",
        "{recovered:#}"
    );

    tokio::task::spawn_blocking(move || restarted.stop().unwrap())
        .await
        .unwrap();
    stack.stop().await;
}

/// A port the OS says is free now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The processing binary on `port` with the stack's topics, as instance `instance`.
fn spawn_processing(stack: &Stack, port: u16, instance: &str) -> std::process::Child {
    let stage = stage_config(&stack.topics, "processing", instance);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_processing"));
    command.envs(obs_testkit::topic_env(&stack.topics));
    command
        .env("KAFKA_BOOTSTRAP_SERVERS", &stack.kafka.bootstrap_servers)
        .env("OBS_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .envs(obs_testkit::auth_env())
        .env("OBS_TOPICS__REPLICATION_FACTOR", "1")
        .env("OBS_STAGE__GROUP_ID", &stage.group_id)
        .env("OBS_STAGE__TRANSACTIONAL_ID", &stage.transactional_id)
        .env("OBS_STAGE__BATCH_MAX_MS", "50")
        .env("OBS_STAGE__TRANSACTION_TIMEOUT_MS", "10000")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("starting the processing binary")
}

/// `GET /incidents?limit=500` of the binary on `port` once its incident view caught up:
/// each incident's id, status, severity, version and objects.
async fn incidents_of(port: u16) -> Option<Vec<(String, String, String, u64, Value)>> {
    let (_, answer) = answer_over_http(port, "/incidents?limit=500").await?;
    if answer["view_caught_up"] != true {
        return None;
    }
    let mut incidents: Vec<_> = answer["incidents"]
        .as_array()?
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or_default().to_owned(),
                i["status"].as_str().unwrap_or_default().to_owned(),
                i["severity"].as_str().unwrap_or_default().to_owned(),
                i["version"].as_u64().unwrap_or_default(),
                i["objects"].clone(),
            )
        })
        .collect();
    incidents.sort_by(|a, b| a.0.cmp(&b.0));
    Some(incidents)
}

/// `GET uri` of the binary on `port`: whether it answered 2xx, and its JSON answer;
/// `None` when it did not answer.
async fn answer_over_http(port: u16, uri: &str) -> Option<(bool, Value)> {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{uri}"))
        .header("authorization", obs_testkit::bearer())
        .send()
        .await
        .ok()?;
    let ok = response.status().is_success();
    Some((ok, response.json().await.ok()?))
}

/// Whether the binary on `port` is ready, and the `incident-signals` partitions its
/// incident stage holds.
async fn readiness_over_http(port: u16) -> Option<(bool, Vec<Value>)> {
    let (ready, _) = answer_over_http(port, "/health/ready").await?;
    let (_, status) = answer_over_http(port, "/status").await?;
    Some((ready, incident_partitions(&status)))
}

/// The same of an instance in this process.
async fn readiness_in_process(state: &Arc<AppState>) -> (bool, Vec<Value>) {
    let (health, _) = answer_of(state, "/health/ready").await;
    let (_, status) = answer_of(state, "/status").await;
    (health == StatusCode::OK, incident_partitions(&status))
}

fn incident_partitions(status: &Value) -> Vec<Value> {
    status["incidents"]["stage"]["assigned_partitions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `ask` until it gives something `done` accepts (60 s at most).
async fn poll<T: std::fmt::Debug, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    ask: impl Fn() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(answer) = ask().await {
            if done(&answer) {
                return answer;
            }
            last = Some(answer);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_and_with_two_replicas_the_incidents_are_the_same() {
    let stack = Stack::start().await;
    stack.ingest_sample_and_burst().await;

    let port = free_port();
    let mut first = spawn_processing(&stack, port, "a");
    let source_wide = |incidents: &Vec<(String, String, String, u64, Value)>| {
        incidents.iter().any(|(_, status, _, _, objects)| {
            status == "open"
                && BURST_OBJECTS
                    .iter()
                    .all(|o| objects.as_array().is_some_and(|a| a.contains(&json!(o))))
        })
    };
    let before = poll("the burst's incident", || incidents_of(port), source_wide).await;
    // Settled: the same answer a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = poll(
        "settled incidents",
        || incidents_of(port),
        |now| now == &before,
    )
    .await;

    first.kill().unwrap();
    first.wait().unwrap();
    let mut restarted = spawn_processing(&stack, port, "a");
    let replica = stack.processing("b");
    let after = poll(
        "the restarted instance's view",
        || incidents_of(port),
        |_| true,
    )
    .await;
    assert_eq!(
        after, before,
        "the same incidents, states and versions after a SIGKILL"
    );
    let replica_uri = "/incidents?limit=500";
    let seen_by_replica = wait_for(&replica, replica_uri, "the replica's view", |a| {
        a["view_caught_up"] == true
    })
    .await;
    let mut ids: Vec<&str> = seen_by_replica["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let expected: Vec<&str> = before.iter().map(|i| i.0.as_str()).collect();
    assert_eq!(ids, expected, "a second replica gives the same incidents");

    // `incident-signals` has one partition: one instance's incident stage holds it, the
    // other's stands by, and both instances are ready.
    let replica_state = &replica;
    let (spawned, in_process) = poll(
        "one incident stage with the signals partition, the other standing by, both ready",
        move || async move {
            let spawned = readiness_over_http(port).await?;
            Some((spawned, readiness_in_process(replica_state).await))
        },
        |(spawned, in_process)| {
            spawned.0 && in_process.0 && spawned.1.len() + in_process.1.len() == 1
        },
    )
    .await;
    assert_eq!(
        [spawned.1, in_process.1].concat(),
        vec![json!(0)],
        "the one signals partition, held once"
    );

    // New alerts after the restart, with two replicas sharing the stages: both views agree.
    stack
        .ingest(
            "/ingest/batch",
            "application/x-ndjson",
            ndjson([run(1015, 59, true)]),
        )
        .await;
    let updated = poll(
        "the new alert in the incident",
        || incidents_of(port),
        |now| now != &before,
    )
    .await;
    let replica_port_view = wait_for(&replica, replica_uri, "the replica's update", |a| {
        let mut versions: Vec<(String, u64)> = a["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_owned(),
                    i["version"].as_u64().unwrap(),
                )
            })
            .collect();
        versions.sort();
        versions
            == updated
                .iter()
                .map(|i| (i.0.clone(), i.3))
                .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(
        replica_port_view["incidents"].as_array().unwrap().len(),
        updated.len()
    );

    restarted.kill().unwrap();
    restarted.wait().unwrap();
    tokio::task::spawn_blocking(move || replica.stop().unwrap())
        .await
        .unwrap();
    stack.stop().await;
}
