//! Configuration of the ingestion service (see the README's configuration table).

use obs_kafka::{KafkaConfig, ProducerConfig, TopicsConfig};
use obs_service::auth::AuthConfig;
use obs_service::HttpConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestionConfig {
    pub http: HttpConfig,
    pub kafka: KafkaConfig,
    pub producer: ProducerConfig,
    pub topics: TopicsConfig,
    pub ingest: IngestConfig,
    pub idempotency: IdempotencyConfig,
    pub auth: AuthConfig,
}

/// Limits and files of the ingestion endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest single record; a longer line or element is rejected on its own.
    pub max_record_bytes: usize,
    /// Largest upload to `/ingest/file` (streamed, so this bounds time, not memory).
    pub max_file_bytes: u64,
    /// Records validated and published together while streaming a file.
    pub file_chunk_records: usize,
    /// Rejections listed in full in an answer; the total is always given.
    pub max_reported_rejections: usize,
    /// Directory `/ingest/trigger` may read from; nothing outside it is served.
    pub data_dir: PathBuf,
    /// File of `data_dir` ingested by `/ingest/trigger` without `?file=`.
    pub trigger_file: String,
}

/// `Idempotency-Key`'s answers kept, per instance (`crate::idempotency`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// Keys remembered at most (answered or in flight); past it the oldest is forgotten.
    pub max_keys: usize,
    /// Bytes of the answers kept at most; past it the oldest is forgotten.
    pub max_bytes: usize,
    /// How long a key's answer is kept after its first request.
    pub ttl_seconds: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            max_keys: 10_000,
            max_bytes: 16 << 20,
            ttl_seconds: 24 * 3600,
        }
    }
}

impl Default for IngestionConfig {
    fn default() -> Self {
        IngestionConfig {
            http: HttpConfig::on_port(8001),
            kafka: KafkaConfig::default(),
            producer: ProducerConfig::default(),
            topics: TopicsConfig::default(),
            ingest: IngestConfig::default(),
            idempotency: IdempotencyConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_record_bytes: 512 * 1024,
            max_file_bytes: 1024 * 1024 * 1024,
            file_chunk_records: 1000,
            max_reported_rejections: 1000,
            data_dir: PathBuf::from("sample-data"),
            trigger_file: "logs.json".into(),
        }
    }
}
