//! Run metrics and threshold rules, exactly as the architecture guide defines them:
//!
//! * efficiency = mean of `clamp(100 − duration_s / 10 × 50)` and
//!   `clamp(100 − memory_bytes / 1e7 × 50)`, each clamped to [0, 100];
//! * resource utilization = `min(100, cpu_s / duration_s × 100)` (0 if the duration is 0);
//! * throughput = `60 / duration_s` objects per minute (0 if the duration is 0);
//! * anomalous when FAILED, duration > 3600 s, memory > 100 000 000 B, memory < 0, or
//!   efficiency < 20.
//!
//! Thresholds and scales are configuration ([`RulesConfig`]); the defaults are the guide's.

use obs_records::standardize::StandardizedRecord;
use obs_records::Status;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How urgent an anomaly is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 2] = [Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown severity {s:?} (expected warning or critical)"))
    }
}

/// Which rule a record broke.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Failure,
    LongDuration,
    HighMemory,
    NegativeMemory,
    LowEfficiency,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::Failure,
        RuleKind::LongDuration,
        RuleKind::HighMemory,
        RuleKind::NegativeMemory,
        RuleKind::LowEfficiency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Failure => "failure",
            RuleKind::LongDuration => "long_duration",
            RuleKind::HighMemory => "high_memory",
            RuleKind::NegativeMemory => "negative_memory",
            RuleKind::LowEfficiency => "low_efficiency",
        }
    }
}

/// Thresholds and scales of the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// A run longer than this is anomalous.
    pub max_duration_seconds: f64,
    /// A run using more memory than this is anomalous.
    pub max_memory_bytes: i64,
    /// A run with an efficiency score below this is anomalous.
    pub min_efficiency: f64,
    /// Duration at which the duration half of the efficiency has lost 50 points.
    pub efficiency_duration_scale_seconds: f64,
    /// Memory at which the memory half of the efficiency has lost 50 points.
    pub efficiency_memory_scale_bytes: f64,
    /// Severity of an anomaly that includes a FAILED run.
    pub failure_severity: Severity,
    /// Severity of any other anomaly.
    pub default_severity: Severity,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            max_duration_seconds: 3600.0,
            max_memory_bytes: 100_000_000,
            min_efficiency: 20.0,
            efficiency_duration_scale_seconds: 10.0,
            efficiency_memory_scale_bytes: 1e7,
            failure_severity: Severity::Critical,
            default_severity: Severity::Warning,
        }
    }
}

/// The derived metrics of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunMetrics {
    /// 0–100, higher is better.
    pub efficiency_score: f64,
    /// CPU time over wall time, percent, capped at 100.
    pub resource_utilization: f64,
    /// Objects per minute at this run's duration.
    pub throughput_per_minute: f64,
}

/// One broken rule, with a readable reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleHit {
    pub rule: RuleKind,
    pub reason: String,
    /// The measured value the rule looked at.
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
}

fn clamp_percent(value: f64) -> f64 {
    value.clamp(0.0, 100.0)
}

impl RulesConfig {
    /// The run's derived metrics.
    pub fn metrics(
        &self,
        duration_seconds: f64,
        cpu_seconds: f64,
        memory_bytes: i64,
    ) -> RunMetrics {
        let duration_part =
            clamp_percent(100.0 - duration_seconds / self.efficiency_duration_scale_seconds * 50.0);
        let memory_part =
            clamp_percent(100.0 - memory_bytes as f64 / self.efficiency_memory_scale_bytes * 50.0);
        let (resource_utilization, throughput_per_minute) = if duration_seconds > 0.0 {
            (
                (cpu_seconds / duration_seconds * 100.0).min(100.0),
                60.0 / duration_seconds,
            )
        } else {
            (0.0, 0.0)
        };
        RunMetrics {
            efficiency_score: (duration_part + memory_part) / 2.0,
            resource_utilization,
            throughput_per_minute,
        }
    }

    /// Whether a run lost more of its efficiency score to its memory than to its duration.
    pub fn efficiency_lost_to_memory(&self, duration_seconds: f64, memory_bytes: i64) -> bool {
        memory_bytes as f64 / self.efficiency_memory_scale_bytes
            > duration_seconds / self.efficiency_duration_scale_seconds
    }

