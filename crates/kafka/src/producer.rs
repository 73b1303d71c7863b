//! The acknowledged producer used by ingestion.
//!
//! Success is reported only after the broker acknowledged every record of a batch
//! (`acks=all`, idempotence on, so librdkafka's retries never duplicate). Memory is bounded
//! by an admission gate sized in bytes: a batch that does not fit is refused at once with
//! [`KafkaError::QueueFull`] (the HTTP layer answers 503 + `Retry-After`) instead of being
//! buffered without bound or half-enqueued.

use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::headers::RecordHeaders;
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Bookkeeping bytes counted per record on top of key and payload.
const RECORD_OVERHEAD_BYTES: usize = 128;

/// Tuning of the acknowledged producer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerConfig {
    /// `message.timeout.ms`: how long a record may wait for an acknowledgement before the
    /// request fails with 503.
    pub delivery_timeout_ms: u64,
    /// `linger.ms`: how long librdkafka waits to fill a batch.
    pub linger_ms: u64,
    /// `compression.type`: none, gzip, snappy, lz4, zstd (zstd needs the `zstd` feature).
    pub compression: String,
    /// Bytes (keys + payloads) admitted but not yet acknowledged; past it, 503.
    pub max_in_flight_bytes: usize,
    /// `Retry-After` advertised when the producer is full.
    pub retry_after_seconds: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            delivery_timeout_ms: 30_000,
            linger_ms: 5,
            compression: "lz4".into(),
            max_in_flight_bytes: 128 * 1024 * 1024,
            retry_after_seconds: 1,
        }
    }
}

/// One record to publish.
#[derive(Debug, Clone)]
pub struct OutgoingRecord {
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: RecordHeaders,
}

impl OutgoingRecord {
    fn admission_bytes(&self) -> usize {
        self.key.len() + self.payload.len() + RECORD_OVERHEAD_BYTES
    }
}

/// Idempotent `acks=all` producer with bounded admission.
#[derive(Clone)]
pub struct AckedProducer {
    producer: FutureProducer,
    admission: Arc<Semaphore>,
    capacity: usize,
    retry_after: Duration,
}

impl AckedProducer {
    pub fn new(
        kafka: &KafkaConfig,
        service: &str,
        config: &ProducerConfig,
    ) -> Result<AckedProducer, KafkaError> {
        // The gate's permits are u32; librdkafka's own limits sit above the gate so its
        // queue never fills first.
        let capacity = config
            .max_in_flight_bytes
            .clamp(1 << 20, u32::MAX as usize / 2);
        let max_messages = (capacity / RECORD_OVERHEAD_BYTES + 1).min(10_000_000);
        let producer: FutureProducer = kafka
            .client_config(service)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", config.delivery_timeout_ms.to_string())
            .set("linger.ms", config.linger_ms.to_string())
            .set("compression.type", &config.compression)
            .set("queue.buffering.max.messages", max_messages.to_string())
            .set(
                "queue.buffering.max.kbytes",
                (capacity / 1024 * 2).to_string(),
            )
            .create()?;
        Ok(AckedProducer {
            producer,
            admission: Arc::new(Semaphore::new(capacity)),
            capacity,
            retry_after: Duration::from_secs(config.retry_after_seconds.max(1)),
        })
    }

    /// Publishes `records` to `topic` and returns once the broker acknowledged all of them.
    ///
    /// On error, nothing may be claimed as accepted. [`KafkaError::QueueFull`] and
    /// [`KafkaError::BatchTooLarge`] are returned before anything was enqueued.
    pub async fn publish(&self, topic: &str, records: &[OutgoingRecord]) -> Result<(), KafkaError> {
        if records.is_empty() {
            return Ok(());
        }
        let bytes: usize = records.iter().map(OutgoingRecord::admission_bytes).sum();
        if bytes > self.capacity {
            return Err(KafkaError::BatchTooLarge {
                bytes,
                capacity: self.capacity,
            });
        }
        let permits = u32::try_from(bytes).map_err(|_| KafkaError::BatchTooLarge {
            bytes,
            capacity: self.capacity,
        })?;
        let _admitted = self
            .admission
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| KafkaError::QueueFull {
                in_flight_bytes: self.in_flight_bytes(),
                retry_after: self.retry_after,
            })?;

        let mut deliveries = Vec::with_capacity(records.len());
        let mut enqueue_error = None;
        for record in records {
            let message = FutureRecord::to(topic)
                .key(&record.key)
                .payload(&record.payload)
                .headers(record.headers.to_kafka());
            match self.producer.send_result(message) {
                Ok(delivery) => deliveries.push(delivery),
                Err((error, _)) => {
                    enqueue_error = Some(error);
                    break;
                }
            }
        }
        // Await what was enqueued even after an enqueue error, so the permits are released
        // only once librdkafka is done with those records.
        let outcomes = join_all(deliveries).await;
        let mut failed = records.len() - outcomes.len();
        let mut reason = enqueue_error.map(|e| e.to_string());
        for outcome in outcomes {
            let error = match outcome {
                Ok(Ok(_)) => continue,
                Ok(Err((error, _))) => error.to_string(),
                Err(_canceled) => "producer shut down before delivery".to_owned(),
            };
            failed += 1;
            reason.get_or_insert(error);
        }
        match reason {
            None => Ok(()),
            Some(reason) => Err(KafkaError::NotAcknowledged {
                failed,
                total: records.len(),
                reason,
            }),
        }
    }

    /// Bytes admitted and not yet acknowledged.
    pub fn in_flight_bytes(&self) -> usize {
        self.capacity - self.admission.available_permits()
    }

    /// The `Retry-After` to advertise when a publish fails.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// Admission capacity in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.capacity
    }

    /// Waits for everything enqueued to be delivered (at shutdown).
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout)))
            .await
            .map_err(|e| KafkaError::NotAcknowledged {
                failed: 0,
                total: 0,
                reason: format!("flush task failed: {e}"),
            })?
            .map_err(KafkaError::from)
    }
}
