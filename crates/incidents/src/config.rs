//! The grouping, lifecycle and bounds of the incident book.

use crate::error::IncidentError;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentConfig {
    /// Alerting objects of one source and company within the window that make one
    /// source-wide incident.
    pub source_wide_objects: usize,
    /// The source-wide window, in event time.
    pub source_wide_window_seconds: u64,
    /// An incident recovers when every object of it had this many normal runs in a row
    /// since its last alert.
    pub resolve_after_normal_runs: u32,
    /// No alert for this long in stream time resolves an incident (quiet).
    pub quiet_period_seconds: u64,
    /// The same scope alerting again within this long (stream time) after a resolution
    /// reopens the same incident.
    pub reopen_within_seconds: u64,
    pub max_alerts: usize,
    pub max_runs: usize,
    pub max_timeline: usize,
    /// Objects tracked per incident (the most recently alerting kept).
    pub max_objects: usize,
    /// Command ids remembered per incident, to apply a repeated command once.
    pub max_command_ids: usize,
    /// Incidents the book holds; resolved ones are forgotten beyond it, oldest
    /// resolution first, and once settled whatever their number (`reopen_within` plus the
    /// source-wide window after them). Open and acknowledged ones are never forgotten.
    pub max_incidents: usize,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            source_wide_objects: 3,
            source_wide_window_seconds: 600,
            resolve_after_normal_runs: 2,
            quiet_period_seconds: 3600,
            reopen_within_seconds: 3600,
            max_alerts: 50,
            max_runs: 50,
            max_timeline: 100,
            max_objects: 200,
            max_command_ids: 20,
            max_incidents: 2_000,
        }
    }
}

/// Longest period accepted: far beyond any sensible setting, and safe in date arithmetic.
const MAX_PERIOD_SECONDS: u64 = 100 * 365 * 24 * 3600;

fn check(ok: bool, field: &'static str, reason: &str) -> Result<(), IncidentError> {
    if ok {
        Ok(())
    } else {
        Err(IncidentError::InvalidConfig {
            field,
            reason: reason.to_owned(),
        })
    }
}

fn period(seconds: u64, field: &'static str) -> Result<(), IncidentError> {
    check(
        (1..=MAX_PERIOD_SECONDS).contains(&seconds),
        field,
        "must be between 1 s and 100 years",
    )
}

impl IncidentConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), IncidentError> {
        check(
            self.source_wide_objects >= 2,
            "source_wide_objects",
            "must be at least 2",
        )?;
        period(
            self.source_wide_window_seconds,
            "source_wide_window_seconds",
        )?;
        check(
            self.resolve_after_normal_runs >= 1,
            "resolve_after_normal_runs",
            "must be at least 1",
        )?;
        period(self.quiet_period_seconds, "quiet_period_seconds")?;
        period(self.reopen_within_seconds, "reopen_within_seconds")?;
        check(self.max_alerts >= 1, "max_alerts", "must be at least 1")?;
        check(self.max_runs >= 1, "max_runs", "must be at least 1")?;
        check(
            self.max_timeline >= 2,
            "max_timeline",
            "must be at least 2 (the first entry and the newest)",
        )?;
        check(
            self.max_objects >= self.source_wide_objects,
            "max_objects",
            "must be at least source_wide_objects",
        )?;
        check(
            self.max_command_ids >= 1,
            "max_command_ids",
            "must be at least 1",
        )?;
        check(
            self.max_incidents >= 1,
            "max_incidents",
            "must be at least 1",
        )
    }

    pub(crate) fn window(&self) -> TimeDelta {
        seconds(self.source_wide_window_seconds)
    }

    pub(crate) fn quiet_period(&self) -> TimeDelta {
        seconds(self.quiet_period_seconds)
    }

    pub(crate) fn reopen_within(&self) -> TimeDelta {
        seconds(self.reopen_within_seconds)
    }

    /// How long after its last moment a resolved incident can still change: reopened
    /// within `reopen_within`, or counted among a source's alerting objects within the
    /// source-wide window of a run that much behind.
    pub(crate) fn settled_after(&self) -> TimeDelta {
        self.reopen_within()
            .checked_add(&self.window())
            .unwrap_or(TimeDelta::MAX)
    }
}

/// A period as a duration, saturating (an unvalidated config still behaves).
fn seconds(seconds: u64) -> TimeDelta {
    i64::try_from(seconds)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let config = IncidentConfig::default();
        config.validate().unwrap();
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<IncidentConfig>(&text).unwrap(),
            config
        );
        assert_eq!(
            serde_json::from_str::<IncidentConfig>("{}").unwrap(),
            config
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<IncidentConfig>(r#"{"quiet_seconds": 5}"#).is_err());
    }

    #[test]
    fn each_bad_range_names_its_field() {
        type Spoil = fn(&mut IncidentConfig);
        let cases: [(&str, Spoil); 11] = [
            ("source_wide_objects", |c| c.source_wide_objects = 1),
            ("source_wide_window_seconds", |c| {
                c.source_wide_window_seconds = 0
            }),
            ("resolve_after_normal_runs", |c| {
                c.resolve_after_normal_runs = 0
            }),
            ("quiet_period_seconds", |c| {
                c.quiet_period_seconds = u64::MAX
            }),
            ("reopen_within_seconds", |c| c.reopen_within_seconds = 0),
            ("max_alerts", |c| c.max_alerts = 0),
            ("max_runs", |c| c.max_runs = 0),
            ("max_timeline", |c| c.max_timeline = 1),
            ("max_objects", |c| c.max_objects = 2),
            ("max_command_ids", |c| c.max_command_ids = 0),
            ("max_incidents", |c| c.max_incidents = 0),
        ];
        for (expected, spoil) in cases {
            let mut config = IncidentConfig::default();
            spoil(&mut config);
            match config.validate() {
                Err(IncidentError::InvalidConfig { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }
}
