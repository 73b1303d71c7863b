//! The API keys of ingestion on the real broker: every route's scope (401 without a key,
//! 403 with another scope's, the usual answer with its own), the defaults that refuse,
//! `auth.disabled`, and the rate limit per key.

use axum::http::{header, Request, StatusCode};
use ingestion::IngestionConfig;
use obs_records::RawRecord;
use obs_service::auth::{AuthConfig, Scope};
use obs_testkit::{check_routes, scoped_auth, scoped_token, Route};
use route_sources::ROUTE_SOURCES;
use serde_json::json;
use support::{call, config, post, service};

mod route_sources;
mod support;

fn records(n: usize) -> Vec<RawRecord> {
    obs_samplegen::records(11, n).collect()
}

fn record() -> Vec<u8> {
    serde_json::to_vec(&records(1)[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_takes_the_keys_of_its_scope() {
    let dir = std::env::temp_dir().join(format!("obs-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("runs.json"),
        serde_json::to_vec(&records(3)).unwrap(),
    )
    .unwrap();
    let (mut config, _topics) = config();
    config.auth = scoped_auth();
    config.ingest.data_dir = dir.clone();
    let router = service(config).await;
    let batch = serde_json::to_vec(&records(2)).unwrap();
    let event = json!({"service": "billing", "message": "invoice issued"}).to_string();
    let ingest = Scope::Ingest;
    let routes = [
        Route::new("POST", "/ingest/single", ingest, StatusCode::ACCEPTED)
            .body("application/json", record()),
        Route::new("POST", "/ingest/batch", ingest, StatusCode::ACCEPTED)
            .body("application/json", batch.clone()),
        Route::new("POST", "/ingest/file", ingest, StatusCode::ACCEPTED)
            .body("application/json", batch),
        Route::new("POST", "/ingest/trigger", ingest, StatusCode::ACCEPTED)
            .uri("/ingest/trigger?file=runs.json"),
        Route::new("POST", "/log", ingest, StatusCode::ACCEPTED).body("application/json", event),
        Route::new("GET", "/status", Scope::Read, StatusCode::OK),
        Route::open("GET", "/health"),
        Route::open("GET", "/health/live"),
        Route::open("GET", "/health/ready"),
        Route::open("GET", "/metrics"),
        Route::open("GET", "/openapi.json"),
    ];
    check_routes(&router, &routes, &ROUTE_SOURCES).await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_configured_writes_refuse_and_say_how_to_configure_one() {
    let (mut config, _topics) = config();
    config.auth = AuthConfig::default();
    assert_eq!(config.auth, IngestionConfig::default().auth);
    let router = service(config).await;
    let request = Request::post("/ingest/single")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", scoped_token(Scope::Ingest)),
        )
        .body(serde_json::to_vec(&records(1)[0]).unwrap().into())
        .unwrap();
    let (status, _, body) = obs_testkit::call_router(&router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("OBS_AUTH__INGEST_KEY_HASHES"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_opens_the_writes() {
    let (mut config, _topics) = config();
    config.auth = AuthConfig {
        disabled: true,
        ..AuthConfig::default()
    };
    let router = service(config).await;
    let request = post("/ingest/single", "application/json", record());
    let (status, body, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_limit_is_a_429_with_retry_after() {
    let (mut config, _topics) = config();
    config.auth = AuthConfig {
        rate_per_second: 1,
        burst: 2,
        ..scoped_auth()
    };
    let router = service(config).await;
    let status = |token: &str| {
        Request::get("/status")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let read = scoped_token(Scope::Read);
    for remaining in ["1", "0"] {
        let (code, headers, _) = obs_testkit::call_router(&router, status(read)).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers["x-ratelimit-limit"], "1");
        assert_eq!(headers["x-ratelimit-remaining"], remaining);
    }
    let (code, headers, body) = obs_testkit::call_router(&router, status(read)).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    // Another key keeps its own budget.
    let operate = scoped_token(Scope::Operate);
    let (code, _, _) = obs_testkit::call_router(&router, status(operate)).await;
    assert_eq!(code, StatusCode::OK);
}
