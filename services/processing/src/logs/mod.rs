//! Application log events in processing: the log index behind `GET /logs` and the
//! incidents' evidence, and each service's error rate as a series of the streaming
//! detectors.
//!
//! # The log index
//!
//! Every replica reads every partition of `standardized-app-logs` from the beginning,
//! outside any consumer group ([`spawn_log_reader`], a follower as the analytics reader is), into a
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
//!
//! # The error rate of each service
//!
//! A second exactly-once stage of processing ([`ErrorRateTransform`], on the stage
//! building block, in the group `<stage.group_id>-app-logs`) cuts each service's events
//! into tumbling windows of event time (`logs.error_rate_window_seconds`), closed by the
//! service's first event past the window's end. A closed window's error rate (error and
//! critical events over all) is a point of the series `app:{service}` in a detector bank
//! of the stage's own; each window is a record on `app-log-rates`, and a window the
//! detectors flag is an alert (detector `error_rate`) on `alerts`, in the same
//! transaction. At most `logs.error_rate_max_services` windows are open.
//!
//! # Checkpoints
//!
//! With `checkpoint.enabled` (the default) the stage's state survives restarts (SIGKILL
//! included) and rebalances, with the run stage's building block ([`crate::checkpoint`]):
//! each service's open window (start, counts, company, late events) and its series
//! `app:{service}` are saved together, key = the service, to the compacted
//! `app-log-rate-state` in the stage's transaction, every half to seven eighths of
//! `checkpoint.error_rate_interval_records` offsets of its partition (or
//! `checkpoint.max_age_seconds`); after an assignment, each partition is rebuilt before its
//! first event is counted: the saved states, then the events since replayed into the
//! windows and the detectors, without outputs ([`checkpoint::ErrorRateState`]). The
//! windows that close after a restart or a rebalance carry the same counts and verdicts,
//! bit for bit, as an uninterrupted stage's, while the stage holds every service of its
//! partitions (`logs.error_rate_max_services`, `detector.max_series`: an eviction depends
//! on the other partitions' events, which differ between replicas) and each service's
//! events come under one name (the input's key is the name as sent, the state's the
//! slug). Off, they live in memory only: after a restart or a rebalance, the services of
//! the partitions concerned start with no open window (the events of a window left open
//! then are not counted) and their series warm up again.

mod checkpoint;
mod config;
mod error_rate;
mod index;
mod metrics;
mod rate_series;
mod reader;
mod routes;
mod search;
#[cfg(test)]
mod testing;
mod view;
mod windows;

pub use checkpoint::ErrorRateState;
pub use config::{error_rate_stage, LogsConfig};
pub use error_rate::{
    ErrorRateRecord, ErrorRateTransform, APP_LOG_RATE_SCHEMA_VERSION, ERROR_RATE_STAGE,
};
pub use index::{estimated_bytes, IndexStats, LogIndex};
pub use rate_series::ERROR_RATE;
pub use reader::LogReaderHandle;
pub use routes::{router, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT};
pub use search::{Correlation, LogMatches, LogQuery};
pub use view::LogView;
pub use windows::{ClosedBy, ClosedWindow};

use crate::checkpoint::{CheckpointConfig, Checkpoints};
use crate::role::Role;
use anyhow::Context;
use metrics::{ErrorRateMetrics, IndexMetrics};
use obs_detector::anomaly::BankSnapshot;
use obs_detector::{DetectorBank, DetectorConfig};
use obs_kafka::consumer::follower::FollowerStatus;
use obs_kafka::sync::lock;
use obs_kafka::StageStatus;
use obs_kafka::{spawn_stage, KafkaConfig, StageConfig, StageHandle, StageMetrics, TopicsConfig};
use obs_service::{HealthReport, Metrics, Running};
use reader::{spawn_log_reader, LogReaderSettings};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::ToSchema;
use windows::ErrorRateWindows;

/// The log index and its reader, and the error-rate stage, as the service holds them.
pub struct Logs {
    config: LogsConfig,
    /// The error-rate stage's detectors' configuration, for its checkpoints' restores.
    detector: DetectorConfig,
    view: Arc<LogView>,
    index_metrics: IndexMetrics,
    reader: Running<LogReaderHandle>,
    /// The error-rate stage's detectors, shared with `/status`.
    detectors: Arc<Mutex<DetectorBank>>,
    rate_metrics: ErrorRateMetrics,
    stage_metrics: StageMetrics,
    stage: Running<StageHandle>,
}

