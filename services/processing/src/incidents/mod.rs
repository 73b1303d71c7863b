//! Incidents: what operators work on, made of the alerts (see [`obs_incidents`] for the
//! model and its rules).
//!
//! * The run stage writes a signal per alerting run (and per normal run of a series that
//!   may be recovering) to `incident-signals`, keyed by `{company}:{source}`, in the
//!   transaction of the run's outputs.
//! * The incident stage ([`stage`]) — a second exactly-once stage of this service, group
//!   `processing-incidents` — applies each signal to the incident book of the partitions it
//!   owns and writes every changed incident whole to the compacted `incidents` topic (key =
//!   incident id) in the transaction that consumes the signal. Its book is rebuilt from that
//!   topic at start and after every rebalance ([`restore`]).
//! * Operators' commands are signals too (written by [`routes`] under the incident's
//!   scope), so they are ordered with the alerts and applied by the owner of the scope.
//! * Every replica follows the `incidents` topic into its [`view`], which the API answers
//!   from and Alertmanager is told from.

mod config;
mod evidence;
mod metrics;
mod reader;
mod restore;
mod routes;
mod stage;
mod view;

pub use config::IncidentsConfig;
pub use evidence::{Evidence, EvidenceConfig};
pub use metrics::IncidentMetrics;
pub use reader::spawn_incident_reader;
pub use routes::{router, IncidentsApi, INCIDENTS_DEFAULT_LIMIT, INCIDENTS_MAX_LIMIT};
pub use stage::{IncidentTransform, INCIDENT_STAGE};
pub use view::{BySeverity, ByStatus, Counts, IncidentCounts, IncidentQuery, IncidentView};
