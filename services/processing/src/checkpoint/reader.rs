//! Reads one partition of a topic, `read_committed`, outside every group: from an offset
//! (or its first record) up to an offset, or to its end, the last stable offset. A restore
//! reads `detector-state` that way, then the runs it replays from `standardized-logs`.

use super::error::CheckpointError;
use obs_kafka::consumer::{ConsumerSettings, ConsumerState};
use obs_kafka::{ErrorCounter, KafkaConfig};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_NAME: &str = "processing-detector-restore";
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const READER_TUNING: &[(&str, &str)] = &[
    ("enable.partition.eof", "true"),
    // A restore runs beside the stage: its prefetch is bounded like the stage's.
    ("queued.max.messages.kbytes", "4096"),
];

/// What a read covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRead {
    /// Where it began: the offset asked for, or the partition's first retained offset
    /// when that one is later.
    pub start: i64,
    pub records: u64,
}

/// What a restore reads with.
pub struct PartitionReader {
    pub kafka: KafkaConfig,
    /// Longest one read may take.
    pub timeout: Duration,
    pub errors: ErrorCounter,
}

impl PartitionReader {
    /// Reads `topic`/`partition` from `from` (`None`: its first record) and hands each
    /// record to `each`, until a record at `until` or beyond (not handed) or the
    /// partition's end.
    pub fn read(
        &self,
        topic: &str,
        partition: i32,
        from: Option<i64>,
        until: Option<i64>,
        mut each: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<PartitionRead, CheckpointError> {
        let (kafka, timeout) = (&self.kafka, self.timeout);
        let started = Instant::now();
        let state = Arc::new(ConsumerState::new(self.errors.clone()));
        let consumer = ConsumerSettings::assigned(CLIENT_NAME)
            .tuning(READER_TUNING)
            .create(kafka, state, ())?;
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let exists = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .any(|t| t.partitions().iter().any(|p| p.id() == partition));
        if !exists {
            return Err(CheckpointError::TopicMissing(topic.to_owned()));
        }
        let (low, _) = consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT)?;
        let start = from.map_or(low, |from| from.max(low));
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(start))?;
        consumer.assign(&list)?;
        let mut read = PartitionRead { start, records: 0 };
        loop {
            if started.elapsed() > timeout {
                return Err(CheckpointError::TimedOut {
                    topic: topic.to_owned(),
                    partition,
                    timeout,
                });
            }
            match consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => {
                    if until.is_some_and(|until| message.offset() >= until) {
                        return Ok(read);
                    }
                    read.records += 1;
                    each(&message);
                }
                Some(Err(RdKafkaError::PartitionEOF(_))) => return Ok(read),
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
    }
}
