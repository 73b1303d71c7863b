//! `Idempotency-Key` against a real Kafka broker (`make kafka-up`): a retry with the same
//! key gets the first answer and produces nothing; a key reused for another body is 422.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ingestion::{IngestionConfig, IDEMPOTENCY_KEY, REPLAYED_HEADER};
use obs_records::RawRecord;
use obs_testkit::read_topic;
use serde_json::Value;
use std::time::Duration;
use support::{call, config, service};

mod support;

fn with_key(path: &str, content_type: &str, key: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header("authorization", obs_testkit::bearer())
        .header("content-type", content_type)
        .header(IDEMPOTENCY_KEY, key)
        .body(Body::from(body))
        .unwrap()
}

fn count(config: &IngestionConfig, topic: &str, expected: usize) -> usize {
    read_topic(
        &config.kafka,
        topic,
        expected,
        Duration::from_secs(3),
        Duration::from_secs(60),
    )
    .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_gets_the_first_answer_and_produces_nothing() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let records: Vec<RawRecord> = obs_samplegen::records(11, 5).collect();
    let mut body = serde_json::to_vec(&records).unwrap();
    // One invalid record too: the answer kept is the whole report, rejections included.
    body.pop();
    body.extend_from_slice(br#",{"Etat":"DONE"}]"#);
    let send = || with_key("/ingest/batch", "application/json", "batch-1", body.clone());

    let (status, first, headers) = call(&router, send()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["accepted"], 5);
    assert_eq!(first["rejected_total"], 1);
    assert!(headers.get(REPLAYED_HEADER).is_none());

    let (status, again, headers) = call(&router, send()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again, first, "the first answer, as it was");
    assert_eq!(headers[REPLAYED_HEADER], "true");

    assert_eq!(count(&config, &config.topics.raw_logs.name, 5), 5);
    let request = Request::get("/status")
        .header("authorization", obs_testkit::bearer())
        .body(Body::empty())
        .unwrap();
    let (_, status, _) = call(&router, request).await;
    assert_eq!(status["records"]["published"], 5, "{status}");
    assert_eq!(status["idempotency"]["keys"], 1);

    // Without the key, the same body is a new request.
    let request = support::post("/ingest/batch", "application/json", body.clone());
    let (status, _, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(count(&config, &config.topics.raw_logs.name, 10), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_for_another_body_is_refused_naming_the_header() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let mut records = obs_samplegen::records(12, 2);
    let one = serde_json::to_vec(&records.next().unwrap()).unwrap();
    let other = serde_json::to_vec(&records.next().unwrap()).unwrap();

    let (status, _, _) = call(
        &router,
        with_key("/ingest/single", "application/json", "k-1", one.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body, _) = call(
        &router,
        with_key("/ingest/single", "application/json", "k-1", other),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["header"], "Idempotency-Key");
    // The same body on another endpoint is another request too.
    let (status, body, _) = call(
        &router,
        with_key("/ingest/batch", "application/x-ndjson", "k-1", one),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body, _) = call(
        &router,
        with_key(
            "/ingest/single",
            "application/json",
            "two words",
            b"{}".to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_idempotency_key");
    assert_eq!(count(&config, &config.topics.raw_logs.name, 1), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_log_event_is_published_once() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let event = br#"{"service":"billing","message":"invoice sent","level":"info"}"#.to_vec();
    let mut answers: Vec<Value> = Vec::new();
    for _ in 0..3 {
        let (status, body, _) = call(
            &router,
            with_key("/log", "application/json", "event-1", event.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        answers.push(body);
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(count(&config, &config.topics.app_logs.name, 1), 1);
}
