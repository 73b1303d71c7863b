//! `dedup.*` of the configuration (see the README's configuration table).

use obs_kafka::TopicsConfig;
use serde::{Deserialize, Serialize};

/// `dedup.*` of the configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// How long a standardized run id is remembered; 0: the retention of `raw-logs` (a
    /// copy older than that cannot be replayed from the topic anyway).
    pub horizon_seconds: u64,
    /// Most ids remembered; past it the oldest sixteenth of the horizon is forgotten early.
    pub max_ids: usize,
    /// Longest one rebuild of a partition's ids may take before it is tried again.
    pub restore_timeout_seconds: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            horizon_seconds: 0,
            max_ids: 2_000_000,
            restore_timeout_seconds: 60,
        }
    }
}

impl DedupConfig {
    /// The horizon in milliseconds, resolved against `raw-logs`' retention.
    pub fn horizon_ms(&self, topics: &TopicsConfig) -> i64 {
        if self.horizon_seconds == 0 {
            topics.raw_logs.retention_ms
        } else {
            i64::try_from(self.horizon_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
        }
    }
}
