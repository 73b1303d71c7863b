//! What the continuity tests of both detector stages share: topics of a run, a random
//! split point, the processing binary as a child process, a wait for committed records,
//! the wait for a rebalance, an instance's `/status` and `/metrics` read through its router
//! (testkit's `call_router`), a stage's producer fenced, and the comparison of two runs'
//! outputs.

use axum::body::Body;
use axum::http::Request;
use obs_kafka::KafkaConfig;
use obs_testkit::TestTopics;
use processing::AppState;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Topics of their own for one run of a test, created.
pub async fn topics(kafka: &KafkaConfig) -> TestTopics {
    let topics = obs_testkit::unique_topics();
    obs_kafka::topics::ensure_topics(kafka, "continuity-test", &topics)
        .await
        .unwrap();
    topics
}

/// A point of `range` drawn afresh by every run, printed so that a failure can be replayed.
pub fn random_in(range: std::ops::Range<usize>) -> usize {
    let n = range.start + (RandomState::new().hash_one(0u8) as usize) % range.len();
    println!("random point: {n}");
    n
}

/// A loopback port the OS has just handed out.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, passing or not.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The processing binary with `env`, killed (SIGKILL) when dropped.
pub fn spawn_processing(env: Vec<(String, String)>) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_processing"))
            .envs(env)
            .spawn()
            .expect("starting the processing binary"),
    )
}

/// Waits until `topic` holds at least `count` committed records.
pub fn wait_for_records(kafka: &KafkaConfig, topic: &str, count: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", format!("continuity-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(180);
    obs_testkit::wait_until_known(&consumer, topic, timeout);
    consumer.subscribe(&[topic]).unwrap();
    let started = Instant::now();
    let mut seen = 0;
    while seen < count {
        assert!(
            started.elapsed() < timeout,
            "{seen} of {count} records on {topic}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            message.unwrap();
            seen += 1;
        }
    }
}

/// The partitions a stage of the instance holds: `/status` at `pointer` (a JSON pointer to
/// the stage's `assigned_partitions`).
pub async fn assigned(state: &Arc<AppState>, pointer: &str) -> Vec<Value> {
    status_at(state, pointer)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value at `pointer` in the instance's `/status` (null if absent).
pub async fn status_at(state: &Arc<AppState>, pointer: &str) -> Value {
    let request = Request::get("/status")
        .header("authorization", obs_testkit::bearer())
        .body(Body::empty())
        .unwrap();
    let (_, _, status) =
        obs_testkit::call_router(&processing::router(state.clone()), request).await;
    status.pointer(pointer).cloned().unwrap_or_default()
}

/// Waits until the two replicas share the stage's 3 partitions (`pointer` as in
/// [`assigned`]).
pub async fn wait_for_rebalance(first: &Arc<AppState>, second: &Arc<AppState>, pointer: &str) {
    let joined = Instant::now();
    loop {
        let (a, b) = (
            assigned(first, pointer).await,
            assigned(second, pointer).await,
        );
        if !a.is_empty() && !b.is_empty() && a.len() + b.len() == 3 {
            println!("partitions {a:?} and {b:?}");
            return;
        }
        assert!(
            joined.elapsed() < Duration::from_secs(90),
            "no rebalance: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every output of the uninterrupted run (by id) is the same in `got`; on a difference,
/// how many `what` differ and the first.
pub fn assert_same(
    got: &BTreeMap<String, String>,
    expected: &BTreeMap<String, String>,
    what: &str,
) {
    let differ: Vec<&String> = expected
        .iter()
        .filter(|(id, output)| got.get(*id) != Some(output))
        .map(|(id, _)| id)
        .collect();
    if let Some(first) = differ.first() {
        panic!(
            "{} of {} {what} differ; first {first}:\n got      {:?}\n expected {}",
            differ.len(),
            expected.len(),
            got.get(*first),
            expected[*first]
        );
    }
}

/// A figure of the instance's `/metrics`.
pub async fn metric(state: &Arc<AppState>, name: &str) -> f64 {
    obs_testkit::metrics_text(&processing::router(state.clone()))
        .await
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Stops the instance and waits until it has.
pub async fn stop(state: Arc<AppState>) {
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}

/// A stage whose producer was fenced, and how to tell what the abort did.
pub struct Fence {
    /// Holds the stage's transactional id until dropped.
    _producer: BaseProducer,
    restores_metric: &'static str,
    aborted_pointer: &'static str,
    restores_before: f64,
}

/// Fences the stage of `transactional_id` in `state`: another producer with its id makes
/// the coordinator abort the stage's open transaction, and the stage's next send or commit
/// fails as fenced; it drops its open batches, which it had already learned, and reads
/// their inputs again. `restores_metric` counts the stage's partition restores,
/// `aborted_pointer` is where `/status` gives its aborted transactions.
pub async fn fence(
    state: &Arc<AppState>,
    kafka: &KafkaConfig,
    transactional_id: &str,
    restores_metric: &'static str,
    aborted_pointer: &'static str,
) -> Fence {
    let restores_before = metric(state, restores_metric).await;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("transactional.id", transactional_id)
        .create()
        .unwrap();
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    Fence {
        _producer: producer,
        restores_metric,
        aborted_pointer,
        restores_before,
    }
}

impl Fence {
    /// Once the stage has read every input: the fenced transaction was aborted, and the
    /// abort rebuilt the stage's state from its checkpoints — each of the 3 partitions
    /// restored again (every one has inputs after the fence) on top of those restored
    /// before it, where an undo in place would restore only those not started yet.
    pub async fn assert_rebuilt(self, state: &Arc<AppState>) {
        let aborted = status_at(state, self.aborted_pointer).await;
        let restores = metric(state, self.restores_metric).await;
        let before = self.restores_before;
        println!("{aborted} transactions aborted, {restores} partitions restored ({before} before the abort)");
        assert!(
            aborted.as_u64().is_some_and(|n| n >= 1),
            "the fenced transaction was aborted: {aborted}"
        );
        assert!(
            restores >= before + 3.0,
            "the abort rebuilt the stage's state: {restores} restores, {before} before it"
        );
    }
}
