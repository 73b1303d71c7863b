//! Feeds the [`LogView`] from `standardized-app-logs`, as the analytics reader feeds its
//! view from the outputs of processing.
//!
//! One consumer of the stack's building block ([`obs_kafka::consumer`]), on its own thread,
//! reads every partition of the topic:
//!
//! * `assign` from `Offset::Beginning`, never `subscribe`: outside every consumer group,
//!   so each replica's index covers all partitions and takes none from anyone; nothing is
//!   committed, so a restart re-reads the retained topic and rebuilds the same index.
//! * `isolation.level=read_committed`: events of aborted standardization transactions are
//!   never indexed.
//! * The topic is looked up until it exists; partitions added later are found by a
//!   metadata check every `logs.partition_check_ms` and read from their beginning.
//! * A payload that does not parse is counted and logged with its partition and offset,
//!   then skipped.
//!
//! "Caught up" means every partition's position reached the last stable offset measured
//! when the partitions were assigned: from then on the index reflects at least everything
//! published before start (within its bounds).

use super::metrics::IndexMetrics;
use super::view::LogView;
use chrono::{DateTime, Utc};
use obs_kafka::consumer::{
    spawn_consumer, ConsumerSettings, ConsumerState, ConsumerStatus, ConsumerThread, Control,
    Progress, TrackedConsumer,
};
use obs_kafka::sync::lock;
use obs_kafka::{ErrorCounter, ErrorStage, KafkaConfig, KafkaError};
use obs_records::StandardizedLogEvent;
use rdkafka::consumer::Consumer;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `client.id` of the reader, and the prefix of its throwaway `group.id`.
const CLIENT_NAME: &str = "processing-log-index";
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two looks for the missing topic (or failed watermark queries).
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often positions are refreshed for the status and the catch-up check.
const POSITION_INTERVAL: Duration = Duration::from_millis(500);
/// The reader's tuning (`kafka.properties` overrides it): the analytics reader's, a 1 MiB
/// cap on librdkafka's prefetch queue (compressed) and a short pause before fetching a
/// partition whose queue was full.
const READER_TUNING: &[(&str, &str)] = &[
    ("queued.max.messages.kbytes", "1024"),
    ("fetch.queue.backoff.ms", "5"),
];

/// The reader's phases, as its status shows them.
pub mod phase {
    /// The topic does not exist yet (or metadata is unavailable); retried every second.
    pub const WAITING_FOR_TOPIC: &str = "waiting_for_topic";
    /// Reading what was published before start.
    pub const CATCHING_UP: &str = "catching_up";
    /// Caught up; following new events.
    pub const LIVE: &str = "live";
}

/// Progress of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionProgress {
    pub partition: i32,
    /// First offset still retained when the reader started.
    pub start_low_watermark: i64,
    /// Last stable offset when the reader started; the catch-up target.
    pub start_high_watermark: i64,
    /// Next offset the reader will read, once it has read from the partition.
    pub position: Option<i64>,
}

impl PartitionProgress {
    /// Whether everything retained at start was read (trivially, when nothing was).
    fn reached_start_target(&self) -> bool {
        self.start_high_watermark <= self.start_low_watermark
            || self
                .position
                .is_some_and(|at| at >= self.start_high_watermark)
    }
}

/// A snapshot of the reader, for `/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogReaderStatus {
    /// Phase (see [`phase`]), running, errors and the last one.
    #[serde(flatten)]
    pub consumer: ConsumerStatus,
    pub topic: String,
    pub events_indexed: u64,
    /// Payloads that are not a standardized log event; skipped.
    pub parse_errors: u64,
    pub partitions: Vec<PartitionProgress>,
    pub caught_up: bool,
    pub caught_up_at: Option<DateTime<Utc>>,
    /// The latest parse error, with its partition and offset.
    pub last_parse_error: Option<String>,
}

/// What the reader has read, shared by its thread and its handle.
#[derive(Debug, Default)]
pub struct LogReaderProgress {
    topic: String,
    events: AtomicU64,
    parse_errors: AtomicU64,
    partitions: Mutex<Vec<PartitionProgress>>,
    caught_up_at: Mutex<Option<DateTime<Utc>>>,
    last_parse_error: Mutex<Option<String>>,
}

impl Progress for LogReaderProgress {
    type Status = LogReaderStatus;

