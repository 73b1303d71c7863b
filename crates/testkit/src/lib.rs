//! Support for integration tests that talk to a real Kafka broker.
//!
//! Tests never skip: when no broker answers they fail and say how to start one
//! (`make kafka-up`). Each test gets its own topics, so tests run in parallel and a broker
//! reused across runs never mixes their records; the topics are deleted when the test ends.

mod answer_schemas;
mod contract;
mod keys;
mod router;
mod routes;

pub use answer_schemas::answer_schema_problems;
pub use contract::{check_document, documented_operations, documented_scope, served_document};
pub use keys::{auth, auth_env, bearer, TEST_TOKEN};
pub use router::{call_router, metrics_text};
pub use routes::{
    check_burst_is_429, check_routes, scoped_auth, scoped_token, slow_scoped_auth, Route,
};

use obs_kafka::{KafkaConfig, TopicsConfig};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientConfig, Message};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// How long dropping [`TestTopics`] waits for the broker to accept the deletion.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// `KAFKA_BOOTSTRAP_SERVERS`, else the stack's default broker.
fn bootstrap_servers() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .unwrap_or_else(|_| KafkaConfig::default().bootstrap_servers)
}

/// The broker of the tests: `KAFKA_BOOTSTRAP_SERVERS` or `127.0.0.1:9092`. Panics when it
/// does not accept connections.
pub fn kafka() -> KafkaConfig {
    let bootstrap = bootstrap_servers();
    let reachable = bootstrap.split(',').any(|server| {
        server
            .trim()
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
    });
    assert!(
        reachable,
        "no Kafka broker answers at {bootstrap}: start one with `make kafka-up` \
         (integration tests need a real broker and never skip)"
    );
    KafkaConfig {
        bootstrap_servers: bootstrap,
        ..KafkaConfig::default()
    }
}

/// `OBS_TOPICS__<FIELD>__NAME` for every topic of `topics`, for a service binary a test
/// starts: read from the config's fields, so a topic added to the stack gets its test name
/// too (a default name would be shared by every test on the broker).
pub fn topic_env(topics: &TopicsConfig) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(topics) else {
        panic!("TopicsConfig serializes as an object");
    };
    fields
        .iter()
        .filter_map(|(field, spec)| {
            let name = spec.get("name")?.as_str()?;
            Some((
                format!("OBS_TOPICS__{}__NAME", field.to_uppercase()),
                name.to_owned(),
            ))
        })
        .collect()
}

/// The stack's topics under names unique to one test (see [`TestTopics`]).
pub fn unique_topics() -> TestTopics {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let suffix = &suffix[..12];
    let mut config = TopicsConfig {
        replication_factor: 1,
        ..TopicsConfig::default()
    };
    for spec in config.all_mut() {
        spec.name = format!("test-{}-{suffix}", spec.name);
    }
    TestTopics {
        config,
        bootstrap_servers: bootstrap_servers(),
    }
}

/// A test's topics configuration (it derefs to [`TopicsConfig`]) that deletes those topics
/// from the broker when dropped, so test runs do not pile topics up on a reused broker.
/// Keep it alive for the whole test: hold it in a named binding, not `_`.
pub struct TestTopics {
    config: TopicsConfig,
    bootstrap_servers: String,
}

impl Deref for TestTopics {
    type Target = TopicsConfig;

    fn deref(&self) -> &TopicsConfig {
        &self.config
    }
}

impl DerefMut for TestTopics {
    fn deref_mut(&mut self) -> &mut TopicsConfig {
        &mut self.config
    }
}

impl Drop for TestTopics {
    /// Best-effort: a topic never created, an unreachable broker or a slow answer are
    /// ignored, and nothing here panics (the drop may run while a failed test unwinds).
    fn drop(&mut self) {
        let names = self.config.all().map(|spec| spec.name.clone());
        let bootstrap = self.bootstrap_servers.clone();
        // A thread of its own: the drop may run inside a test's Tokio runtime, where
        // blocking on another runtime is refused.
        let deleting = std::thread::spawn(move || delete_topics(&bootstrap, &names));
        let _ = deleting.join();
    }
}

/// Asks the broker to delete `names`, waiting at most [`DELETE_TIMEOUT`] for its answer.
fn delete_topics(bootstrap: &str, names: &[String]) {
    let Ok(admin) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<AdminClient<DefaultClientContext>>()
    else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = AdminOptions::new().request_timeout(Some(DELETE_TIMEOUT));
    // The timeout is made inside the runtime: its timer needs the runtime's time driver.
    let _ = runtime.block_on(async {
        tokio::time::timeout(DELETE_TIMEOUT, admin.delete_topics(&names, &options)).await
    });
}

/// Reads `topic` from the beginning as a `read_committed` consumer outside any group, until
/// `expected` messages arrived and then `settle` passed with nothing more (so extra
/// messages are seen too), or until `timeout`.
pub fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    expected: usize,
    settle: Duration,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", format!("testkit-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .expect("creating the test consumer");
    let started = Instant::now();
    wait_until_known(&consumer, topic, timeout);
    consumer.subscribe(&[topic]).expect("subscribing");
    let mut last_message = Instant::now();
    let mut messages = Vec::new();
    while started.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                messages.push(message.detach());
                last_message = Instant::now();
            }
            Some(Err(error)) => panic!("reading {topic}: {error}"),
            None => {
                if messages.len() >= expected && last_message.elapsed() >= settle {
                    break;
                }
            }
        }
    }
    messages
}

/// Waits until the broker's metadata lists `topic` with its partitions, at most `timeout`.
/// A topic just created may not be there yet (creation propagates asynchronously, slower on
/// a loaded machine): a consumer subscribed before then is told `UnknownTopicOrPartition`,
/// and reading an empty topic would prove nothing.
pub fn wait_until_known(consumer: &BaseConsumer, topic: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let partitions = obs_kafka::topics::partitions_of(consumer, topic, Duration::from_secs(5));
        if matches!(partitions, Ok(Some(partitions)) if !partitions.is_empty()) {
            return;
        }
        assert!(started.elapsed() < timeout, "{topic} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The key of a message as text.
pub fn key_of(message: &OwnedMessage) -> String {
    String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned()
}

/// One message to produce: key, payload, headers.
pub type TestMessage = (Option<Vec<u8>>, Vec<u8>, rdkafka::message::OwnedHeaders);

/// Produces `messages` to `topic` (idempotent, acks=all) and waits until all are delivered.
pub fn produce(kafka: &KafkaConfig, topic: &str, messages: Vec<TestMessage>) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("creating the test producer");
    for (key, payload, headers) in &messages {
        let mut record = BaseRecord::to(topic)
            .payload(payload)
            .headers(headers.clone());
        if let Some(key) = key {
            record = record.key(key);
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("flushing the test producer");
}

/// Messages as ingestion writes them: key = series key, the record headers.
pub fn raw_messages(records: &[obs_records::RawRecord]) -> Vec<TestMessage> {
    records
        .iter()
        .map(|record| {
            let headers = obs_kafka::RecordHeaders {
                record_id: record.record_id(),
                schema_version: obs_records::RAW_SCHEMA_VERSION.into(),
                content_type: "application/json".into(),
                ingested_at: chrono::Utc::now(),
                traceparent: obs_kafka::TraceParent::new_root(),
            };
            (
                Some(record.series_key().into_bytes()),
                record.to_json_bytes(),
                headers.to_kafka(),
            )
        })
        .collect()
}
