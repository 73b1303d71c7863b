//! The console's own JSON endpoints, for what the other APIs do not answer:
//! `GET /console/api/fleet` and `GET /console/api/pipeline`.

use super::config::ConsoleConfig;
use super::fleet::{fleet, ActiveIncident, FleetQuery, FleetReport};
use super::metrics_text;
use super::pipeline::ServiceReport;
use crate::analytics::AnalyticsView;
use crate::incidents::IncidentView;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::Json;
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter};
use obs_service::{ApiError, FromQuery, Metrics, QueryParams, StrictQuery, ViewAnswer};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Objects shown per source tile when the query does not say.
pub const FLEET_DEFAULT_OBJECTS: usize = 100;
/// Most objects shown per source tile.
pub const FLEET_MAX_OBJECTS: usize = 1_000;
/// Tiles answered when the query does not say.
pub const FLEET_DEFAULT_TILES: usize = 100;
/// Most tiles answered.
pub const FLEET_MAX_TILES: usize = 1_000;

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

pub fn api_router(api: ConsoleApi) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(fleet_answer))
        .routes(routes!(pipeline_answer))
        .with_state(Arc::new(Shared {
            api,
            client: reqwest::Client::new(),
        }))
}

type Console = State<Arc<Shared>>;

impl FromQuery for FleetQuery {
    const PARAMETERS: &'static [&'static str] = &["company", "source", "objects", "tiles"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        let name = |key: &str| {
            params.parse(key, "a non-empty name", |value| {
                (!value.is_empty()).then(|| value.to_owned())
            })
        };
        Ok(FleetQuery {
            company: name("company")?,
            source: name("source")?,
            objects_per_source: params.count(
                "objects",
                FLEET_DEFAULT_OBJECTS,
                FLEET_MAX_OBJECTS,
            )?,
            tiles: params.count("tiles", FLEET_DEFAULT_TILES, FLEET_MAX_TILES)?,
        })
    }
}

/// `GET /console/api/fleet?company=&source=&objects=&tiles=`: the sources of every company
/// with their objects, worst first (see [`super::fleet`]).
#[utoipa::path(
    get, path = "/console/api/fleet", tag = "console",
    params(
        ("company" = Option<String>, Query, description = "only this company", min_length = 1),
        ("source" = Option<String>, Query, description = "only this source", min_length = 1),
        ("objects" = Option<u32>, Query, description = "objects per source tile (default 100)", minimum = 1, maximum = 1000),
        ("tiles" = Option<u32>, Query, description = "source tiles (default 100)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "every company's sources with their objects, worst first", body = ViewAnswer<FleetReport>,
            headers(("x-view-caught-up" = String, description = "`false` while a view is still reading what was published before start: the answer is partial"))),
    )
)]
async fn fleet_answer(
    State(console): Console,
    StrictQuery(query): StrictQuery<FleetQuery>,
) -> ViewAnswer<FleetReport> {
    let api = &console.api;
    let caught_up = api.analytics.is_caught_up() && api.incidents.caught_up();
    let active = api.incidents.active(|i| ActiveIncident::from(i));
    let report = api
        .analytics
        .with_objects(|objects| fleet(objects, &active, &query, api.config.silent_after_intervals));
    ViewAnswer::new(caught_up, report)
}

/// `GET /console/api/pipeline`: ingestion, standardization and processing, in this order.
#[derive(Serialize, utoipa::ToSchema)]
struct Pipeline {
    services: Vec<ServiceReport>,
}

/// `GET /console/api/pipeline`: ingestion, standardization (asked over HTTP, each within
/// `console.status_timeout_ms`) and this process. The caller's key is passed on to the
/// others' `/status`: one read key configured on every service opens the whole page.
#[utoipa::path(
    get, path = "/console/api/pipeline", tag = "console",
    responses(
        (status = 200, description = "each service's status and figures (a service that does not answer is shown unreachable)", body = Pipeline),
        (status = 400, description = "a query parameter: this endpoint takes none", body = ErrorBody),
    )
)]
async fn pipeline_answer(
    State(console): Console,
    headers: HeaderMap,
    _: StrictQuery<()>,
) -> Json<Pipeline> {
    let config = &console.api.config;
    let key = headers.get(header::AUTHORIZATION);
    let processing = async {
        match &config.processing_url {
            Some(url) => remote(&console, "processing", url, key).await,
            None => ServiceReport::read(
                "processing",
                None,
                &console.api.local.status(),
                &metrics_text::parse(&console.api.metrics.render()),
            ),
        }
    };
    let (ingestion, standardization, processing) = tokio::join!(
        remote(&console, "ingestion", &config.ingestion_url, key),
        remote(
            &console,
            "standardization",
            &config.standardization_url,
            key
        ),
        processing,
    );
    Json(Pipeline {
        services: vec![ingestion, standardization, processing],
    })
}

