//! The runs' loop's de-duplication: a run whose id it has already standardized within the
//! horizon is dropped (counted, not written), however often it is sent.
//!
//! * The id is the record id qualified by the series key (company, source, object,
//!   sequence), remembered as a 64-bit hash in a [`SeenWindow`]. Ingestion keys
//!   `raw-logs` by series key, so every copy of one run lands in one partition, read by
//!   one instance at a time.
//! * Each batch writes the hashes it standardized, one record per input partition (key:
//!   the partition's number), to one partition of `standardized-ids` (numbered as the
//!   batch's lowest input partition), in the batch's own transaction: the ids are
//!   remembered exactly when the standardized records and the input offsets commit. One
//!   partition, not one per input partition: each partition a transaction writes costs a
//!   produce request, the broker's verification of it and a marker.
//! * After every assignment the window is cleared, and before the first run of each
//!   partition `standardized-ids` is read to the last stable offset (the first time from
//!   the start of the horizon, then from where the last read stopped), remembering the
//!   ids of every assigned partition: everything their previous owners committed,
//!   SIGKILLed or not (a partition's first run comes after its committed offset is
//!   stable, that is after its previous owner's last transaction ended). The loop waits
//!   until the read succeeds: standardizing without the partition's ids could let a
//!   duplicate through.
//! * A record without a key is of the earlier layout, written to the partition numbered
//!   as its input partition.
//! * A dropped batch's ids are forgotten with it: its records come again.

mod config;
mod metrics;
mod partitions;

pub use config::DedupConfig;
pub use metrics::DedupMetrics;
pub use partitions::check_partitions;

use chrono::Utc;
use obs_dedup::{id_hash, SeenWindow, WindowConfig};
use obs_kafka::consumer::{PartitionReader, ReadStart};
use obs_kafka::{ErrorCounter, ErrorStage, InputRecord, KafkaConfig, Outputs, TopicsConfig};
use obs_records::standardize::StandardizedRecord;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// First byte of a `standardized-ids` payload; the hashes follow, 8 bytes each (LE).
const FORMAT: u8 = 1;
/// Pause between two failed rebuilds of a partition.
const RESTORE_RETRY: Duration = Duration::from_secs(2);

/// What one batch did to the de-duplication, settled with it.
#[derive(Default)]
pub struct DedupBatch {
    /// Hashes it inserted and when, to forget if it is dropped.
    inserted: Vec<(u64, i64)>,
    /// The `standardized-ids` payload of each input partition.
    ids: BTreeMap<i32, Vec<u8>>,
    /// Records it dropped as duplicates.
    pub dropped: u64,
}

/// The runs' loop's de-duplication (see the module's documentation).
pub struct Dedup {
    window: SeenWindow,
    /// The input partitions assigned now.
    assigned: BTreeSet<i32>,
    /// Assigned partitions whose ids were read since the assignment.
    restored: BTreeSet<i32>,
    /// Per partition of `standardized-ids`, where the next read resumes; `None` until the
    /// first read after the assignment.
    resume: Option<BTreeMap<i32, i64>>,
    horizon_ms: i64,
    reader: PartitionReader,
    ids_topic: Arc<str>,
    errors: ErrorCounter,
    metrics: DedupMetrics,
}

impl Dedup {
    pub fn new(
        config: &DedupConfig,
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        errors: ErrorCounter,
        metrics: DedupMetrics,
    ) -> Self {
        let horizon_ms = config.horizon_ms(topics);
        Dedup {
            window: SeenWindow::new(WindowConfig {
                horizon_ms,
                max_ids: config.max_ids,
            }),
            assigned: BTreeSet::new(),
            restored: BTreeSet::new(),
            resume: None,
            horizon_ms,
            reader: PartitionReader {
                client_id: "standardization-dedup-restore".into(),
                kafka: kafka.clone(),
                timeout: Duration::from_secs(config.restore_timeout_seconds),
                errors: errors.clone(),
            },
            ids_topic: topics.standardized_ids.name.as_str().into(),
            errors,
            metrics,
        }
    }

    /// Whether `record`, read as `input`, is standardized for the first time within the
    /// horizon; if so its id is remembered in `batch`.
    pub fn first_time(
        &mut self,
        input: &InputRecord<'_>,
        record: &StandardizedRecord,
        batch: &mut DedupBatch,
    ) -> bool {
        if !self.restored.contains(&input.partition) {
            self.restore(input.partition);
        }
        let now_ms = Utc::now().timestamp_millis();
        self.window.expire(now_ms);
        let id = id_hash(&[record.series_key.as_bytes(), record.record_id.as_bytes()]);
        if !self.window.insert(id, now_ms) {
            batch.dropped += 1;
            return false;
        }
        batch.inserted.push((id, now_ms));
        batch
            .ids
            .entry(input.partition)
            .or_insert_with(|| vec![FORMAT])
            .extend_from_slice(&id.to_le_bytes());
        true
    }

