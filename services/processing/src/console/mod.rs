//! The operator console: the fleet, the incidents, a record's trace, the pipeline and the
//! log events, as pages served by processing itself (assets embedded in the binary, no
//! CDN, no build step), refreshed every few seconds.
//!
//! The pages read the service's APIs from the browser (`/incidents`, `/logs`, `/trace`);
//! [`routes`] answers what those do not: the fleet ([`fleet`], per object from the
//! analytics view, with the active incidents) and the pipeline ([`pipeline`], from each
//! service's `/status` and `/metrics`, the other services asked over HTTP).

mod config;
mod fleet;
mod metrics_text;
mod pages;
mod pipeline;
mod routes;

pub use config::ConsoleConfig;
pub use fleet::{FleetQuery, FleetReport, Health};
pub use routes::{ConsoleApi, LocalStatus, FLEET_DEFAULT_OBJECTS, FLEET_MAX_OBJECTS};

/// The pages, their assets and the console's endpoints.
pub fn router(api: ConsoleApi) -> axum::Router {
    pages::page_router().merge(routes::api_router(api))
}
