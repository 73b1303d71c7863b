//! The dry-run endpoint: the standardized form, or every error.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use standardization::{AppState, StandardizationConfig};
use tower::ServiceExt;

async fn call(zone: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let mut config = StandardizationConfig {
        auth: obs_testkit::auth(),
        ..StandardizationConfig::default()
    };
    config.standardize.time_zone = zone.into();
    let router = standardization::router(AppState::new(config).unwrap());
    let request = Request::post("/standardize/single")
        .header("authorization", obs_testkit::bearer())
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn seed_line() -> String {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seed-logs.json"
    );
    std::fs::read_to_string(seed)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn dry_run_shows_the_standardized_record_in_the_configured_zone() {
    let (status, body) = call("Europe/Paris", "application/json", &seed_line()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["start_time"], "2025-09-05T14:45:26.191702Z");
    assert_eq!(body["series_key"], "akonovia:zohoprojects:1995");
    assert_eq!(body["cpu_time_seconds"], 0.09);
}

#[tokio::test]
async fn dry_run_lists_every_error() {
    let mut record: Value = serde_json::from_str(&seed_line()).unwrap();
    record["Etat"] = "RUNNING".into();
    record["Fin"] = "soon".into();
    let (status, body) = call("UTC", "application/json", &record.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["Etat", "Fin"]);
    let (status, body) = call("UTC", "application/json", "{").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (status, body) = call("UTC", "application/json", "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("empty_body"))
    );
    let (status, body) = call("UTC", "text/csv", &seed_line()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body["error"]["details"]["expected"],
        serde_json::json!(["application/json"])
    );
}

#[tokio::test]
async fn an_unknown_time_zone_is_refused_at_start_up_naming_the_key() {
    let mut config = StandardizationConfig {
        auth: obs_testkit::auth(),
        ..StandardizationConfig::default()
    };
    config.standardize.time_zone = "Mars/Olympus".into();
    let error = AppState::new(config).err().unwrap();
    let text = format!("{error:#}");
    assert!(
        text.contains("standardize.time_zone") && text.contains("Mars/Olympus"),
        "{text}"
    );
}
