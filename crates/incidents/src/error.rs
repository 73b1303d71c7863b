//! What can go wrong applying a signal or configuring the book.

use crate::incident::IncidentStatus;
use crate::signal::Action;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The command cannot apply to the incident as it stands (409 for the HTTP API).
    #[error("incident {incident_id} is {status}: cannot {action} it")]
    ImpossibleTransition {
        incident_id: String,
        status: IncidentStatus,
        action: Action,
    },
    /// The command names no incident the book knows.
    #[error("no incident {incident_id}")]
    UnknownIncident { incident_id: String },
    /// An alerted signal without an alert: nothing to group.
    #[error("run {record_id}: alerted signal without an alert")]
    NoAlerts { record_id: String },
    #[error("incident config: {field} {reason}")]
    InvalidConfig { field: &'static str, reason: String },
}
