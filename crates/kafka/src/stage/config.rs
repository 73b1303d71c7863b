//! Batching and identity of one stage instance.

use crate::consumer::instance_id;
use serde::{Deserialize, Serialize};

/// Batching and identity of one stage instance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Consumer group shared by every replica of the stage.
    pub group_id: String,
    /// Stable per instance (replicas need distinct ones); empty: `<group>-<hostname>`.
    pub transactional_id: String,
    /// Most input records in one transaction. What a batch holds until it commits (its
    /// outputs, in the transform and in the producer's queue) grows with it, twice over
    /// since two batches can be open; past a couple of thousand records, the cost of a
    /// commit is already spread thin.
    pub batch_max_records: usize,
    /// Longest a batch gathers before it is committed, unless the transaction before it
    /// still runs: then it gathers until that one ends (or it is full).
    pub batch_max_ms: u64,
    /// `transaction.timeout.ms`: how long an abandoned transaction can hold readers back.
    pub transaction_timeout_ms: u64,
}

impl StageConfig {
    pub fn for_group(group_id: &str) -> Self {
        StageConfig {
            group_id: group_id.into(),
            transactional_id: String::new(),
            batch_max_records: 2000,
            batch_max_ms: 25,
            transaction_timeout_ms: 30_000,
        }
    }

    /// The config of another stage of the same service: the same batching, in a group of
    /// its own (`<group>-<suffix>`) with a transactional id of its own (`<id>-<suffix>`, or
    /// `<group>-<suffix>-<hostname>` by default).
    pub fn companion(&self, suffix: &str) -> StageConfig {
        let suffixed = |name: &str| format!("{name}-{suffix}");
        StageConfig {
            group_id: suffixed(&self.group_id),
            transactional_id: if self.transactional_id.is_empty() {
                String::new()
            } else {
                suffixed(&self.transactional_id)
            },
            ..self.clone()
        }
    }

    pub(super) fn resolved_transactional_id(&self) -> String {
        if !self.transactional_id.is_empty() {
            return self.transactional_id.clone();
        }
        instance_id(&self.group_id)
    }
}
