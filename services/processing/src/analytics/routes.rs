//! The `/analytics/*` endpoints.
//!
//! Query strings are checked strictly ([`StrictQuery`]): an unknown or repeated parameter,
//! a limit that is not an integer in range, or an unknown status or severity is a 400 in
//! the stack's JSON error shape naming the parameter.
//!
//! While the view is still reading what was published before it started, every answer is
//! partial and says so: `"view_caught_up": false` in the body, `x-view-caught-up: false`
//! in the headers.

use super::responses::{Anomalies, RecentRecords, SourcesReport, Summary};
use super::view::{AnalyticsView, AnomalyQuery, RecentQuery};
use axum::extract::State;
use obs_detector::Severity;
use obs_records::Status;
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter};
use obs_service::{ApiError, FromQuery, QueryParams, StrictQuery, ViewAnswer};
use serde::Serialize;
use std::sync::Arc;

/// `limit` of `/analytics/recent` when none is given.
pub const RECENT_DEFAULT_LIMIT: usize = 100;
/// Largest `limit` of `/analytics/recent`.
pub const RECENT_MAX_LIMIT: usize = 1000;
/// `limit` of `/analytics/anomalies` when none is given.
pub const ANOMALIES_DEFAULT_LIMIT: usize = 50;
/// Largest `limit` of `/analytics/anomalies`.
pub const ANOMALIES_MAX_LIMIT: usize = 500;

/// The analytics endpoints, with their state, ready to be merged into the service router:
/// `GET /analytics/summary`, `/analytics/sources`, `/analytics/recent?limit&source&status`
/// and `/analytics/anomalies?limit&severity&source`.
pub fn router(view: Arc<AnalyticsView>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(sources))
        .routes(routes!(recent))
        .routes(routes!(anomalies))
        .with_state(view)
}

type View = State<Arc<AnalyticsView>>;

/// An answer of the analytics view.
fn answer<T: Serialize>(
    view: &AnalyticsView,
    answer: impl FnOnce(&AnalyticsView) -> T,
) -> ViewAnswer<T> {
    let caught_up = view.is_caught_up();
    ViewAnswer::new(caught_up, answer(view))
}

#[utoipa::path(
    get, path = "/analytics/summary", tag = "analytics",
    responses(
        (status = 200, description = "totals, success rate and alert counts of every run read", body = ViewAnswer<Summary>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial"))),
        (status = 400, description = "a query parameter: this endpoint takes none", body = ErrorBody),
    )
)]
async fn summary(State(view): View, _: StrictQuery<()>) -> ViewAnswer<Summary> {
    answer(&view, AnalyticsView::summary)
}

#[utoipa::path(
    get, path = "/analytics/sources", tag = "analytics",
    responses(
        (status = 200, description = "each source with its runs, failures and alerts", body = ViewAnswer<SourcesReport>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial"))),
        (status = 400, description = "a query parameter: this endpoint takes none", body = ErrorBody),
    )
)]
async fn sources(State(view): View, _: StrictQuery<()>) -> ViewAnswer<SourcesReport> {
    answer(&view, AnalyticsView::sources)
}

#[utoipa::path(
    get, path = "/analytics/recent", tag = "analytics",
    params(
        ("limit" = Option<u32>, Query, description = "how many runs (default 100)", minimum = 1, maximum = 1000),
        ("source" = Option<String>, Query, description = "only this source", min_length = 1),
        ("status" = Option<String>, Query, description = "only runs of this status (`SUCCESS` or `FAILED`, any case)"),
    ),
    responses(
        (status = 200, description = "the newest processed runs, newest first", body = ViewAnswer<RecentRecords>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial")),
            links(("trace" = (operation_id = "trace", parameters(("record_id" = "$response.body#/records/0/record_id")),
                description = "where the newest run listed has been")))),
    )
)]
async fn recent(
    State(view): View,
    StrictQuery(query): StrictQuery<RecentQuery>,
) -> ViewAnswer<RecentRecords> {
    answer(&view, |v| v.recent(&query))
}

