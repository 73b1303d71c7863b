//! Feeds the [`AnalyticsView`] from `processed-metrics` and `alerts`.
//!
//! One consumer of the stack's building block ([`obs_kafka::consumer`]), on its own thread,
//! reads every partition of both topics:
//!
//! * `assign` from `Offset::Beginning`, never `subscribe`: the reader is outside every
//!   consumer group, so it does not take partitions away from the processing replicas, and
//!   each replica's view covers all partitions. Its `group.id` is unique and throwaway;
//!   nothing is ever committed (`enable.auto.commit=false`), so a restart re-reads the
//!   retained topics and rebuilds the same view.
//! * `isolation.level=read_committed`: records of aborted processing transactions are
//!   never counted.
//! * Topics are looked up until they exist (the processing stage may create them after
//!   the reader starts); partitions added later are found by a metadata check every
//!   `analytics.partition_check_ms` and read from their beginning.
//! * A payload that does not parse is counted and logged with its topic, partition and
//!   offset, then skipped: one bad record must not stop the view.
//!
//! "Caught up" means every partition's position reached the last stable offset (the high
//! watermark as a `read_committed` reader sees it) measured when the partitions were
//! assigned: from then on the view reflects at least everything published before start.

use super::view::AnalyticsView;
use chrono::{DateTime, Utc};
use obs_detector::Alert;
use obs_kafka::consumer::{
    spawn_consumer, ConsumerSettings, ConsumerState, ConsumerStatus, ConsumerThread, Control,
    Progress, TrackedConsumer,
};
use obs_kafka::sync::lock;
use obs_kafka::{ErrorCounter, ErrorStage, KafkaConfig, KafkaError, TopicsConfig};
use rdkafka::consumer::Consumer;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `client.id` of the reader, and the prefix of its throwaway `group.id`.
const CLIENT_NAME: &str = "processing-analytics";
const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two looks for missing topics (or failed watermark queries).
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often positions are refreshed for the status and the catch-up check.
const POSITION_INTERVAL: Duration = Duration::from_millis(500);
/// The reader's tuning (`kafka.properties` overrides it): a 1 MiB cap on librdkafka's
/// prefetch queue (its own default is 64 MiB; this is the compressed size, about 3.5 MiB
/// once decompressed), part of the view's memory bound, and a 5 ms pause, not 1 s, before
/// fetching a partition whose queue was full.
const READER_TUNING: &[(&str, &str)] = &[
    ("queued.max.messages.kbytes", "1024"),
    ("fetch.queue.backoff.ms", "5"),
];

/// The reader's phases, as its status shows them.
pub mod phase {
    /// A topic does not exist yet (or metadata is unavailable); retried every second.
    pub const WAITING_FOR_TOPICS: &str = "waiting_for_topics";
    /// Reading what was published before start.
    pub const CATCHING_UP: &str = "catching_up";
    /// Caught up; following new records.
    pub const LIVE: &str = "live";
}

/// Progress of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionProgress {
    pub topic: String,
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
pub struct ReaderStatus {
    /// Phase (see [`phase`]), running, errors and the last one (a missing topic while
    /// waiting; cleared once caught up).
    #[serde(flatten)]
    pub consumer: ConsumerStatus,
    pub processed_topic: String,
    pub alerts_topic: String,
    pub records_applied: u64,
    pub alerts_applied: u64,
    /// Payloads that are not a processed record or an alert; skipped.
    pub parse_errors: u64,
    pub partitions: Vec<PartitionProgress>,
    pub caught_up: bool,
    pub caught_up_at: Option<DateTime<Utc>>,
    /// The latest parse error, with its topic/partition/offset.
    pub last_parse_error: Option<String>,
}

/// What the reader has read, shared by its thread and its handle.
#[derive(Debug, Default)]
pub struct ReaderProgress {
    processed_topic: String,
    alerts_topic: String,
    records: AtomicU64,
    alerts: AtomicU64,
    parse_errors: AtomicU64,
    partitions: Mutex<Vec<PartitionProgress>>,
    caught_up_at: Mutex<Option<DateTime<Utc>>>,
    last_parse_error: Mutex<Option<String>>,
}

impl Progress for ReaderProgress {
    type Status = ReaderStatus;

    fn status(&self, consumer: ConsumerStatus) -> ReaderStatus {
        let caught_up_at = *lock(&self.caught_up_at);
        ReaderStatus {
            consumer,
            processed_topic: self.processed_topic.clone(),
            alerts_topic: self.alerts_topic.clone(),
            records_applied: self.records.load(Ordering::Relaxed),
            alerts_applied: self.alerts.load(Ordering::Relaxed),
            parse_errors: self.parse_errors.load(Ordering::Relaxed),
            partitions: lock(&self.partitions).clone(),
            caught_up: caught_up_at.is_some(),
            caught_up_at,
            last_parse_error: lock(&self.last_parse_error).clone(),
        }
    }
}

/// The running reader. Dropping the handle stops the reader without waiting for it;
/// `join` waits: it leaves within one poll (≤ 200 ms), or one broker request (≤ 5 s)
/// while it is still looking its topics up.
pub type ReaderHandle = ConsumerThread<ReaderProgress>;

