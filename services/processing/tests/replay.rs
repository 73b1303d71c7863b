//! `POST /dead-letters/replay` on processing, against a real Kafka broker (`make kafka-up`):
//! processing's own dead letters go back to `standardized-logs` and are processed once; the
//! dead letters of standardization's stages are not processing's to replay; keys.

use axum::http::{header, Request, StatusCode};
use obs_kafka::dead_letter;
use obs_kafka::headers::RECORD_ID;
use obs_kafka::replay::REPLAYED_FROM;
use obs_testkit::{call_router, produce, read_topic, TestMessage};
use processing::AppState;
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::Message;
use serde_json::{json, Value};
use std::time::Duration;

mod support;

/// `bytes` (of `record_id`) as a dead letter of `stage`, read from `source_topic` and refused
/// for `kind`, with the record's headers as the stage keeps them.
fn dead_letter(
    stage: &str,
    source_topic: &str,
    kind: &str,
    (record_id, bytes): (&str, Vec<u8>),
) -> TestMessage {
    let mut headers = OwnedHeaders::new();
    for (name, value) in [
        (RECORD_ID, record_id),
        (dead_letter::STAGE, stage),
        (dead_letter::ERROR_KIND, kind),
        (dead_letter::REASON, "a rule since fixed"),
        (dead_letter::SOURCE_TOPIC, source_topic),
        (dead_letter::SOURCE_PARTITION, "0"),
        (dead_letter::SOURCE_OFFSET, "0"),
        (dead_letter::FAILED_AT, "2026-01-01T10:00:00.000Z"),
    ] {
        headers = headers.insert(Header {
            key: name,
            value: Some(value),
        });
    }
    (Some(b"key".to_vec()), bytes, headers)
}

fn header<'a>(message: &'a OwnedMessage, name: &str) -> Option<&'a str> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

async fn replay(router: &axum::Router, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request =
        Request::post("/dead-letters/replay").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let (status, _, body) =
        call_router(router, request.body(body.to_string().into()).unwrap()).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processings_dead_letters_are_replayed_to_its_input_and_processed_once() {
    let topics = obs_testkit::unique_topics();
    let config = support::config(&obs_testkit::kafka(), &topics);
    let (kafka, t) = (&config.kafka, &config.topics);
    obs_kafka::topics::ensure_topics(kafka, "processing-test", t)
        .await
        .unwrap();
    let fixed = [
        support::run(1, 1, 2.0, 5_000_000),
        support::run(2, 2, 2.0, 5_000_000),
    ];
    let mut letters: Vec<TestMessage> = fixed
        .iter()
        .map(|r| {
            let record = (r.record_id.as_str(), serde_json::to_vec(r).unwrap());
            dead_letter(
                processing::STAGE,
                &t.standardized_logs.name,
                "fixed",
                record,
            )
        })
        .collect();
    // Standardization's, of the same kind: not processing's to replay.
    letters.push(dead_letter(
        "standardization",
        &t.raw_logs.name,
        "fixed",
        ("acme:3:3", b"{}".to_vec()),
    ));
    produce(kafka, &t.dead_letters.name, letters);

    let state = AppState::new(config.clone()).unwrap();
    state.start().unwrap();
    let router = processing::router(state.clone());
    let token = Some(obs_testkit::TEST_TOKEN);

    let (status, _) = replay(&router, None, json!({"kinds": ["fixed"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = replay(&router, token, json!({"stages": ["standardization"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer.to_string().contains("processing"), "{answer}");

    let (status, answer) = replay(&router, token, json!({"kinds": ["fixed"]})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["selected"], 2, "only processing's own: {answer}");
    assert_eq!(answer["replayed"], 2, "{answer}");

    let processed = read_topic(
        kafka,
        &t.processed_metrics.name,
        2,
        Duration::from_secs(2),
        Duration::from_secs(60),
    );
    let mut ids: Vec<&str> = processed
        .iter()
        .filter_map(|m| header(m, RECORD_ID))
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["acme:1:1", "acme:2:2"],
        "each replayed run processed once"
    );
    let replayed = read_topic(
        kafka,
        &t.standardized_logs.name,
        2,
        Duration::from_secs(1),
        Duration::from_secs(30),
    );
    assert_eq!(replayed.len(), 2);
    for message in &replayed {
        let from = header(message, REPLAYED_FROM).unwrap();
        assert!(
            from.starts_with(&format!("{}/0/", t.dead_letters.name)),
            "{from}"
        );
    }

    let (_, again) = replay(&router, token, json!({"kinds": ["fixed"]})).await;
    assert_eq!(again["replayed"], 0, "{again}");
    assert_eq!(again["already_replayed"], 2, "{again}");
    assert!(
        obs_testkit::metrics_text(&router)
            .await
            .contains("processing_dead_letters_replayed_total 2"),
        "counted once"
    );
    tokio::task::spawn_blocking(move || state.stop())
        .await
        .unwrap()
        .unwrap();
}
