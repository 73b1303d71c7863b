//! What to generate.

use chrono::{NaiveDate, NaiveDateTime};

/// First hour of the committed sample: it ends with the field's `2025-09-05-16-45` run.
const DEFAULT_START: NaiveDateTime = match NaiveDate::from_ymd_opt(2025, 9, 3) {
    Some(date) => match date.and_hms_opt(17, 0, 0) {
        Some(time) => time,
        None => panic!("17:00:00 is a valid time"),
    },
    None => panic!("2025-09-03 is a valid date"),
};

/// What to generate. [`GeneratorConfig::default`] produces the committed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Number of companies; the first is always `akonovia`, which runs all six sources.
    pub companies: usize,
    /// Most objects a company runs per source (capped by the source's catalog).
    pub objects_per_source: usize,
    /// Number of hourly sequences per company.
    pub hours: usize,
    /// The first hour; minutes and seconds are ignored, each company starts its
    /// sequence at its own minute past the hour.
    pub start: NaiveDateTime,
    /// Probability that a run fails on its own (flaky objects fail more, the average
    /// stays at this rate).
    pub failure_rate: f64,
    /// Probability that a whole source of a company fails for one sequence (expired
    /// token, API outage): every object of that source fails together.
    pub outage_rate: f64,
    /// Probability that a successful run carries an injected slow run, memory spike or
    /// CPU spike.
    pub anomaly_rate: f64,
    /// Probability that a run reports a negative memory delta.
    pub negative_memory_rate: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 20_250_905,
            companies: 4,
            objects_per_source: 8,
            hours: 48,
            start: DEFAULT_START,
            failure_rate: 0.015,
            outage_rate: 0.004,
            anomaly_rate: 0.02,
            negative_memory_rate: 0.015,
        }
    }
}
