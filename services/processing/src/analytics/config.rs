//! The `analytics` section of processing's configuration: what the view keeps.

use crate::config::error::InvalidConfig;
use serde::{Deserialize, Serialize};

/// Smallest accepted [`AnalyticsConfig::quantile_relative_accuracy`]: below it the
/// sketches need many more buckets for the same range of values.
pub const MIN_RELATIVE_ACCURACY: f64 = 0.0001;
/// Largest accepted [`AnalyticsConfig::quantile_relative_accuracy`]: above it a quantile
/// is off by more than half its value, which says nothing.
pub const MAX_RELATIVE_ACCURACY: f64 = 0.5;

/// How much the analytics view keeps. Every bound here is a count; see the module docs
/// for what they add up to in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Processed records kept for `/analytics/recent`: the newest by `processed_at`.
    /// Five times the largest `limit`, so that a query filtered by source or status still
    /// finds records; the biggest part of the view (see the module's memory bound).
    pub recent_capacity: usize,
    /// Alerts kept for `/analytics/anomalies`: the newest by `raised_at`, de-duplicated
    /// by `alert_id` among those kept.
    pub anomalies_capacity: usize,
    /// Sources given their own statistics on `/analytics/sources`. Runs of further
    /// sources still count in the summary totals, and are reported as
    /// `records_from_untracked_sources`, so a flood of bogus source names cannot grow the
    /// view without bound.
    pub max_sources: usize,
    /// Objects (series) given their own figures (latest run, usual interval) for the
    /// console's fleet; runs of further objects are counted in `/status` only.
    pub max_objects: usize,
    /// Relative error α of the per-source duration, memory and CPU quantiles (0.01: a
    /// reported p95 is within 1 % of a value actually observed at that rank).
    pub quantile_relative_accuracy: f64,
    /// Most buckets of one quantile sketch (three per source). 512 buckets at α = 1 %
    /// cover a ratio of about 28 000 between the largest and smallest magnitude; past
    /// that the lowest buckets merge, which only affects low quantiles.
    pub quantile_max_buckets: usize,
    /// How often, in milliseconds, the reader looks for partitions added to its topics
    /// (`kafka-topics --alter --partitions`); it reads each new one from its beginning.
    pub partition_check_ms: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            recent_capacity: 5_000,
            anomalies_capacity: 5_000,
            max_sources: 1_000,
            max_objects: 10_000,
            quantile_relative_accuracy: 0.01,
            quantile_max_buckets: 512,
            partition_check_ms: 30_000,
        }
    }
}

impl AnalyticsConfig {
    /// Refuses values the view cannot honour, naming the key, so start-up fails with a
    /// clear message. ([`AnalyticsView::new`] does not fail: it falls back to the default
    /// for an invalid value.)
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !(MIN_RELATIVE_ACCURACY..=MAX_RELATIVE_ACCURACY)
            .contains(&self.quantile_relative_accuracy)
        {
            return Err(InvalidConfig {
                section: "analytics",
                key: "quantile_relative_accuracy",
                reason: format!(
                    "must be between {MIN_RELATIVE_ACCURACY} and {MAX_RELATIVE_ACCURACY}, got {}",
                    self.quantile_relative_accuracy
                ),
            });
        }
        if self.quantile_max_buckets < 2 {
            return Err(InvalidConfig {
                section: "analytics",
                key: "quantile_max_buckets",
                reason: format!("must be at least 2, got {}", self.quantile_max_buckets),
            });
        }
        if self.partition_check_ms == 0 {
            return Err(InvalidConfig {
                section: "analytics",
                key: "partition_check_ms",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of the default configuration changed by `change`.
    fn invalid(change: impl FnOnce(&mut AnalyticsConfig)) -> InvalidConfig {
        let mut config = AnalyticsConfig::default();
        change(&mut config);
        config.validate().unwrap_err()
    }

    #[test]
    fn defaults_are_valid_and_invalid_values_name_their_key() {
        assert_eq!(AnalyticsConfig::default().validate(), Ok(()));
        let error = invalid(|c| c.quantile_relative_accuracy = 1.5);
        assert_eq!(error.key, "quantile_relative_accuracy");
        let error = invalid(|c| c.quantile_relative_accuracy = f64::NAN);
        assert_eq!(error.key, "quantile_relative_accuracy");
        let error = invalid(|c| c.quantile_max_buckets = 1);
        assert!(error
            .to_string()
            .starts_with("analytics.quantile_max_buckets:"));
        let error = invalid(|c| c.partition_check_ms = 0);
        assert_eq!(error.key, "partition_check_ms");
    }

    #[test]
    fn config_refuses_unknown_keys_and_fills_defaults() {
        let config: AnalyticsConfig = serde_json::from_str(r#"{"recent_capacity": 5}"#).unwrap();
        assert_eq!(config.recent_capacity, 5);
        assert_eq!(config.max_sources, 1_000);
        assert!(serde_json::from_str::<AnalyticsConfig>(r#"{"recent": 5}"#).is_err());
    }
}
