//! `GET /status`: each loop's partitions, lag and counts (`in = standardized + dead +
//! duplicates` for runs, `in = standardized + dead` for log events) and the
//! de-duplication's memory.

use crate::{AppState, SERVICE};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use obs_kafka::{BrokerStatus, StageStatus};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The answer of `GET /status`.
#[derive(Serialize, ToSchema)]
#[schema(as = StandardizationStatus)]
pub struct Status {
    pub service: &'static str,
    pub version: &'static str,
    pub started_at: DateTime<Utc>,
    /// The zone the connectors' naive times are read in.
    pub time_zone: String,
    pub kafka: KafkaStatus,
    /// The runs' loop; `null` until it started.
    pub stage: Option<StageStatus>,
    pub records: RecordCounts,
    pub dedup: DedupStatus,
    /// The log events' loop; `null` until it started.
    pub log_events_stage: Option<StageStatus>,
    pub log_events: EventCounts,
}

/// The topics of both loops, and the broker as the last check saw it.
#[derive(Serialize, ToSchema)]
#[schema(as = StandardizationKafka)]
pub struct KafkaStatus {
    pub bootstrap_servers: String,
    pub broker: BrokerStatus,
    pub input: String,
    pub outputs: Vec<String>,
    pub log_events_input: String,
    pub log_events_outputs: Vec<String>,
}

/// Committed runs: `in = standardized + dead_lettered + duplicates_dropped`.
#[derive(Serialize, ToSchema)]
#[schema(as = StandardizedRuns)]
pub struct RecordCounts {
    #[serde(rename = "in")]
    pub consumed: u64,
    pub standardized: u64,
    pub dead_lettered: u64,
    pub duplicates_dropped: u64,
}

/// Committed log events: `in = standardized + dead_lettered`.
#[derive(Serialize, ToSchema)]
#[schema(as = StandardizedEvents)]
pub struct EventCounts {
    #[serde(rename = "in")]
    pub consumed: u64,
    pub standardized: u64,
    pub dead_lettered: u64,
}

/// The run ids remembered to drop a run sent twice.
#[derive(Serialize, ToSchema)]
pub struct DedupStatus {
    pub horizon_seconds: i64,
    pub remembered_ids: i64,
    pub max_ids: usize,
    pub evicted_ids: u64,
    pub ids_topic: String,
}

#[utoipa::path(
    get, path = "/status", tag = "status",
    responses((status = 200, description = "each loop's partitions, lag and counts, and the de-duplication's memory", body = Status))
)]
pub async fn status(State(state): State<Arc<AppState>>) -> Json<Status> {
    let (consumed, standardized, dead_lettered, duplicates_dropped) = state.stage_totals();
    let (events_in, events_standardized, events_dead) = state.log_stage_totals();
    let config = &state.config;
    let topics = &config.topics;
    Json(Status {
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at,
        time_zone: config.standardize.time_zone.clone(),
        kafka: KafkaStatus {
            bootstrap_servers: config.kafka.bootstrap_servers.clone(),
            broker: state.probe.status(),
            input: topics.raw_logs.name.clone(),
            outputs: vec![
                topics.standardized_logs.name.clone(),
                topics.dead_letters.name.clone(),
                topics.standardized_ids.name.clone(),
            ],
            log_events_input: topics.app_logs.name.clone(),
            log_events_outputs: vec![
                topics.standardized_app_logs.name.clone(),
                topics.dead_letters.name.clone(),
            ],
        },
        stage: state.stage_status(),
        records: RecordCounts {
            consumed,
            standardized,
            dead_lettered,
            duplicates_dropped,
        },
        dedup: DedupStatus {
            horizon_seconds: config.dedup.horizon_ms(topics) / 1000,
            remembered_ids: state.dedup_metrics.remembered.get(),
            max_ids: config.dedup.max_ids,
            evicted_ids: state.dedup_metrics.evicted.get(),
            ids_topic: topics.standardized_ids.name.clone(),
        },
        log_events_stage: state.log_stage_status(),
        log_events: EventCounts {
            consumed: events_in,
            standardized: events_standardized,
            dead_lettered: events_dead,
        },
    })
}
