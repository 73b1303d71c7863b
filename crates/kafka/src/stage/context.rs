//! What the stage adds to its consumer's context: revocations wait for the transaction in
//! flight, and the lag comes from librdkafka's statistics.

use super::committer::TransactionGate;
use super::status::StageProgress;
use crate::consumer::{ConsumerHooks, ConsumerState};
use crate::sync::lock;
use prometheus::IntGaugeVec;
use rdkafka::statistics::Statistics;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

pub(super) struct StageHooks {
    pub(super) transactions: Arc<TransactionGate>,
    pub(super) progress: Arc<StageProgress>,
    pub(super) lag: IntGaugeVec,
    /// Partitions whose lag this instance exports; dropped when it loses them, so another
    /// replica's partitions never show a stale lag here.
    pub(super) lag_partitions: Mutex<BTreeSet<i32>>,
}

impl ConsumerHooks for StageHooks {
    /// Partitions are never revoked while a transaction may still commit offsets for them.
    fn before_rebalance(&self) {
        self.transactions.wait_until_idle();
    }

    /// Every `statistics.interval.ms`, on the loop thread (it polls the consumer): the lag
    /// of each assigned partition.
    fn statistics(&self, statistics: Statistics, state: &ConsumerState) {
        let topic = &self.progress.input_topic;
        let assigned: BTreeSet<i32> = state.assigned_partitions(topic).into_iter().collect();
        let lag: BTreeMap<i32, i64> = statistics
            .topics
            .get(topic)
            .map(|topic| {
                assigned
                    .iter()
                    .filter_map(|id| {
                        let p = topic.partitions.get(id)?;
                        Some((*id, records_behind(p.app_offset, p.ls_offset, p.hi_offset)?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (partition, behind) in &lag {
            self.lag
                .with_label_values(&[&partition.to_string()])
                .set(*behind);
        }
        let mut exported = lock(&self.lag_partitions);
        for lost in exported.difference(&assigned) {
            // The series may not exist (never set); nothing to remove then.
            let _ = self.lag.remove_label_values(&[&lost.to_string()]);
        }
        *exported = assigned;
        *lock(&self.progress.lag) = lag;
    }
}

/// Records a partition has yet to hand to the stage: from the offset after the last one
/// handed over (`app_offset`) to the last stable offset, what a `read_committed` consumer
/// can read (the high watermark if librdkafka has none); `None` (-1 offsets) until the
/// partition has been fetched.
fn records_behind(app_offset: i64, last_stable: i64, high_watermark: i64) -> Option<i64> {
    let end = if last_stable >= 0 {
        last_stable
    } else {
        high_watermark
    };
    (end >= 0 && app_offset >= 0).then(|| (end - app_offset).max(0))
}

#[cfg(test)]
mod tests {
    use super::records_behind;

    #[test]
    fn lag_runs_to_the_last_stable_offset_once_offsets_are_known() {
        assert_eq!(
            records_behind(120, 150, 160),
            Some(30),
            "open transaction: up to LSO"
        );
        assert_eq!(records_behind(150, 150, 150), Some(0));
        assert_eq!(
            records_behind(40, -1, 100),
            Some(60),
            "no LSO: the high watermark"
        );
        assert_eq!(
            records_behind(-1, 150, 160),
            None,
            "nothing handed over yet"
        );
        assert_eq!(records_behind(10, -1, -1), None, "not fetched yet");
        assert_eq!(records_behind(151, 150, 150), Some(0), "never negative");
    }
}