    fn status(&self, consumer: ConsumerStatus) -> LogReaderStatus {
        let caught_up_at = *lock(&self.caught_up_at);
        LogReaderStatus {
            consumer,
            topic: self.topic.clone(),
            events_indexed: self.events.load(Ordering::Relaxed),
            parse_errors: self.parse_errors.load(Ordering::Relaxed),
            partitions: lock(&self.partitions).clone(),
            caught_up: caught_up_at.is_some(),
            caught_up_at,
            last_parse_error: lock(&self.last_parse_error).clone(),
        }
    }
}

/// The running reader. Dropping the handle stops it without waiting; `join` waits: it
/// leaves within one poll, or one broker request while it still looks its topic up.
pub type LogReaderHandle = ConsumerThread<LogReaderProgress>;

/// What the reader needs besides its Kafka settings.
pub struct LogReaderSettings {
    /// `standardized-app-logs`.
    pub topic: String,
    pub partition_check: Duration,
    pub metrics: IndexMetrics,
}

/// Starts reading every partition of `settings.topic` into `view`, on a thread of its own.
pub fn spawn_log_reader(
    kafka: &KafkaConfig,
    settings: LogReaderSettings,
    view: Arc<LogView>,
    errors: &ErrorCounter,
) -> Result<LogReaderHandle, KafkaError> {
    let state = Arc::new(ConsumerState::new(errors.clone()));
    let consumer = ConsumerSettings::assigned(CLIENT_NAME)
        .tuning(READER_TUNING)
        .create(kafka, state.clone(), ())?;
    let progress = Arc::new(LogReaderProgress {
        topic: settings.topic,
        ..LogReaderProgress::default()
    });
    let reader = Reader {
        consumer,
        view,
        progress: progress.clone(),
        partition_check: settings.partition_check,
        metrics: settings.metrics,
        errors: errors.clone(),
    };
    spawn_consumer("log-index-reader", state, progress, move |control| {
        reader.run(control);
        Ok(())
    })
}

struct Reader {
    consumer: TrackedConsumer,
    view: Arc<LogView>,
    progress: Arc<LogReaderProgress>,
    partition_check: Duration,
    metrics: IndexMetrics,
    errors: ErrorCounter,
}

impl Reader {
    fn run(&self, control: &Control) {
        if let Some(partitions) = self.assign_all(control) {
            tracing::info!(partitions = partitions.len(), topic = %self.progress.topic,
                "log index reader assigned");
            self.read(control, partitions);
        }
        tracing::info!("log index reader stopped");
    }

    /// Looks the topic up until it exists, records each partition's catch-up target and
    /// assigns them all from the beginning. `None` when asked to stop first.
    fn assign_all(&self, control: &Control) -> Option<Vec<PartitionProgress>> {
        let state = control.state();
        state.set_phase(phase::WAITING_FOR_TOPIC);
        let mut reported = None;
        loop {
            if control.stopping() {
                return None;
            }
            match self.targets_except(&[]).and_then(|partitions| {
                self.consumer
                    .assign(&self.list_from_beginning(&partitions)?)
                    .map_err(|e| e.to_string())?;
                Ok(partitions)
            }) {
                Ok(partitions) => {
                    lock(&self.progress.partitions).clone_from(&partitions);
                    state.set_phase(phase::CATCHING_UP);
                    state.clear_error();
                    return Some(partitions);
                }
                Err(reason) => {
                    // Once per distinct reason, not once a second.
                    if reported.as_ref() != Some(&reason) {
                        state.error(
                            ErrorStage::Receiving,
                            "topics_missing",
                            &format_args!("waiting for its topic: {reason}"),
                        );
                        reported = Some(reason);
                    }
                    pause(control, RETRY_INTERVAL);
                }
            }
        }
    }

