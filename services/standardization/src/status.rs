//! The answer of `GET /status`: each loop's partitions, lag and counts (for runs
//! `in = standardized + dead + duplicates`, for log events `in = standardized + dead`) and
//! the de-duplication's memory.

use chrono::{DateTime, Utc};
use obs_kafka::{BrokerStatus, StageStatus};
use serde::Serialize;
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
