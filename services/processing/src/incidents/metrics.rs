//! The incidents' figures for operators: how many are open, how long they wait for an
//! acknowledgement and a resolution.

use obs_detector::Severity;
use obs_incidents::Transition;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts};

use super::view::Counts;

/// From a minute to three days.
const WAIT_BUCKETS: [f64; 11] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 259200.0,
];

#[derive(Clone)]
pub struct IncidentMetrics {
    /// Changes the incident stage committed, by transition.
    changes: IntCounterVec,
    time_to_acknowledge: Histogram,
    time_to_resolve: Histogram,
    pub commands_rejected: IntCounter,
    pub restores: IntCounter,
    /// Open or acknowledged incidents by severity, as the view holds them.
    active: IntGaugeVec,
}

impl IncidentMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        let wait = |name: &str, help: &str| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(WAIT_BUCKETS.to_vec()))
        };
        Ok(IncidentMetrics {
            changes: metrics.register(IntCounterVec::new(
                Opts::new(
                    "incident_changes_total",
                    "Incident changes committed by this instance's incident stage, by transition (opened, reopened, escalated, updated, acknowledged, resolved).",
                ),
                &["transition"],
            )?)?,
            time_to_acknowledge: metrics.register(wait(
                "incident_time_to_acknowledge_seconds",
                "From an incident's opening to its acknowledgement by an operator.",
            )?)?,
            time_to_resolve: metrics.register(wait(
                "incident_time_to_resolve_seconds",
                "From an incident's opening to its resolution (by an operator, by recovery or by quiet).",
            )?)?,
            commands_rejected: metrics.register(IntCounter::new(
                "incident_commands_rejected_total",
                "Operator commands the incident stage skipped: the incident had changed since the API accepted them.",
            )?)?,
            restores: metrics.register(IntCounter::new(
                "incident_book_restores_total",
                "Rebuilds of the incident book from the incidents topic (start, rebalance, dropped batch).",
            )?)?,
            active: metrics.register(IntGaugeVec::new(
                Opts::new(
                    "incidents_open",
                    "Open or acknowledged incidents, by severity (every replica reports the same).",
                ),
                &["severity"],
            )?)?,
        })
    }

    /// One committed change; `took` = seconds from the opening, for a resolution or an
    /// acknowledgement.
    pub fn observe(&self, transition: Transition, took: Option<f64>) {
        self.changes.with_label_values(&[transition.as_str()]).inc();
        match (transition, took) {
            (Transition::Acknowledged, Some(took)) => self.time_to_acknowledge.observe(took),
            (Transition::Resolved, Some(took)) => self.time_to_resolve.observe(took),
            _ => {}
        }
    }

    pub fn set_active(&self, counts: &Counts) {
        for (severity, count) in Severity::ALL.iter().zip(counts.active_by_severity) {
            self.active
                .with_label_values(&[severity.as_str()])
                .set(count as i64);
        }
    }
}
