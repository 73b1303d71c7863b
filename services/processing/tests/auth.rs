//! The API keys of processing on the real broker: every route's scope (401 without a key,
//! 403 with another scope's, the usual answer with its own; an `operate` key also reads),
//! the console's pages open, the defaults that refuse, and `auth.disabled`.

mod route_sources;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use obs_service::auth::{AuthConfig, Scope};
use obs_testkit::{call_router, check_routes, scoped_auth, Route};
use processing::{AppState, ProcessingConfig};

/// The service on the test broker with topics of its own (its loops are not started:
/// only its routes answer).
fn config(auth: AuthConfig) -> (ProcessingConfig, obs_testkit::TestTopics) {
    let topics = obs_testkit::unique_topics();
    let config = ProcessingConfig {
        kafka: obs_testkit::kafka(),
        topics: topics.clone(),
        auth,
        ..ProcessingConfig::default()
    };
    (config, topics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_takes_the_keys_of_its_scope() {
    let (config, _topics) = config(scoped_auth());
    let router = processing::router(AppState::new(config).unwrap());
    let command = r#"{"by": "alice", "note": "looking"}"#;
    let read = |pattern, expected| Route::new("GET", pattern, Scope::Read, expected);
    let routes = [
        read("/status", StatusCode::OK),
        read("/analytics/summary", StatusCode::OK),
        read("/analytics/sources", StatusCode::OK),
        read("/analytics/recent", StatusCode::OK),
        read("/analytics/anomalies", StatusCode::OK),
        read("/logs", StatusCode::OK),
        read("/incidents", StatusCode::OK),
        read("/incidents/{id}", StatusCode::NOT_FOUND).uri("/incidents/no-such-incident"),
        read("/trace/{record_id}", StatusCode::NOT_FOUND).uri("/trace/no-such-record"),
        read("/console/api/fleet", StatusCode::OK),
        read("/console/api/pipeline", StatusCode::OK),
        Route::new(
            "POST",
            "/incidents/{id}/acknowledge",
            Scope::Operate,
            StatusCode::NOT_FOUND,
        )
        .uri("/incidents/no-such-incident/acknowledge")
        .body("application/json", command),
        Route::new(
            "POST",
            "/incidents/{id}/resolve",
            Scope::Operate,
            StatusCode::NOT_FOUND,
        )
        .uri("/incidents/no-such-incident/resolve")
        .body("application/json", command),
        Route::new(
            "POST",
            "/detector/retrain",
            Scope::Operate,
            StatusCode::ACCEPTED,
        ),
        Route::new(
            "POST",
            "/dead-letters/replay",
            Scope::Operate,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .body("application/json", "{}"),
        Route::open("GET", "/health"),
        Route::open("GET", "/health/live"),
        Route::open("GET", "/health/ready"),
        Route::open("GET", "/metrics"),
        Route::open("GET", "/openapi.json"),
        Route::open("GET", "/"),
        Route::open("GET", "/console"),
        Route::open("GET", "/console/"),
        Route::open("GET", "/console/incidents"),
        Route::open("GET", "/console/incidents/{id}").uri("/console/incidents/x"),
        Route::open("GET", "/console/trace"),
        Route::open("GET", "/console/trace/{record_id}").uri("/console/trace/x"),
        Route::open("GET", "/console/pipeline"),
        Route::open("GET", "/console/logs"),
        Route::open("GET", "/console/assets/{name}").uri("/console/assets/common.js"),
    ];
    check_routes(&router, &routes, &route_sources::ROUTE_SOURCES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_configured_operations_refuse_and_disabled_opens_them() {
    let retrain = || {
        Request::post("/detector/retrain")
            .header(header::AUTHORIZATION, "Bearer anything")
            .body(Body::empty())
            .unwrap()
    };
    let (closed, _topics) = config(AuthConfig::default());
    let router = processing::router(AppState::new(closed).unwrap());
    let (status, _, body) = call_router(&router, retrain()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("OBS_AUTH__OPERATE_KEY_HASHES"),
        "{message}"
    );
    let (open, _topics) = config(AuthConfig {
        disabled: true,
        ..AuthConfig::default()
    });
    let router = processing::router(AppState::new(open).unwrap());
    let (status, _, body) = call_router(&router, retrain()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}
