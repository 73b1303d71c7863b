//! `GET /logs?service=&severity=&q=&from=&to=&limit=`: the log index searched, newest
//! first.
//!
//! The query string is read strictly ([`StrictQuery`]): an unknown or repeated parameter
//! or a value that does not parse is a 400 in the stack's error shape naming it. Until
//! the index's reader has caught up, answers say they are partial, as the analytics
//! answers do: `"view_caught_up": false` in `index`, `x-view-caught-up: false` in the
//! headers.

use super::index::IndexStats;
use super::search::{LogMatches, LogQuery};
use super::view::LogView;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use obs_records::LogSeverity;
use obs_service::openapi::{routes, OpenApiRouter};
use obs_service::{ApiError, FromQuery, QueryParams, StrictQuery};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// `limit` when none is given.
pub const LOGS_DEFAULT_LIMIT: usize = 100;
/// Largest `limit`.
pub const LOGS_MAX_LIMIT: usize = 1_000;

/// The header that says whether an answer covers everything published before start.
const VIEW_CAUGHT_UP: &str = "x-view-caught-up";

/// `GET /logs`, with its state, ready to be merged into the service's router.
pub fn router(view: Arc<LogView>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(logs)).with_state(view)
}

/// The answer: the events, how many matched, and the index they were found in.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = LogsAnswer)]
struct LogsAnswer {
    #[serde(flatten)]
    matches: LogMatches,
    index: IndexAnswer,
}

/// The index searched: its bounds and contents, and whether it has caught up.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = LogIndex)]
struct IndexAnswer {
    #[serde(flatten)]
    stats: IndexStats,
    /// `false` while the index's reader is still reading what was published before
    /// start: the answer is partial.
    view_caught_up: bool,
}

impl IntoResponse for LogsAnswer {
    fn into_response(self) -> Response {
        let caught_up = self.index.view_caught_up;
        let flag = HeaderValue::from_static(if caught_up { "true" } else { "false" });
        ([(VIEW_CAUGHT_UP, flag)], Json(self)).into_response()
    }
}

#[utoipa::path(
    get, path = "/logs", tag = "logs",
    params(
        ("service" = Option<String>, Query, description = "only events of this service", min_length = 1),
        ("severity" = Option<String>, Query, description = "only events at least this severe: debug, info, warning, error or critical"),
        ("q" = Option<String>, Query, description = "only events whose message holds this text", min_length = 1),
        ("from" = Option<String>, Query, description = "only events at or after this RFC 3339 time", format = DateTime),
        ("to" = Option<String>, Query, description = "only events before this RFC 3339 time", format = DateTime),
        ("limit" = Option<u32>, Query, description = "how many events (default 100)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "the newest matching events, how many matched, and the index searched", body = LogsAnswer,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial"))),
    )
)]
async fn logs(
    State(view): State<Arc<LogView>>,
    StrictQuery(query): StrictQuery<LogQuery>,
) -> LogsAnswer {
    // Read before the search: a view that catches up meanwhile errs on the side of
    // "partial".
    let view_caught_up = view.is_caught_up();
    let (matches, stats) = view.read(|index| (index.search(&query), index.stats()));
    LogsAnswer {
        matches,
        index: IndexAnswer {
            stats,
            view_caught_up,
        },
    }
}

