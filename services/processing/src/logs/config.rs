//! The `logs` section of processing's configuration: the bounds of the log index.

use crate::config::error::InvalidConfig;
use serde::{Deserialize, Serialize};

/// What the log index keeps.
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
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            index_capacity: 100_000,
            index_max_bytes: 64 << 20,
            partition_check_ms: 30_000,
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
        assert_eq!(config.index_max_bytes, 64 << 20);
        assert!(serde_json::from_str::<LogsConfig>(r#"{"capacity": 5}"#).is_err());
    }
}
