//! `POST /log` against a real Kafka broker: accepted events are in `app-logs` once each,
//! keyed by service, with the record headers; every bad input is answered as for runs.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ingestion::{AppState, IngestionConfig};
use obs_kafka::{RecordHeaders, TraceParent};
use obs_records::event_id;
use obs_testkit::{key_of, read_topic};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use serde_json::{json, Value};
use std::time::Duration;
use support::{call, config, post, service};

mod support;

fn read_events(config: &IngestionConfig, expected: usize) -> Vec<OwnedMessage> {
    read_topic(
        &config.kafka,
        &config.topics.app_logs.name,
        expected,
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
}

fn event(service: &str, message: &str) -> Value {
    json!({"service": service, "message": message})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_one_or_many_land_once_keyed_by_service_with_headers() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let trace: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        .parse()
        .unwrap();
    let single = json!({"service": "billing", "message": "invoice issued", "level": "info",
        "timestamp": "2026-11-21T07:43:00Z", "attributes": {"company": "akonovia"}});
    let request = Request::post("/log")
        .header("authorization", obs_testkit::bearer())
        .header("content-type", "application/json")
        .header("traceparent", trace.to_string())
        .body(Body::from(single.to_string()))
        .unwrap();
    let (status, body, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"accepted": 1, "rejected": [], "rejected_total": 0})
    );

    let array: Vec<Value> = (0..10)
        .map(|i| event("zoho", &format!("page {i} read")))
        .collect();
    let (status, body, _) = call(
        &router,
        post(
            "/log",
            "application/json",
            serde_json::to_vec(&array).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 10);

    let ndjson: String = (0..5)
        .map(|i| format!("{}\n", event("efficy", &format!("contact {i} exported"))))
        .collect();
    let (status, body, _) = call(&router, post("/log", "application/x-ndjson", ndjson)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 5);

    let messages = read_events(&config, 16);
    assert_eq!(messages.len(), 16, "exactly the accepted events, once each");
    let mut services = std::collections::BTreeMap::new();
    for message in &messages {
        let payload = message.payload().unwrap();
        let value: Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(key_of(message), value["service"].as_str().unwrap());
        let headers = RecordHeaders::from_kafka(message.headers().unwrap()).unwrap();
        assert_eq!(headers.record_id, event_id(payload));
        assert_eq!(headers.schema_version, "app-log-v1");
        assert_eq!(headers.content_type, "application/json");
        *services.entry(key_of(message)).or_insert(0) += 1;
        if key_of(message) == "billing" {
            assert_eq!(payload, single.to_string().as_bytes(), "published as sent");
            assert_eq!(headers.traceparent.trace_id, trace.trace_id);
        }
    }
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        vec![
            ("billing".into(), 1),
            ("efficy".into(), 5),
            ("zoho".into(), 10)
        ]
    );
    // Runs' topic untouched; the events are counted as events.
    let raw = read_topic(
        &config.kafka,
        &config.topics.raw_logs.name,
        0,
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    assert!(raw.is_empty());
    let (_, status, _) = call(
        &router,
        Request::get("/status")
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status["log_events"]["received"], 16);
    assert_eq!(status["log_events"]["published"], 16);
    assert_eq!(status["records"]["received"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_field_of_one_event_is_a_422_naming_it() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let cases = [
        (json!({"service": "s"}), "message", "missing_field"),
        (
            json!({"service": "s", "message": ""}),
            "message",
            "empty_field",
        ),
        (
            json!({"service": "s", "message": 12}),
            "message",
            "wrong_type",
        ),
        (json!({"message": "m"}), "service", "missing_field"),
        (
            json!({"message": "m", "service": "x".repeat(200)}),
            "service",
            "out_of_range",
        ),
        (
            json!({"message": "m", "service": "s", "level": {}}),
            "level",
            "wrong_type",
        ),
        (
            json!({"message": "m", "service": "s", "timestamp": "yesterday"}),
            "timestamp",
            "invalid_timestamp",
        ),
        (
            json!({"message": "m", "service": "s", "attributes": []}),
            "attributes",
            "wrong_type",
        ),
        (
            json!({"message": "m", "service": "s", "attributes": {"company": 3}}),
            "attributes.company",
            "wrong_type",
        ),
        (
            json!({"message": "m", "service": "s", "trace_id": false}),
            "trace_id",
            "wrong_type",
        ),
        (
            json!({"message": "m", "service": "s", "severity": "high"}),
            "$",
            "unknown_field",
        ),
        (json!(["not", "an", "event"]), "$", "not_an_object"),
    ];
    for (event, field, kind) in cases {
        // An array body is a batch: its element is refused and the batch is a 422 too.
        let (status, body, _) =
            call(&router, post("/log", "application/json", event.to_string())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{event}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
        if event.is_object() {
            let fields = &body["error"]["details"]["fields"];
            assert_eq!(fields[0]["field"], field, "{event}: {body}");
            assert_eq!(fields[0]["kind"], kind, "{event}: {body}");
        } else {
            let errors = &body["error"]["details"]["rejected"][0]["errors"];
            assert!(
                errors[0]
                    .as_str()
                    .unwrap()
                    .starts_with("$: expected a JSON object"),
                "{body}"
            );
        }
    }
    // Every problem at once.
    let (_, body, _) = call(&router, post("/log", "application/json", "{\"levle\": 3}")).await;
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["$", "message", "service"]);
    assert!(read_events(&config, 0).is_empty(), "nothing published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_content_types_and_sizes_are_checked_as_for_runs() {
    let (mut config, _topics) = config();
    config.http.max_body_bytes = 64 * 1024;
    config.ingest.max_record_bytes = 1024;
    let router = service(config.clone()).await;
    let code = |body: &Value| {
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    for empty in ["", "  \n "] {
        let (status, body, _) = call(&router, post("/log", "application/json", empty)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "empty_body".into())
        );
    }
    let (status, body, _) = call(&router, post("/log", "application/json", "[]")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "empty_body".into())
    );
    let (status, body, _) = call(&router, post("/log", "application/json", "{\"message\": ")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json".into())
    );
    let (status, body, _) = call(&router, post("/log", "application/json", "[{}, ")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json".into())
    );

    let one = event("s", "m").to_string();
    for content_type in ["text/plain", "application/xml"] {
        let (status, body, _) = call(&router, post("/log", content_type, one.clone())).await;
        assert_eq!(
            (status, code(&body)),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type".into()
            )
        );
    }
    let request = Request::post("/log")
        .header("authorization", obs_testkit::bearer())
        .body(Body::from(one))
        .unwrap();
    let (status, _, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let long_event = event("s", &"x".repeat(2000)).to_string();
    let (status, body, _) = call(
        &router,
        post("/log", "application/json", long_event.clone()),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into())
    );
    let huge = "x".repeat(100 * 1024);
    let (status, body, _) = call(&router, post("/log", "application/x-ndjson", huge)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into())
    );

    // In a batch, a bad or oversized line is refused on its own.
    let batch = format!(
        "{}\n{long_event}\n{{\"service\":\"s\"}}\n",
        event("s", "fine")
    );
    let (status, body, _) = call(&router, post("/log", "application/x-ndjson", batch)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected_total"], 2);
    assert_eq!(body["rejected"][0]["line"], 2);
    assert_eq!(body["rejected"][1]["line"], 3);
    assert_eq!(
        body["rejected"][1]["errors"][0],
        "message: required field is missing"
    );
    assert_eq!(read_events(&config, 1).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_503_with_retry_after() {
    let mut config = IngestionConfig {
        auth: obs_testkit::auth(),
        ..IngestionConfig::default()
    };
    config.kafka.bootstrap_servers = "127.0.0.1:1".into();
    config.producer.delivery_timeout_ms = 2000;
    let topics = obs_testkit::unique_topics();
    config.topics = topics.clone();
    let router = ingestion::router(AppState::new(config).unwrap());
    let events: Vec<Value> = (0..3).map(|i| event("s", &format!("m{i}"))).collect();
    let (status, body, headers) = call(
        &router,
        post(
            "/log",
            "application/json",
            serde_json::to_vec(&events).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["details"]["not_acknowledged"], 3);
    assert_eq!(body["error"]["details"]["resume_from_index"], 0);
    assert!(headers.contains_key("retry-after"));
}
