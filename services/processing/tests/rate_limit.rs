//! The rate limit per key of processing: a burst above it is answered 429 with
//! `Retry-After` and the limit headers.

use axum::body::Body;
use axum::http::Request;
use obs_service::auth::Scope;
use processing::{AppState, ProcessingConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_limit_is_a_429_with_retry_after() {
    let topics = obs_testkit::unique_topics();
    let config = ProcessingConfig {
        kafka: obs_testkit::kafka(),
        topics: topics.clone(),
        auth: obs_testkit::slow_scoped_auth(),
        ..ProcessingConfig::default()
    };
    let router = processing::router(AppState::new(config).unwrap());
    let summary = || {
        Request::get("/analytics/summary")
            .body(Body::empty())
            .unwrap()
    };
    obs_testkit::check_burst_is_429(&router, Scope::Read, summary).await;
}
