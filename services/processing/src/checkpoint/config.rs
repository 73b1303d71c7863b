//! `checkpoint.*` of the processing config.

use crate::config::error::InvalidConfig;
use obs_kafka::TopicsConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Off: the detectors' state lives in memory only, and a series warms up again after a
    /// restart or a rebalance.
    pub enabled: bool,
    /// Offsets of its `standardized-logs` partition after which a series' state is saved
    /// again (each series after between half and all of it, so that the series of a
    /// partition are not all saved at once): what a restore replays at most, per
    /// partition, and what sets the bytes written per record.
    pub interval_records: i64,
    /// Longest a series' saved state may age before it is saved again, however few runs
    /// its partition gets: the runs a restore replays must still be in `standardized-logs`
    /// (7 days of retention by default).
    pub max_age_seconds: u64,
    /// Longest one restore of a partition may take before it is tried again.
    pub restore_timeout_seconds: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            enabled: true,
            interval_records: 20_000,
            max_age_seconds: 86_400,
            restore_timeout_seconds: 120,
        }
    }
}

impl CheckpointConfig {
    /// The ranges, and with checkpoints on, as many partitions for `detector_state` as
    /// for `standardized_logs` (the topics themselves are checked at start).
    pub fn validate(&self, topics: &TopicsConfig) -> Result<(), InvalidConfig> {
        let invalid = |key, reason: &str| InvalidConfig {
            section: "checkpoint",
            key,
            reason: reason.into(),
        };
        if self.interval_records < 2 {
            return Err(invalid("interval_records", "must be at least 2"));
        }
        if self.max_age_seconds == 0 {
            return Err(invalid("max_age_seconds", "must be at least 1"));
        }
        if self.restore_timeout_seconds == 0 {
            return Err(invalid("restore_timeout_seconds", "must be at least 1"));
        }
        if self.enabled && topics.detector_state.partitions != topics.standardized_logs.partitions {
            return Err(invalid(
                "enabled",
                "topics.detector_state.partitions must equal topics.standardized_logs.partitions",
            ));
        }
        Ok(())
    }
}
