//! The answer of `GET /status`: the loop (partitions, lag, counts), the detectors, the
//! analytics view and the incidents and their notifier (`null` when not configured), each
//! consumer with its last error.

use crate::alertmanager::NotifierStatus;
use crate::analytics::ViewStats;
use crate::incidents::IncidentCounts;
use crate::logs::LogsStatus;
use crate::retrain::RetrainStatus;
use crate::role::Role;
use crate::trace::TraceStatus;
use chrono::{DateTime, Utc};
use obs_detector::anomaly::BankSnapshot;
use obs_kafka::consumer::follower::FollowerStatus;
use obs_kafka::{BrokerStatus, StageStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// The answer of `GET /status`.
#[derive(Serialize, ToSchema)]
#[schema(as = ProcessingStatus)]
pub struct Status {
    pub service: &'static str,
    pub version: &'static str,
    /// What this instance runs: `all`, `stages` or `views`; what it does not run shows
    /// as `null` and empty below.
    pub role: Role,
    pub started_at: DateTime<Utc>,
    pub kafka: KafkaStatus,
    /// The runs' loop; `null` until it started.
    pub stage: Option<StageStatus>,
    /// The runs' detector bank.
    pub detector: BankSnapshot,
    pub retrain: RetrainStatus,
    pub analytics: AnalyticsStatus,
    pub logs: LogsStatus,
    /// `null` unless `alertmanager.url` is set.
    pub incident_notifier: Option<NotifierStatus>,
    pub incidents: IncidentsStatus,
    pub trace: TraceStatus,
}

/// The runs' loop's topics, and the broker as the last check saw it.
#[derive(Serialize, ToSchema)]
#[schema(as = ProcessingKafka)]
pub struct KafkaStatus {
    pub bootstrap_servers: String,
    pub broker: BrokerStatus,
    pub input: String,
    pub outputs: Vec<String>,
}

/// The analytics view and the follower that feeds it.
#[derive(Serialize, ToSchema)]
pub struct AnalyticsStatus {
    /// The views' follower; `null` until it started.
    pub reader: Option<FollowerStatus>,
    pub view: ViewStats,
}

/// The incident stage, the incident view and its reader.
#[derive(Serialize, ToSchema)]
pub struct IncidentsStatus {
    /// `null` until it started.
    pub stage: Option<StageStatus>,
    /// `null` until it started.
    pub reader: Option<FollowerStatus>,
    pub view: IncidentCounts,
}
