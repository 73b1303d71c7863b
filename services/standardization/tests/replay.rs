//! `POST /dead-letters/replay` against a real Kafka broker (`make kafka-up`): dead letters
//! whose reason no longer applies go back to `raw-logs` and are standardized once; a second
//! replay re-publishes nothing; the filters; a dry run writes nothing; keys.

use axum::http::{header, Request, StatusCode};
use obs_kafka::dead_letter;
use obs_kafka::headers::RECORD_ID;
use obs_kafka::replay::REPLAYED_FROM;
use obs_service::auth::digest_hex;
use obs_testkit::{call_router, produce, raw_messages, TestMessage};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::Message;
use serde_json::{json, Value};
use standardization::AppState;
use support::{config, header, read};

mod support;

/// `records` as dead letters of the runs' stage: the raw record's key, bytes and headers,
/// the `dead-letter-*` headers of `kind`, as a stage that refused them would have written
/// them (here: a rule since fixed).
fn dead_letters(
    records: &[obs_records::RawRecord],
    source_topic: &str,
    kind: &str,
) -> Vec<TestMessage> {
    raw_messages(records)
        .into_iter()
        .enumerate()
        .map(|(i, (key, payload, headers))| {
            let offset = i.to_string();
            let mut headers = headers;
            for (name, value) in [
                (dead_letter::STAGE, standardization::STAGE),
                (dead_letter::ERROR_KIND, kind),
                (dead_letter::REASON, "a rule since fixed"),
                (dead_letter::SOURCE_TOPIC, source_topic),
                (dead_letter::SOURCE_PARTITION, "0"),
                (dead_letter::SOURCE_OFFSET, offset.as_str()),
                (dead_letter::FAILED_AT, "2026-01-01T10:00:00.000Z"),
            ] {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value),
                });
            }
            (key, payload, headers)
        })
        .collect()
}

async fn replay(router: &axum::Router, token: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/dead-letters/replay")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.to_string().into())
        .unwrap();
    let (status, _, body) = call_router(router, request).await;
    (status, body)
}

