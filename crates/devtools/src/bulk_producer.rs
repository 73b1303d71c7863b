//! The bench tools' way to fill a topic fast: an idempotent, batching, compressing producer
//! with a deep queue, and a send that waits while that queue is full instead of failing.

use obs_kafka::{KafkaConfig, KafkaError};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use std::time::Duration;

pub type BulkProducer = ThreadedProducer<DefaultProducerContext>;

/// A producer named `client_id` for writing many records at once.
pub fn bulk_producer(kafka: &KafkaConfig, client_id: &str) -> Result<BulkProducer, KafkaError> {
    Ok(kafka
        .client_config(client_id)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

/// Queues one record, waiting while the producer's queue is full.
pub fn send(
    producer: &BulkProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: OwnedHeaders,
) {
    let mut message = BaseRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(headers);
    while let Err((_, back)) = producer.send(message) {
        message = back;
        std::thread::sleep(Duration::from_millis(5));
    }
}
