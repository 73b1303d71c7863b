//! Incident notifications: the incidents of the view pushed to Alertmanager
//! (`POST /api/v2/alerts`) as alerts named [`ALERT_NAME`], one per incident.
//!
//! * **The Prometheus way.** Every replica's view holds every incident, and every replica
//!   sends them: changed incidents within a second, every active one again each
//!   `resend_interval_seconds` with `endsAt` four intervals ahead, a resolved one with its
//!   resolution time as `endsAt`. Alertmanager merges alerts with the same labels and
//!   notifies once per group, so replicas and restarts never page twice, and an incident
//!   whose processing went away resolves by itself a few minutes later.
//! * **Identity.** The labels: `alertname`, `incident_id`, `severity`, `company`,
//!   `source`, `scope` (`series` or `source`), and for a series `object` and `object_id`.
//!   The annotations: `summary` (the title), `description`, `status`, `acknowledged`,
//!   `alerts`. `startsAt` is when the incident opened.
//! * **Never on the hot path.** The POSTs run on a Tokio task with the async `reqwest`
//!   client, retried with exponential backoff while Alertmanager is down; a batch it
//!   refuses as invalid (4xx other than 408/429) is counted and not repeated until the
//!   incident changes.
//!
//! The per-run alerts stay on the `alerts` topic for whoever wants them.
//!
//! Only `http://` URLs: the workspace builds `reqwest` without TLS (put a TLS-terminating
//! proxy in front of a remote Alertmanager).

mod config;
mod delivery;
mod mapping;
mod notifier;
#[cfg(test)]
mod testing;

pub use config::AlertmanagerConfig;
pub use mapping::ALERT_NAME;
pub use notifier::{spawn_notifier, NotifierHandle, NotifierStatus};
