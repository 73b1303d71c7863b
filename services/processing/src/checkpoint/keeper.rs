//! The run stage's side of the checkpoints: before each run it restores the run's
//! partition if it has not since the last assignment, and saves the states that are due
//! into the run's transaction; what a batch wrote or restored is settled with it.

use super::config::CheckpointConfig;
use super::error::CheckpointError;
use super::metrics::CheckpointMetrics;
use super::partitions::check_partitions;
use super::record::{read_payload, start_payload, SavedState};
use super::schedule::Schedule;
use chrono::Utc;
use obs_detector::{DetectorBank, DetectorConfig, ProcessedRecord, RulesConfig};
use obs_kafka::consumer::{PartitionReader, ReadStart};
use obs_kafka::sync::lock;
use obs_kafka::{ErrorCounter, ErrorStage, InputRecord, KafkaConfig, Outputs, TopicsConfig};
use obs_records::standardize::StandardizedRecord;
use rdkafka::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pause between two failed restores.
const RESTORE_RETRY: Duration = Duration::from_secs(1);

/// How the stage reads a run from its payload (the same for a run replayed).
pub type ReadRun = fn(Option<&[u8]>) -> Result<StandardizedRecord, String>;

/// What a batch wrote to `detector-state` and which partitions it restored: settled with
/// the batch.
#[derive(Default)]
pub struct CheckpointBatch {
    restored: Vec<i32>,
    written: Vec<Written>,
}

struct Written {
    partition: i32,
    series: String,
    /// The run before which it was written.
    offset: i64,
    /// Bytes of the state; `None`: the series was written as forgotten.
    bytes: Option<usize>,
}

/// A partition's state rebuilt apart from the stage's bank.
struct Restored {
    bank: DetectorBank,
    /// Per series, the offset from which its runs were replayed and when its state was
    /// saved (or first seen).
    since: HashMap<String, (i64, i64)>,
    states: usize,
    replayed: u64,
}

pub struct Checkpoints {
    schedule: Schedule,
    reader: PartitionReader,
    state_topic: Arc<str>,
    input_topic: String,
    detector: DetectorConfig,
    rules: RulesConfig,
    read_run: ReadRun,
    metrics: CheckpointMetrics,
    errors: ErrorCounter,
    /// The payload being written, reused.
    payload: Vec<u8>,
}