/// Starts reading every partition of `topics.processed_metrics` and `topics.alerts` into
/// `view`, on a thread of its own.
pub fn spawn_reader(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    view: Arc<AnalyticsView>,
    errors: &ErrorCounter,
) -> Result<ReaderHandle, KafkaError> {
    let state = Arc::new(ConsumerState::new(errors.clone()));
    let consumer = ConsumerSettings::assigned(CLIENT_NAME)
        .tuning(READER_TUNING)
        .create(kafka, state.clone(), ())?;
    let progress = Arc::new(ReaderProgress {
        processed_topic: topics.processed_metrics.name.clone(),
        alerts_topic: topics.alerts.name.clone(),
        ..ReaderProgress::default()
    });
    let reader = Reader {
        consumer,
        view,
        progress: progress.clone(),
        errors: errors.clone(),
    };
    spawn_consumer("analytics-reader", state, progress, move |control| {
        reader.run(control);
        Ok(())
    })
}

/// `partitions`, each to be read from its first retained offset.
fn from_beginning(partitions: &[PartitionProgress]) -> Result<TopicPartitionList, String> {
    let mut list = TopicPartitionList::new();
    for p in partitions {
        list.add_partition_offset(&p.topic, p.partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    Ok(list)
}

struct Reader {
    consumer: TrackedConsumer,
    view: Arc<AnalyticsView>,
    progress: Arc<ReaderProgress>,
    errors: ErrorCounter,
}

impl Reader {
    fn run(&self, control: &Control) {
        if let Some(partitions) = self.assign_all(control) {
            tracing::info!(partitions = partitions.len(), processed_topic = %self.progress.processed_topic,
                alerts_topic = %self.progress.alerts_topic, "analytics reader assigned");
            self.read(control, partitions);
        }
        tracing::info!("analytics reader stopped");
    }

    /// Looks the topics up until both exist, records each partition's catch-up target and
    /// assigns them all from the beginning. `None` when asked to stop first.
    fn assign_all(&self, control: &Control) -> Option<Vec<PartitionProgress>> {
        let state = control.state();
        state.set_phase(phase::WAITING_FOR_TOPICS);
        let mut reported = None;
        loop {
            if control.stopping() {
                return None;
            }
            match self.targets_except(&[]).and_then(|partitions| {
                self.consumer
                    .assign(&from_beginning(&partitions)?)
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
                            &format_args!("waiting for its topics: {reason}"),
                        );
                        reported = Some(reason);
                    }
                    pause(control, RETRY_INTERVAL);
                }
            }
        }
    }

    /// The partitions of both topics not in `known`, each with its last stable offset now.
    fn targets_except(
        &self,
        known: &[PartitionProgress],
    ) -> Result<Vec<PartitionProgress>, String> {
        let mut partitions = Vec::new();
        for topic in [&self.progress.processed_topic, &self.progress.alerts_topic] {
            for partition in self.partition_ids(topic)? {
                if known
                    .iter()
                    .any(|p| p.partition == partition && &p.topic == topic)
                {
                    continue;
                }
                let (low, high) = self
                    .consumer
                    .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
                    .map_err(|e| format!("watermarks of {topic}/{partition}: {e}"))?;
                partitions.push(PartitionProgress {
                    topic: topic.clone(),
                    partition,
                    start_low_watermark: low,
                    start_high_watermark: high,
                    position: None,
                });
            }
        }
        Ok(partitions)
    }

    /// The partition ids of `topic`, from the broker's metadata.
    fn partition_ids(&self, topic: &str) -> Result<Vec<i32>, String> {
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

    /// Assigns, from their beginning, the partitions added to the topics since
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
                    .incremental_assign(&from_beginning(&added)?)
                    .map_err(|e| format!("assigning added partitions: {e}"))?;
            }
            Ok(added)
        });
        match result {
            Ok(added) => {
                for p in &added {
                    tracing::info!(topic = %p.topic, partition = p.partition,
                        "analytics reader: reading a partition added to its topic");
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
        let partition_check = Duration::from_millis(self.view.config().partition_check_ms);
        let mut last_partition_check = Instant::now();
        while !control.stopping() {
            match self.consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => self.apply(&message),
                Some(Err(error)) => state.error(ErrorStage::Receiving, "kafka_consumer", &error),
                None => {}
            }
            if last_partition_check.elapsed() >= partition_check {
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
                        records = self.progress.records.load(Ordering::Relaxed),
                        alerts = self.progress.alerts.load(Ordering::Relaxed),
                        "analytics reader caught up"
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
                .find_partition(&p.topic, p.partition)
                .and_then(|e| e.offset().to_raw())
                .filter(|&at| at >= 0)
            {
                p.position = Some(at);
            }
        }
    }

    fn apply(&self, message: &BorrowedMessage<'_>) {
        let payload = message.payload().unwrap_or_default();
        let result = if message.topic() == self.progress.processed_topic {
            self.view.apply_processed(payload).map(|()| {
                self.progress.records.fetch_add(1, Ordering::Relaxed);
            })
        } else {
            serde_json::from_slice::<Alert>(payload).map(|alert| {
                self.view.apply_alert(alert);
                self.progress.alerts.fetch_add(1, Ordering::Relaxed);
            })
        };
        if let Err(error) = result {
            let (topic, partition, offset) =
                (message.topic(), message.partition(), message.offset());
            let message = format!("{topic}/{partition}@{offset}: {error}");
            self.errors.failure(
                ErrorStage::Receiving,
                "unreadable_record",
                1,
                &format_args!("analytics reader skipped a payload that does not parse: {message}"),
            );
            self.progress.parse_errors.fetch_add(1, Ordering::Relaxed);
            *lock(&self.progress.last_parse_error) = Some(message);
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
