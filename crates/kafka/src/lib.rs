//! Kafka plumbing shared by every service.
//!
//! * [`KafkaConfig`]: the typed client config (bootstrap servers, security settings passed
//!   through to librdkafka);
//! * [`topics`]: the stack's topics with their partitions and retention, created at
//!   start-up when missing (broker auto-create is never relied on);
//! * [`AckedProducer`]: an idempotent `acks=all` producer that reports success only once the
//!   broker acknowledged, with bounded admission instead of unbounded buffering;
//! * [`RecordHeaders`]: the headers every record carries across stages;
//! * [`consumer`]: the one building block of every consumer (settings, context, thread and
//!   handle);
//! * [`stage`]: the transactional consume-transform-produce loop of the stages, built on it;
//! * [`BrokerProbe`]: Kafka connectivity for `/health`, checked off the async threads;
//! * [`ErrorCounter`]: `errors_total{stage, error_type}`, each error counted and logged in
//!   one place;
//! * [`replay`]: dead letters re-published after a fix, exactly once;
//! * [`sync`]: the poison-tolerant lock every runtime crate takes (this is the lowest of them).

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod config;
pub mod consumer;
pub mod dead_letter;
mod error;
mod error_counter;
pub mod headers;
mod probe;
mod producer;
pub mod replay;
pub mod stage;
pub mod sync;
pub mod topics;

pub use config::KafkaConfig;
pub use error::KafkaError;
pub use error_counter::{ErrorCounter, ErrorStage};
pub use headers::{RecordHeaders, TraceParent};
pub use probe::{BrokerProbe, BrokerStatus};
pub use producer::{AckedProducer, OutgoingRecord, ProducerConfig};
pub use stage::{
    spawn_stage, InputRecord, Output, OutputWriter, Outputs, StageConfig, StageHandle,
    StageMetrics, StageStatus, Transform,
};
pub use topics::{ensure_topics, TopicOutcome, TopicSpec, TopicsConfig};
