//! The standardization service: `raw-logs` → `standardized-logs` and `app-logs` →
//! `standardized-app-logs`, bad records to `dead-letters`, exactly once.
//!
//! The pure work is [`obs_records::standardize`] for runs and
//! [`obs_records::standardize_log_event`] for application log events, whose severity the
//! [`obs_severity`] classifier reads when they come without a usable level (trained at
//! start-up). This crate wires each into a transactional loop of its own
//! ([`obs_kafka::stage`]: `transform` for runs, `log_events` for events) and serves the
//! HTTP API: a dry run of the standardization, status, health and metrics.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
mod dedup;
mod log_events;
mod status;
mod transform;

use anyhow::Context;
use axum::body::Body;
use axum::extract::State;
use axum::{Json, Router};
pub use config::StandardizationConfig;
use dedup::Dedup;
pub use dedup::{DedupConfig, DedupMetrics};
pub use log_events::{LogEventMetrics, LogEventTransform, LOG_EVENTS_STAGE, OTHER_SERVICES};
use obs_kafka::replay::ReplayTopics;
use obs_kafka::{spawn_stage, BrokerProbe, StageHandle, StageMetrics, StageStatus};
use obs_records::standardize::{standardize_bytes, StandardizeOptions, StandardizedRecord};
use obs_service::auth::{Auth, Scope};
use obs_service::dead_letter_replay::{self, ReplayApi};
use obs_service::http::read_body;
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter, RequireScope};
use obs_service::{
    health_routes, ApiError, ApplicationJson, ContentType, HealthReport, Metrics, Running,
};
use obs_severity::SeverityModel;
use std::sync::Arc;
use std::time::Instant;
pub use transform::{StandardizationMetrics, StandardizeTransform, STAGE};

pub const SERVICE: &str = "standardization";

/// Everything the handlers share.
pub struct AppState {
    pub config: StandardizationConfig,
    options: StandardizeOptions,
    probe: BrokerProbe,
    registry: Metrics,
    metrics: StandardizationMetrics,
    dedup_metrics: DedupMetrics,
    stage: Running<StageHandle>,
    /// Reads the severity of log events that came without a usable level.
    classifier: Arc<SeverityModel>,
    log_metrics: LogEventMetrics,
    log_stage: Running<StageHandle>,
    /// The API keys every route group checks.
    auth: Arc<Auth>,
    /// `POST /dead-letters/replay`.
    replay: Arc<ReplayApi>,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    /// Validates the config, trains the severity classifier and prepares metrics and the
    /// broker probe (needs a Tokio runtime); the loops start with [`AppState::start_stage`]
    /// and [`AppState::start_log_stage`].
    pub fn new(config: StandardizationConfig) -> anyhow::Result<Arc<AppState>> {
        let options = StandardizeOptions::with_zone_name(&config.standardize.time_zone)
            .context("invalid configuration of standardize.time_zone")?;
        let registry = Metrics::new();
        let metrics = StandardizationMetrics::register(&registry).context("registering metrics")?;
        let log_metrics = LogEventMetrics::register(&registry).context("registering metrics")?;
        let dedup_metrics = DedupMetrics::register(&registry).context("registering metrics")?;
        let started = Instant::now();
        let classifier = SeverityModel::shipped().context("training the severity classifier")?;
        tracing::info!(
            training_ms = started.elapsed().as_secs_f64() * 1000.0,
            "severity classifier trained"
        );
        let t = &config.topics;
        let replay = ReplayApi::new(
            SERVICE,
            &config.kafka,
            ReplayTopics::new(t, &[&t.raw_logs, &t.app_logs]),
            &[STAGE, LOG_EVENTS_STAGE],
            config.http.max_body_bytes,
            &registry,
        )
        .context("registering metrics")?;
        let probe = BrokerProbe::start(&config.kafka, SERVICE)?;
        let auth = Arc::new(Auth::new(&config.auth).context("invalid configuration of auth")?);
        Ok(Arc::new(AppState {
            auth,
            replay,
            config,
            options,
            probe,
            registry,
            metrics,
            dedup_metrics,
            stage: Running::default(),
            classifier: Arc::new(classifier),
            log_metrics,
            log_stage: Running::default(),
            started_at: chrono::Utc::now(),
        }))
    }

