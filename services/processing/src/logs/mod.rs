//! Application log events in processing: the log index behind `GET /logs` and the
//! incidents' evidence.
//!
//! # The log index
//!
//! Every replica reads every partition of `standardized-app-logs` from the beginning,
//! outside any consumer group ([`spawn_log_reader`], as the analytics reader does), into a
//! [`LogIndex`]: the newest events by event time, within `logs.index_capacity` events and
//! `logs.index_max_bytes`, the oldest evicted first. Secondary indexes by service (its
//! slug) and by `source` attribute let `GET /logs?service=` and
//! [`LogIndex::correlated`] read only the events they can match; a query without a
//! service reads the events of its time range.
//!
//! # Memory bound
//!
//! Both bounds are hard; the byte bound is on an estimate ([`estimated_bytes`]): an
//! event's text (message, service, identifiers, attributes) plus its fixed part and its
//! keys. The allocator's rounding and the B-trees' half-empty nodes come on top of it,
//! as do librdkafka's prefetch queue (capped at 1 MiB compressed, as the analytics
//! reader's) and a request's answer (at most `LOGS_MAX_LIMIT` events cloned).

mod config;
mod index;
mod metrics;
mod reader;
mod routes;
mod search;
#[cfg(test)]
mod testing;
mod view;

pub use config::LogsConfig;
pub use index::{estimated_bytes, IndexStats, LogIndex};
pub use reader::{phase, LogReaderHandle, LogReaderStatus};
pub use routes::{router, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT};
pub use search::{Correlation, LogMatches, LogQuery};
pub use view::LogView;

use anyhow::Context;
use metrics::IndexMetrics;
use obs_kafka::{KafkaConfig, TopicsConfig};
use obs_service::{HealthReport, Metrics, Running};
use reader::{spawn_log_reader, LogReaderSettings};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The log index and its reader, as the service holds them.
pub struct Logs {
    config: LogsConfig,
    view: Arc<LogView>,
    index_metrics: IndexMetrics,
    reader: Running<LogReaderHandle>,
}

impl Logs {
    /// Validates the config and registers the metrics; the reader starts with
    /// [`Logs::start`].
    pub fn new(config: LogsConfig, registry: &Metrics) -> anyhow::Result<Logs> {
        config.validate().context("invalid configuration of logs")?;
        let index_metrics =
            IndexMetrics::register(registry).context("registering the log index metrics")?;
        Ok(Logs {
            view: Arc::new(LogView::new(config.index_capacity, config.index_max_bytes)),
            config,
            index_metrics,
            reader: Running::default(),
        })
    }

    /// Starts the reader of `topics.standardized_app_logs`.
    pub fn start(
        &self,
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        registry: &Metrics,
    ) -> anyhow::Result<()> {
        let settings = LogReaderSettings {
            topic: topics.standardized_app_logs.name.clone(),
            partition_check: Duration::from_millis(self.config.partition_check_ms),
            metrics: self.index_metrics.clone(),
        };
        let reader = spawn_log_reader(kafka, settings, self.view.clone(), registry.errors())
            .context("starting the log index reader")?;
        self.reader.set(reader);
        Ok(())
    }

    /// Stops the reader (blocking).
    pub fn stop(&self) -> anyhow::Result<()> {
        if let Some(reader) = self.reader.take() {
            reader.stop();
            reader.join()?;
        }
        Ok(())
    }

    /// The index, for the incidents' evidence ([`LogIndex::correlated`]).
    pub fn view(&self) -> &Arc<LogView> {
        &self.view
    }

    /// `GET /logs`.
    pub fn router(&self) -> axum::Router {
        router(self.view.clone())
    }

    /// `report` with the reader's liveness (the index answers, partial, while it catches
    /// up, so readiness does not wait for it).
    pub fn health(&self, report: HealthReport) -> HealthReport {
        report.with_check(
            "log_index_reader",
            self.reader.is(LogReaderHandle::is_running),
        )
    }

    /// The reader and the index, for `/status`.
    pub fn status(&self) -> serde_json::Value {
        json!({
            "reader": self.reader.map(LogReaderHandle::status),
            "index": self.view.stats(),
        })
    }
}
