//! The console's own JSON endpoints, for what the other APIs do not answer:
//! `GET /console/api/fleet` and `GET /console/api/pipeline`.

use super::config::ConsoleConfig;
use super::fleet::{fleet, FleetQuery, FleetReport};
use super::metrics_text;
use super::pipeline::ServiceReport;
use crate::analytics::AnalyticsView;
use crate::incidents::{IncidentQuery, IncidentView};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use obs_incidents::IncidentStatus;
use obs_service::{ApiError, FromQuery, Metrics, QueryParams, StrictQuery, ViewAnswer};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Objects shown per source tile when the query does not say.
pub const FLEET_DEFAULT_OBJECTS: usize = 100;
/// Most objects shown per source tile.
pub const FLEET_MAX_OBJECTS: usize = 1_000;

/// This process's own `/status`, which the pipeline page shows beside the others'.
pub trait LocalStatus: Send + Sync {
    fn status(&self) -> Value;
}

/// What the console's endpoints read.
pub struct ConsoleApi {
    pub config: ConsoleConfig,
    pub analytics: Arc<AnalyticsView>,
    pub incidents: Arc<IncidentView>,
    pub local: Arc<dyn LocalStatus>,
    pub metrics: Metrics,
}

struct Shared {
    api: ConsoleApi,
    client: reqwest::Client,
}

pub fn api_router(api: ConsoleApi) -> Router {
    Router::new()
        .route("/console/api/fleet", get(fleet_answer))
        .route("/console/api/pipeline", get(pipeline_answer))
        .with_state(Arc::new(Shared {
            api,
            client: reqwest::Client::new(),
        }))
}

type Console = State<Arc<Shared>>;

impl FromQuery for FleetQuery {
    const PARAMETERS: &'static [&'static str] = &["company", "source", "objects"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        let name = |key: &str| {
            params.parse(key, "a non-empty name", |value| {
                (!value.is_empty()).then(|| value.to_owned())
            })
        };
        Ok(FleetQuery {
            company: name("company")?,
            source: name("source")?,
            objects_per_source: params
                .parse(
                    "objects",
                    &format!("an integer from 1 to {FLEET_MAX_OBJECTS}"),
                    |value| {
                        value
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=FLEET_MAX_OBJECTS).contains(n))
                    },
                )?
                .unwrap_or(FLEET_DEFAULT_OBJECTS),
        })
    }
}

/// `GET /console/api/fleet?company=&source=&objects=`: every source of every company with
/// its objects, worst first (see [`super::fleet`]).
async fn fleet_answer(
    State(console): Console,
    StrictQuery(query): StrictQuery<FleetQuery>,
) -> ViewAnswer<FleetReport> {
    let api = &console.api;
    let caught_up = api.analytics.is_caught_up() && api.incidents.caught_up();
    let active: Vec<_> = [IncidentStatus::Open, IncidentStatus::Acknowledged]
        .into_iter()
        .flat_map(|status| {
            api.incidents
                .list(&IncidentQuery {
                    status: Some(status),
                    limit: usize::MAX,
                    ..IncidentQuery::default()
                })
                .0
        })
        .collect();
    let report = fleet(
        api.analytics.objects(),
        &active,
        &query,
        api.config.silent_after_intervals,
    );
    ViewAnswer::new(caught_up, report)
}

#[derive(Serialize)]
struct Pipeline {
    services: Vec<ServiceReport>,
}

/// `GET /console/api/pipeline`: ingestion, standardization (asked over HTTP, each within
/// `console.status_timeout_ms`) and this process.
async fn pipeline_answer(State(console): Console, _: StrictQuery<()>) -> Json<Pipeline> {
    let config = &console.api.config;
    let (ingestion, standardization) = tokio::join!(
        remote(&console, "ingestion", &config.ingestion_url),
        remote(&console, "standardization", &config.standardization_url),
    );
    let local = ServiceReport::read(
        "processing",
        None,
        &console.api.local.status(),
        &metrics_text::parse(&console.api.metrics.render()),
    );
    Json(Pipeline {
        services: vec![ingestion, standardization, local],
    })
}

/// Another service's `/status` and `/metrics`; unreachable when its status cannot be had
/// (its figures without timings when only its metrics cannot).
async fn remote(console: &Shared, service: &'static str, base: &str) -> ServiceReport {
    let base = base.trim_end_matches('/');
    let timeout = Duration::from_millis(console.api.config.status_timeout_ms);
    let get = |path: &str| {
        console
            .client
            .get(format!("{base}{path}"))
            .timeout(timeout)
            .send()
    };
    let (status, metrics) = tokio::join!(
        async {
            get("/status")
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        },
        async { get("/metrics").await?.error_for_status()?.text().await },
    );
    match status {
        Ok(status) => ServiceReport::read(
            service,
            Some(base.to_owned()),
            &status,
            &metrics_text::parse(&metrics.unwrap_or_default()),
        ),
        Err(error) => ServiceReport::unreachable(service, base.to_owned(), describe(&error)),
    }
}

/// The error in words an operator acts on.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".into()
    } else if error.is_connect() {
        "connection refused or host unreachable".into()
    } else if let Some(status) = error.status() {
        format!("answered {status}")
    } else {
        error.to_string()
    }
}
