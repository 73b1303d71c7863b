//! What an incident shows as its evidence: its alerts with their explanations, the runs
//! involved, and the application log events of the same company/source/object (or, for
//! events without those attributes, of a service named like the source) within a window
//! around it.

use crate::logs::{Correlation, LogView};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use obs_detector::Alert;
use obs_incidents::{Incident, RunSummary};
use obs_records::log_event::StandardizedLogEvent;
use serde::{Deserialize, Serialize};

/// How far around an incident its log events are looked for, and how many are shown.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Minutes before the first alerting run and after the last one.
    pub log_window_minutes: i64,
    pub max_log_events: usize,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            log_window_minutes: 15,
            max_log_events: 200,
        }
    }
}

/// An incident's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub alerts: Vec<Alert>,
    pub runs: Vec<RunSummary>,
    pub log_events: Vec<StandardizedLogEvent>,
    pub log_window: LogWindow,
}

/// The window the log events were taken from (event time).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

pub fn evidence(incident: &Incident, logs: &LogView, config: &EvidenceConfig) -> Evidence {
    let margin = ChronoDuration::minutes(config.log_window_minutes);
    let window = LogWindow {
        from: incident.first_run_at - margin,
        to: incident.last_alert_at + margin,
    };
    let correlation = Correlation {
        company: incident.scope.company.clone(),
        source: incident.scope.source.clone(),
        object_ids: incident.objects.clone(),
        from: window.from,
        to: window.to,
    };
    Evidence {
        alerts: incident.alerts.clone(),
        runs: incident.runs.clone(),
        log_events: logs.read(|index| index.correlated(&correlation, config.max_log_events)),
        log_window: window,
    }
}