    /// `partitions`, each to be read from its first retained offset.
    fn list_from_beginning(
        &self,
        partitions: &[PartitionProgress],
    ) -> Result<TopicPartitionList, String> {
        let mut list = TopicPartitionList::new();
        for p in partitions {
            list.add_partition_offset(&self.progress.topic, p.partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        Ok(list)
    }

    /// The partitions of the topic not in `known`, each with its last stable offset now.
    fn targets_except(
        &self,
        known: &[PartitionProgress],
    ) -> Result<Vec<PartitionProgress>, String> {
        let topic = &self.progress.topic;
        let mut partitions = Vec::new();
        for partition in self.partition_ids()? {
            if known.iter().any(|p| p.partition == partition) {
                continue;
            }
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
                .map_err(|e| format!("watermarks of {topic}/{partition}: {e}"))?;
            partitions.push(PartitionProgress {
                partition,
                start_low_watermark: low,
                start_high_watermark: high,
                position: None,
            });
        }
        Ok(partitions)
    }

    /// The partition ids of the topic, from the broker's metadata.
    fn partition_ids(&self) -> Result<Vec<i32>, String> {
        let topic = &self.progress.topic;
        let metadata = self
            .consumer
            .fetch_metadata(Some(topic), METADATA_TIMEOUT)
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .find_map(|t| match t.error() {
                None if !t.partitions().is_empty() => {
                    Some(t.partitions().iter().map(|p| p.id()).collect())
                }
                _ => None,
            })
            .ok_or_else(|| format!("topic {topic} does not exist yet"))
    }

    /// Assigns, from their beginning, the partitions added to the topic since
    /// `partitions` were listed, and lists them there too. An error is logged and kept
    /// for the status; the next check tries again.
    fn assign_new_partitions(
        &self,
        state: &ConsumerState,
        partitions: &mut Vec<PartitionProgress>,
    ) {
        let result = self.targets_except(partitions).and_then(|added| {
            if !added.is_empty() {
                self.consumer
                    .incremental_assign(&self.list_from_beginning(&added)?)
                    .map_err(|e| format!("assigning added partitions: {e}"))?;
            }
            Ok(added)
        });
        match result {
            Ok(added) => {
                for p in &added {
                    tracing::info!(topic = %self.progress.topic, partition = p.partition,
                        "log index reader: reading a partition added to its topic");
                }
                partitions.extend(added);
            }
            Err(reason) => state.error(
                ErrorStage::Receiving,
                "metadata",
                &format_args!("looking for added partitions: {reason}"),
            ),
        }
    }

    fn read(&self, control: &Control, mut partitions: Vec<PartitionProgress>) {
        let state = control.state();
        let mut caught_up = false;
        let mut last_positions = Instant::now();
        let mut last_partition_check = Instant::now();
        while !control.stopping() {
            match self.consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => self.apply(&message),
                Some(Err(error)) => state.error(ErrorStage::Receiving, "kafka_consumer", &error),
                None => {}
            }
            if last_partition_check.elapsed() >= self.partition_check {
                self.assign_new_partitions(state, &mut partitions);
                last_partition_check = Instant::now();
            }
            if last_positions.elapsed() >= POSITION_INTERVAL {
                last_positions = Instant::now();
                self.refresh_positions(&mut partitions);
                let reached = partitions
                    .iter()
                    .all(PartitionProgress::reached_start_target);
                lock(&self.progress.partitions).clone_from(&partitions);
                if reached && !caught_up {
                    caught_up = true;
                    *lock(&self.progress.caught_up_at) = Some(Utc::now());
                    self.view.mark_caught_up();
                    state.set_phase(phase::LIVE);
                    state.clear_error();
                    tracing::info!(
                        events = self.progress.events.load(Ordering::Relaxed),
                        "log index reader caught up"
                    );
                }
            }
        }
    }

    fn refresh_positions(&self, partitions: &mut [PartitionProgress]) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        for p in partitions {
            if let Some(at) = positions
                .find_partition(&self.progress.topic, p.partition)
                .and_then(|e| e.offset().to_raw())
                .filter(|&at| at >= 0)
            {
                p.position = Some(at);
            }
        }
    }

    fn apply(&self, message: &BorrowedMessage<'_>) {
        let payload = message.payload().unwrap_or_default();
        match serde_json::from_slice::<StandardizedLogEvent>(payload) {
            Ok(event) => {
                let (evicted, stats) = self.view.insert(event);
                self.progress.events.fetch_add(1, Ordering::Relaxed);
                let m = &self.metrics;
                m.indexed.inc();
                m.evicted.inc_by(evicted as u64);
                m.held.set(stats.held as i64);
                m.held_bytes.set(stats.held_bytes as i64);
            }
            Err(error) => {
                let (partition, offset) = (message.partition(), message.offset());
                let message = format!("{}/{partition}@{offset}: {error}", self.progress.topic);
                self.errors.failure(
                    ErrorStage::Receiving,
                    "unreadable_record",
                    1,
                    &format_args!(
                        "log index reader skipped a payload that does not parse: {message}"
                    ),
                );
                self.progress.parse_errors.fetch_add(1, Ordering::Relaxed);
                *lock(&self.progress.last_parse_error) = Some(message);
            }
        }
    }
}

/// Sleeps up to `duration`, waking early when asked to stop.
fn pause(control: &Control, duration: Duration) {
    let until = Instant::now() + duration;
    while !control.stopping() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}
