//! `GET /status`: the loop (partitions, lag, counts), the detectors, the analytics view and
//! the incidents and their notifier (`null` when not configured), each consumer with its
//! last error.

use crate::alertmanager::{NotifierHandle, NotifierStatus};
use crate::analytics::ViewStats;
use crate::incidents::IncidentCounts;
use crate::logs::LogsStatus;
use crate::retrain::RetrainStatus;
use crate::trace::TraceStatus;
use crate::{console, AppState, SERVICE};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use obs_detector::anomaly::BankSnapshot;
use obs_kafka::consumer::follower::{FollowerHandle, FollowerStatus};
use obs_kafka::sync::lock;
use obs_kafka::{BrokerStatus, StageHandle, StageStatus};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The answer of `GET /status`.
#[derive(Serialize, ToSchema)]
#[schema(as = ProcessingStatus)]
pub struct Status {
    pub service: &'static str,
    pub version: &'static str,
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

#[utoipa::path(
    get, path = "/status", tag = "status",
    responses((status = 200, description = "the loops, readers and views of the service", body = Status))
)]
pub async fn status(State(state): State<Arc<AppState>>) -> Json<Status> {
    Json(report(&state))
}

impl console::LocalStatus for AppState {
    fn status(&self) -> serde_json::Value {
        serde_json::to_value(report(self)).unwrap_or_default()
    }
}

fn report(state: &AppState) -> Status {
    let topics = &state.config.topics;
    Status {
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at,
        kafka: KafkaStatus {
            bootstrap_servers: state.config.kafka.bootstrap_servers.clone(),
            broker: state.probe.status(),
            input: topics.standardized_logs.name.clone(),
            outputs: vec![
                topics.processed_metrics.name.clone(),
                topics.alerts.name.clone(),
            ],
        },
        stage: state.stage.map(StageHandle::status),
        detector: lock(&state.detectors).snapshot(),
        retrain: state.retrainer.status(),
        analytics: AnalyticsStatus {
            reader: state.reader.map(FollowerHandle::status),
            view: state.view.stats(),
        },
        logs: state.logs.status(),
        incident_notifier: state.notifier.map(NotifierHandle::status),
        incidents: IncidentsStatus {
            stage: state.incident_stage.map(StageHandle::status),
            reader: state.incident_reader.map(FollowerHandle::status),
            view: state.incidents.view.counts().report(),
        },
        trace: state.trace.status(state.reader.map(FollowerHandle::status)),
    }
}