/// Another service's `/status` and `/metrics`; unreachable when its status cannot be had
/// (its figures without timings when only its metrics cannot).
async fn remote(
    console: &Shared,
    service: &'static str,
    base: &str,
    key: Option<&HeaderValue>,
) -> ServiceReport {
    let base = base.trim_end_matches('/');
    let timeout = Duration::from_millis(console.api.config.status_timeout_ms);
    let get = |path: &str| {
        let request = console.client.get(format!("{base}{path}")).timeout(timeout);
        match key {
            Some(key) => request.header(header::AUTHORIZATION, key.clone()),
            None => request,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::processed;
    use crate::analytics::AnalyticsConfig;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::Router;
    use obs_records::Status;
    use serde_json::json;
    use tower::ServiceExt;

    struct Quiet;

    impl LocalStatus for Quiet {
        fn status(&self) -> Value {
            json!({ "stage": null, "logs": {}, "incidents": {} })
        }
    }

    /// The console over a view of two runs of `zoho`, the other services at `unreachable`.
    fn router(unreachable: &str) -> Router {
        router_with(unreachable, None)
    }

    /// [`router`], processing's stages at `processing_url` when given.
    fn router_with(unreachable: &str, processing_url: Option<String>) -> Router {
        let analytics = Arc::new(AnalyticsView::new(AnalyticsConfig::default()));
        for record in [
            processed(0, "zoho", Status::Success, 1.0, 0, 0.1),
            processed(1, "zoho", Status::Failed, 1.0, 0, 0.1),
        ] {
            analytics
                .apply_processed(&serde_json::to_vec(&record).unwrap())
                .unwrap();
        }
        Router::from(api_router(ConsoleApi {
            config: ConsoleConfig {
                ingestion_url: unreachable.into(),
                standardization_url: unreachable.into(),
                processing_url,
                status_timeout_ms: 500,
                ..ConsoleConfig::default()
            },
            analytics,
            incidents: Arc::new(IncidentView::new(10)),
            local: Arc::new(Quiet),
            metrics: Metrics::new(),
        }))
    }

    async fn get(router: Router, uri: &str) -> (StatusCode, Value) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_fleet_answers_per_object_and_checks_its_query() {
        let (status, body) =
            get(router("http://127.0.0.1:9"), "/console/api/fleet?objects=1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["view_caught_up"], false);
        let tile = &body["tiles"][0];
        assert_eq!(
            (&tile["source"], &tile["health"]),
            (&json!("zoho"), &json!("failing"))
        );
        assert_eq!(tile["objects_total"], 2);
        assert_eq!(tile["objects"][0]["object_id"], 101, "the failing one");
        assert_eq!(tile["objects_not_shown"], 1);
        assert_eq!(body["tiles_not_shown"], 0);
        for (uri, parameter) in [
            ("/console/api/fleet?objects=0", "objects"),
            ("/console/api/fleet?objects=1001", "objects"),
            ("/console/api/fleet?tiles=0", "tiles"),
            ("/console/api/fleet?tiles=1001", "tiles"),
            ("/console/api/fleet?source=", "source"),
            ("/console/api/fleet?limit=5", "limit"),
        ] {
            let (status, body) = get(router("http://127.0.0.1:9"), uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(body["error"]["details"]["parameter"], parameter, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_service_that_does_not_answer_is_shown_unreachable() {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (status, body) = get(
            router(&format!("http://127.0.0.1:{port}")),
            "/console/api/pipeline",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let services = body["services"].as_array().unwrap();
        let seen: Vec<(&str, bool)> = services
            .iter()
            .map(|s| {
                (
                    s["service"].as_str().unwrap(),
                    s["reachable"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("ingestion", false),
                ("standardization", false),
                ("processing", true)
            ]
        );
        assert_eq!(
            services[0]["error"],
            "connection refused or host unreachable"
        );
        assert_eq!(services[2]["loops"][0]["phase"], "not started");
        assert_eq!(services[2]["url"], Value::Null, "this process");

        // A views instance shows the stages where they run.
        let url = format!("http://127.0.0.1:{port}");
        let (_, body) = get(
            router_with(&url, Some(url.clone())),
            "/console/api/pipeline",
        )
        .await;
        let processing = &body["services"][2];
        assert_eq!(
            (
                &processing["service"],
                &processing["reachable"],
                &processing["url"]
            ),
            (&json!("processing"), &json!(false), &json!(url))
        );
    }
}