    /// Starts the runs' consume-transform-produce loop.
    pub fn start_stage(&self) -> anyhow::Result<()> {
        let c = &self.config;
        dedup::check_partitions(&c.kafka, &c.topics, self.registry.errors())?;
        let transform = StandardizeTransform::new(
            self.options,
            &c.topics.standardized_logs.name,
            &c.topics.dead_letters.name,
            self.metrics.clone(),
            Dedup::new(
                &c.dedup,
                &c.kafka,
                &c.topics,
                self.registry.errors().clone(),
                self.dedup_metrics.clone(),
            ),
        );
        let stage_metrics =
            StageMetrics::register(self.registry.registry(), self.registry.errors(), "runs")
                .context("registering stage metrics")?;
        let handle = spawn_stage(
            &c.kafka,
            STAGE,
            &c.topics.raw_logs.name,
            &c.stage,
            transform,
            stage_metrics,
        )?;
        self.stage.set(handle);
        Ok(())
    }

    /// Starts the log events' loop: `app-logs` → `standardized-app-logs`.
    pub fn start_log_stage(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let transform = LogEventTransform::new(
            self.classifier.clone(),
            &c.topics.standardized_app_logs.name,
            &c.topics.dead_letters.name,
            c.log_events.max_services,
            self.log_metrics.clone(),
        );
        let stage_metrics = StageMetrics::register(
            self.registry.registry(),
            self.registry.errors(),
            "log_events",
        )
        .context("registering the log-event stage metrics")?;
        let handle = spawn_stage(
            &c.kafka,
            LOG_EVENTS_STAGE,
            &c.topics.app_logs.name,
            &c.log_events_stage(),
            transform,
            stage_metrics,
        )?;
        self.log_stage.set(handle);
        Ok(())
    }

    /// Stops the runs' loop after it committed the batch in flight (blocking).
    pub fn stop_stage(&self) -> anyhow::Result<()> {
        stop(&self.stage)
    }

    /// Stops the log events' loop after it committed the batch in flight (blocking).
    pub fn stop_log_stage(&self) -> anyhow::Result<()> {
        stop(&self.log_stage)
    }

    /// The runs' loop's status, once it was started.
    pub fn stage_status(&self) -> Option<StageStatus> {
        self.stage.map(StageHandle::status)
    }

    /// The log events' loop's status, once it was started.
    pub fn log_stage_status(&self) -> Option<StageStatus> {
        self.log_stage.map(StageHandle::status)
    }

    /// Committed log events `(in, standardized, dead-lettered)`, reconciled as
    /// [`AppState::stage_totals`].
    pub fn log_stage_totals(&self) -> (u64, u64, u64) {
        let (standardized, dead) = self.log_metrics.totals();
        let consumed = self.log_stage_status().map_or(0, |s| s.records_consumed);
        (consumed, standardized, dead)
    }

    /// Committed counts `(in, standardized, dead-lettered, duplicates dropped)`: `in` is
    /// counted by the loop (inputs whose batch committed), the others by the transform's
    /// outcomes, so `in = standardized + dead-lettered + duplicates` is a real
    /// reconciliation.
    pub fn stage_totals(&self) -> (u64, u64, u64, u64) {
        let (standardized, dead) = self.metrics.totals();
        let consumed = self.stage_status().map_or(0, |s| s.records_consumed);
        (
            consumed,
            standardized,
            dead,
            self.dedup_metrics.dropped.get(),
        )
    }
}

fn stop(stage: &Running<StageHandle>) -> anyhow::Result<()> {
    if let Some(handle) = stage.take() {
        handle.stop();
        handle.join()?;
    }
    Ok(())
}

