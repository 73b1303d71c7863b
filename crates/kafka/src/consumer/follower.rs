//! A follower: reads every partition of some topics, from their beginning, into an
//! in-memory view — the building block of every view a service rebuilds from Kafka (the
//! analytics view, the log index, the incidents).
//!
//! * `assign` from `Offset::Beginning`, never `subscribe`: a follower is outside every
//!   consumer group, so it takes no partition away from the stages, and each replica's
//!   view covers all partitions. Its `group.id` is unique and throwaway; nothing is ever
//!   committed, so a restart re-reads the retained topics and rebuilds the same view.
//! * `isolation.level=read_committed`: records of aborted transactions are never applied.
//! * Topics are looked up until they exist (a stage may create them after the follower
//!   starts); partitions added later are found by a metadata check every
//!   `partition_check` and read from their beginning.
//! * A payload the sink cannot read is counted and logged with its topic, partition and
//!   offset, then skipped: one bad record must not stop the view.
//!
//! "Caught up" means every partition's position reached the last stable offset (the high
//! watermark as a `read_committed` reader sees it) measured when the partitions were
//! assigned: from then on the view reflects at least everything published before start.

use super::context::TrackedConsumer;
use super::settings::ConsumerSettings;
use super::state::{ConsumerState, ConsumerStatus};
use super::thread::{spawn_consumer, ConsumerThread, Control, Progress};
use crate::error::KafkaError;
use crate::sync::lock;
use crate::topics::partitions_of;
use crate::{ErrorCounter, ErrorStage, KafkaConfig};
use chrono::{DateTime, Utc};
use rdkafka::consumer::Consumer;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const POLL_TIMEOUT: Duration = Duration::from_millis(200);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two looks for missing topics (or failed watermark queries).
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often positions are refreshed for the status and the catch-up check.
const POSITION_INTERVAL: Duration = Duration::from_millis(500);
/// A follower's tuning (`kafka.properties` overrides it): a 1 MiB cap on librdkafka's
/// prefetch queue (its own default is 64 MiB), part of a view's memory bound, and a 5 ms
/// pause, not 1 s, before fetching a partition whose queue was full. The broker answers a
/// fetch once it has 256 KiB for it or after 500 ms, so a follower fetches hundreds of
/// records at a time rather than each transaction's few as soon as it commits (for the
/// broker and the follower alike, most of a fetch's cost is per request): a view shows a
/// record at most half a second late. A fetch brings at most 1 MiB, 256 KiB of a
/// partition, the size of the prefetch queue.
const FOLLOWER_TUNING: &[(&str, &str)] = &[
    ("queued.max.messages.kbytes", "1024"),
    ("fetch.queue.backoff.ms", "5"),
    ("fetch.min.bytes", "262144"),
    ("fetch.wait.max.ms", "500"),
    ("fetch.max.bytes", "1048576"),
    ("max.partition.fetch.bytes", "262144"),
];

/// A follower's phases, as its status shows them.
pub mod phase {
    /// A topic does not exist yet (or metadata is unavailable); retried every second.
    pub const WAITING_FOR_TOPICS: &str = "waiting_for_topics";
    /// Reading what was published before start.
    pub const CATCHING_UP: &str = "catching_up";
    /// Caught up; following new records.
    pub const LIVE: &str = "live";
}

/// Where a follower puts what it reads.
pub trait FollowSink: Send + 'static {
    /// Applies one record of `topic`; an `Err` says why its payload cannot be read (the
    /// follower counts it and goes on).
    fn apply(&mut self, topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String>;

    /// Every partition reached what was published before the follower started.
    fn caught_up(&mut self) {}
}

/// What a follower reads and how it names itself.
#[derive(Debug, Clone)]
pub struct FollowerSettings {
    /// `client.id`, the prefix of the throwaway `group.id`, and the thread's name.
    pub name: &'static str,
    pub topics: Vec<String>,
    /// How often the topics' metadata is checked for added partitions.
    pub partition_check: Duration,
}

/// Progress of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PartitionProgress {
    pub topic: String,
    pub partition: i32,
    /// First offset still retained when the follower started.
    pub start_low_watermark: i64,
    /// Last stable offset when the follower started; the catch-up target.
    pub start_high_watermark: i64,
    /// Next offset the follower will read, once it has read from the partition.
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

/// A snapshot of a follower, for `/status`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FollowerStatus {
    /// Phase (see [`phase`]), running, errors and the last one (a missing topic while
    /// waiting; cleared once caught up).
    #[serde(flatten)]
    pub consumer: ConsumerStatus,
    /// Records applied, by topic.
    pub applied: BTreeMap<String, u64>,
    /// Payloads the sink could not read; skipped.
    pub parse_errors: u64,
    pub partitions: Vec<PartitionProgress>,
    pub caught_up: bool,
    pub caught_up_at: Option<DateTime<Utc>>,
    /// The latest parse error, with its topic/partition/offset.
    pub last_parse_error: Option<String>,
}

impl FollowerStatus {
    /// Records applied from `topic`.
    pub fn applied(&self, topic: &str) -> u64 {
        self.applied.get(topic).copied().unwrap_or(0)
    }
}