#[utoipa::path(
    get, path = "/analytics/anomalies", tag = "analytics",
    params(
        ("limit" = Option<u32>, Query, description = "how many alerts (default 50)", minimum = 1, maximum = 500),
        ("severity" = Option<String>, Query, description = "only alerts of this severity (`warning` or `critical`, any case)"),
        ("source" = Option<String>, Query, description = "only this source", min_length = 1),
    ),
    responses(
        (status = 200, description = "the newest alerts, newest first", body = ViewAnswer<Anomalies>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial")),
            links(("trace" = (operation_id = "trace", parameters(("record_id" = "$response.body#/anomalies/0/record_id")),
                description = "where the run of the newest alert has been")))),
    )
)]
async fn anomalies(
    State(view): View,
    StrictQuery(query): StrictQuery<AnomalyQuery>,
) -> ViewAnswer<Anomalies> {
    answer(&view, |v| v.anomalies(&query))
}

impl FromQuery for RecentQuery {
    const PARAMETERS: &'static [&'static str] = &["limit", "source", "status"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(RecentQuery {
            limit: params.limit(RECENT_DEFAULT_LIMIT, RECENT_MAX_LIMIT)?,
            source: source(params)?,
            status: params.parse("status", "SUCCESS or FAILED", |value| {
                Status::parse(&value.to_ascii_uppercase())
            })?,
        })
    }
}

impl FromQuery for AnomalyQuery {
    const PARAMETERS: &'static [&'static str] = &["limit", "severity", "source"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(AnomalyQuery {
            limit: params.limit(ANOMALIES_DEFAULT_LIMIT, ANOMALIES_MAX_LIMIT)?,
            severity: params.parse("severity", "warning or critical", |value| {
                value.to_ascii_lowercase().parse::<Severity>().ok()
            })?,
            source: source(params)?,
        })
    }
}

