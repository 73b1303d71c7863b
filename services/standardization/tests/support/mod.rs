//! What the standardization tests share: a config on the test broker with topics of its
//! own, and reading them.

use obs_kafka::StageConfig;
use obs_testkit::{read_topic, TestTopics};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::Message;
use standardization::StandardizationConfig;
use std::time::Duration;

/// A config on the test broker with topics of its own, deleted when the `TestTopics` drops.
pub fn config() -> (StandardizationConfig, TestTopics) {
    let topics = obs_testkit::unique_topics();
    let config = StandardizationConfig {
        kafka: obs_testkit::kafka(),
        stage: StageConfig {
            batch_max_ms: 50,
            transaction_timeout_ms: 10_000,
            transactional_id: format!("test-{}", topics.raw_logs.name),
            ..StageConfig::for_group(&format!("test-{}", topics.raw_logs.name))
        },
        topics: topics.clone(),
        auth: obs_testkit::auth(),
        ..StandardizationConfig::default()
    };
    (config, topics)
}

/// `topic` read from the beginning (`read_committed`) until `expected` records came.
pub fn read(config: &StandardizationConfig, topic: &str, expected: usize) -> Vec<OwnedMessage> {
    read_topic(
        &config.kafka,
        topic,
        expected,
        Duration::from_secs(3),
        Duration::from_secs(90),
    )
}

/// The text of header `name` of `message`.
pub fn header<'a>(message: &'a OwnedMessage, name: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}