impl Logs {
    /// Validates the config and registers the metrics; the error-rate stage's detectors
    /// take `detector`. The loops start with [`Logs::start`].
    pub fn new(
        config: LogsConfig,
        detector: DetectorConfig,
        registry: &Metrics,
    ) -> anyhow::Result<Logs> {
        config.validate().context("invalid configuration of logs")?;
        let index_metrics =
            IndexMetrics::register(registry).context("registering the log index metrics")?;
        let rate_metrics =
            ErrorRateMetrics::register(registry).context("registering the error-rate metrics")?;
        let stage_metrics =
            StageMetrics::register(registry.registry(), registry.errors(), "log_events")
                .context("registering the error-rate stage's metrics")?;
        let detectors =
            DetectorBank::new(detector.clone()).context("invalid configuration of detector")?;
        Ok(Logs {
            detector,
            view: Arc::new(LogView::new(config.index_capacity, config.index_max_bytes)),
            config,
            index_metrics,
            reader: Running::default(),
            detectors: Arc::new(Mutex::new(detectors)),
            rate_metrics,
            stage_metrics,
            stage: Running::default(),
        })
    }

    /// Starts the error-rate stage, whose group and transactional id derive from the run
    /// stage's `runs` ([`error_rate_stage`]), with its checkpoints as `checkpoint` says
    /// (validated with the topics by the caller, as the run stage's).
    pub fn start_stage(
        &self,
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        runs: &StageConfig,
        checkpoint: &CheckpointConfig,
        registry: &Metrics,
    ) -> anyhow::Result<()> {
        let c = &self.config;
        let checkpoints = Checkpoints::start(
            checkpoint,
            kafka,
            topics,
            ErrorRateState::new(
                &self.detector,
                c.error_rate_window_seconds,
                c.error_rate_max_services,
            ),
            registry,
        )
        .context("starting the error-rate stage's checkpoints")?;
        let transform = ErrorRateTransform::new(
            ErrorRateWindows::new(c.error_rate_window_seconds, c.error_rate_max_services),
            self.detectors.clone(),
            topics,
            self.rate_metrics.clone(),
            registry.errors().clone(),
            checkpoints,
        );
        let stage = spawn_stage(
            kafka,
            ERROR_RATE_STAGE,
            &topics.standardized_app_logs.name,
            &error_rate_stage(runs),
            transform,
            self.stage_metrics.clone(),
        )
        .context("starting the error-rate stage")?;
        self.stage.set(stage);
        Ok(())
    }

    /// Starts the log index's reader of `topics.standardized_app_logs`.
    pub fn start_reader(
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

    /// Stops the stage after it committed its batch in flight, and the reader (blocking).
    pub fn stop(&self) -> anyhow::Result<()> {
        if let Some(stage) = self.stage.take() {
            stage.stop();
            stage.join()?;
        }
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
    pub fn router(&self) -> obs_service::openapi::OpenApiRouter {
        router(self.view.clone())
    }

    /// `report` with the liveness of what `role` runs of the reader and the stage, and the
    /// stage's partitions for readiness (the index answers, partial, while it catches up:
    /// readiness does not wait for it).
    pub fn health(&self, report: HealthReport, role: Role) -> HealthReport {
        let report = if role.serves_views() {
            report.with_check(
                "log_index_reader",
                self.reader.is(LogReaderHandle::is_running),
            )
        } else {
            report
        };
        if role.runs_stages() {
            report.with_stage("app_logs_loop", "app_logs_partitions", &self.stage)
        } else {
            report
        }
    }

    /// The reader and the index, the error-rate stage and its detectors, for `/status`.
    pub fn status(&self) -> LogsStatus {
        LogsStatus {
            reader: self.reader.map(LogReaderHandle::status),
            index: self.view.stats(),
            error_rate_stage: self.stage.map(StageHandle::status),
            error_rate_detector: lock(&self.detectors).snapshot(),
        }
    }
}

/// The log index and the error-rate stage, as `/status` shows them.
#[derive(Serialize, ToSchema)]
pub struct LogsStatus {
    /// The log index's reader; `null` until it started.
    pub reader: Option<FollowerStatus>,
    pub index: IndexStats,
    /// `null` until it started.
    pub error_rate_stage: Option<StageStatus>,
    pub error_rate_detector: BankSnapshot,
}
