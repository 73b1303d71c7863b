//! `GET /status`: what the service is doing and has done.

use crate::metrics::RecordCounts;
use crate::state::{AppState, SERVICE};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use obs_kafka::BrokerStatus;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The answer of `GET /status`.
#[derive(Serialize, ToSchema)]
#[schema(as = IngestionStatus)]
pub struct Status {
    pub service: &'static str,
    pub version: &'static str,
    pub started_at: DateTime<Utc>,
    pub uptime_seconds: i64,
    pub kafka: KafkaStatus,
    /// Job-execution records (`/ingest/*` → `raw-logs`).
    pub records: RecordCounts,
    /// Application log events (`POST /log` → `app-logs`).
    pub log_events: RecordCounts,
    pub producer: ProducerStatus,
    pub idempotency: IdempotencyStatus,
    pub limits: Limits,
}

/// Where the records go, and the broker as the last check saw it.
#[derive(Serialize, ToSchema)]
#[schema(as = IngestionKafka)]
pub struct KafkaStatus {
    pub bootstrap_servers: String,
    /// The job-execution records' topic.
    pub topic: String,
    pub log_events_topic: String,
    pub broker: BrokerStatus,
}

/// Bytes handed to the producer and not yet acknowledged, and the bound on them.
#[derive(Serialize, ToSchema)]
pub struct ProducerStatus {
    pub in_flight_bytes: usize,
    pub capacity_bytes: usize,
}

/// The answers kept for `Idempotency-Key` retries, and their bounds.
#[derive(Serialize, ToSchema)]
pub struct IdempotencyStatus {
    pub keys: usize,
    pub answer_bytes: usize,
    pub max_keys: usize,
    pub max_bytes: usize,
    pub ttl_seconds: u64,
}

/// The size limits of the requests.
#[derive(Serialize, ToSchema)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_record_bytes: usize,
    pub max_file_bytes: u64,
}

#[utoipa::path(
    get, path = "/status", tag = "status",
    responses((status = 200, description = "what the service is doing and has done", body = Status))
)]
pub async fn status(State(state): State<Arc<AppState>>) -> Json<Status> {
    let (keys, answer_bytes) = state.idempotency.held();
    let config = &state.config;
    Json(Status {
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at,
        uptime_seconds: (Utc::now() - state.started_at).num_seconds(),
        kafka: KafkaStatus {
            bootstrap_servers: config.kafka.bootstrap_servers.clone(),
            topic: config.topics.raw_logs.name.clone(),
            log_events_topic: config.topics.app_logs.name.clone(),
            broker: state.probe.status(),
        },
        records: state.metrics.runs.counts(),
        log_events: state.metrics.log_events.counts(),
        producer: ProducerStatus {
            in_flight_bytes: state.producer.in_flight_bytes(),
            capacity_bytes: state.producer.capacity_bytes(),
        },
        idempotency: IdempotencyStatus {
            keys,
            answer_bytes,
            max_keys: config.idempotency.max_keys,
            max_bytes: config.idempotency.max_bytes,
            ttl_seconds: config.idempotency.ttl_seconds,
        },
        limits: Limits {
            max_body_bytes: config.http.max_body_bytes,
            max_record_bytes: config.ingest.max_record_bytes,
            max_file_bytes: config.ingest.max_file_bytes,
        },
    })
}
