//! The analytics view of the processing service: `/analytics/summary`, `/sources`,
//! `/recent` and `/anomalies`.
//!
//! # Why a view of the output topics
//!
//! Every processing replica only sees the partitions of `standardized-logs` its group
//! assigned it, and forgets everything on restart. The view is therefore built from what
//! the replicas *published*: the reader ([`spawn_reader`]) reads every partition of
//! `processed-metrics` and `alerts` from the beginning, `read_committed`, outside the
//! processing consumer group and without committing offsets. Each replica thus answers for the whole stack, and a
//! restart rebuilds the same view from the retained topics (30 d of processed records,
//! 1 d of alerts by default). Partitions added to a topic after the reader started are not
//! read until the service restarts.
//!
//! # Memory bound
//!
//! Everything kept is capped by a count in [`AnalyticsConfig`]:
//!
//! ```text
//! recent      recent_capacity    × R             R ≈ 1.1–1.5 KiB per processed record
//! anomalies   anomalies_capacity × A             A ≈ 1.0 KiB per alert (its id index included)
//! sources     max_sources        × (S + 3 × quantile_max_buckets × 16 B)    S ≈ 0.4 KiB
//! ```
//!
//! `R` and `A` are one record or alert in memory with its strings, allocator and B-tree
//! overhead, measured on a FAILED PowerBI run from the sample data (an 80-character error
//! text; 1.1 KiB) and on records carrying a scored detector verdict (1.2–1.7 KB of JSON;
//! 1.5 KiB). They grow with the text of `description` / `error_message`, which only the
//! topic's maximum message size caps: the counts are hard bounds, the bytes per item are
//! typical figures. Sketch buckets are allocated as used (116 per decade of spread per
//! sign at α = 1 %), never past `quantile_max_buckets`.
//!
//! At the defaults (5 000 records, 5 000 alerts, 1 000 sources, 512 buckets):
//! recent ≈ 7.5 MiB + anomalies ≈ 5 MiB + sources ≤ 24 MiB (worst case, every source
//! spanning 4.4 decades in duration, memory *and* CPU; a source with durations of
//! 0.5–20 s, memory of 0.2–5 MB and CPU of 0.01–1 s uses ~580 buckets, 9 KiB) — about
//! **37 MiB** at most, plus librdkafka's prefetch queue, which the reader caps at 1 MiB of
//! compressed records, about 3.5 MiB decompressed (`queued.max.messages.kbytes`, unless the
//! Kafka `properties` set it), plus a request's
//! own answer (at most 1 000 records cloned, ~1 MiB).

mod newest;
mod reader;
mod responses;
mod routes;
mod sketch;
#[cfg(test)]
mod testing;
mod view;

pub use reader::{
    phase, spawn_reader, PartitionProgress, ReaderHandle, ReaderProgress, ReaderStatus,
};
pub use responses::{Anomalies, RecentRecords, SourceSummary, SourcesReport, Summary};
pub use routes::{
    router, ANOMALIES_DEFAULT_LIMIT, ANOMALIES_MAX_LIMIT, RECENT_DEFAULT_LIMIT, RECENT_MAX_LIMIT,
};
pub use sketch::{QuantileSketch, MIN_MAGNITUDE};
pub use view::{AnalyticsView, AnomalyQuery, RecentQuery, ViewStats};

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