/// The service's routes, with the shared layers.
/// `/standardize/single` and `/status` answer `read` keys (the dry run changes nothing),
/// `/dead-letters/replay` `operate` keys (it writes); the health probes and `/metrics` are
/// open.
pub fn router(state: Arc<AppState>) -> Router {
    let (routes, document) = OpenApiRouter::new()
        .routes(routes!(standardize_single))
        .routes(routes!(status))
        .require_scope(&state.auth, Scope::Read)
        .merge(dead_letter_replay::router(
            state.replay.clone(),
            &state.auth,
        ))
        .split_for_parts();
    let routes = routes
        .merge(health_routes(health))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state.clone());
    obs_service::openapi::finish(SERVICE, routes, document, &state.registry)
}

/// `POST /standardize/single`: a dry run; the standardized form (200) or every error (422).
#[utoipa::path(
    post, path = "/standardize/single", tag = "standardize",
    request_body(content = Object, content_type = "application/json",
        description = "one job-execution record, as ingestion takes it", example = obs_service::openapi::job_record_example),
    responses(
        (status = 200, description = "the record as standardization would publish it", body = StandardizedRecord),
        (status = 422, description = "the record is invalid; `details` lists every error", body = ErrorBody),
    )
)]
async fn standardize_single(
    State(state): State<Arc<AppState>>,
    _: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Json<StandardizedRecord>, ApiError> {
    let bytes = read_body(body, state.config.http.max_body_bytes).await?;
    Ok(Json(standardize_bytes(&bytes, &state.options)?))
}

/// Live while both loops run; ready once both have their partitions.
fn health(state: &AppState) -> HealthReport {
    HealthReport::new(SERVICE, state.probe.status())
        .with_stage("stage_loop", "stage_partitions", &state.stage)
        .with_stage("app_logs_loop", "app_logs_partitions", &state.log_stage)
}

/// `GET /status`: each loop's partitions, lag and counts, and the de-duplication's memory.
#[utoipa::path(
    get, path = "/status", tag = "status",
    responses((status = 200, description = "each loop's partitions, lag and counts, and the de-duplication's memory", body = status::Status))
)]
async fn status(State(state): State<Arc<AppState>>) -> Json<status::Status> {
    let (consumed, standardized, dead_lettered, duplicates_dropped) = state.stage_totals();
    let (events_in, events_standardized, events_dead) = state.log_stage_totals();
    let config = &state.config;
    let topics = &config.topics;
    Json(status::Status {
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at,
        time_zone: config.standardize.time_zone.clone(),
        kafka: status::KafkaStatus {
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
        records: status::RecordCounts {
            consumed,
            standardized,
            dead_lettered,
            duplicates_dropped,
        },
        dedup: status::DedupStatus {
            horizon_seconds: config.dedup.horizon_ms(topics) / 1000,
            remembered_ids: state.dedup_metrics.remembered.get(),
            max_ids: config.dedup.max_ids,
            evicted_ids: state.dedup_metrics.evicted.get(),
            ids_topic: topics.standardized_ids.name.clone(),
        },
        log_events_stage: state.log_stage_status(),
        log_events: status::EventCounts {
            consumed: events_in,
            standardized: events_standardized,
            dead_lettered: events_dead,
        },
    })
}

/// Runs the service until SIGTERM: topics, the loops, HTTP; at shutdown the loop commits
/// its batch in flight before the process exits.
pub async fn run(config: StandardizationConfig) -> anyhow::Result<()> {
    let (http, kafka, topics) = (
        config.http.clone(),
        config.kafka.clone(),
        config.topics.clone(),
    );
    let state = AppState::new(config)?;
    state
        .auth
        .log_warnings(SERVICE, &[Scope::Read, Scope::Operate]);
    obs_service::serve::serve_stage(SERVICE, state.clone(), router(state), &http, kafka, topics)
        .await
}

impl obs_service::serve::StageLoops for AppState {
    fn start_loops(&self) -> anyhow::Result<()> {
        self.start_stage()?;
        self.start_log_stage()
    }

    /// Stops both, reporting the first failure.
    fn stop_loops(&self) -> anyhow::Result<()> {
        let runs = self.stop_stage();
        let events = self.stop_log_stage();
        runs.and(events)
    }

    fn health(&self) -> HealthReport {
        health(self)
    }
}
