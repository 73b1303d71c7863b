use std::time::Duration;

/// The one error type of the Kafka plumbing.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused a configuration or a call.
    #[error("kafka client error: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// The producer is at its admission limit; the caller should retry later.
    #[error("producer queue is full ({in_flight_bytes} bytes in flight); retry later")]
    QueueFull {
        in_flight_bytes: usize,
        retry_after: Duration,
    },
    /// A batch is larger than the producer could ever admit at once.
    #[error("batch of {bytes} bytes exceeds the producer capacity of {capacity} bytes")]
    BatchTooLarge { bytes: usize, capacity: usize },
    /// The broker did not acknowledge (unreachable, timed out, refused the write).
    /// `failed` of `total` records are not acknowledged; the others are.
    #[error("broker did not acknowledge {failed} of {total} records: {reason}")]
    NotAcknowledged {
        failed: usize,
        total: usize,
        reason: String,
    },
    /// Topic administration failed.
    #[error("topic administration failed for {topic}: {reason}")]
    Admin { topic: String, reason: String },
    /// The consume-transform-produce loop cannot go on.
    #[error("stage loop: {0}")]
    Stage(String),
}
