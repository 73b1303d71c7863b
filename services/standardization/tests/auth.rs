//! The API keys of standardization: every route's scope (401 without a key, 403 with
//! another scope's, the usual answer with its own), the defaults that refuse, and
//! `auth.disabled`.

mod route_sources;

use axum::http::{header, Request, StatusCode};
use obs_service::auth::{AuthConfig, Scope};
use obs_testkit::{call_router, check_routes, scoped_auth, Route};
use standardization::{AppState, StandardizationConfig};

/// The service on the test broker (its loops are not started: only its routes answer).
fn config() -> StandardizationConfig {
    StandardizationConfig {
        kafka: obs_testkit::kafka(),
        ..StandardizationConfig::default()
    }
}

fn record() -> Vec<u8> {
    let record = obs_samplegen::records(5, 1).next().unwrap();
    serde_json::to_vec(&record).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_takes_the_keys_of_its_scope() {
    let mut config = config();
    config.auth = scoped_auth();
    let router = standardization::router(AppState::new(config).unwrap());
    let routes = [
        Route::new("POST", "/standardize/single", Scope::Read, StatusCode::OK)
            .body("application/json", record()),
        Route::new("GET", "/status", Scope::Read, StatusCode::OK),
        // With its own key, a replay without a filter is refused for what it is.
        Route::new(
            "POST",
            "/dead-letters/replay",
            Scope::Operate,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .body("application/json", b"{}".to_vec()),
        Route::open("GET", "/health"),
        Route::open("GET", "/health/live"),
        Route::open("GET", "/health/ready"),
        Route::open("GET", "/metrics"),
        Route::open("GET", "/openapi.json"),
    ];
    check_routes(&router, &routes, &route_sources::ROUTE_SOURCES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_configured_it_refuses_and_disabled_opens_it() {
    let dry_run = || {
        Request::post("/standardize/single")
            .header(header::CONTENT_TYPE, "application/json")
            .body(record().into())
            .unwrap()
    };
    let mut config = config();
    config.auth = AuthConfig::default();
    let router = standardization::router(AppState::new(config.clone()).unwrap());
    let (status, _, body) = call_router(&router, dry_run()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("OBS_AUTH__READ_KEY_HASHES"), "{message}");
    config.auth.disabled = true;
    let router = standardization::router(AppState::new(config).unwrap());
    let (status, _, body) = call_router(&router, dry_run()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
