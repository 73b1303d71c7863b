//! Reads one partition of a topic, or all of them, `read_committed`, outside every group,
//! from a start (an offset, or the first record at or after a time) up to an offset or to
//! the end, the last stable offset: how a stage rebuilds the state of a partition it was
//! just assigned from what the partition's previous owners committed.

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
use std::collections::{BTreeMap, BTreeSet};
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

/// Where a read of a whole topic ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicRead {
    /// Per partition, the offset after the last one read: where the next read resumes.
    pub next: BTreeMap<i32, i64>,
    pub records: u64,
}

/// Reads partitions, each read with a consumer of its own.
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
        let consumer = self.consumer()?;
        let partitions = partitions_of(&consumer, topic)?;
        if !partitions.contains(&partition) {
            return Err(KafkaError::TopicMissing {
                topic: topic.to_owned(),
                partition,
            });
        }
        let start = first_offset(&consumer, topic, partition, start)?;
        let read = self.read_assigned(&consumer, topic, &[(partition, start)], until, &mut each)?;
        Ok(PartitionRead {
            start,
            records: read.records,
        })
    }

    /// Reads every partition of `topic` with one consumer, each from `start(partition)` to
    /// its end, and hands each record to `each`.
    pub fn read_topic(
        &self,
        topic: &str,
        mut start: impl FnMut(i32) -> ReadStart,
        mut each: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<TopicRead, KafkaError> {
        let consumer = self.consumer()?;
        let partitions = partitions_of(&consumer, topic)?;
        if partitions.is_empty() {
            return Err(KafkaError::TopicMissing {
                topic: topic.to_owned(),
                partition: 0,
            });
        }
        let starts = partitions
            .iter()
            .map(|&p| Ok((p, first_offset(&consumer, topic, p, start(p))?)))
            .collect::<Result<Vec<_>, KafkaError>>()?;
        self.read_assigned(&consumer, topic, &starts, None, &mut each)
    }

    fn consumer(&self) -> Result<TrackedConsumer<()>, KafkaError> {
        let state = Arc::new(ConsumerState::new(self.errors.clone()));
        ConsumerSettings::assigned(&self.client_id)
            .tuning(READER_TUNING)
            .create(&self.kafka, state, ())
    }

    /// Reads `starts` (partition, offset) until each partition's end, or a record at
    /// `until` or beyond (one partition only).
    fn read_assigned(
        &self,
        consumer: &TrackedConsumer<()>,
        topic: &str,
        starts: &[(i32, i64)],
        until: Option<i64>,
        each: &mut impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<TopicRead, KafkaError> {
        let started = Instant::now();
        let mut list = TopicPartitionList::new();
        for &(partition, offset) in starts {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        }
        consumer.assign(&list)?;
        let mut read = TopicRead {
            next: starts.iter().copied().collect(),
            records: 0,
        };
        let mut reading: BTreeSet<i32> = read.next.keys().copied().collect();
        while !reading.is_empty() {
            if started.elapsed() > self.timeout {
                return Err(KafkaError::ReadTimedOut {
                    topic: topic.to_owned(),
                    partition: reading.first().copied().unwrap_or_default(),
                    timeout: self.timeout,
                });
            }
            match consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => {
                    if until.is_some_and(|until| message.offset() >= until) {
                        return Ok(read);
                    }
                    read.records += 1;
                    read.next.insert(message.partition(), message.offset() + 1);
                    each(&message);
                }
                Some(Err(RdKafkaError::PartitionEOF(partition))) => {
                    reading.remove(&partition);
                }
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
        Ok(read)
    }
}

/// The partitions of `topic` (none when it does not exist).
fn partitions_of(consumer: &TrackedConsumer<()>, topic: &str) -> Result<Vec<i32>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
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
