//! The operator console: the fleet, the incidents, a record's trace, the pipeline and the
//! log events, as pages served by processing itself (assets embedded in the binary, no
//! CDN, no build step), refreshed every few seconds.
//!
//! The pages read the service's APIs from the browser (`/incidents`, `/logs`, `/trace`);
//! [`routes`] answers what those do not: the fleet ([`fleet`], per object from the
//! analytics view, with the active incidents) and the pipeline ([`pipeline`], from each
//! service's `/status` and `/metrics`, the other services asked over HTTP).

use obs_service::auth::{Auth, Scope};
use obs_service::openapi::{OpenApiRouter, RequireScope};
use std::sync::Arc;

mod config;
mod fleet;
mod metrics_text;
mod pages;
mod pipeline;
mod routes;

pub use config::ConsoleConfig;
pub use fleet::{FleetQuery, FleetReport, Health};
pub use routes::{ConsoleApi, LocalStatus, FLEET_DEFAULT_OBJECTS, FLEET_MAX_OBJECTS};

/// The pages and their assets (open: they hold no data), and the console's endpoints
/// (scope `read`, like the APIs the pages call).
pub fn router(api: ConsoleApi, auth: &Arc<Auth>) -> OpenApiRouter {
    pages::page_router().merge(routes::api_router(api).require_scope(auth, Scope::Read))
}
