//! Reads one partition of a topic, `read_committed`, outside every group, from a start
//! (an offset, or the first record at or after a time) up to an offset or to its end, the
//! last stable offset: how a stage rebuilds the state of a partition it was just assigned
//! from what the partition's previous owners committed.

use super::context::TrackedConsumer;
use super::settings::ConsumerSettings;
use super::state::ConsumerState;
use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::error_counter::ErrorCounter;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, Instant};

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const READER_TUNING: &[(&str, &str)] = &[
    ("enable.partition.eof", "true"),
    // A read runs beside the stage: its prefetch is bounded like the stage's.
    ("queued.max.messages.kbytes", "4096"),
];

/// Where a read begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStart {
    /// At this offset, or at the first retained one when that is later.
    Offset(i64),
    /// At the first record whose timestamp is at or after this one (Unix milliseconds).
    Time(i64),
}

/// What a read covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRead {
    /// Where it began.
    pub start: i64,
    pub records: u64,
}

/// Reads partitions one at a time, each with a consumer of its own.
pub struct PartitionReader {
    /// The consumer's `client.id`.
    pub client_id: String,
    pub kafka: KafkaConfig,
    /// Longest one read may take.
    pub timeout: Duration,
    pub errors: ErrorCounter,
}

impl PartitionReader {
    /// Reads `topic`/`partition` from `start` and hands each record to `each`, until a
    /// record at `until` or beyond (not handed) or the partition's end.
    pub fn read(
        &self,
        topic: &str,
        partition: i32,
        start: ReadStart,
        until: Option<i64>,
        mut each: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<PartitionRead, KafkaError> {
        let started = Instant::now();
        let state = Arc::new(ConsumerState::new(self.errors.clone()));
        let consumer = ConsumerSettings::assigned(&self.client_id)
            .tuning(READER_TUNING)
            .create(&self.kafka, state, ())?;
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let exists = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .any(|t| t.partitions().iter().any(|p| p.id() == partition));
        if !exists {
            return Err(KafkaError::TopicMissing {
                topic: topic.to_owned(),
                partition,
            });
        }
        let start = first_offset(&consumer, topic, partition, start)?;
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition, Offset::Offset(start))?;
        consumer.assign(&list)?;
        let mut read = PartitionRead { start, records: 0 };
        loop {
            if started.elapsed() > self.timeout {
                return Err(KafkaError::ReadTimedOut {
                    topic: topic.to_owned(),
                    partition,
                    timeout: self.timeout,
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

/// The offset `start` names: never before the first retained record; for a time with no
/// record at or after it, the partition's end.
fn first_offset(
    consumer: &TrackedConsumer<()>,
    topic: &str,
    partition: i32,
    start: ReadStart,
) -> Result<i64, KafkaError> {
    let (low, high) = consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT)?;
    let offset = match start {
        ReadStart::Offset(offset) => offset,
        ReadStart::Time(at_ms) => {
            let mut times = TopicPartitionList::new();
            times.add_partition_offset(topic, partition, Offset::Offset(at_ms))?;
            let found = consumer.offsets_for_times(times, METADATA_TIMEOUT)?;
            match found.find_partition(topic, partition).map(|p| p.offset()) {
                Some(Offset::Offset(offset)) => offset,
                _ => high,
            }
        }
    };
    Ok(offset.max(low))
}