    /// The batch's ids go into its transaction, all to one partition.
    pub fn seal(&self, batch: &DedupBatch, out: &mut Outputs) {
        let Some(&lowest) = batch.ids.keys().next() else {
            return;
        };
        for (partition, ids) in &batch.ids {
            out.record(&self.ids_topic, Some(partition.to_string().as_bytes()))
                .partition(lowest)
                .payload(ids);
        }
    }

    pub fn committed(&self, batch: &DedupBatch) {
        let m = &self.metrics;
        m.dropped.inc_by(batch.dropped);
        m.remembered.set(self.window.len() as i64);
        m.evicted
            .inc_by(self.window.evicted().saturating_sub(m.evicted.get()));
    }

    /// The batch's records will be read again: its ids are forgotten.
    pub fn discarded(&mut self, batch: DedupBatch) {
        for (id, at_ms) in batch.inserted {
            self.window.remove(id, at_ms);
        }
    }

    /// A new assignment: every partition is rebuilt before its first run.
    pub fn rebalanced(&mut self, assigned: &[i32]) {
        self.window.clear();
        self.assigned = assigned.iter().copied().collect();
        self.restored.clear();
        self.resume = None;
    }

    /// Reads the ids committed since the last read (all within the horizon, the first
    /// time), for `partition`'s first run; tries until it succeeds.
    fn restore(&mut self, partition: i32) {
        loop {
            let started = Instant::now();
            let now_ms = Utc::now().timestamp_millis();
            self.window.expire(now_ms);
            let since = now_ms.saturating_sub(self.horizon_ms);
            let (window, assigned, resume) = (&mut self.window, &self.assigned, &self.resume);
            let mut ids = 0u64;
            let read = self.reader.read_topic(
                &self.ids_topic,
                |p| match resume.as_ref().and_then(|next| next.get(&p)) {
                    Some(&next) => ReadStart::Offset(next),
                    None => ReadStart::Time(since),
                },
                |message| {
                    if !input_partition(message).is_some_and(|p| assigned.contains(&p)) {
                        return;
                    }
                    let at_ms = message.timestamp().to_millis().unwrap_or(now_ms);
                    for id in payload_ids(message.payload().unwrap_or_default()) {
                        window.insert(id, at_ms);
                        ids += 1;
                    }
                },
            );
            match read {
                Ok(read) => {
                    self.resume = Some(read.next);
                    self.restored.insert(partition);
                    self.metrics.remembered.set(self.window.len() as i64);
                    tracing::info!(
                        partition,
                        records = read.records,
                        ids,
                        seconds = started.elapsed().as_secs_f64(),
                        "standardized run ids restored"
                    );
                    return;
                }
                Err(error) => {
                    // What was read is committed ids: kept, and read again.
                    self.errors
                        .failure(ErrorStage::Receiving, "dedup_restore", 1, &error);
                    std::thread::sleep(RESTORE_RETRY);
                }
            }
        }
    }
}

/// The input partition whose ids a `standardized-ids` record holds: its key, or for a
/// record of the earlier layout (no key), the partition it was written to.
fn input_partition(message: &BorrowedMessage<'_>) -> Option<i32> {
    match message.key() {
        None => Some(message.partition()),
        Some(key) => std::str::from_utf8(key).ok()?.parse().ok(),
    }
}

/// The hashes of a `standardized-ids` payload (none from an unknown format).
fn payload_ids(payload: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let hashes = match payload.split_first() {
        Some((&FORMAT, rest)) => rest,
        _ => &[],
    };
    hashes.chunks_exact(8).map(|chunk| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_give_back_the_hashes_written() {
        let mut payload = vec![FORMAT];
        for id in [1u64, u64::MAX, 0x0102_0304_0506_0708] {
            payload.extend_from_slice(&id.to_le_bytes());
        }
        assert_eq!(
            payload_ids(&payload).collect::<Vec<_>>(),
            vec![1, u64::MAX, 0x0102_0304_0506_0708]
        );
        assert_eq!(
            payload_ids(&[9, 1, 2, 3, 4, 5, 6, 7, 8]).count(),
            0,
            "unknown format"
        );
        assert_eq!(payload_ids(&[]).count(), 0);
    }
}