impl Checkpoints {
    /// The run stage's checkpoints (`None` when off), once the topics' partition counts
    /// are checked; `scoring` is how the stage scores a run, for the replays.
    pub fn start(
        config: &CheckpointConfig,
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        scoring: (&DetectorConfig, &RulesConfig, ReadRun),
        registry: &obs_service::Metrics,
    ) -> Result<Option<Self>, CheckpointError> {
        if !config.enabled {
            return Ok(None);
        }
        let errors = registry.errors().clone();
        check_partitions(kafka, topics, &errors)?;
        let metrics = CheckpointMetrics::register(registry)?;
        let (detector, rules, read_run) = scoring;
        Ok(Some(Checkpoints {
            schedule: Schedule::new(
                config.interval_records,
                i64::try_from(config.max_age_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            ),
            reader: PartitionReader {
                client_id: "processing-detector-restore".into(),
                kafka: kafka.clone(),
                timeout: Duration::from_secs(config.restore_timeout_seconds),
                errors: errors.clone(),
            },
            state_topic: topics.detector_state.name.as_str().into(),
            input_topic: topics.standardized_logs.name.clone(),
            detector: detector.clone(),
            rules: rules.clone(),
            read_run,
            metrics,
            errors,
            payload: Vec::new(),
        }))
    }

    /// Before `input` is scored: its partition restored if it was not since the last
    /// assignment (`input` is then the first run of it to score: the group's committed
    /// offset), then the states of its partition that are due written to the batch's
    /// outputs. A state written here holds every run of the partition before `input`: its
    /// transaction commits the offsets past `input`, or neither commits.
    pub fn before_run(
        &mut self,
        input: &InputRecord<'_>,
        bank: &Mutex<DetectorBank>,
        batch: &mut CheckpointBatch,
        out: &mut Outputs,
    ) {
        let (partition, offset) = (input.partition, input.offset);
        if !self.schedule.holds(partition) {
            self.restore(partition, offset, bank);
            batch.restored.push(partition);
        }
        let now_ms = Utc::now().timestamp_millis();
        let due = self.schedule.due(partition, offset, now_ms);
        if due.is_empty() {
            return;
        }
        let bank = lock(bank);
        for series in due {
            start_payload(&mut self.payload, partition, offset, now_ms);
            let bytes = if bank.save_series(&series, &mut self.payload) {
                self.schedule.saved(partition, &series, offset, now_ms);
                out.record(&self.state_topic, Some(series.as_bytes()))
                    .payload(&self.payload);
                Some(self.payload.len())
            } else {
                // Forgotten by the bank (it holds `max_series` at most): its saved state
                // must not come back at a restore.
                self.schedule.forgotten(partition, &series);
                out.record(&self.state_topic, Some(series.as_bytes()))
                    .payload(&[]);
                None
            };
            batch.written.push(Written {
                partition,
                series,
                offset,
                bytes,
            });
        }
    }

    /// A run of `series` scored at `offset` of `partition`.
    pub fn seen(&mut self, partition: i32, series: &str, offset: i64) {
        self.schedule
            .seen(partition, series, offset, Utc::now().timestamp_millis());
    }

    pub fn committed(&self, batch: CheckpointBatch) {
        for written in batch.written {
            let kind = if written.bytes.is_some() {
                "saved"
            } else {
                "forgotten"
            };
            self.metrics.states_written.with_label_values(&[kind]).inc();
            self.metrics
                .bytes_written
                .inc_by(written.bytes.unwrap_or(0) as u64);
        }
    }

    /// The batches will be consumed again: what they wrote is due again, and the
    /// partitions they restored must be restored again (the bank forgot those series with
    /// the batches).
    pub fn discarded(&mut self, batches: &mut [CheckpointBatch]) {
        for batch in batches.iter_mut() {
            for written in batch.written.drain(..) {
                self.schedule
                    .unwritten(written.partition, &written.series, written.offset);
            }
        }
        for batch in batches {
            for partition in batch.restored.drain(..) {
                self.schedule.forget_partition(partition);
            }
        }
    }

    /// A new assignment: every series is forgotten, and each partition is restored from
    /// what its previous owner committed before its first run is scored.
    pub fn rebalanced(&mut self, bank: &Mutex<DetectorBank>) {
        lock(bank).clear();
        self.schedule.clear();
    }

    /// Restores `partition`, whose first run to score is at `first`, trying until it
    /// succeeds: scoring a run without its series' history would give verdicts the
    /// uninterrupted stage would not have, so the stage waits (its status shows the
    /// errors).
    fn restore(&mut self, partition: i32, first: i64, bank: &Mutex<DetectorBank>) {
        loop {
            let started = Instant::now();
            match self.rebuild(partition, first) {
                Ok(restored) => {
                    let series = restored.bank.len();
                    let moved = lock(bank).absorb(restored.bank);
                    if let Err(error) = moved {
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
                            .map(|(series, (since, saved_at))| (series, since, saved_at)),
                        now_ms,
                    );
                    let seconds = started.elapsed().as_secs_f64();
                    let m = &self.metrics;
                    m.restores.inc();
                    m.restore_seconds.observe(seconds);
                    m.restored_series.inc_by(restored.states as u64);
                    m.replayed_runs.inc_by(restored.replayed);
                    tracing::info!(
                        partition,
                        first,
                        series,
                        saved_states = restored.states,
                        replayed_runs = restored.replayed,
                        seconds,
                        "detector state restored"
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

    /// The state of `partition`'s series before its run at `first`, in a bank of its own:
    /// the latest saved state of each series, then the runs since (a series' runs before
    /// its state's offset are in it already).
    fn rebuild(&self, partition: i32, first: i64) -> Result<Restored, CheckpointError> {
        let saved = self.latest_states(partition)?;
        let mut bank = DetectorBank::new(self.detector.clone())
            .map_err(|error| CheckpointError::Detector(error.to_string()))?;
        let mut since: HashMap<String, (i64, i64)> = HashMap::new();
        let mut ahead = 0;
        for (series, state) in saved {
            if state.offset > first {
                // Saved past the group's committed offset: the offsets were moved back.
                ahead += 1;
                continue;
            }
            match bank.restore_series(&series, &state.state) {
                Ok(()) => {
                    since.insert(series, (state.offset, state.saved_at_ms));
                }
                Err(error) => {
                    self.errors
                        .failure(ErrorStage::Receiving, "detector_state_refused", 1, &error);
                }
            }
        }
        if ahead > 0 {
            self.errors.failure(
                ErrorStage::Receiving,
                "detector_state_ahead",
                ahead,
                &format_args!(
                    "{ahead} series of {}/{partition} were saved after offset {first}, where \
                     the group resumes (its offsets were moved back?): they start afresh",
                    self.input_topic
                ),
            );
        }
        let states = bank.len();
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
                let Ok(run) = (self.read_run)(message.payload()) else {
                    return;
                };
                let offset = message.offset();
                match since.get(&run.series_key) {
                    Some((state_offset, _)) if offset < *state_offset => return,
                    Some(_) => {}
                    None => {
                        since.insert(run.series_key.clone(), (offset, now_ms));
                    }
                }
                ProcessedRecord::assess(run, &self.rules, &mut bank, Utc::now());
                replayed += 1;
            },
        )?;
        if oldest.is_some_and(|oldest| oldest < read.start) {
            self.errors.failure(
                ErrorStage::Receiving,
                "detector_replay_gap",
                1,
                &format_args!(
                    "{}/{partition} starts at {}, the replay needed runs from {from}: the \
                     runs between are gone (retention), their series' next verdicts may \
                     differ from an uninterrupted stage's",
                    self.input_topic, read.start
                ),
            );
        }
        Ok(Restored {
            bank,
            since,
            states,
            replayed,
        })
    }

    /// The latest state saved for each series of `partition`, read from its partition of
    /// `detector-state` up to the last stable offset.
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
                let Some(series) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                    unreadable += 1;
                    return;
                };
                match read_payload(message.payload()) {
                    Ok(Some(state)) if state.partition == partition => {
                        latest.insert(series.to_owned(), state);
                    }
                    Ok(Some(_)) => misplaced += 1,
                    Ok(None) => {
                        latest.remove(series);
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
                    "{unreadable} records of {}/{partition} are not detector checkpoints",
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
                    "{misplaced} states in {}/{partition} were saved for runs of another \
                     partition: the producers of {} and {} do not partition alike \
                     (`partitioner` in kafka.properties?)",
                    self.state_topic, self.input_topic, self.state_topic
                ),
            );
        }
        Ok(latest)
    }
}
