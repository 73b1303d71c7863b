//! De-duplication against a real Kafka broker (`make kafka-up`): a run sent twice, in the
//! same stream or to the next instance of the stage, is standardized and counted once.
//! (Across a SIGKILL: `kafka_standardize.rs`, which sends every record twice.)

use obs_kafka::headers::RECORD_ID;
use obs_records::RawRecord;
use obs_testkit::{produce, raw_messages};
use rdkafka::Message;
use standardization::{AppState, StandardizationConfig};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use support::{config, header, read};

mod support;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);

fn seed() -> Vec<RawRecord> {
    std::fs::read_to_string(SEED)
        .unwrap()
        .lines()
        .map(|l| RawRecord::parse(l.as_bytes()).unwrap())
        .collect()
}

async fn start(config: &StandardizationConfig) -> Arc<AppState> {
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let state = AppState::new(config.clone()).unwrap();
    state.start_stage().unwrap();
    state
}

async fn stop(state: Arc<AppState>) {
    tokio::task::spawn_blocking(move || state.stop_stage())
        .await
        .unwrap()
        .unwrap();
}

/// `(in, standardized, dead-lettered, duplicates)` once `expected` inputs committed.
async fn totals(state: &AppState, expected: u64) -> (u64, u64, u64, u64) {
    for _ in 0..400 {
        let totals = state.stage_totals();
        if totals.0 >= expected {
            return totals;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.stage_totals()
}

/// A first instance, once it standardized the seed's runs (sent once), and the runs.
async fn standardize_the_seed(config: &StandardizationConfig) -> (Arc<AppState>, Vec<RawRecord>) {
    let runs = seed();
    let first = start(config).await;
    produce(
        &config.kafka,
        &config.topics.raw_logs.name,
        raw_messages(&runs),
    );
    assert_eq!(totals(&first, 72).await, (72, 72, 0, 0));
    (first, runs)
}

/// Checks `standardized-ids` holds `expected` ids over all its records.
fn assert_ids_written(config: &StandardizationConfig, expected: usize) {
    let records = obs_testkit::read_topic(
        &config.kafka,
        &config.topics.standardized_ids.name,
        1,
        Duration::from_secs(3),
        Duration::from_secs(60),
    );
    let ids: usize = records
        .iter()
        .map(|m| (rdkafka::Message::payload(m).unwrap_or_default().len() - 1) / 8)
        .sum();
    assert_eq!(ids, expected, "{} records", records.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_sent_twice_in_one_stream_is_standardized_once() {
    let (config, _topics) = config();
    let state = start(&config).await;
    let runs = seed();
    // The second copy follows the first at once: same batch or the next, in flight.
    let mut twice = raw_messages(&runs);
    twice.extend(raw_messages(&runs));
    produce(&config.kafka, &config.topics.raw_logs.name, twice);

    let out = read(&config, &config.topics.standardized_logs.name, 72);
    assert_eq!(out.len(), 72, "each run once");
    let ids: HashSet<&str> = out.iter().filter_map(|m| header(m, RECORD_ID)).collect();
    assert_eq!(ids.len(), 72);
    assert_eq!(
        totals(&state, 144).await,
        (144, 72, 0, 72),
        "in = standardized + dead-lettered + duplicates"
    );
    assert_ids_written(&config, 72);
    stop(state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_instance_remembers_what_the_last_one_standardized() {
    let (config, _topics) = config();
    let (first, runs) = standardize_the_seed(&config).await;
    stop(first).await;

    // A new process's memory: only what `standardized-ids` holds.
    let second = start(&config).await;
    produce(
        &config.kafka,
        &config.topics.raw_logs.name,
        raw_messages(&runs),
    );
    assert_eq!(
        totals(&second, 72).await,
        (72, 0, 0, 72),
        "every copy dropped by the next instance"
    );
    let out = read(&config, &config.topics.standardized_logs.name, 72);
    assert_eq!(out.len(), 72);
    stop(second).await;
}

/// Waits until `first` and `second` share the input's three partitions, each some.
async fn shared(first: &AppState, second: &AppState) {
    let held = |state: &AppState| {
        state
            .stage_status()
            .map(|s| s.assigned_partitions)
            .unwrap_or_default()
    };
    for _ in 0..600 {
        let (a, b) = (held(first), held(second));
        let mut all: Vec<i32> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        if !a.is_empty() && !b.is_empty() && all == [0, 1, 2] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "partitions not shared: {:?} and {:?}",
        held(first),
        held(second)
    );
}

/// One instance writes each batch's ids to one partition of `standardized-ids`, keyed by
/// input partition; after a second instance joins, each reads back the ids of the
/// partitions it holds, wherever they were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_the_partitions_drop_what_one_of_them_standardized() {
    let (config, _topics) = config();
    let (first, runs) = standardize_the_seed(&config).await;
    for ids in read(&config, &config.topics.standardized_ids.name, 1) {
        let input: i32 = std::str::from_utf8(ids.key().expect("keyed by input partition"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            ids.partition() <= input,
            "the ids of input partition {input} written to the batch's lowest, not {}",
            ids.partition()
        );
    }

    let mut second_config = config.clone();
    second_config.stage.transactional_id += "-second";
    let second = start(&second_config).await;
    shared(&first, &second).await;

    produce(
        &config.kafka,
        &config.topics.raw_logs.name,
        raw_messages(&runs),
    );
    let (first_in, second_in) = (first.stage_totals().0, second.stage_totals().0);
    let mut totals_now = (0, 0, 0, 0);
    for _ in 0..400 {
        let (a, b) = (first.stage_totals(), second.stage_totals());
        totals_now = (
            a.0 + b.0 - first_in - second_in,
            a.1 + b.1 - 72,
            a.2 + b.2,
            a.3 + b.3,
        );
        if totals_now.0 >= 72 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        totals_now,
        (72, 0, 0, 72),
        "every copy dropped by its partition's holder"
    );
    assert!(
        second.stage_totals().3 > 0,
        "the second instance dropped copies of what the first standardized"
    );
    stop(second).await;
    stop(first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_id_partitions_than_raw_partitions_refuse_to_start() {
    let (mut config, _topics) = config();
    config.topics.standardized_ids.partitions = 1;
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let state = AppState::new(config.clone()).unwrap();
    let error = state.start_stage().unwrap_err().to_string();
    assert!(
        error.contains(&config.topics.standardized_ids.name) && error.contains("1 partitions"),
        "{error}"
    );
}
