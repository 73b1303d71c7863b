//! The ingestion service: HTTP → `raw-logs` (job-execution records) and `app-logs`
//! (application log events).
//!
//! Records arrive one by one, as batches (JSON array or NDJSON) or as uploaded files; each
//! is validated ([`obs_records::RawRecord`]), keyed by its series key, given the record
//! headers, and published with [`obs_kafka::AckedProducer`]. Log events (`POST /log`,
//! [`obs_records::LogEvent`]) take the same paths, keyed by their service. A request is
//! answered `202` only after Kafka acknowledged every record it accepted.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
mod idempotency;
mod kinds;
mod log_events;
mod metrics;
mod pipeline;
mod routes;
mod state;
mod status;

use anyhow::Context;
use axum::Router;
pub use config::{IdempotencyConfig, IngestionConfig};
pub use idempotency::{HEADER as IDEMPOTENCY_KEY, REPLAYED_HEADER};
use obs_service::auth::Scope;
use obs_service::openapi::{routes, OpenApiRouter, RequireScope};
pub use state::{AppState, SERVICE};
use std::sync::Arc;
use std::time::Duration;

/// The service's routes, with the shared layers; each group declares the scope of its
/// keys (the health probes and `/metrics` are open).
pub fn router(state: Arc<AppState>) -> Router {
    let ingest = OpenApiRouter::new()
        .routes(routes!(routes::ingest_single))
        .routes(routes!(routes::ingest_batch))
        .routes(routes!(routes::ingest_file))
        .routes(routes!(routes::ingest_trigger))
        .routes(routes!(log_events::ingest_log))
        .require_scope(&state.auth, Scope::Ingest);
    let read = OpenApiRouter::new()
        .routes(routes!(status::status))
        .require_scope(&state.auth, Scope::Read);
    let (routes, document) = ingest.merge(read).split_for_parts();
    let routes = routes
        .merge(obs_service::health_routes(routes::health))
        // Bodies are read by the handlers with their own limits and JSON 413 answers.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state.clone());
    obs_service::openapi::finish(SERVICE, routes, document, &state.registry)
}

/// Runs the service until SIGTERM: creates the topics (retrying in the background while
/// Kafka is away), serves HTTP, then waits for the records in flight to be acknowledged.
pub async fn run(config: IngestionConfig) -> anyhow::Result<()> {
    let http = config.http.clone();
    let state = AppState::new(config)?;
    state
        .auth
        .log_warnings(SERVICE, &[Scope::Ingest, Scope::Read]);
    let topics_state = state.clone();
    tokio::spawn(async move {
        let config = &topics_state.config;
        obs_kafka::topics::ensure_topics_when_reachable(&config.kafka, SERVICE, &config.topics)
            .await;
    });
    obs_service::serve::serve(router(state.clone()), &http)
        .await
        .context("serving HTTP")?;
    tracing::info!("draining the producer");
    state
        .producer
        .flush(Duration::from_secs(30))
        .await
        .context("flushing the producer at shutdown")?;
    Ok(())
}
