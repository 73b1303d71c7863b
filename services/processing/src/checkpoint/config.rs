//! `checkpoint.*` of the processing config.

use crate::config::error::InvalidConfig;
use obs_kafka::TopicsConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Off: the run stage's detectors and the error-rate stage's windows and detectors live
    /// in memory only: a series warms up again after a restart or a rebalance, and the
    /// events of a window open then are not counted.
    pub enabled: bool,
    /// Offsets of its `standardized-logs` partition after which a series' state is saved
    /// again (each series after half to seven eighths of it, so that the series of a
    /// partition are not all saved at once; see `schedule`): what a restore replays at
    /// most, per partition, and what sets the bytes written per record.
    pub interval_records: i64,
    /// The same for the error-rate stage: offsets of its `standardized-app-logs` partition
    /// after which a service's state (its open window and its detector series) is saved
    /// again.
    pub error_rate_interval_records: i64,
    /// Longest a saved state may age before it is saved again, however few records its
    /// partition gets: the records a restore replays must still be in the stage's input
    /// (7 days of retention by default).
    pub max_age_seconds: u64,
    /// Longest one restore of a partition may take before it is tried again.
    pub restore_timeout_seconds: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            enabled: true,
            interval_records: 40_000,
            error_rate_interval_records: 20_000,
            max_age_seconds: 86_400,
            restore_timeout_seconds: 120,
        }
    }
}

impl CheckpointConfig {
    /// The ranges, and with checkpoints on, as many partitions for each checkpoint topic
    /// as for its stage's input (the topics themselves are checked at start).
    pub fn validate(&self, topics: &TopicsConfig) -> Result<(), InvalidConfig> {
        let invalid = |key, reason: &str| InvalidConfig {
            section: "checkpoint",
            key,
            reason: reason.into(),
        };
        if self.interval_records < 2 {
            return Err(invalid("interval_records", "must be at least 2"));
        }
        if self.error_rate_interval_records < 2 {
            return Err(invalid("error_rate_interval_records", "must be at least 2"));
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
        if self.enabled
            && topics.app_log_rate_state.partitions != topics.standardized_app_logs.partitions
        {
            return Err(invalid(
                "enabled",
                "topics.app_log_rate_state.partitions must equal \
                 topics.standardized_app_logs.partitions",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_checkpoint_topic_needs_the_partitions_of_its_input() {
        let mut topics = TopicsConfig::default();
        let config = CheckpointConfig::default();
        assert_eq!(config.validate(&topics), Ok(()));
        topics.app_log_rate_state.partitions = 4;
        let error = config.validate(&topics).unwrap_err();
        assert!(error.to_string().contains("app_log_rate_state"), "{error}");
        let off = CheckpointConfig {
            enabled: false,
            ..CheckpointConfig::default()
        };
        assert_eq!(off.validate(&topics), Ok(()));
        let short = CheckpointConfig {
            error_rate_interval_records: 1,
            ..CheckpointConfig::default()
        };
        assert!(short.validate(&TopicsConfig::default()).is_err());
    }
}
