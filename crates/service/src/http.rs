//! HTTP plumbing shared by the services: one error shape, request ids, per-route metrics,
//! `/metrics`, body reading with limits.
//!
//! The checks of a request's content type and query string are extractors of their own:
//! [`crate::content_type`] and [`crate::query`]; the health probes are [`crate::health`],
//! serving with its bounds [`crate::serve`].

use crate::telemetry::Metrics;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use obs_records::RecordError;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;

/// Header carrying the request id (set when the client sent none, echoed back).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The body of every 4xx and 5xx answer ([`crate::ApiError`]).
#[derive(Serialize, ToSchema)]
#[schema(as = ApiError)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// What went wrong: a stable machine-readable `code`, a sentence for people, and the
/// specifics (`null` when there are none).
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    pub code: &'a str,
    pub message: &'a str,
    #[schema(value_type = Value)]
    pub details: &'a serde_json::Value,
}

/// The one error answer of every endpoint:
/// `{"error": {"code", "message", "details"}}` with the matching status code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(message: impl Into<String>, details: Value) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(details)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Self {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        error.retry_after = Some(retry_after);
        error
    }

    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
        .with_details(json!({ "limit_bytes": limit }))
    }

    /// 400 for a request whose body holds no record: empty, or only whitespace.
    pub fn empty_body() -> Self {
        ApiError::bad_request("empty_body", "the body holds no record")
    }

    pub fn unsupported_media_type(found: Option<&str>, expected: &[&str]) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type {} is not accepted here; use one of {}",
                found.map_or("(none)".to_owned(), |f| format!("{f:?}")),
                expected.join(", ")
            ),
        )
        .with_details(json!({ "expected": expected, "found": found }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(retry_after) = self.retry_after {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A record the service cannot read: 400 `malformed_json` for bytes that are not JSON,
/// 422 `validation_failed` for a record with bad fields, every one of them in `details`.
impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match &error {
            RecordError::Malformed(_) => ApiError::bad_request("malformed_json", error.to_string()),
            RecordError::Invalid(fields) => ApiError::unprocessable(
                format!("the record has {} invalid field(s)", fields.len()),
                json!({ "errors": error.messages(), "fields": fields }),
            ),
        }
    }
}

/// Reads a whole body of at most `limit` bytes; over it, 413 in the JSON shape; a body
/// that stalls past `http.body_timeout_ms` is a 408 `body_timeout`. A body that is empty
/// or only whitespace is a 400 `empty_body`: every body the services take is JSON or
/// NDJSON, where whitespace holds no record.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| {
        // The body's errors come wrapped, once per layer: look down the whole chain.
        let caused_by = |is: fn(&(dyn std::error::Error + 'static)) -> bool| {
            std::iter::successors(std::error::Error::source(&error), |e| e.source()).any(is)
        };
        if caused_by(|e| e.is::<http_body_util::LengthLimitError>()) {
            ApiError::payload_too_large(limit)
        } else if caused_by(|e| e.is::<tower_http::timeout::TimeoutError>()) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body stalled: the rest of it did not arrive in time",
            )
        } else {
            ApiError::bad_request(
                "body_unreadable",
                format!("could not read the body: {error}"),
            )
        }
    })?;
    if bytes.trim_ascii().is_empty() {
        return Err(ApiError::empty_body());
    }
    Ok(bytes)
}

async fn record_metrics(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .http
        .duration
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http
        .requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    response
}

/// Adds what every service answers and does on top of its own routes: `/metrics`, JSON
/// 404/405, request ids, one tracing span per request, per-route metrics.
pub fn finish_router(routes: Router, metrics: &Metrics) -> Router {
    let registry = metrics.clone();
    routes
        .route(
            "/metrics",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        registry.render(),
                    )
                }
            }),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(middleware::from_fn_with_state(
            metrics.clone(),
            record_metrics,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(),
                    uri = %request.uri(), request_id = %request_id)
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use axum::routing::post;
    use obs_records::{ErrorKind, FieldError};
    use tower::ServiceExt;

    async fn echo_len(body: Body) -> Result<String, ApiError> {
        Ok(read_body(body, 8).await?.len().to_string())
    }

    async fn call(router: Router, request: Request) -> (StatusCode, HeaderMap, Value) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    fn router() -> Router {
        finish_router(
            Router::new().route("/echo", post(echo_len)),
            &Metrics::new(),
        )
    }

    #[tokio::test]
    async fn oversized_body_is_a_json_413() {
        let request = Request::post("/echo")
            .body(Body::from("123456789"))
            .unwrap();
        let (status, headers, body) = call(router(), request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "payload_too_large");
        assert_eq!(body["error"]["details"]["limit_bytes"], 8);
        assert!(headers.contains_key(REQUEST_ID_HEADER));
    }

    #[tokio::test]
    async fn empty_or_blank_body_is_a_json_400_empty_body() {
        for body in ["", " \r\n\t"] {
            let request = Request::post("/echo").body(Body::from(body)).unwrap();
            let (status, _, answer) = call(router(), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
            assert_eq!(answer["error"]["code"], "empty_body", "{body:?}");
        }
    }

    #[test]
    fn record_errors_are_a_400_or_a_422_listing_every_field() {
        let malformed = ApiError::from(RecordError::Malformed("EOF at line 1".into()));
        assert_eq!(
            (malformed.status, malformed.code),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        assert_eq!(malformed.message, "malformed JSON: EOF at line 1");
        let invalid = ApiError::from(RecordError::Invalid(vec![
            FieldError::new(
                "Etat",
                ErrorKind::UnknownStatus,
                "expected SUCCESS or FAILED",
            ),
            FieldError::new("Fin", ErrorKind::InvalidTimestamp, "expected a date"),
        ]));
        assert_eq!(
            (invalid.status, invalid.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        assert_eq!(invalid.message, "the record has 2 invalid field(s)");
        assert_eq!(invalid.details["fields"][1]["field"], "Fin");
        assert_eq!(
            invalid.details["errors"][0],
            "Etat: expected SUCCESS or FAILED"
        );
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_answer_in_the_json_shape() {
        let (status, _, body) =
            call(router(), Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _, body) =
            call(router(), Request::get("/echo").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn request_id_is_echoed_and_metrics_count_routes() {
        let metrics = Metrics::new();
        let router = finish_router(Router::new().route("/echo", post(echo_len)), &metrics);
        let request = Request::post("/echo")
            .header(REQUEST_ID_HEADER, "abc-123")
            .body(Body::from("1234"))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "abc-123");
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="POST",route="/echo",status="200"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let response = ApiError::unavailable("kafka down", Duration::from_secs(3)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