fn counts(answer: &Value) -> [u64; 4] {
    ["selected", "replayed", "already_replayed", "left"].map(|k| answer[k].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_dead_letters_are_replayed_once_and_standardized_once() {
    let (mut config, _topics) = config();
    let read_token = "replay-test-read-token";
    config.auth.read_key_hashes.push(digest_hex(read_token));
    obs_kafka::topics::ensure_topics(&config.kafka, "standardization-test", &config.topics)
        .await
        .unwrap();
    let state = AppState::new(config.clone()).unwrap();
    state.start_stage().unwrap();
    let router = standardization::router(state.clone());
    let token = obs_testkit::TEST_TOKEN;
    let t = &config.topics;

    let fixed: Vec<_> = obs_samplegen::records(31, 3).collect();
    produce(
        &config.kafka,
        &t.dead_letters.name,
        dead_letters(&fixed, &t.raw_logs.name, "invalid_timestamp"),
    );
    // A dead letter the stage writes itself, still broken.
    let broken: TestMessage = (
        Some(b"broken-key".to_vec()),
        b"{\"No_Sequence\": \"2025-".to_vec(),
        OwnedHeaders::new(),
    );
    produce(&config.kafka, &t.raw_logs.name, vec![broken]);
    let before = read(&config, &t.dead_letters.name, 4);
    assert_eq!(before.len(), 4);
    let broken_id = before
        .iter()
        .find(|m| header(m, dead_letter::ERROR_KIND) == Some("malformed_json"))
        .map(|m| format!("{}/{}/{}", m.topic(), m.partition(), m.offset()))
        .unwrap();

    // Keys: none, another scope's.
    let unauthenticated = Request::post("/dead-letters/replay")
        .header(header::CONTENT_TYPE, "application/json")
        .body(json!({"kinds": ["invalid_timestamp"]}).to_string().into())
        .unwrap();
    let (status, _, _) = call_router(&router, unauthenticated).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = replay(&router, read_token, json!({"kinds": ["invalid_timestamp"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The filters, in dry runs.
    let (status, dry) = replay(
        &router,
        token,
        json!({"kinds": ["invalid_timestamp"], "dry_run": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(counts(&dry), [3, 3, 0, 0], "{dry}");
    assert_eq!(dry["dry_run"], true);
    let listed: Vec<&str> = dry["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["replay"; 3]);
    for (selection, selected) in [
        (
            json!({"since": "2026-01-01T10:00:00Z", "until": "2026-01-01T10:00:01Z"}),
            3,
        ),
        (json!({"until": "2026-01-01T10:00:00Z"}), 0),
        (json!({"ids": [broken_id]}), 1),
        (
            json!({"kinds": ["malformed_json", "invalid_timestamp"], "limit": 2}),
            4,
        ),
        (json!({"stages": ["standardization-app-logs"]}), 0),
    ] {
        let mut body = selection.clone();
        body["dry_run"] = json!(true);
        let (status, answer) = replay(&router, token, body).await;
        assert_eq!(status, StatusCode::OK, "{selection}: {answer}");
        assert_eq!(counts(&answer)[0], selected, "{selection}: {answer}");
    }
    let (_, limited) = replay(
        &router,
        token,
        json!({"kinds": ["malformed_json", "invalid_timestamp"], "limit": 2, "dry_run": true}),
    )
    .await;
    assert_eq!(counts(&limited), [4, 2, 0, 2], "{limited}");
    assert!(
        read(&config, &t.dead_letter_replays.name, 0).is_empty(),
        "a dry run writes no marker"
    );

    // The replay: each fixed dead letter back to raw-logs, standardized once.
    let (status, first) = replay(&router, token, json!({"kinds": ["invalid_timestamp"]})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(counts(&first), [3, 3, 0, 0], "{first}");
    let standardized = read(&config, &t.standardized_logs.name, 3);
    assert_eq!(
        standardized.len(),
        3,
        "each fixed dead letter standardized once"
    );
    let mut ids: Vec<&str> = standardized
        .iter()
        .map(|m| header(m, RECORD_ID).unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<String> = fixed.iter().map(|r| r.record_id()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for message in &standardized {
        let from = header(message, REPLAYED_FROM).unwrap();
        assert!(
            from.starts_with(&format!("{}/0/", t.dead_letters.name)),
            "{from}"
        );
        assert!(header(message, dead_letter::ERROR_KIND).is_none());
    }
    let replayed_raw = read(&config, &t.raw_logs.name, 4);
    let original_bytes: Vec<Vec<u8>> = fixed.iter().map(|r| r.to_json_bytes()).collect();
    for message in replayed_raw
        .iter()
        .filter(|m| header(m, REPLAYED_FROM).is_some())
    {
        assert!(original_bytes.contains(&message.payload().unwrap().to_vec()));
    }

    // Again: nothing, and it says so.
    let (status, second) = replay(&router, token, json!({"kinds": ["invalid_timestamp"]})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(counts(&second), [3, 0, 3, 0], "{second}");
    assert!(
        second["message"]
            .as_str()
            .unwrap()
            .contains("replayed 0 of 3"),
        "{second}"
    );
    assert_eq!(read(&config, &t.dead_letter_replays.name, 3).len(), 3);
    assert_eq!(read(&config, &t.standardized_logs.name, 3).len(), 3);

    // A dead letter replayed while still broken is refused again, with where it came from.
    let (_, broken) = replay(&router, token, json!({"ids": [broken_id]})).await;
    assert_eq!(counts(&broken), [1, 1, 0, 0], "{broken}");
    let after = read(&config, &t.dead_letters.name, 5);
    assert_eq!(after.len(), 5);
    assert_eq!(
        after
            .iter()
            .filter_map(|m| header(m, REPLAYED_FROM))
            .collect::<Vec<_>>(),
        [broken_id.as_str()]
    );
    // A dead letter naming a topic that is not an input of the service stays where it is.
    produce(
        &config.kafka,
        &t.dead_letters.name,
        dead_letters(&fixed[..1], &t.processed_metrics.name, "forged"),
    );
    let (_, forged) = replay(&router, token, json!({"kinds": ["forged"]})).await;
    assert_eq!(counts(&forged), [1, 0, 0, 0], "{forged}");
    assert_eq!(forged["unreplayable"], 1, "{forged}");
    assert!(read(&config, &t.processed_metrics.name, 0).is_empty());
    assert!(
        obs_testkit::metrics_text(&router)
            .await
            .contains("standardization_dead_letters_replayed_total 4"),
        "3 fixed and 1 still broken"
    );
    tokio::task::spawn_blocking(move || state.stop_stage())
        .await
        .unwrap()
        .unwrap();
}
