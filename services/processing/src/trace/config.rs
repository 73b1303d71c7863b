//! The `trace` section of processing's configuration: the bound of the trace index.

use crate::config::error::InvalidConfig;
use serde::{Deserialize, Serialize};

/// What the trace index keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConfig {
    /// Most records the index holds; the one seen first goes first.
    pub capacity: usize,
    /// How often, in milliseconds, the trace reader looks for partitions added to its
    /// topics; it reads each new one from its beginning.
    pub partition_check_ms: u64,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            capacity: 100_000,
            partition_check_ms: 30_000,
        }
    }
}

impl TraceConfig {
    /// Refuses values that cannot work, naming the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let positive = [
            ("capacity", self.capacity as u64),
            ("partition_check_ms", self.partition_check_ms),
        ];
        match positive.into_iter().find(|&(_, value)| value == 0) {
            Some((key, _)) => Err(InvalidConfig {
                section: "trace",
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
        assert_eq!(TraceConfig::default().validate(), Ok(()));
        let config = TraceConfig {
            capacity: 0,
            ..TraceConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "trace.capacity: must be at least 1"
        );
    }

    #[test]
    fn refuses_unknown_keys_and_fills_defaults() {
        let config: TraceConfig = serde_json::from_str(r#"{"capacity": 5}"#).unwrap();
        assert_eq!(config.capacity, 5);
        assert_eq!(config.partition_check_ms, 30_000);
        assert!(serde_json::from_str::<TraceConfig>(r#"{"max_records": 5}"#).is_err());
    }
}