fn source(params: &QueryParams) -> Result<Option<String>, ApiError> {
    params.parse("source", "a non-empty source name", |value| {
        (!value.is_empty()).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::config::AnalyticsConfig;
    use crate::analytics::testing::processed;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use obs_service::view_answer::VIEW_CAUGHT_UP;
    use serde_json::Value;
    use tower::ServiceExt;

    /// 120 runs of `zoho`, every third FAILED (critical alert), every fifth other one
    /// with negative memory (warning alert).
    fn view() -> Arc<AnalyticsView> {
        let view = Arc::new(AnalyticsView::new(AnalyticsConfig::default()));
        for n in 0..120 {
            let status = if n % 3 == 0 {
                Status::Failed
            } else {
                Status::Success
            };
            let memory = if n % 5 == 0 { -1 } else { 1_000 };
            let record = processed(n, "zoho", status, 1.0, memory, 0.1);
            for alert in record.alerts() {
                view.apply_alert(alert);
            }
            view.apply_processed(&serde_json::to_vec(&record).unwrap())
                .unwrap();
        }
        view
    }

    async fn get(view: &Arc<AnalyticsView>, uri: &str) -> (StatusCode, Value) {
        let response = axum::Router::from(router(view.clone()))
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A 400 in the stack's error shape, naming `parameter`; returns the error code.
    async fn bad_request(view: &Arc<AnalyticsView>, uri: &str, parameter: &str) -> String {
        let (status, body) = get(view, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let error = &body["error"];
        assert_eq!(error["details"]["parameter"], parameter, "{uri}: {body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(parameter), "{uri}: {message}");
        error["code"].as_str().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn answers_say_whether_the_view_has_caught_up() {
        let view = view();
        for caught_up in [false, true] {
            if caught_up {
                view.mark_caught_up();
            }
            for uri in [
                "/analytics/summary",
                "/analytics/sources",
                "/analytics/recent",
                "/analytics/anomalies",
            ] {
                let response = axum::Router::from(router(view.clone()))
                    .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let header = response.headers().get(VIEW_CAUGHT_UP).cloned();
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
                    .await
                    .unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(body["view_caught_up"], caught_up, "{uri}");
                let expected = if caught_up { "true" } else { "false" };
                assert_eq!(
                    header.as_ref().and_then(|h| h.to_str().ok()),
                    Some(expected),
                    "{uri}"
                );
            }
        }
    }

    #[tokio::test]
    async fn summary_and_sources_have_the_documented_fields() {
        let view = view();
        let (status, summary) = get(&view, "/analytics/summary").await;
        assert_eq!(status, StatusCode::OK);
        let mut keys: Vec<&str> = summary
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "anomaly_count",
                "anomaly_rate",
                "average_duration_seconds",
                "average_efficiency_score",
                "failed_count",
                "last_updated",
                "records_from_untracked_sources",
                "success_count",
                "success_rate",
                "total_logs_processed",
                "total_sources",
                "view_caught_up",
            ]
        );
        assert_eq!(summary["total_logs_processed"], 120);
        // 40 failed (n % 3 == 0) + 16 negative-memory successes (n % 5 == 0, n % 3 != 0).
        assert_eq!(summary["anomaly_count"], 56);

        let (status, sources) = get(&view, "/analytics/sources").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sources["total_sources"], 1);
        assert_eq!(sources["sources"][0]["source"], "zoho");
        assert_eq!(sources["sources"][0]["failed_count"], 40);
    }

    #[tokio::test]
    async fn recent_limits_and_filters() {
        let view = view();
        let (status, body) = get(&view, "/analytics/recent").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], RECENT_DEFAULT_LIMIT);
        assert_eq!(
            body["records"][0]["object_id"], 219,
            "newest first (run 119)"
        );
        let (_, body) = get(&view, "/analytics/recent?limit=1000").await;
        assert_eq!(body["count"], 120);
        let (_, body) = get(&view, "/analytics/recent?status=failed&limit=5&source=ZOHO").await;
        assert_eq!(body["count"], 5);
        assert_eq!(
            body["records"][0]["object_id"], 217,
            "run 117, the latest FAILED"
        );
        assert!(body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "FAILED"));
        let (_, body) = get(&view, "/analytics/recent?source=powerbi").await;
        assert_eq!(body["count"], 0);
    }

    #[tokio::test]
    async fn anomalies_limits_and_filters() {
        let view = view();
        let (status, body) = get(&view, "/analytics/anomalies").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], ANOMALIES_DEFAULT_LIMIT);
        let (_, body) = get(&view, "/analytics/anomalies?limit=500").await;
        assert_eq!(body["count"], 56);
        let (_, body) = get(&view, "/analytics/anomalies?severity=Warning&limit=500").await;
        assert_eq!(body["count"], 16);
        assert_eq!(body["anomalies"][0]["alert_id"], "acme:115:215/rules");
        let (_, body) = get(&view, "/analytics/anomalies?severity=critical&source=zoho").await;
        assert_eq!(body["count"], 40);
    }

    #[tokio::test]
    async fn bad_query_parameters_are_json_400s_naming_the_parameter() {
        let view = view();
        for (uri, parameter, code) in [
            ("/analytics/recent?limit=0", "limit", "invalid_parameter"),
            ("/analytics/recent?limit=1001", "limit", "invalid_parameter"),
            ("/analytics/recent?limit=ten", "limit", "invalid_parameter"),
            ("/analytics/recent?limit=-1", "limit", "invalid_parameter"),
            ("/analytics/recent?limit=", "limit", "invalid_parameter"),
            (
                "/analytics/recent?status=RUNNING",
                "status",
                "invalid_parameter",
            ),
            ("/analytics/recent?source=", "source", "invalid_parameter"),
            (
                "/analytics/recent?limit=5&limit=6",
                "limit",
                "invalid_parameter",
            ),
            (
                "/analytics/recent?severity=critical",
                "severity",
                "unknown_parameter",
            ),
            (
                "/analytics/anomalies?limit=501",
                "limit",
                "invalid_parameter",
            ),
            (
                "/analytics/anomalies?severity=fatal",
                "severity",
                "invalid_parameter",
            ),
            (
                "/analytics/anomalies?serverity=critical",
                "serverity",
                "unknown_parameter",
            ),
            (
                "/analytics/summary?verbose=1",
                "verbose",
                "unknown_parameter",
            ),
            ("/analytics/sources?limit=5", "limit", "unknown_parameter"),
        ] {
            assert_eq!(bad_request(&view, uri, parameter).await, code, "{uri}");
        }
        let (_, body) = get(&view, "/analytics/anomalies?serverity=critical").await;
        assert_eq!(
            body["error"]["details"]["allowed"],
            serde_json::json!(["limit", "severity", "source"])
        );
        let (_, body) = get(&view, "/analytics/recent?limit=1001").await;
        assert_eq!(body["error"]["details"]["value"], "1001");
        assert_eq!(
            body["error"]["details"]["expected"],
            "an integer from 1 to 1000"
        );
    }
}
