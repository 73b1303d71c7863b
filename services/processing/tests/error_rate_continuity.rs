//! Error-rate continuity on the real broker: a stream of log events of a few services, with
//! error bursts, split by a SIGKILL of the processing binary at a random point, by a
//! second replica joining at a random point (a rebalance), or by a transaction aborted at a
//! random point (its producer fenced), gives the same `app-log-rates`
//! records (window counts, rates, verdicts, alert ids), bit for bit, as the same stream
//! processed without interruption: the open windows' partial counts and the detector
//! series survive.

use chrono::{Duration as Span, TimeZone, Utc};
use obs_kafka::{KafkaConfig, RecordHeaders, StageConfig, TraceParent};
use obs_records::{
    LogSeverity, SeveritySource, StandardizedLogEvent, TimestampSource,
    STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use obs_testkit::{produce, read_topic, TestMessage, TestTopics};
use processing::checkpoint::CheckpointConfig;
use processing::logs::error_rate_stage;
use processing::{AppState, ProcessingConfig};
use rdkafka::Message;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod continuity;
use continuity::{
    free_port, metric, random_in, spawn_processing, stop, wait_for_rebalance, wait_for_records,
};

/// Two services per partition of three (librdkafka's CRC32 of the key): each partition, so
/// each replica of the rebalance, has services to restore.
const SERVICES: [&str; 6] = [
    "billing", "shipping", "search", "mailer", "ledger", "reports",
];
const MINUTES: usize = 150;
const PER_MINUTE: usize = 8;
const TOTAL: usize = SERVICES.len() * MINUTES * PER_MINUTE;
/// Every minute of every service but its last closes.
const WINDOWS: usize = SERVICES.len() * (MINUTES - 1);
const MIN_HISTORY: usize = 20;
const INTERVAL: i64 = 300;
const SMALL_FETCH: (&str, &str) = ("max.partition.fetch.bytes", "16384");

/// How many of the minute's events of service `s` are errors: a noisy few, and bursts.
fn errors(s: usize, minute: usize) -> usize {
    if minute == 40 + 17 * s || minute == 100 + 7 * s {
        return PER_MINUTE - 1;
    }
    let mut x = (s * 7_919 + minute * 104_729) as u64;
    x ^= x >> 13;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    [0, 0, 0, 1, 1, 2][(x >> 40) as usize % 6]
}

/// Event `n` of the stream: minute by minute, each minute's events spread over it, the
/// services interleaved; keyed by service.
fn event(n: usize) -> TestMessage {
    let s = n % SERVICES.len();
    let i = (n / SERVICES.len()) % PER_MINUTE;
    let minute = n / (SERVICES.len() * PER_MINUTE);
    let severity = if i < errors(s, minute) {
        LogSeverity::Error
    } else {
        LogSeverity::Info
    };
    let service = SERVICES[s];
    let event = StandardizedLogEvent {
        event_id: format!("{service}-{minute}-{i}"),
        schema_version: STANDARDIZED_LOG_EVENT_SCHEMA_VERSION.into(),
        service: service.into(),
        message: format!("{service} step {minute}.{i}"),
        level: Some(severity.as_str().into()),
        severity,
        severity_source: SeveritySource::Given,
        severity_confidence: 1.0,
        timestamp: Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
            + Span::minutes(minute as i64)
            + Span::seconds(i as i64 * 7),
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
        Some(service.as_bytes().to_vec()),
        serde_json::to_vec(&event).unwrap(),
        headers.to_kafka(),
    )
}

fn events(range: std::ops::Range<usize>) -> Vec<TestMessage> {
    range.map(event).collect()
}

/// Windows the first `n` events close: each service's minutes begun, but its last.
fn closed_by(n: usize) -> usize {
    (0..SERVICES.len())
        .map(|s| {
            let seen = (n + SERVICES.len() - 1 - s) / SERVICES.len();
            seen.div_ceil(PER_MINUTE).saturating_sub(1)
        })
        .sum()
}

/// Detectors that score within the stream, and checkpoints saved often, so that restores
/// read saved states and replay events.
fn config(
    kafka: &KafkaConfig,
    topics: &TestTopics,
    group: &str,
    instance: &str,
) -> ProcessingConfig {
    let mut config = ProcessingConfig {
        kafka: kafka.clone(),
        topics: (*topics).clone(),
        stage: StageConfig {
            batch_max_records: 100,
            batch_max_ms: 20,
            transaction_timeout_ms: 10_000,
            transactional_id: format!("{group}-{instance}"),
            ..StageConfig::for_group(group)
        },
        checkpoint: CheckpointConfig {
            error_rate_interval_records: INTERVAL,
            ..CheckpointConfig::default()
        },
        auth: obs_testkit::auth(),
        ..ProcessingConfig::default()
    };
    // Small fetches: the stage interleaves the partitions, so that a kill finds each of
    // them part-way.
    config
        .kafka
        .properties
        .insert(SMALL_FETCH.0.into(), SMALL_FETCH.1.into());
    config.detector.min_history = MIN_HISTORY;
    config
}

/// The environment that gives the processing binary `config` (what [`config`] sets);
/// `file` is where its `kafka.properties` are written (a config file's only).
fn binary_env(
    config: &ProcessingConfig,
    port: u16,
    file: &std::path::Path,
) -> Vec<(String, String)> {
    std::fs::write(
        file,
        format!(
            "[kafka.properties]\n\"{}\" = \"{}\"\n",
            SMALL_FETCH.0, SMALL_FETCH.1
        ),
    )
    .unwrap();
    let s = &config.stage;
    let mut env = obs_testkit::topic_env(&config.topics);
    for (key, value) in [
        (
            "KAFKA_BOOTSTRAP_SERVERS",
            config.kafka.bootstrap_servers.clone(),
        ),
        ("OBS_HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ("OBS_TOPICS__REPLICATION_FACTOR", "1".into()),
        ("OBS_STAGE__GROUP_ID", s.group_id.clone()),
        ("OBS_STAGE__TRANSACTIONAL_ID", s.transactional_id.clone()),
        (
            "OBS_STAGE__BATCH_MAX_RECORDS",
            s.batch_max_records.to_string(),
        ),
        ("OBS_STAGE__BATCH_MAX_MS", s.batch_max_ms.to_string()),
        (
            "OBS_STAGE__TRANSACTION_TIMEOUT_MS",
            s.transaction_timeout_ms.to_string(),
        ),
        (
            "OBS_DETECTOR__MIN_HISTORY",
            config.detector.min_history.to_string(),
        ),
        (
            "OBS_CHECKPOINT__ERROR_RATE_INTERVAL_RECORDS",
            config.checkpoint.error_rate_interval_records.to_string(),
        ),
        ("OBS_CONFIG_FILE", file.display().to_string()),
        ("RUST_LOG", "warn".into()),
    ] {
        env.push((key.to_owned(), value));
    }
    env
}

/// `{series}@{window start}` → the `app-log-rates` record as processing wrote it, for
/// every window the stream closes; each written once, the services spread over the three
/// partitions.
fn windows(kafka: &KafkaConfig, topics: &TestTopics) -> BTreeMap<String, String> {
    let messages = read_topic(
        kafka,
        &topics.app_log_rates.name,
        WINDOWS,
        Duration::from_secs(3),
        Duration::from_secs(300),
    );
    let mut windows = BTreeMap::new();
    let mut partitions = BTreeSet::new();
    for message in &messages {
        let payload = std::str::from_utf8(message.payload().unwrap()).unwrap();
        let record: Value = serde_json::from_str(payload).unwrap();
        let id = format!(
            "{}@{}",
            record["series_key"].as_str().unwrap(),
            record["window_start"].as_str().unwrap()
        );
        assert!(
            windows.insert(id.clone(), payload.to_owned()).is_none(),
            "{id} twice"
        );
        partitions.insert(message.partition());
    }
    assert_eq!(windows.len(), WINDOWS);
    assert_eq!(partitions.len(), 3, "services on {partitions:?}");
    windows
}

fn assert_same_windows(got: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    continuity::assert_same(got, expected, "windows");
    let scored = expected
        .values()
        .filter(|r| r.contains("\"scored\""))
        .count();
    let alerted = expected
        .values()
        .filter(|r| !r.contains("\"alert_id\":null"))
        .count();
    assert!(
        scored > WINDOWS / 2 && alerted > 0,
        "{scored} scored, {alerted} alerting"
    );
}

/// The stream processed by one instance from start to end, on topics of its own.
async fn uninterrupted(kafka: &KafkaConfig) -> BTreeMap<String, String> {
    let topics = continuity::topics(kafka).await;
    produce(kafka, &topics.standardized_app_logs.name, events(0..TOTAL));
    let group = format!("processing-{}", topics.raw_logs.name);
    let state = AppState::new(config(kafka, &topics, &group, "a")).unwrap();
    state.start().unwrap();
    let windows = windows(kafka, &topics);
    stop(state).await;
    windows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_at_a_random_point_changes_no_window() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    // The stream in two parts, the second sent after the kill: every partition then has
    // events left, so the restarted instance restores each one before counting them.
    let split = random_in(TOTAL / 2..TOTAL * 9 / 10);
    produce(&kafka, &topics.standardized_app_logs.name, events(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let config = config(&kafka, &topics, &group, "a");
    let kill_after = random_in(WINDOWS / 5..closed_by(split));
    let file = std::env::temp_dir().join(format!("{}.toml", topics.raw_logs.name));
    let child = spawn_processing(binary_env(&config, free_port(), &file));
    wait_for_records(&kafka, &topics.app_log_rates.name, kill_after);
    // Saved states to restore from: an early kill can precede every save of a partition.
    wait_for_records(&kafka, &topics.app_log_rate_state.name, 4);
    drop(child); // SIGKILL, mid-batch or not
    produce(
        &kafka,
        &topics.standardized_app_logs.name,
        events(split..TOTAL),
    );
    // The same instance again: it takes its partitions back at once (static membership)
    // and aborts the transaction its predecessor left open.
    let restarted = AppState::new(config).unwrap();
    restarted.start().unwrap();
    let got = windows(&kafka, &topics);
    let restores = metric(&restarted, "processing_app_log_rate_restores_total").await;
    let restored = metric(
        &restarted,
        "processing_app_log_rate_restored_services_total",
    )
    .await;
    let replayed = metric(&restarted, "processing_app_log_rate_replayed_events_total").await;
    stop(restarted).await;
    let _ = std::fs::remove_file(&file);
    println!("{restores} partitions restored: {restored} saved states, {replayed} events replayed");
    assert_same_windows(&got, &expected);
    assert!(
        restores >= 3.0 && restored >= 1.0,
        "the restart read saved states"
    );
    assert!(
        replayed < (TOTAL - 1) as f64,
        "the restart did not replay the whole stream: {replayed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_between_two_replicas_changes_no_window() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    let split = random_in(TOTAL / 5..TOTAL * 4 / 5);
    produce(&kafka, &topics.standardized_app_logs.name, events(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let first = AppState::new(config(&kafka, &topics, &group, "a")).unwrap();
    first.start().unwrap();
    wait_for_records(&kafka, &topics.app_log_rates.name, closed_by(split));
    // The second replica joins: every partition is revoked, then shared out; each replica
    // restores the partitions it gets from what the first one saved.
    let second = AppState::new(config(&kafka, &topics, &group, "b")).unwrap();
    second.start().unwrap();
    wait_for_rebalance(
        &first,
        &second,
        "/logs/error_rate_stage/assigned_partitions",
    )
    .await;
    produce(
        &kafka,
        &topics.standardized_app_logs.name,
        events(split..TOTAL),
    );
    let got = windows(&kafka, &topics);
    let mut carried = Vec::new();
    for replica in [&first, &second] {
        let restored = metric(replica, "processing_app_log_rate_restored_services_total").await;
        let replayed = metric(replica, "processing_app_log_rate_replayed_events_total").await;
        carried.push(restored + replayed);
        println!("{restored} saved states restored, {replayed} events replayed");
    }
    stop(first).await;
    stop(second).await;
    assert_same_windows(&got, &expected);
    assert!(
        carried.iter().all(|c| *c > 0.0),
        "each replica restored its partitions' windows and series: {carried:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_changes_no_window() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    let split = random_in(TOTAL / 2..TOTAL * 9 / 10);
    produce(&kafka, &topics.standardized_app_logs.name, events(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let config = config(&kafka, &topics, &group, "a");
    let transactional_id = error_rate_stage(&config.stage).transactional_id;
    let state = AppState::new(config).unwrap();
    state.start().unwrap();
    wait_for_records(
        &kafka,
        &topics.app_log_rates.name,
        random_in(WINDOWS / 5..closed_by(split)),
    );
    let fence = continuity::fence(
        &state,
        &kafka,
        &transactional_id,
        "processing_app_log_rate_restores_total",
        "/logs/error_rate_stage/transactions_aborted",
    )
    .await;
    produce(
        &kafka,
        &topics.standardized_app_logs.name,
        events(split..TOTAL),
    );
    let got = windows(&kafka, &topics);
    fence.assert_rebuilt(&state).await;
    stop(state).await;
    assert_same_windows(&got, &expected);
}
