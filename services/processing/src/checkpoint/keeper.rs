//! A stage's side of the checkpoints: before each input record it restores the record's
//! partition if it has not since the last assignment, and saves the states that are due
//! into the record's transaction; what a batch wrote or restored is settled with it. The
//! stage's state itself is a [`Checkpointed`]'s.

use super::config::CheckpointConfig;
use super::error::CheckpointError;
use super::metrics::CheckpointMetrics;
use super::partitions::check_partitions;
use super::record::{read_payload, start_payload, SavedState};
use super::runs::RunState;
use super::schedule::Schedule;
use super::state::Checkpointed;
use chrono::Utc;
use obs_kafka::consumer::{PartitionReader, ReadStart};
use obs_kafka::{ErrorCounter, ErrorStage, InputRecord, KafkaConfig, Outputs, TopicsConfig};
use rdkafka::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pause between two failed restores.
const RESTORE_RETRY: Duration = Duration::from_secs(1);

/// What a batch wrote to its checkpoint topic: counted when it commits. A batch that does
/// not commit needs no settling: its stage rebuilds its state as after a rebalance
/// ([`forget_discarded`]), which forgets the schedule as well.
#[derive(Default)]
pub struct CheckpointBatch {
    saved: u64,
    forgotten: u64,
    /// Bytes of the states saved.
    bytes: u64,
}

/// After batches that will not commit, whose inputs will be read again: the stage's state
/// is forgotten so that it does not count them twice. With checkpoints, as at a new
/// assignment (each partition restored before its next record is processed); without, as
/// at a restart. Aborts are rare, and this spares every record an undo log.
pub fn forget_discarded<K: Checkpointed>(
    checkpoints: Option<&mut Checkpoints<K>>,
    mut live: K::Live<'_>,
) {
    match checkpoints {
        Some(checkpoints) => checkpoints.rebalanced(live),
        None => K::clear(&mut live),
    }
}

/// A partition's state rebuilt apart from the stage's.
struct Restored<A> {
    apart: A,
    /// Per key, the offset from which its records were replayed and when its state was
    /// saved (or first seen).
    since: HashMap<String, (i64, i64)>,
    states: usize,
    replayed: u64,
}

/// A stage's checkpoints; the run stage's by default.
pub struct Checkpoints<K: Checkpointed = RunState> {
    state: K,
    schedule: Schedule,
    reader: PartitionReader,
    state_topic: Arc<str>,
    input_topic: String,
    metrics: CheckpointMetrics,
    errors: ErrorCounter,
    /// The payload being written, reused.
    payload: Vec<u8>,
}

