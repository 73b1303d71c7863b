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
    /// A thread of a consumer or of the stage loop could not start.
    #[error("cannot start thread {thread}: {source}")]
    ThreadStart {
        thread: String,
        #[source]
        source: std::io::Error,
    },
    /// A consumer thread panicked.
    #[error("thread {thread} panicked")]
    ThreadPanicked { thread: String },
    /// A task a consumer hands its work to has stopped (the stage's commit thread, the
    /// alert forwarder's delivery task).
    #[error("{0} has stopped")]
    Stopped(&'static str),
    /// The consumer is not (or no longer) in its group: offsets cannot go into a
    /// transaction.
    #[error("no consumer group metadata")]
    NoGroupMetadata,
    /// A partition to read does not exist (yet).
    #[error("topic {topic} has no partition {partition}")]
    TopicMissing { topic: String, partition: i32 },
    /// A partition was not read to its end in time.
    #[error("reading {topic}/{partition} took longer than {timeout:?}")]
    ReadTimedOut {
        topic: String,
        partition: i32,
        timeout: Duration,
    },
    /// A transaction's records were not all acknowledged in time.
    #[error("{count} records still undelivered after {after:?}")]
    Undelivered { count: i32, after: Duration },
    /// A stage producer's queue stayed full: a transaction's records could not all be
    /// queued in time.
    #[error("the producer's queue stayed full for {after:?}")]
    QueueStayedFull { after: Duration },
    /// A transactional call of librdkafka ignored its timeout: the producer is stuck in it.
    #[error("librdkafka's {call} has not returned after {after:?}, past its timeout")]
    CallStalled { call: &'static str, after: Duration },
    /// A topic was not read to its end in time (a replay reads its topics whole).
    #[error("{topic} not read to its end within {after:?}")]
    NotReadToEnd { topic: String, after: Duration },
}
