//! Detector continuity on the real broker: a stream of runs split by a SIGKILL of the
//! processing binary at a random point, by a second replica joining at a random point
//! (a rebalance), or by a transaction aborted at a random point (its producer fenced),
//! gives the same `detector` verdicts, bit for bit, as the same stream processed without
//! interruption.

use chrono::{Duration as Span, TimeZone, Utc};
use obs_kafka::{KafkaConfig, StageConfig};
use obs_records::standardize::StandardizedRecord;
use obs_records::Status;
use obs_testkit::{produce, read_topic, TestMessage, TestTopics};
use processing::checkpoint::CheckpointConfig;
use processing::{AppState, ProcessingConfig};
use rdkafka::message::OwnedHeaders;
use rdkafka::Message;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

mod continuity;
use continuity::{
    free_port, metric, random_in, spawn_processing, stop, wait_for_rebalance, wait_for_records,
};

const SERIES: usize = 9;
const POINTS: usize = 300;
const TOTAL: usize = SERIES * POINTS;
const SMALL_FETCH: (&str, &str) = ("max.partition.fetch.bytes", "16384");

/// Point `i` of series `s`: noisy runs, with slow ones, memory jumps and a level shift.
fn run(s: usize, i: usize) -> StandardizedRecord {
    let noise = |salt: usize| {
        let mut x = (s * 7_919 + i * 104_729 + salt * 1_299_709) as u64;
        x ^= x >> 13;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let level = if i > 200 && s % 2 == 0 { 2.0 } else { 1.0 };
    let slow = if (i + s * 13) % 97 == 50 { 12.0 } else { 1.0 };
    let duration = (5.0 + s as f64 + 3.0 * noise(1)) * level * slow;
    let memory = 40_000_000 + (noise(2) * 8e6) as i64 + if i % 131 == 7 { 90_000_000 } else { 0 };
    let start = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap() + Span::minutes(i as i64 * 10);
    StandardizedRecord {
        record_id: format!("acme:{i}:{s}"),
        series_key: format!("acme:powerbi:{s}"),
        schema_version: "standardized-v1".into(),
        sequence_id: i.to_string(),
        sequence_time: start,
        company: "acme".into(),
        zone: "1-Raw".into(),
        source: "powerbi".into(),
        object_id: s as i64,
        object_type: "datasets".into(),
        transformation: "PowerBI_API_get_data".into(),
        status: Status::Success,
        start_time: start,
        end_time: start + Span::milliseconds((duration * 1000.0) as i64),
        duration_seconds: duration,
        cpu_time_seconds: duration * (0.2 + 0.3 * noise(3)),
        memory_used_bytes: memory,
        description: "ok".into(),
        error_message: None,
        error_kind: None,
        quality: Vec::new(),
    }
}

/// Runs `range` of the stream, the series interleaved, keyed by series.
fn messages(range: std::ops::Range<usize>) -> Vec<TestMessage> {
    range
        .map(|n| run(n % SERIES, n / SERIES))
        .map(|r| {
            (
                Some(r.series_key.clone().into_bytes()),
                serde_json::to_vec(&r).unwrap(),
                OwnedHeaders::new(),
            )
        })
        .collect()
}

/// A detector whose forests train and retrain within the stream, and checkpoints saved
/// often, so that restores read saved states (forests included) and replay runs.
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
            interval_records: 200,
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
    let d = &mut config.detector;
    d.min_history = 30;
    d.forest.trees = 20;
    d.forest.subsample = 32;
    d.forest.window = 64;
    d.forest.retrain_every = 32;
    d.novelty.warmup = 50;
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
    let d = &config.detector;
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
        ("OBS_DETECTOR__MIN_HISTORY", d.min_history.to_string()),
        ("OBS_DETECTOR__FOREST__TREES", d.forest.trees.to_string()),
        (
            "OBS_DETECTOR__FOREST__SUBSAMPLE",
            d.forest.subsample.to_string(),
        ),
        ("OBS_DETECTOR__FOREST__WINDOW", d.forest.window.to_string()),
        (
            "OBS_DETECTOR__FOREST__RETRAIN_EVERY",
            d.forest.retrain_every.to_string(),
        ),
        (
            "OBS_DETECTOR__NOVELTY__WARMUP",
            d.novelty.warmup.to_string(),
        ),
        (
            "OBS_CHECKPOINT__INTERVAL_RECORDS",
            config.checkpoint.interval_records.to_string(),
        ),
        ("OBS_CONFIG_FILE", file.display().to_string()),
        ("RUST_LOG", "warn".into()),
    ] {
        env.push((key.to_owned(), value));
    }
    env
}

/// Record id → the `detector` field as processing wrote it, for every run of the stream;
/// each run processed once.
fn verdicts(kafka: &KafkaConfig, topics: &TestTopics) -> BTreeMap<String, String> {
    let messages = read_topic(
        kafka,
        &topics.processed_metrics.name,
        TOTAL,
        Duration::from_secs(3),
        Duration::from_secs(300),
    );
    let mut verdicts = BTreeMap::new();
    for message in &messages {
        let processed: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        let id = processed["record_id"].as_str().unwrap().to_owned();
        let detector = processed["detector"].to_string();
        assert!(
            verdicts.insert(id.clone(), detector).is_none(),
            "{id} twice"
        );
    }
    assert_eq!(verdicts.len(), TOTAL);
    verdicts
}