impl FromQuery for LogQuery {
    const PARAMETERS: &'static [&'static str] =
        &["from", "limit", "q", "service", "severity", "to"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        let text = |name: &str| {
            params.parse(name, "a non-empty text", |value| {
                (!value.is_empty()).then(|| value.to_owned())
            })
        };
        let time = |name: &str| {
            params.parse(name, "an RFC 3339 time (2026-11-21T07:43:00Z)", |value| {
                DateTime::parse_from_rfc3339(value)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
        };
        let expected_limit = format!("an integer from 1 to {LOGS_MAX_LIMIT}");
        let query = LogQuery {
            service: text("service")?,
            min_severity: params.parse(
                "severity",
                "one of debug, info, warning, error, critical",
                |value| LogSeverity::from_label(&value.to_ascii_lowercase()),
            )?,
            text: text("q")?,
            from: time("from")?,
            to: time("to")?,
            limit: params
                .parse("limit", &expected_limit, |value| {
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| (1..=LOGS_MAX_LIMIT).contains(limit))
                })?
                .unwrap_or(LOGS_DEFAULT_LIMIT),
        };
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if from > to {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("query parameter `from` ({from}) is after `to` ({to})"),
                )
                .with_details(json!({ "parameter": "from", "problem": "after_to" })));
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::{at, event};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    fn view() -> Arc<LogView> {
        let view = Arc::new(LogView::new(1_000, usize::MAX));
        for minute in 0..150 {
            let mut e = event("billing", minute, &format!("event {minute}"));
            if minute % 10 == 0 {
                e.severity = LogSeverity::Error;
            }
            view.insert(e);
        }
        view
    }

    async fn get(view: &Arc<LogView>, uri: &str) -> (StatusCode, Option<String>, Value) {
        let response = axum::Router::from(router(view.clone()))
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let header = response
            .headers()
            .get(VIEW_CAUGHT_UP)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, header, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn answers_with_the_index_and_whether_it_caught_up() {
        let view = view();
        let (status, header, body) = get(&view, "/logs").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header.as_deref(), Some("false"));
        assert_eq!(body["events"].as_array().unwrap().len(), LOGS_DEFAULT_LIMIT);
        assert_eq!(body["events"][0]["message"], "event 149");
        assert_eq!(body["total_matched"], 150);
        let index = &body["index"];
        assert_eq!(
            (index["capacity"].clone(), index["held"].clone()),
            (1_000.into(), 150.into())
        );
        assert_eq!(index["oldest"], "2024-05-01T10:00:00Z");
        assert_eq!(index["view_caught_up"], false);
        view.mark_caught_up();
        let (_, header, body) = get(&view, "/logs?limit=1000").await;
        assert_eq!(header.as_deref(), Some("true"));
        assert_eq!(body["index"]["view_caught_up"], true);
        assert_eq!(body["events"].as_array().unwrap().len(), 150);
    }

    #[tokio::test]
    async fn filters_by_each_parameter() {
        let view = view();
        let (_, _, body) = get(&view, "/logs?severity=WARNING&limit=3").await;
        assert_eq!(body["total_matched"], 15);
        assert_eq!(body["events"][0]["message"], "event 140");
        let from = at(20).to_rfc3339();
        let to = at(29).to_rfc3339();
        let uri = format!("/logs?from={}&to={}", urlencode(&from), urlencode(&to));
        let (status, _, body) = get(&view, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total_matched"], 10);
        let (_, _, body) = get(&view, "/logs?q=EVENT%2012&service=Billing").await;
        let messages: Vec<&str> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            [
                "event 129",
                "event 128",
                "event 127",
                "event 126",
                "event 125",
                "event 124",
                "event 123",
                "event 122",
                "event 121",
                "event 120",
                "event 12"
            ]
        );
        let (_, _, body) = get(&view, "/logs?service=payroll").await;
        assert_eq!(body["total_matched"], 0);
    }

    fn urlencode(text: &str) -> String {
        text.replace('+', "%2B").replace(':', "%3A")
    }

    #[tokio::test]
    async fn bad_parameters_are_400s_naming_them() {
        let view = view();
        for (uri, parameter, code) in [
            ("/logs?limit=0", "limit", "invalid_parameter"),
            ("/logs?limit=1001", "limit", "invalid_parameter"),
            ("/logs?severity=fatal", "severity", "invalid_parameter"),
            ("/logs?from=yesterday", "from", "invalid_parameter"),
            ("/logs?to=2024-05-01", "to", "invalid_parameter"),
            (
                "/logs?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z",
                "from",
                "invalid_parameter",
            ),
            ("/logs?q=", "q", "invalid_parameter"),
            ("/logs?service=", "service", "invalid_parameter"),
            ("/logs?q=a&q=b", "q", "invalid_parameter"),
            ("/logs?level=error", "level", "unknown_parameter"),
        ] {
            let (status, _, body) = get(&view, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"]["code"], code, "{uri}: {body}");
            assert_eq!(
                body["error"]["details"]["parameter"], parameter,
                "{uri}: {body}"
            );
        }
    }
}
