//! What the loop has done, for `/status`.

use crate::consumer::{ConsumerStatus, Progress};
use crate::sync::lock;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The loop's counters and identity, shared by its threads and its handle.
#[derive(Debug, Default)]
pub struct StageProgress {
    pub(super) input_topic: String,
    pub(super) group_id: String,
    pub(super) transactional_id: String,
    pub(super) consumed: AtomicU64,
    pub(super) produced: AtomicU64,
    pub(super) committed: AtomicU64,
    pub(super) aborted: AtomicU64,
    pub(super) lag: Mutex<BTreeMap<i32, i64>>,
    pub(super) last_commit_at: Mutex<Option<DateTime<Utc>>>,
}

/// A snapshot of the loop.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StageStatus {
    /// Phase, assignment, rebalances and the last error of the loop's consumer.
    #[serde(flatten)]
    pub consumer: ConsumerStatus,
    pub input_topic: String,
    pub group_id: String,
    pub transactional_id: String,
    /// The input topic's partitions assigned to this instance.
    pub assigned_partitions: Vec<i32>,
    /// Records behind the last stable offset, by assigned partition (JSON keys are the
    /// partition numbers as text).
    #[schema(value_type = BTreeMap<String, i64>)]
    pub lag: BTreeMap<i32, i64>,
    pub records_consumed: u64,
    pub records_produced: u64,
    pub transactions_committed: u64,
    pub transactions_aborted: u64,
    pub last_commit_at: Option<DateTime<Utc>>,
}

impl StageStatus {
    /// Whether the loop does its job: transactions initialized and partitions assigned
    /// (a replica beyond the input's partition count waits, not ready, as a standby).
    pub fn readiness(&self) -> Result<(), String> {
        if self.consumer.phase != "running" {
            return Err(format!(
                "the loop is {}",
                self.consumer.phase.replace('_', " ")
            ));
        }
        if self.assigned_partitions.is_empty() {
            return Err(format!(
                "no partition of {} assigned (yet) in group {}",
                self.input_topic, self.group_id
            ));
        }
        Ok(())
    }

    /// [`Self::readiness`] for a stage that one replica may run alone (the incident stage,
    /// whose input has one partition by default): also ready once the group has answered
    /// without giving this replica a partition, as the standby it then is.
    pub fn readiness_or_standby(&self) -> Result<(), String> {
        let standing_by = self.consumer.phase == "running"
            && self.consumer.rebalances > 0
            && self.assigned_partitions.is_empty();
        if standing_by {
            return Ok(());
        }
        self.readiness()
    }
}

impl Progress for StageProgress {
    type Status = StageStatus;

    fn status(&self, consumer: ConsumerStatus) -> StageStatus {
        let assigned_partitions: Vec<i32> = consumer
            .assigned
            .iter()
            .filter(|tp| tp.topic == self.input_topic)
            .map(|tp| tp.partition)
            .collect();
        let lag = lock(&self.lag)
            .iter()
            .filter(|(partition, _)| assigned_partitions.contains(partition))
            .map(|(partition, behind)| (*partition, *behind))
            .collect();
        StageStatus {
            input_topic: self.input_topic.clone(),
            group_id: self.group_id.clone(),
            transactional_id: self.transactional_id.clone(),
            assigned_partitions,
            lag,
            records_consumed: self.consumed.load(Ordering::Relaxed),
            records_produced: self.produced.load(Ordering::Relaxed),
            transactions_committed: self.committed.load(Ordering::Relaxed),
            transactions_aborted: self.aborted.load(Ordering::Relaxed),
            last_commit_at: *lock(&self.last_commit_at),
            consumer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: &'static str, rebalances: u64, assigned: &[i32]) -> StageStatus {
        StageStatus {
            consumer: ConsumerStatus {
                consumer: "incidents".into(),
                running: true,
                phase,
                assigned: Vec::new(),
                rebalances,
                errors: 0,
                last_error: None,
            },
            input_topic: "incident-signals".into(),
            group_id: "processing-incidents".into(),
            transactional_id: "processing-incidents-a".into(),
            assigned_partitions: assigned.to_vec(),
            lag: BTreeMap::new(),
            records_consumed: 0,
            records_produced: 0,
            transactions_committed: 0,
            transactions_aborted: 0,
            last_commit_at: None,
        }
    }

    #[test]
    fn a_replica_the_group_gave_nothing_is_ready_only_as_a_standby() {
        let standby = status("running", 1, &[]);
        assert!(standby.readiness().is_err(), "a stage needs its partitions");
        assert_eq!(standby.readiness_or_standby(), Ok(()));
        let waiting = status("running", 0, &[]);
        assert!(
            waiting.readiness_or_standby().is_err(),
            "before the group answers, nothing is known"
        );
        let starting = status("initializing_transactions", 1, &[]);
        assert!(starting.readiness_or_standby().is_err());
        let assigned = status("running", 1, &[0]);
        assert_eq!(assigned.readiness(), Ok(()));
        assert_eq!(assigned.readiness_or_standby(), Ok(()));
    }
}
