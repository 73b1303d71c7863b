//! Feeds the [`AnalyticsView`] from `processed-metrics` and `alerts`.
//!
//! One `BaseConsumer` on its own OS thread (librdkafka's calls block, and must not stall
//! the async runtime) reads every partition of both topics:
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
use obs_kafka::{KafkaConfig, KafkaError, TopicsConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
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

/// What the reader is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderPhase {
    /// A topic does not exist yet (or metadata is unavailable); retried every second.
    WaitingForTopics,
    /// Reading what was published before start.
    CatchingUp,
    /// Caught up; following new records.
    Live,
    Stopped,
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
    pub phase: ReaderPhase,
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
    /// The latest client or metadata error (cleared when caught up).
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Shared {
    records: AtomicU64,
    alerts: AtomicU64,
    parse_errors: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Clone)]
struct State {
    phase: ReaderPhase,
    partitions: Vec<PartitionProgress>,
    caught_up_at: Option<DateTime<Utc>>,
    last_parse_error: Option<String>,
    last_error: Option<String>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Plain data: still meaningful after a panic elsewhere.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running reader. Dropping the handle stops the reader without waiting for it;
/// [`ReaderHandle::join`] waits.
pub struct ReaderHandle {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    processed_topic: String,
    alerts_topic: String,
}

impl ReaderHandle {
    pub fn status(&self) -> ReaderStatus {
        let state = self.shared.state().clone();
        ReaderStatus {
            phase: state.phase,
            processed_topic: self.processed_topic.clone(),
            alerts_topic: self.alerts_topic.clone(),
            records_applied: self.shared.records.load(Ordering::Relaxed),
            alerts_applied: self.shared.alerts.load(Ordering::Relaxed),
            parse_errors: self.shared.parse_errors.load(Ordering::Relaxed),
            partitions: state.partitions,
            caught_up: state.caught_up_at.is_some(),
            caught_up_at: state.caught_up_at,
            last_parse_error: state.last_parse_error,
            last_error: state.last_error,
        }
    }

