//! The runtime every service shares, so each does these things one way:
//!
//! * [`auth`]: API keys with scopes (`ingest`, `read`, `operate`) and a rate limit per key;
//! * [`config`]: typed configuration layered defaults < file < environment;
//! * [`telemetry`]: JSON `tracing` logs and the one Prometheus registry of the process;
//! * [`http`]: the JSON error shape, request ids, per-route metrics, `/metrics`;
//! * [`openapi`]: the OpenAPI document of each service, made from its route table;
//! * [`dead_letter_replay`]: `POST /dead-letters/replay` of a stage service's dead letters;
//! * [`health`]: `/health/live`, `/health/ready` and the `/health` summary;
//! * [`serve`]: serving with every resource bounded (header and body timeouts, connection
//!   and in-flight limits) and graceful shutdown, over HTTPS when [`tls`] is configured;
//! * [`content_type`], [`query`] and [`path`]: the extractors that check a request's
//!   `Content-Type`, its query string and its path parameters, answering in that error shape;
//! * [`heap`]: glibc's free memory given back after each burst of work, for the services
//!   that run on glibc's allocator ([`Heap`]).

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod address_limit;
pub mod auth;
pub mod config;
pub mod content_type;
pub mod dead_letter_replay;
pub mod health;
pub mod heap;
pub mod http;
pub mod openapi;
pub mod path;
#[cfg(target_os = "linux")]
mod process_metrics;
pub mod query;
mod running;
pub mod serve;
pub mod telemetry;
pub mod tls;
pub mod view_answer;

pub use config::{load_config, ConfigError, HttpConfig};

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::process::ExitCode;

/// Who gives the memory a service frees back to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heap {
    /// glibc's allocator, trimmed once each burst of work is over
    /// ([`heap::spawn_idle_trimmer`]).
    GlibcTrimmedAfterBursts,
    /// An allocator set up to return freed pages itself (processing's jemalloc).
    ReturnsFreedPages,
}

/// The `main` of every service: JSON logs, the heap's upkeep, the config (exit code 2 and
/// a message naming the key when it is invalid), then `run` until it returns (exit code 1
/// on error).
pub async fn service_main<C, F, Fut>(service: &str, heap: Heap, run: F) -> ExitCode
where
    C: DeserializeOwned + Serialize + Default,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    telemetry::init_tracing();
    if heap == Heap::GlibcTrimmedAfterBursts {
        heap::spawn_idle_trimmer();
    }
    let config = match load_config::<C>(service) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{service} stopped");
            ExitCode::FAILURE
        }
    }
}
pub use content_type::{ApplicationJson, ContentType, MediaTypes};
pub use health::{health_routes, HealthReport, Probe};
pub use http::ApiError;
pub use path::PathParams;
pub use query::{FromQuery, QueryParams, StrictQuery};
pub use running::Running;
pub use telemetry::Metrics;
pub use view_answer::ViewAnswer;