fn assert_same_verdicts(got: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    continuity::assert_same(got, expected, "verdicts");
    let scored = expected
        .values()
        .filter(|v| v.contains("\"scored\""))
        .count();
    let alerted = expected
        .values()
        .filter(|v| {
            v.contains("\"severity\":\"warning\"") || v.contains("\"severity\":\"critical\"")
        })
        .count();
    assert!(
        scored > TOTAL / 2 && alerted > 0,
        "{scored} scored, {alerted} alerting"
    );
}

/// The stream processed by one instance from start to end, on topics of its own.
async fn uninterrupted(kafka: &KafkaConfig) -> BTreeMap<String, String> {
    let topics = continuity::topics(kafka).await;
    produce(kafka, &topics.standardized_logs.name, messages(0..TOTAL));
    let group = format!("processing-{}", topics.raw_logs.name);
    let state = AppState::new(config(kafka, &topics, &group, "a")).unwrap();
    state.start().unwrap();
    let verdicts = verdicts(kafka, &topics);
    stop(state).await;
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_at_a_random_point_changes_no_verdict() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    // The stream in two parts, the second sent after the kill: every partition then has
    // runs left, so the restarted instance restores each one before scoring them (had the
    // killed one finished a partition, nothing would ask for its restore).
    let split = random_in(TOTAL / 2..TOTAL * 9 / 10);
    produce(&kafka, &topics.standardized_logs.name, messages(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let config = config(&kafka, &topics, &group, "a");
    let kill_after = random_in(TOTAL / 5..split);
    let file = std::env::temp_dir().join(format!("{}.toml", topics.raw_logs.name));
    let child = spawn_processing(binary_env(&config, free_port(), &file));
    wait_for_records(&kafka, &topics.processed_metrics.name, kill_after);
    // Saved states to restore from: an early kill can precede every save of a partition.
    wait_for_records(&kafka, &topics.detector_state.name, 4);
    drop(child); // SIGKILL, mid-batch or not
    produce(
        &kafka,
        &topics.standardized_logs.name,
        messages(split..TOTAL),
    );
    // The same instance again: it takes its partitions back at once (static membership)
    // and aborts the transaction its predecessor left open.
    let restarted = AppState::new(config).unwrap();
    restarted.start().unwrap();
    let got = verdicts(&kafka, &topics);
    let restores = metric(&restarted, "processing_detector_restores_total").await;
    let restored = metric(&restarted, "processing_detector_restored_series_total").await;
    let replayed = metric(&restarted, "processing_detector_replayed_runs_total").await;
    stop(restarted).await;
    let _ = std::fs::remove_file(&file);
    println!("{restores} partitions restored: {restored} saved states, {replayed} runs replayed");
    assert!(
        restores >= 2.0 && restored >= 2.0,
        "the restart read saved states"
    );
    assert!(
        replayed < (TOTAL - 1) as f64,
        "the restart did not replay the whole stream: {replayed}"
    );
    assert_same_verdicts(&got, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_between_two_replicas_changes_no_verdict() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    let split = random_in(TOTAL / 5..TOTAL * 4 / 5);
    produce(&kafka, &topics.standardized_logs.name, messages(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let first = AppState::new(config(&kafka, &topics, &group, "a")).unwrap();
    first.start().unwrap();
    wait_for_records(&kafka, &topics.processed_metrics.name, split);
    // The second replica joins: every partition is revoked, then shared out; each replica
    // restores the partitions it gets from what the first one saved.
    let second = AppState::new(config(&kafka, &topics, &group, "b")).unwrap();
    second.start().unwrap();
    wait_for_rebalance(&first, &second, "/stage/assigned_partitions").await;
    produce(
        &kafka,
        &topics.standardized_logs.name,
        messages(split..TOTAL),
    );
    let got = verdicts(&kafka, &topics);
    let mut carried = Vec::new();
    for replica in [&first, &second] {
        let restored = metric(replica, "processing_detector_restored_series_total").await;
        let replayed = metric(replica, "processing_detector_replayed_runs_total").await;
        carried.push(restored + replayed);
        println!(
            "{} runs scored, {restored} saved states restored, {replayed} runs replayed",
            replica.stage_consumed()
        );
    }
    let consumed = second.stage_consumed();
    stop(first).await;
    stop(second).await;
    assert!(consumed > 0, "the second replica scored runs");
    assert!(
        carried.iter().all(|c| *c > 0.0),
        "each replica restored its partitions' history: {carried:?}"
    );
    assert_same_verdicts(&got, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_changes_no_verdict() {
    let kafka = obs_testkit::kafka();
    let expected = uninterrupted(&kafka).await;

    let topics = continuity::topics(&kafka).await;
    let split = random_in(TOTAL / 5..TOTAL * 4 / 5);
    produce(&kafka, &topics.standardized_logs.name, messages(0..split));
    let group = format!("processing-{}", topics.raw_logs.name);
    let config = config(&kafka, &topics, &group, "a");
    let transactional_id = config.stage.transactional_id.clone();
    let state = AppState::new(config).unwrap();
    state.start().unwrap();
    wait_for_records(
        &kafka,
        &topics.processed_metrics.name,
        random_in(TOTAL / 10..split),
    );
    let fence = continuity::fence(
        &state,
        &kafka,
        &transactional_id,
        "processing_detector_restores_total",
        "/stage/transactions_aborted",
    )
    .await;
    produce(
        &kafka,
        &topics.standardized_logs.name,
        messages(split..TOTAL),
    );
    let got = verdicts(&kafka, &topics);
    fence.assert_rebuilt(&state).await;
    stop(state).await;
    assert_same_verdicts(&got, &expected);
}