    /// Asks the reader to stop; it leaves within one poll (≤ 200 ms), or one broker
    /// request (≤ 5 s) while it is still looking its topics up.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the reader thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the reader and waits for its thread.
    pub fn join(mut self) -> Result<(), KafkaError> {
        self.stop();
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(KafkaError::Stage("analytics reader thread panicked".into())),
            _ => Ok(()),
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts reading every partition of `topics.processed_metrics` and `topics.alerts` into
/// `view`, on a thread of its own.
pub fn spawn_reader(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    view: Arc<AnalyticsView>,
) -> Result<ReaderHandle, KafkaError> {
    let mut config = kafka.client_config_tuned(CLIENT_NAME, READER_TUNING);
    config
        .set(
            "group.id",
            format!(
                "{CLIENT_NAME}-{}-{}",
                std::process::id(),
                Utc::now().timestamp_micros()
            ),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        // Only if retention removed the first offsets between lookup and fetch.
        .set("auto.offset.reset", "earliest")
        // Looking a topic up must never create it.
        .set("allow.auto.create.topics", "false");
    let consumer: BaseConsumer = config.create()?;
    let shared = Arc::new(Shared {
        records: AtomicU64::new(0),
        alerts: AtomicU64::new(0),
        parse_errors: AtomicU64::new(0),
        state: Mutex::new(State {
            phase: ReaderPhase::WaitingForTopics,
            partitions: Vec::new(),
            caught_up_at: None,
            last_parse_error: None,
            last_error: None,
        }),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let reader = Reader {
        consumer,
        processed_topic: topics.processed_metrics.name.clone(),
        alerts_topic: topics.alerts.name.clone(),
        view,
        shared: shared.clone(),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("analytics-reader".into())
        .spawn(move || reader.run())
        .map_err(|e| KafkaError::Stage(format!("cannot start the analytics reader thread: {e}")))?;
    Ok(ReaderHandle {
        shared,
        stop,
        thread: Some(thread),
        processed_topic: topics.processed_metrics.name.clone(),
        alerts_topic: topics.alerts.name.clone(),
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
    consumer: BaseConsumer,
    processed_topic: String,
    alerts_topic: String,
    view: Arc<AnalyticsView>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Reader {
    fn run(self) {
        if let Some(partitions) = self.assign_all() {
            tracing::info!(partitions = partitions.len(), processed_topic = %self.processed_topic,
                alerts_topic = %self.alerts_topic, "analytics reader assigned");
            self.read(partitions);
        }
        self.shared.state().phase = ReaderPhase::Stopped;
        tracing::info!("analytics reader stopped");
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Looks the topics up until both exist, records each partition's catch-up target and
    /// assigns them all from the beginning. `None` when asked to stop first.
    fn assign_all(&self) -> Option<Vec<PartitionProgress>> {
        let mut logged = None;
        loop {
            if self.stopping() {
                return None;
            }
            match self.targets_except(&[]).and_then(|partitions| {
                self.consumer
                    .assign(&from_beginning(&partitions)?)
                    .map_err(|e| e.to_string())?;
                Ok(partitions)
            }) {
                Ok(partitions) => {
                    let mut state = self.shared.state();
                    state.phase = ReaderPhase::CatchingUp;
                    state.partitions = partitions.clone();
                    state.last_error = None;
                    return Some(partitions);
                }
                Err(reason) => {
                    // Once per distinct reason, not once a second.
                    if logged.as_ref() != Some(&reason) {
                        tracing::warn!(%reason, "analytics reader waiting for its topics");
                        logged = Some(reason.clone());
                    }
                    self.shared.state().last_error = Some(reason);
                    self.pause(RETRY_INTERVAL);
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
        for topic in [&self.processed_topic, &self.alerts_topic] {
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
    fn assign_new_partitions(&self, partitions: &mut Vec<PartitionProgress>) {
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
            Err(reason) => {
                tracing::warn!(%reason, "analytics reader: looking for added partitions");
                self.shared.state().last_error = Some(reason);
            }
        }
    }

    fn read(&self, mut partitions: Vec<PartitionProgress>) {
        let mut caught_up = false;
        let mut last_positions = Instant::now();
        let partition_check = Duration::from_millis(self.view.config().partition_check_ms);
        let mut last_partition_check = Instant::now();
        while !self.stopping() {
            match self.consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => self.apply(&message),
                Some(Err(error)) => {
                    tracing::warn!(%error, "analytics reader: consumer error");
                    self.shared.state().last_error = Some(error.to_string());
                }
                None => {}
            }
            if last_partition_check.elapsed() >= partition_check {
                self.assign_new_partitions(&mut partitions);
                last_partition_check = Instant::now();
            }
            if last_positions.elapsed() >= POSITION_INTERVAL {
                last_positions = Instant::now();
                self.refresh_positions(&mut partitions);
                let reached = partitions
                    .iter()
                    .all(PartitionProgress::reached_start_target);
                let mut state = self.shared.state();
                state.partitions.clone_from(&partitions);
                if reached && !caught_up {
                    caught_up = true;
                    state.phase = ReaderPhase::Live;
                    state.caught_up_at = Some(Utc::now());
                    state.last_error = None;
                    tracing::info!(
                        records = self.shared.records.load(Ordering::Relaxed),
                        alerts = self.shared.alerts.load(Ordering::Relaxed),
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
        let result = if message.topic() == self.processed_topic {
            self.view.apply_processed(payload).map(|()| {
                self.shared.records.fetch_add(1, Ordering::Relaxed);
            })
        } else {
            serde_json::from_slice::<Alert>(payload).map(|alert| {
                self.view.apply_alert(alert);
                self.shared.alerts.fetch_add(1, Ordering::Relaxed);
            })
        };
        if let Err(error) = result {
            let (topic, partition, offset) =
                (message.topic(), message.partition(), message.offset());
            tracing::warn!(topic, partition, offset, %error, "analytics reader: skipping a payload that does not parse");
            self.shared.parse_errors.fetch_add(1, Ordering::Relaxed);
            self.shared.state().last_parse_error =
                Some(format!("{topic}/{partition}@{offset}: {error}"));
        }
    }

    /// Sleeps up to `duration`, waking early when asked to stop.
    fn pause(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.stopping() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
