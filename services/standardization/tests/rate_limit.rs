//! The rate limit per key of standardization: a burst above it is answered 429 with
//! `Retry-After` and the limit headers.

use axum::body::Body;
use axum::http::Request;
use obs_service::auth::Scope;
use standardization::{AppState, StandardizationConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_limit_is_a_429_with_retry_after() {
    let config = StandardizationConfig {
        kafka: obs_testkit::kafka(),
        auth: obs_testkit::slow_scoped_auth(),
        ..StandardizationConfig::default()
    };
    let router = standardization::router(AppState::new(config).unwrap());
    let status = || Request::get("/status").body(Body::empty()).unwrap();
    obs_testkit::check_burst_is_429(&router, Scope::Read, status).await;
}
