//! What the ingestion tests share: the service on the test broker with topics of its own,
//! and requests to it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use ingestion::{AppState, IngestionConfig};
use obs_testkit::TestTopics;
use serde_json::Value;
use tower::ServiceExt;

/// The service on `config`, its topics created.
pub async fn service(config: IngestionConfig) -> Router {
    obs_kafka::topics::ensure_topics(&config.kafka, "ingestion-test", &config.topics)
        .await
        .unwrap();
    ingestion::router(AppState::new(config).unwrap())
}

/// A config on the test broker with topics of its own, deleted when the `TestTopics` drops.
pub fn config() -> (IngestionConfig, TestTopics) {
    let topics = obs_testkit::unique_topics();
    let config = IngestionConfig {
        kafka: obs_testkit::kafka(),
        topics: topics.clone(),
        auth: obs_testkit::auth(),
        ..IngestionConfig::default()
    };
    (config, topics)
}

pub async fn call(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers,
    )
}

pub fn post(path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("authorization", obs_testkit::bearer())
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}
