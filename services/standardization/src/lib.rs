//! The standardization service: `raw-logs` → `standardized-logs`, bad records to
//! `dead-letters`, exactly once.
//!
//! The pure work is [`obs_records::standardize`]; this crate wires it into the shared
//! transactional loop ([`obs_kafka::stage`]) and serves the HTTP API: a dry run of the
//! standardization, status, health and metrics.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
mod transform;

use anyhow::Context;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
pub use config::StandardizationConfig;
use obs_kafka::{spawn_stage, BrokerProbe, StageHandle, StageMetrics, StageStatus};
use obs_records::standardize::{standardize_bytes, StandardizeOptions, StandardizedRecord};
use obs_service::http::read_body;
use obs_service::{
    health_routes, stage_readiness, ApiError, ApplicationJson, ContentType, HealthReport, Metrics,
    Running,
};
use serde_json::json;
use std::sync::Arc;
pub use transform::{StandardizationMetrics, StandardizeTransform, STAGE};

pub const SERVICE: &str = "standardization";

/// Everything the handlers share.
pub struct AppState {
    pub config: StandardizationConfig,
    options: StandardizeOptions,
    probe: BrokerProbe,
    registry: Metrics,
    metrics: StandardizationMetrics,
    stage: Running<StageHandle>,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    /// Validates the config and prepares metrics and the broker probe (needs a Tokio
    /// runtime); the loop starts with [`AppState::start_stage`].
    pub fn new(config: StandardizationConfig) -> anyhow::Result<Arc<AppState>> {
        let options = StandardizeOptions::with_zone_name(&config.standardize.time_zone)
            .context("invalid configuration of standardize.time_zone")?;
        let registry = Metrics::new();
        let metrics = StandardizationMetrics::register(&registry).context("registering metrics")?;
        let probe = BrokerProbe::start(&config.kafka, SERVICE)?;
        Ok(Arc::new(AppState {
            config,
            options,
            probe,
            registry,
            metrics,
            stage: Running::default(),
            started_at: chrono::Utc::now(),
        }))
    }

    /// Starts the consume-transform-produce loop.
    pub fn start_stage(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let transform = StandardizeTransform::new(
            self.options,
            &c.topics.standardized_logs.name,
            &c.topics.dead_letters.name,
            self.metrics.clone(),
        );
        let stage_metrics =
            StageMetrics::register(self.registry.registry(), self.registry.errors())
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

    /// Stops the loop after it committed the batch in flight (blocking).
    pub fn stop_stage(&self) -> anyhow::Result<()> {
        if let Some(handle) = self.stage.take() {
            handle.stop();
            handle.join()?;
        }
        Ok(())
    }

    /// The loop's status, once it was started.
    pub fn stage_status(&self) -> Option<StageStatus> {
        self.stage.map(StageHandle::status)
    }

    /// Committed counts `(in, standardized, dead-lettered)`: `in` is counted by the loop
    /// (inputs whose batch committed), the two others by the transform's outcomes, so
    /// `in = standardized + dead-lettered` is a real reconciliation.
    pub fn stage_totals(&self) -> (u64, u64, u64) {
        let (standardized, dead) = self.metrics.totals();
        let consumed = self.stage_status().map_or(0, |s| s.records_consumed);
        (consumed, standardized, dead)
    }
}

/// The service's routes, with the shared layers.
pub fn router(state: Arc<AppState>) -> Router {
    let routes = Router::new()
        .route("/standardize/single", post(standardize_single))
        .merge(health_routes(health))
        .route("/status", get(status))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state.clone());
    obs_service::http::finish_router(routes, &state.registry)
}

/// `POST /standardize/single`: a dry run; the standardized form (200) or every error (422).
async fn standardize_single(
    State(state): State<Arc<AppState>>,
    _: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Json<StandardizedRecord>, ApiError> {
    let bytes = read_body(body, state.config.http.max_body_bytes).await?;
    Ok(Json(standardize_bytes(&bytes, &state.options)?))
}

/// Live while the loop runs; ready once it has its partitions.
fn health(state: &AppState) -> HealthReport {
    HealthReport::new(SERVICE, state.probe.status())
        .with_check("stage_loop", state.stage.is(StageHandle::is_running))
        .with_readiness(
            "stage_partitions",
            stage_readiness(state.stage.map(StageHandle::status)),
        )
}

/// `GET /status`: the loop's partitions, lag and counts; `in = standardized + dead`.
async fn status(State(state): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    let (total, standardized, dead) = state.stage_totals();
    (
        StatusCode::OK,
        Json(json!({
            "service": SERVICE,
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": state.started_at,
            "time_zone": state.config.standardize.time_zone,
            "kafka": {
                "bootstrap_servers": state.config.kafka.bootstrap_servers,
                "broker": state.probe.status(),
                "input": state.config.topics.raw_logs.name,
                "outputs": [
                    state.config.topics.standardized_logs.name,
                    state.config.topics.dead_letters.name,
                ],
            },
            "stage": state.stage.map(StageHandle::status),
            "records": {
                "in": total,
                "standardized": standardized,
                "dead_lettered": dead,
            },
        })),
    )
}

/// Runs the service until SIGTERM: topics, the loops, HTTP; at shutdown the loop commits
/// its batch in flight before the process exits.
pub async fn run(config: StandardizationConfig) -> anyhow::Result<()> {
    let (listen, kafka, topics) = (
        config.http.listen,
        config.kafka.clone(),
        config.topics.clone(),
    );
    let state = AppState::new(config)?;
    obs_service::http::serve_stage(SERVICE, state.clone(), router(state), listen, kafka, topics)
        .await
}

impl obs_service::http::StageLoops for AppState {
    fn start_loops(&self) -> anyhow::Result<()> {
        self.start_stage()
    }

    fn stop_loops(&self) -> anyhow::Result<()> {
        self.stop_stage()
    }
}