    /// Every rule the run breaks, in [`RuleKind`] order.
    pub fn evaluate(&self, record: &StandardizedRecord, metrics: &RunMetrics) -> Vec<RuleHit> {
        let mut hits = Vec::new();
        if record.status == Status::Failed {
            let message = record.error_message.as_deref().unwrap_or("unknown error");
            hits.push(RuleHit {
                rule: RuleKind::Failure,
                reason: format!("run FAILED: {message}"),
                value: 1.0,
                threshold: 0.0,
            });
        }
        if record.duration_seconds > self.max_duration_seconds {
            hits.push(RuleHit {
                rule: RuleKind::LongDuration,
                reason: format!(
                    "duration {:.1} s above {:.0} s",
                    record.duration_seconds, self.max_duration_seconds
                ),
                value: record.duration_seconds,
                threshold: self.max_duration_seconds,
            });
        }
        if record.memory_used_bytes > self.max_memory_bytes {
            hits.push(RuleHit {
                rule: RuleKind::HighMemory,
                reason: format!(
                    "memory {} B above {} B",
                    record.memory_used_bytes, self.max_memory_bytes
                ),
                value: record.memory_used_bytes as f64,
                threshold: self.max_memory_bytes as f64,
            });
        }
        if record.memory_used_bytes < 0 {
            hits.push(RuleHit {
                rule: RuleKind::NegativeMemory,
                reason: format!(
                    "negative memory {} B (data quality)",
                    record.memory_used_bytes
                ),
                value: record.memory_used_bytes as f64,
                threshold: 0.0,
            });
        }
        if metrics.efficiency_score < self.min_efficiency {
            hits.push(RuleHit {
                rule: RuleKind::LowEfficiency,
                reason: format!(
                    "efficiency {:.1} below {:.0}",
                    metrics.efficiency_score, self.min_efficiency
                ),
                value: metrics.efficiency_score,
                threshold: self.min_efficiency,
            });
        }
        hits
    }

    /// Severity of a record with these hits: none without hits; the failure severity when
    /// the run FAILED; the default severity otherwise.
    pub fn severity(&self, hits: &[RuleHit]) -> Option<Severity> {
        if hits.is_empty() {
            None
        } else if hits.iter().any(|h| h.rule == RuleKind::Failure) {
            Some(self.failure_severity)
        } else {
            Some(self.default_severity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(duration: f64, cpu: f64, memory: i64) -> RunMetrics {
        RulesConfig::default().metrics(duration, cpu, memory)
    }

    #[test]
    fn efficiency_by_hand() {
        // duration 2 s → 100 − 10 = 90; memory 4e6 → 100 − 20 = 80; mean 85.
        assert!((metrics(2.0, 0.5, 4_000_000).efficiency_score - 85.0).abs() < 1e-9);
        // duration 30 s → 100 − 150 → clamped 0; memory 0 → 100; mean 50.
        assert!((metrics(30.0, 1.0, 0).efficiency_score - 50.0).abs() < 1e-9);
        // negative memory → 100 + … → clamped 100; duration 0 → 100.
        assert!((metrics(0.0, 0.0, -5_000_000).efficiency_score - 100.0).abs() < 1e-9);
        // both parts clamped to 0.
        assert_eq!(metrics(100.0, 1.0, 500_000_000).efficiency_score, 0.0);
    }

    #[test]
    fn utilization_and_throughput_by_hand() {
        let m = metrics(4.0, 1.0, 0);
        assert!((m.resource_utilization - 25.0).abs() < 1e-9);
        assert!((m.throughput_per_minute - 15.0).abs() < 1e-9);
        assert_eq!(
            metrics(2.0, 5.0, 0).resource_utilization,
            100.0,
            "capped at 100"
        );
        let zero = metrics(0.0, 3.0, 0);
        assert_eq!(
            (zero.resource_utilization, zero.throughput_per_minute),
            (0.0, 0.0)
        );
    }

    #[test]
    fn severity_follows_the_failure() {
        let config = RulesConfig::default();
        let hit = |rule| RuleHit {
            rule,
            reason: String::new(),
            value: 0.0,
            threshold: 0.0,
        };
        assert_eq!(config.severity(&[]), None);
        assert_eq!(
            config.severity(&[hit(RuleKind::HighMemory)]),
            Some(Severity::Warning)
        );
        assert_eq!(
            config.severity(&[hit(RuleKind::LowEfficiency), hit(RuleKind::Failure)]),
            Some(Severity::Critical)
        );
    }
}