/// What a follower has read, shared by its thread and its handle.
#[derive(Debug)]
pub struct FollowerProgress {
    /// Records applied, one counter per topic of the settings, in their order.
    applied: Vec<(String, AtomicU64)>,
    parse_errors: AtomicU64,
    partitions: Mutex<Vec<PartitionProgress>>,
    caught_up_at: Mutex<Option<DateTime<Utc>>>,
    last_parse_error: Mutex<Option<String>>,
}

impl Progress for FollowerProgress {
    type Status = FollowerStatus;

    fn status(&self, consumer: ConsumerStatus) -> FollowerStatus {
        let caught_up_at = *lock(&self.caught_up_at);
        FollowerStatus {
            consumer,
            applied: self
                .applied
                .iter()
                .map(|(topic, n)| (topic.clone(), n.load(Ordering::Relaxed)))
                .collect(),
            parse_errors: self.parse_errors.load(Ordering::Relaxed),
            partitions: lock(&self.partitions).clone(),
            caught_up: caught_up_at.is_some(),
            caught_up_at,
            last_parse_error: lock(&self.last_parse_error).clone(),
        }
    }
}

/// A running follower. Dropping the handle stops it without waiting; `join` waits: it
/// leaves within one poll (≤ 200 ms), or one broker request (≤ 5 s) while it is still
/// looking its topics up.
pub type FollowerHandle = ConsumerThread<FollowerProgress>;

/// Starts reading every partition of `settings.topics` into `sink`, on a thread of its own.
pub fn spawn_follower<S: FollowSink>(
    kafka: &KafkaConfig,
    settings: &FollowerSettings,
    errors: &ErrorCounter,
    sink: S,
) -> Result<FollowerHandle, KafkaError> {
    let state = Arc::new(ConsumerState::new(errors.clone()));
    let consumer = ConsumerSettings::assigned(settings.name)
        .tuning(FOLLOWER_TUNING)
        .create(kafka, state.clone(), ())?;
    let progress = Arc::new(FollowerProgress {
        applied: settings
            .topics
            .iter()
            .map(|t| (t.clone(), AtomicU64::new(0)))
            .collect(),
        parse_errors: AtomicU64::new(0),
        partitions: Mutex::new(Vec::new()),
        caught_up_at: Mutex::new(None),
        last_parse_error: Mutex::new(None),
    });
    let mut follower = Follower {
        consumer: Arc::new(consumer),
        sink,
        settings: settings.clone(),
        progress: progress.clone(),
        errors: errors.clone(),
    };
    spawn_consumer(settings.name, state, progress, move |control| {
        follower.run(control);
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

struct Follower<S> {
    consumer: Arc<TrackedConsumer>,
    sink: S,
    settings: FollowerSettings,
    progress: Arc<FollowerProgress>,
    errors: ErrorCounter,
}

impl<S: FollowSink> Follower<S> {
    fn run(&mut self, control: &Control) {
        let name = self.settings.name;
        if let Some(partitions) = self.assign_all(control) {
            tracing::info!(follower = name, partitions = partitions.len(), topics = ?self.settings.topics, "follower assigned");
            self.read(control, partitions);
        }
        tracing::info!(follower = name, "follower stopped");
    }

    /// Looks the topics up until all exist, records each partition's catch-up target and
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

    /// The partitions of the topics not in `known`, each with its last stable offset now.
    fn targets_except(
        &self,
        known: &[PartitionProgress],
    ) -> Result<Vec<PartitionProgress>, String> {
        let mut partitions = Vec::new();
        for topic in &self.settings.topics {
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
        partitions_of(&*self.consumer, topic, METADATA_TIMEOUT)
            .map_err(|e| format!("metadata of {topic}: {e}"))?
            .filter(|p| !p.is_empty())
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
                    tracing::info!(follower = self.settings.name, topic = %p.topic, partition = p.partition,
                        "follower: reading a partition added to its topic");
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

    fn read(&mut self, control: &Control, mut partitions: Vec<PartitionProgress>) {
        let state = control.state();
        let mut caught_up = false;
        let mut last_positions = Instant::now();
        let mut last_partition_check = Instant::now();
        // Its own handle: a polled message borrows it while the sink is called.
        let consumer = self.consumer.clone();
        while !control.stopping() {
            match consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => self.apply(&message),
                Some(Err(error)) => state.error(ErrorStage::Receiving, "kafka_consumer", &error),
                None => {}
            }
            if last_partition_check.elapsed() >= self.settings.partition_check {
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
                    self.sink.caught_up();
                    state.set_phase(phase::LIVE);
                    state.clear_error();
                    tracing::info!(follower = self.settings.name, "follower caught up");
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

    fn apply(&mut self, message: &BorrowedMessage<'_>) {
        let topic = message.topic();
        match self.sink.apply(topic, message) {
            Ok(()) => {
                if let Some((_, n)) = self.progress.applied.iter().find(|(t, _)| t == topic) {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => {
                let (partition, offset) = (message.partition(), message.offset());
                let message = format!("{topic}/{partition}@{offset}: {error}");
                self.errors.failure(
                    ErrorStage::Receiving,
                    "unreadable_record",
                    1,
                    &format_args!(
                        "{} skipped a payload that does not parse: {message}",
                        self.settings.name
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