impl<K: Checkpointed> Checkpoints<K> {
    /// The stage's checkpoints (`None` when off), once the topics' partition counts are
    /// checked; `state` is how the stage saves, restores and replays its state.
    pub fn start(
        config: &CheckpointConfig,
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        state: K,
        registry: &obs_service::Metrics,
    ) -> Result<Option<Self>, CheckpointError> {
        if !config.enabled {
            return Ok(None);
        }
        let errors = registry.errors().clone();
        let (state_topic, input_topic) = K::topics(topics);
        check_partitions(kafka, &state_topic.name, &input_topic.name, &errors)?;
        let metrics = CheckpointMetrics::register(registry, &K::NAMES, &state_topic.name)?;
        Ok(Some(Checkpoints {
            schedule: Schedule::new(
                K::interval_records(config),
                i64::try_from(config.max_age_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            ),
            reader: PartitionReader {
                client_id: K::NAMES.restore_client.into(),
                kafka: kafka.clone(),
                timeout: Duration::from_secs(config.restore_timeout_seconds),
                errors: errors.clone(),
            },
            state_topic: state_topic.name.as_str().into(),
            input_topic: input_topic.name.clone(),
            state,
            metrics,
            errors,
            payload: Vec::new(),
        }))
    }

    /// Before `input` is processed: its partition restored if it was not since the last
    /// assignment (`input` is then the first record of it to process: the group's
    /// committed offset), then the states of its partition that are due written to the
    /// batch's outputs. A state written here holds every record of the partition before
    /// `input`: its transaction commits the offsets past `input`, or neither commits.
    pub fn before_run(
        &mut self,
        input: &InputRecord<'_>,
        live: K::Live<'_>,
        batch: &mut CheckpointBatch,
        out: &mut Outputs,
    ) {
        let mut live = live;
        let (partition, offset) = (input.partition, input.offset);
        if !self.schedule.holds(partition) {
            self.restore(partition, offset, &mut live);
        }
        let now_ms = Utc::now().timestamp_millis();
        let due = self.schedule.due(partition, offset, now_ms);
        for key in due {
            start_payload(&mut self.payload, partition, offset, now_ms);
            if self.state.save(&mut live, &key, &mut self.payload) {
                self.schedule.saved(partition, &key, offset, now_ms);
                out.record(&self.state_topic, Some(key.as_bytes()))
                    .payload(&self.payload);
                batch.saved += 1;
                batch.bytes += self.payload.len() as u64;
            } else {
                // Forgotten by the stage (its bounds): its saved state must not come back
                // at a restore.
                self.schedule.forgotten(partition, &key);
                out.record(&self.state_topic, Some(key.as_bytes()))
                    .payload(&[]);
                batch.forgotten += 1;
            }
        }
    }

    /// A record of `key` processed at `offset` of `partition`.
    pub fn seen(&mut self, partition: i32, key: &str, offset: i64) {
        self.schedule
            .seen(partition, key, offset, Utc::now().timestamp_millis());
    }

    pub fn committed(&self, batch: CheckpointBatch) {
        let m = &self.metrics;
        m.states_written
            .with_label_values(&["saved"])
            .inc_by(batch.saved);
        m.states_written
            .with_label_values(&["forgotten"])
            .inc_by(batch.forgotten);
        m.bytes_written.inc_by(batch.bytes);
    }

    /// A new assignment, or batches that will not commit: every key is forgotten, and each
    /// partition is restored from what was committed before its next record is processed.
    pub fn rebalanced(&mut self, mut live: K::Live<'_>) {
        K::clear(&mut live);
        self.schedule.clear();
    }

    /// Restores `partition`, whose first record to process is at `first`, trying until it
    /// succeeds: processing a record without its key's history would give outputs the
    /// uninterrupted stage would not have, so the stage waits (its status shows the
    /// errors).
    fn restore(&mut self, partition: i32, first: i64, live: &mut K::Live<'_>) {
        loop {
            let started = Instant::now();
            match self.rebuild(partition, first) {
                Ok(restored) => {
                    let keys = K::held(&restored.apart);
                    if let Err(error) = self.state.absorb(live, restored.apart) {
                        // The same configuration and no batch: this cannot happen.
                        self.errors
                            .failure(ErrorStage::Processing, "detector_restore", 1, &error);
                    }
                    let now_ms = Utc::now().timestamp_millis();
                    self.schedule.restored(
                        partition,
                        restored
                            .since
                            .into_iter()
                            .map(|(key, (since, saved_at))| (key, since, saved_at)),
                        now_ms,
                    );
                    let seconds = started.elapsed().as_secs_f64();
                    let m = &self.metrics;
                    m.restores.inc();
                    m.restore_seconds.observe(seconds);
                    m.restored.inc_by(restored.states as u64);
                    m.replayed.inc_by(restored.replayed);
                    tracing::info!(
                        topic = %self.input_topic,
                        partition,
                        first,
                        keys,
                        saved_states = restored.states,
                        replayed = restored.replayed,
                        seconds,
                        "{} state restored",
                        K::NAMES.stage
                    );
                    return;
                }
                Err(error) => {
                    self.errors
                        .failure(ErrorStage::Receiving, "detector_restore", 1, &error);
                    std::thread::sleep(RESTORE_RETRY);
                }
            }
        }
    }

    /// The state of `partition`'s keys before its record at `first`, apart: the latest
    /// saved state of each key, then the records since (a key's records before its
    /// state's offset are in it already).
    fn rebuild(&self, partition: i32, first: i64) -> Result<Restored<K::Apart>, CheckpointError> {
        let saved = self.latest_states(partition)?;
        let mut apart = self.state.apart()?;
        let mut since: HashMap<String, (i64, i64)> = HashMap::new();
        let mut ahead = 0;
        for (key, state) in saved {
            if state.offset > first {
                // Saved past the group's committed offset: the offsets were moved back.
                ahead += 1;
                continue;
            }
            match self.state.restore(&mut apart, &key, &state.state) {
                Ok(()) => {
                    since.insert(key, (state.offset, state.saved_at_ms));
                }
                Err(error) => {
                    self.errors.failure(
                        ErrorStage::Receiving,
                        "detector_state_refused",
                        1,
                        &format_args!("{key} of {}/{partition}: {error}", self.state_topic),
                    );
                }
            }
        }
        if ahead > 0 {
            self.errors.failure(
                ErrorStage::Receiving,
                "detector_state_ahead",
                ahead,
                &format_args!(
                    "{ahead} states of {}/{partition} were saved after offset {first}, where \
                     the group resumes (its offsets were moved back?): they start afresh",
                    self.input_topic
                ),
            );
        }
        let states = since.len();
        let oldest = since.values().map(|(offset, _)| *offset).min();
        let from = self
            .schedule
            .replay_from(first)
            .min(oldest.unwrap_or(i64::MAX))
            .max(0);
        let now_ms = Utc::now().timestamp_millis();
        let mut replayed = 0;
        let read = self.reader.read(
            &self.input_topic,
            partition,
            ReadStart::Offset(from),
            Some(first),
            |message| {
                let Some((key, input)) = self.state.read(message.payload()) else {
                    return;
                };
                let offset = message.offset();
                match since.get(&key) {
                    Some((state_offset, _)) if offset < *state_offset => return,
                    Some(_) => {}
                    None => {
                        since.insert(key, (offset, now_ms));
                    }
                }
                self.state.replay(&mut apart, input);
                replayed += 1;
            },
        )?;
        if oldest.is_some_and(|oldest| oldest < read.start) {
            self.errors.failure(
                ErrorStage::Receiving,
                "detector_replay_gap",
                1,
                &format_args!(
                    "{}/{partition} starts at {}, the replay needed records from {from}: \
                     the records between are gone (retention), their keys' next outputs \
                     may differ from an uninterrupted stage's",
                    self.input_topic, read.start
                ),
            );
        }
        Ok(Restored {
            apart,
            since,
            states,
            replayed,
        })
    }

    /// The latest state saved for each key of `partition`, read from its partition of
    /// the checkpoint topic up to the last stable offset.
    fn latest_states(
        &self,
        partition: i32,
    ) -> Result<HashMap<String, SavedState>, CheckpointError> {
        let mut latest: HashMap<String, SavedState> = HashMap::new();
        let (mut unreadable, mut misplaced) = (0, 0);
        self.reader.read(
            &self.state_topic,
            partition,
            ReadStart::Offset(0),
            None,
            |message| {
                let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                    unreadable += 1;
                    return;
                };
                match read_payload(message.payload()) {
                    Ok(Some(state)) if state.partition == partition => {
                        latest.insert(key.to_owned(), state);
                    }
                    Ok(Some(_)) => misplaced += 1,
                    Ok(None) => {
                        latest.remove(key);
                    }
                    Err(_) => unreadable += 1,
                }
            },
        )?;
        if unreadable > 0 {
            self.errors.failure(
                ErrorStage::Receiving,
                "unreadable_record",
                unreadable,
                &format_args!(
                    "{unreadable} records of {}/{partition} are not checkpoints",
                    self.state_topic
                ),
            );
        }
        if misplaced > 0 {
            self.errors.failure(
                ErrorStage::Receiving,
                "detector_state_misplaced",
                misplaced,
                &format_args!(
                    "{misplaced} states in {}/{partition} were saved for records of another \
                     partition: the producers of {} and {} do not partition alike \
                     (`partitioner` in kafka.properties?)",
                    self.state_topic, self.input_topic, self.state_topic
                ),
            );
        }
        Ok(latest)
    }
}
