//! Rebuilds the incident book from the `incidents` topic: every partition from its
//! beginning up to its last stable offset, `read_committed`.
//!
//! The stage does this at start and after every change of its assignment or dropped batch,
//! before the next signal: the previous owner of a partition ended its transaction before
//! giving the partition up (or was fenced when its successor started with the same
//! transactional id), so what is committed is everything the book must know. Reading stops
//! at the last stable offset (librdkafka's partition end for a `read_committed` consumer):
//! a transaction still open is another partition's, whose signals this book never applies.

use obs_incidents::{Incident, IncidentBook};
use obs_kafka::consumer::{ConsumerSettings, ConsumerState};
use obs_kafka::topics::partitions_of;
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_NAME: &str = "processing-incidents-restore";
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const RESTORE_TUNING: &[(&str, &str)] = &[("enable.partition.eof", "true")];

/// Why a restore failed; the stage retries it before the next signal.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("the incidents topic {0} does not exist")]
    TopicMissing(String),
    #[error("restoring the incidents took longer than {timeout:?} (partitions {pending:?} not read to their end)")]
    TimedOut {
        timeout: Duration,
        pending: Vec<i32>,
    },
}

impl From<RdKafkaError> for RestoreError {
    fn from(error: RdKafkaError) -> Self {
        RestoreError::Kafka(KafkaError::Client(error))
    }
}

/// What a restore read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub records: u64,
    pub unreadable: u64,
    pub incidents: usize,
}

/// Clears `book` and fills it with the latest committed state of every incident, giving up
/// after `timeout` (the book is then left cleared and the error returned).
pub fn restore(
    kafka: &KafkaConfig,
    topic: &str,
    book: &mut IncidentBook,
    errors: &ErrorCounter,
    timeout: Duration,
) -> Result<Restored, RestoreError> {
    book.clear();
    let started = Instant::now();
    let state = Arc::new(ConsumerState::new(errors.clone()));
    let consumer = ConsumerSettings::assigned(CLIENT_NAME)
        .tuning(RESTORE_TUNING)
        .create(kafka, state, ())?;
    let partitions = partitions_of(&consumer, topic, METADATA_TIMEOUT)?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| RestoreError::TopicMissing(topic.to_owned()))?;
    let mut list = TopicPartitionList::new();
    for &p in &partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let mut pending: BTreeSet<i32> = partitions.into_iter().collect();
    let mut restored = Restored {
        records: 0,
        unreadable: 0,
        incidents: 0,
    };
    while !pending.is_empty() {
        if started.elapsed() > timeout {
            book.clear();
            return Err(RestoreError::TimedOut {
                timeout,
                pending: pending.into_iter().collect(),
            });
        }
        match consumer.poll(POLL_TIMEOUT) {
            Some(Ok(message)) => {
                restored.records += 1;
                let Some(payload) = message.payload() else {
                    // A tombstone: nothing to keep.
                    continue;
                };
                match obs_records::from_json_bytes::<Incident>(payload) {
                    Ok(incident) => book.restore(incident),
                    Err(error) => {
                        restored.unreadable += 1;
                        errors.failure(
                            obs_kafka::ErrorStage::Receiving,
                            "unreadable_record",
                            1,
                            &format_args!(
                                "incident restore skipped {}/{}@{}: {error}",
                                message.topic(),
                                message.partition(),
                                message.offset()
                            ),
                        );
                    }
                }
            }
            Some(Err(RdKafkaError::PartitionEOF(partition))) => {
                pending.remove(&partition);
            }
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }
    restored.incidents = book.len();
    Ok(restored)
}
