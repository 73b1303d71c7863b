//! The runtime every service shares, so each does these things one way:
//!
//! * [`config`]: typed configuration layered defaults < file < environment;
//! * [`telemetry`]: JSON `tracing` logs and the one Prometheus registry of the process;
//! * [`http`]: the JSON error shape, request ids, per-route metrics, `/metrics`, `/health`
//!   and serving with graceful shutdown.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
pub mod http;
pub mod telemetry;

pub use config::{load_config, ConfigError, HttpConfig};
pub use http::{ApiError, HealthReport};
pub use telemetry::Metrics;
