//! The `logs` section of processing's configuration: the bounds of the log index and the
//! windows of the error-rate stage.

use crate::config::error::InvalidConfig;
use obs_kafka::StageConfig;
use serde::{Deserialize, Serialize};

/// What the log index keeps, and how the error-rate stage cuts its windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// Most events the index holds (the newest by event time; the oldest go first).
    pub index_capacity: usize,
    /// Most bytes the index holds, by its own estimate of each event (see the module docs);
    /// whichever bound is reached first evicts.
    pub index_max_bytes: usize,
    /// How often, in milliseconds, the index reader looks for partitions added to
    /// `standardized-app-logs`; it reads each new one from its beginning.
    pub partition_check_ms: u64,
    /// Length of the tumbling event-time windows in which each service's error rate is
    /// measured.
    pub error_rate_window_seconds: u64,
    /// Services with an open window at most; one more closes the window of the service
    /// seen least recently, so a flood of service names cannot grow the stage's state.
    pub error_rate_max_services: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            index_capacity: 50_000,
            index_max_bytes: 16 << 20,
            partition_check_ms: 30_000,
            error_rate_window_seconds: 60,
            error_rate_max_services: 1_000,
        }
    }
}

impl LogsConfig {
    /// Refuses values that cannot work, naming the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let positive = [
            ("index_capacity", self.index_capacity as u64),
            ("index_max_bytes", self.index_max_bytes as u64),
            ("partition_check_ms", self.partition_check_ms),
            ("error_rate_window_seconds", self.error_rate_window_seconds),
            (
                "error_rate_max_services",
                self.error_rate_max_services as u64,
            ),
        ];
        match positive.into_iter().find(|&(_, value)| value == 0) {
            Some((key, _)) => Err(InvalidConfig {
                section: "logs",
                key,
                reason: "must be at least 1".into(),
            }),
            None => Ok(()),
        }
    }
}

/// The error-rate stage's batching and identity: the run stage's, in a group of its own
/// (`<group>-app-logs`) with a transactional id (and static member id) of its own
/// (`<id>-app-logs`, or `<group>-app-logs-<hostname>` by default).
pub fn error_rate_stage(runs: &StageConfig) -> StageConfig {
    let suffixed = |name: &str| format!("{name}-app-logs");
    StageConfig {
        group_id: suffixed(&runs.group_id),
        transactional_id: if runs.transactional_id.is_empty() {
            String::new()
        } else {
            suffixed(&runs.transactional_id)
        },
        ..runs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_a_zero_names_its_key() {
        assert_eq!(LogsConfig::default().validate(), Ok(()));
        let config = LogsConfig {
            partition_check_ms: 0,
            ..LogsConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "logs.partition_check_ms: must be at least 1"
        );
    }

    #[test]
    fn refuses_unknown_keys_and_fills_defaults() {
        let config: LogsConfig = serde_json::from_str(r#"{"index_capacity": 5}"#).unwrap();
        assert_eq!(config.index_capacity, 5);
        assert_eq!(config.index_max_bytes, 16 << 20);
        assert!(serde_json::from_str::<LogsConfig>(r#"{"capacity": 5}"#).is_err());
    }

    #[test]
    fn the_error_rate_stage_has_a_group_and_a_transactional_id_of_its_own() {
        let mut runs = StageConfig::for_group("processing");
        let stage = error_rate_stage(&runs);
        assert_eq!(stage.group_id, "processing-app-logs");
        assert_eq!(stage.transactional_id, "", "resolved as <group>-<hostname>");
        assert_eq!(stage.batch_max_records, runs.batch_max_records);
        runs.transactional_id = "processing-7".into();
        assert_eq!(
            error_rate_stage(&runs).transactional_id,
            "processing-7-app-logs"
        );
    }
}
