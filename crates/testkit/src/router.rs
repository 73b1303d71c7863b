//! Calling a router in a test, and the routes a service's source declares: what the route
//! table ([`crate::routes`]) and the OpenAPI check ([`crate::contract`]) both need.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// Calls `router`: the status, the headers and the JSON body (null when not JSON).
pub async fn call_router(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The text of `router`'s `/metrics` (open: no key).
pub async fn metrics_text(router: &Router) -> String {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET /metrics");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The routes every service serves besides its own.
pub(crate) const SHARED_ROUTES: [&str; 5] = [
    "/health",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/openapi.json",
];

/// The paths of the `.route("…"` calls in a source file.
pub(crate) fn declared_routes(source: &str) -> Vec<String> {
    source
        .split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}
