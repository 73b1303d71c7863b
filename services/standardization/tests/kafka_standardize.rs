//! Standardization against a real Kafka broker (`make kafka-up`): the field data, dead
//! letters of every kind with their original bytes, and exactly once across a SIGKILL,
//! records sent twice included.

use obs_kafka::dead_letter;
use obs_kafka::headers::{INGESTED_AT, RECORD_ID, SCHEMA_VERSION, TRACEPARENT};
use obs_kafka::TraceParent;
use obs_records::standardize::{FailureKind, QualityFlag, StandardizedRecord};
use obs_records::RawRecord;
use obs_testkit::{key_of, produce, raw_messages, read_topic, TestMessage};
use rdkafka::message::{OwnedHeaders, OwnedMessage};
use rdkafka::Message;
use standardization::{AppState, StandardizationConfig};
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use support::{config, header, read};

mod support;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);

async fn start(config: &StandardizationConfig) -> std::sync::Arc<AppState> {
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let state = AppState::new(config.clone()).unwrap();
    state.start_stage().unwrap();
    state
}

/// The committed totals once `expected` inputs are counted (the counters follow the
/// commit by a moment).
async fn totals(state: &AppState, expected: u64) -> (u64, u64, u64, u64) {
    for _ in 0..100 {
        let totals = state.stage_totals();
        if totals.0 >= expected {
            return totals;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.stage_totals()
}

/// The stage's lag by partition once it is known for every assigned partition (at most
/// 15 s: three rounds of statistics).
async fn lag_once_reported(state: &AppState) -> std::collections::BTreeMap<i32, i64> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = state.stage_status().unwrap();
        if status.lag.len() == status.assigned_partitions.len() || Instant::now() > deadline {
            return status.lag;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_field_data_is_standardized_with_no_dead_letter() {
    let (config, _topics) = config();
    let state = start(&config).await;
    let raw: Vec<RawRecord> = std::fs::read_to_string(SEED)
        .unwrap()
        .lines()
        .map(|l| RawRecord::parse(l.as_bytes()).unwrap())
        .collect();
    let messages = raw_messages(&raw);
    let sent_headers: HashMap<String, (String, String)> = messages
        .iter()
        .map(|(_, _, h)| {
            let h = obs_kafka::RecordHeaders::from_kafka(h).unwrap();
            let at = h
                .ingested_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            (
                h.record_id,
                (at, format!("{:032x}", h.traceparent.trace_id)),
            )
        })
        .collect();
    produce(&config.kafka, &config.topics.raw_logs.name, messages);

    let out = read(&config, &config.topics.standardized_logs.name, 72);
    assert_eq!(out.len(), 72);
    assert!(read(&config, &config.topics.dead_letters.name, 0).is_empty());

    let records: HashMap<i64, (StandardizedRecord, &OwnedMessage)> = out
        .iter()
        .map(|m| {
            let r: StandardizedRecord = serde_json::from_slice(m.payload().unwrap()).unwrap();
            (r.object_id, (r, m))
        })
        .collect();
    assert_eq!(records.len(), 72);
    for (record, message) in records.values() {
        assert_eq!(key_of(message), record.series_key);
        assert_eq!(header(message, RECORD_ID), Some(record.record_id.as_str()));
        assert_eq!(header(message, SCHEMA_VERSION), Some("standardized-v1"));
        let (ingested_at, trace) = &sent_headers[&record.record_id];
        assert_eq!(
            header(message, INGESTED_AT),
            Some(ingested_at.as_str()),
            "carried over"
        );
        let tp: TraceParent = header(message, TRACEPARENT).unwrap().parse().unwrap();
        assert_eq!(
            &format!("{:032x}", tp.trace_id),
            trace,
            "same trace, next span"
        );
    }
    let (first, _) = &records[&1995];
    assert_eq!(
        first.start_time.to_rfc3339(),
        "2025-09-05T16:45:26.191702+00:00"
    );
    assert_eq!(first.cpu_time_seconds, 0.09);
    assert_eq!(first.source, "zohoprojects");
    let (failed, _) = &records[&1035];
    assert_eq!(failed.error_message.as_deref(), Some("'id'"));
    assert_eq!(failed.error_kind, Some(FailureKind::MissingField));
    let negative = records
        .values()
        .filter(|(r, _)| r.quality.contains(&QualityFlag::NegativeMemory))
        .count();
    assert_eq!(negative, 2);
    assert!(records.values().any(|(r, _)| r.source == "easyprojects"));

    assert_eq!(
        totals(&state, 72).await,
        (72, 72, 0, 0),
        "in = standardized + dead-lettered + duplicates"
    );
    // The lag, from librdkafka's statistics (every 5 s): none left on any partition.
    let lag = lag_once_reported(&state).await;
    let assigned = state.stage_status().unwrap().assigned_partitions;
    assert!(!assigned.is_empty());
    assert_eq!(
        lag.keys().copied().collect::<Vec<_>>(),
        assigned,
        "every assigned partition"
    );
    assert!(lag.values().all(|&behind| behind == 0), "{lag:?}");
    tokio::task::spawn_blocking(move || state.stop_stage())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_become_dead_letters_with_their_kind_and_original_bytes() {
    let (config, _topics) = config();
    let state = start(&config).await;
    let valid = obs_samplegen::records(21, 1).next().unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut v = serde_json::to_value(&valid).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    };
    let without = |field: &str| {
        let mut v = serde_json::to_value(&valid).unwrap();
        v.as_object_mut().unwrap().remove(field);
        serde_json::to_vec(&v).unwrap()
    };
    let corpus: Vec<(&str, Vec<u8>)> = vec![
        ("malformed_json", b"{\"No_Sequence\": \"2025-".to_vec()),
        ("malformed_json", vec![0xff, 0xfe, 0x00, 0x01]),
        ("malformed_json", Vec::new()),
        ("not_an_object", b"[1, 2, 3]".to_vec()),
        ("missing_field", without("Objet_Id")),
        ("wrong_type", with("Objet_Id", "1995".into())),
        ("empty_field", with("Entreprise", "".into())),
        (
            "invalid_timestamp",
            with("Debut", "2025-09-05T16:45:26".into()),
        ),
        ("unknown_status", with("Etat", "RUNNING".into())),
        ("out_of_range", with("Duree secondes", (-3.0).into())),
    ];
    let mut messages: Vec<TestMessage> = corpus
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let headers = OwnedHeaders::new().insert(rdkafka::message::Header {
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
    messages.extend(raw_messages(&[valid]));
    produce(&config.kafka, &config.topics.raw_logs.name, messages);

    let dead = read(&config, &config.topics.dead_letters.name, corpus.len());
    assert_eq!(dead.len(), corpus.len());
    for message in &dead {
        let case: usize = header(message, "case").unwrap().parse().unwrap();
        let (kind, bytes) = &corpus[case];
        assert_eq!(
            message.payload().unwrap_or_default(),
            bytes.as_slice(),
            "original bytes, case {case}"
        );
        assert_eq!(key_of(message), format!("key-{case}"));
        assert_eq!(
            header(message, dead_letter::ERROR_KIND),
            Some(*kind),
            "case {case}"
        );
        assert_eq!(header(message, dead_letter::STAGE), Some("standardization"));
        assert_eq!(
            header(message, dead_letter::SOURCE_TOPIC),
            Some(config.topics.raw_logs.name.as_str())
        );
        assert!(header(message, dead_letter::SOURCE_OFFSET)
            .unwrap()
            .parse::<i64>()
            .is_ok());
        assert!(header(message, dead_letter::SOURCE_PARTITION)
            .unwrap()
            .parse::<i32>()
            .is_ok());
        assert!(!header(message, dead_letter::REASON).unwrap().is_empty());
        assert!(header(message, dead_letter::FAILED_AT).is_some());
    }
    let reason = dead
        .iter()
        .find(|m| header(m, dead_letter::ERROR_KIND) == Some("unknown_status"))
        .and_then(|m| header(m, dead_letter::REASON))
        .unwrap();
    assert!(
        reason.contains("Etat") && reason.contains("RUNNING"),
        "{reason}"
    );
    assert_eq!(
        read(&config, &config.topics.standardized_logs.name, 1).len(),
        1
    );
    assert_eq!(
        totals(&state, 11).await,
        (11, 1, 10, 0),
        "in = standardized + dead-lettered + duplicates"
    );
    tokio::task::spawn_blocking(move || state.stop_stage())
        .await
        .unwrap()
        .unwrap();
}

/// A port free at the time of asking.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `/status` of the service at `port` (`null` while it starts).
async fn status(port: u16) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{port}/status");
    let request = reqwest::Client::new()
        .get(&url)
        .header("authorization", obs_testkit::bearer());
    match request.send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// Inputs the service at `port` has committed, per its `/status` (0 while it starts).
async fn committed(port: u16) -> u64 {
    status(port).await["stage"]["records_consumed"]
        .as_u64()
        .unwrap_or(0)
}

/// The service binary with the test's topics and stage identity, listening on `port`.
fn spawn_binary(config: &StandardizationConfig, port: u16) -> Child {
    let t = &config.topics;
    Command::new(env!("CARGO_BIN_EXE_standardization"))
        .env("KAFKA_BOOTSTRAP_SERVERS", &config.kafka.bootstrap_servers)
        .env("OBS_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .envs(obs_testkit::auth_env())
        .env("OBS_TOPICS__RAW_LOGS__NAME", &t.raw_logs.name)
        .env(
            "OBS_TOPICS__STANDARDIZED_LOGS__NAME",
            &t.standardized_logs.name,
        )
        .env("OBS_TOPICS__DEAD_LETTERS__NAME", &t.dead_letters.name)
        .env(
            "OBS_TOPICS__STANDARDIZED_IDS__NAME",
            &t.standardized_ids.name,
        )
        .env(
            "OBS_TOPICS__PROCESSED_METRICS__NAME",
            &t.processed_metrics.name,
        )
        .env("OBS_TOPICS__ALERTS__NAME", &t.alerts.name)
        .env("OBS_TOPICS__REPLICATION_FACTOR", "1")
        .env("OBS_STAGE__GROUP_ID", &config.stage.group_id)
        .env(
            "OBS_STAGE__TRANSACTIONAL_ID",
            &config.stage.transactional_id,
        )
        .env("OBS_STAGE__BATCH_MAX_RECORDS", "100")
        .env("OBS_STAGE__TRANSACTION_TIMEOUT_MS", "10000")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("starting the standardization binary")
}

/// How the first instance is stopped mid-stream.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Terminate,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_stream_loses_and_duplicates_nothing() {
    stopped_mid_stream_then_restarted(Stop::Kill, 20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly_and_loses_and_duplicates_nothing() {
    stopped_mid_stream_then_restarted(Stop::Terminate, 10_000).await;
}

/// Stops the service binary once 2,000 of `n` records are committed, restarts it, sends
/// every record again (a client retrying), and checks a read_committed reader sees every
/// record exactly once: the copies of those the stopped instance standardized are dropped
/// by the restarted one, which read their ids back.
async fn stopped_mid_stream_then_restarted(stop: Stop, n: usize) {
    let (config, _topics) = config();
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let records: Vec<RawRecord> = obs_samplegen::records(99, n).collect();
    produce(
        &config.kafka,
        &config.topics.raw_logs.name,
        raw_messages(&records),
    );

    let port = free_port();
    let mut first = spawn_binary(&config, port);
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < Duration::from_secs(120) {
        done = committed(port).await;
        if done >= 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match stop {
        Stop::Kill => {
            first.kill().unwrap(); // SIGKILL
            first.wait().unwrap();
        }
        Stop::Terminate => {
            let term = Command::new("kill")
                .args(["-TERM", &first.id().to_string()])
                .status()
                .unwrap();
            assert!(term.success());
            let stopping = Instant::now();
            let status = loop {
                if let Some(status) = first.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    stopping.elapsed() < Duration::from_secs(30),
                    "no exit 30 s after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(status.success(), "exit after SIGTERM: {status}");
        }
    }
    assert!(
        done >= 2_000 && done < n as u64,
        "stopped after {done} of {n} committed: not mid-stream"
    );

    let second_port = free_port();
    let restarted = Instant::now();
    let second = KillOnDrop(spawn_binary(&config, second_port));
    if stop == Stop::Kill {
        // Static membership: the restarted instance takes its partitions back at once,
        // instead of waiting for the killed one's session to expire (45 s by default).
        while committed(second_port).await == 0 {
            assert!(
                restarted.elapsed() < Duration::from_secs(10),
                "no output 10 s after a restart that followed a SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("output resumed {:?} after the restart", restarted.elapsed());
    }
    produce(
        &config.kafka,
        &config.topics.raw_logs.name,
        raw_messages(&records),
    );
    let out = read_topic(
        &config.kafka,
        &config.topics.standardized_logs.name,
        n,
        Duration::from_secs(5),
        Duration::from_secs(240),
    );
    let waiting = Instant::now();
    let mut dropped = 0;
    while dropped < n as u64 && waiting.elapsed() < Duration::from_secs(60) {
        dropped = status(second_port).await["records"]["duplicates_dropped"]
            .as_u64()
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
    assert_eq!(dropped, n as u64, "every copy dropped and counted");

    let mut seen: HashMap<String, usize> = HashMap::new();
    for message in &out {
        *seen
            .entry(header(message, RECORD_ID).unwrap().to_owned())
            .or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(
        duplicates.is_empty(),
        "duplicates after {stop:?}: {duplicates:?}"
    );
    let missing = records
        .iter()
        .filter(|r| !seen.contains_key(&r.record_id()))
        .count();
    assert_eq!(missing, 0, "records lost after {stop:?}");
    assert_eq!(out.len(), n);
    assert!(read(&config, &config.topics.dead_letters.name, 0).is_empty());
}

/// A child process killed when the test ends, panicking or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
