//! Ingestion against a real Kafka broker (`make kafka-up`): what is answered accepted is
//! in `raw-logs` exactly once, with its key and headers; what is refused is not.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ingestion::{AppState, IngestionConfig};
use obs_kafka::{RecordHeaders, TraceParent};
use obs_records::RawRecord;
use obs_testkit::{key_of, read_topic};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use serde_json::Value;
use std::time::Duration;
use support::{call, config, post, service};

mod support;

fn read(config: &IngestionConfig, expected: usize) -> Vec<OwnedMessage> {
    read_topic(
        &config.kafka,
        &config.topics.raw_logs.name,
        expected,
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_1000_records_lands_exactly_once_with_keys_and_headers() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let records: Vec<RawRecord> = obs_samplegen::records(7, 1000).collect();
    let body = serde_json::to_vec(&records).unwrap();
    let trace: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        .parse()
        .unwrap();
    let request = Request::post("/ingest/batch")
        .header("authorization", obs_testkit::bearer())
        .header("content-type", "application/json")
        .header("traceparent", trace.to_string())
        .body(Body::from(body))
        .unwrap();
    let (status, body, _) = call(&router, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 1000);
    assert_eq!(body["rejected_total"], 0);

    let messages = read(&config, 1000);
    assert_eq!(
        messages.len(),
        1000,
        "exactly the accepted records, once each"
    );
    let mut by_id = std::collections::HashMap::new();
    for message in &messages {
        let headers = RecordHeaders::from_kafka(message.headers().unwrap()).unwrap();
        let record = RawRecord::parse(message.payload().unwrap()).unwrap();
        assert_eq!(key_of(message), record.series_key());
        assert_eq!(headers.record_id, record.record_id());
        assert_eq!(headers.schema_version, "raw-v1");
        assert_eq!(headers.content_type, "application/json");
        assert!((chrono::Utc::now() - headers.ingested_at).num_seconds() < 120);
        assert_eq!(
            headers.traceparent.trace_id, trace.trace_id,
            "the client's trace is kept"
        );
        assert!(
            by_id.insert(headers.record_id, record).is_none(),
            "duplicate record"
        );
    }
    for record in &records {
        assert_eq!(by_id.get(&record.record_id()), Some(record));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_ndjson_publishes_only_the_valid_line_and_reports_the_others() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let valid = obs_samplegen::records(1, 1).next().unwrap();
    let mut invalid = serde_json::to_value(&valid).unwrap();
    invalid["Objet_Id"] = Value::from("not-a-number");
    invalid["Debut"] = Value::from("yesterday");
    let body = format!(
        "{}\n{{not json at all\n{}\n",
        String::from_utf8(valid.to_json_bytes()).unwrap(),
        invalid
    );
    let (status, body, _) =
        call(&router, post("/ingest/batch", "application/x-ndjson", body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["line"], 2);
    assert!(body["rejected"][0]["errors"][0]
        .as_str()
        .unwrap()
        .starts_with("malformed JSON"));
    assert_eq!(body["rejected"][1]["line"], 3);
    let errors: Vec<&str> = body["rejected"][1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Objet_Id: expected an integer")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Debut: expected DD-MM-YYYY")),
        "{errors:?}"
    );

    let messages = read(&config, 1);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        RawRecord::parse(messages[0].payload().unwrap()).unwrap(),
        valid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_no_valid_record_is_422_and_publishes_nothing() {
    let (config, _topics) = config();
    let router = service(config.clone()).await;
    let (status, body, _) = call(
        &router,
        post(
            "/ingest/batch",
            "application/json",
            r#"[{"Etat":"SUCCESS"}, 42]"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["details"]["rejected"][0]["index"], 0);
    assert_eq!(body["error"]["details"]["rejected"][1]["index"], 1);
    assert!(read(&config, 0).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_records_and_their_errors() {
    let (mut config, _topics) = config();
    config.http.max_body_bytes = 4096;
    let router = service(config.clone()).await;
    let record = obs_samplegen::records(3, 1).next().unwrap();

    let (status, body, _) = call(
        &router,
        post("/ingest/single", "application/json", record.to_json_bytes()),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::ACCEPTED, Value::from(1))
    );

    let (status, body, _) = call(
        &router,
        post("/ingest/single", "application/json", "{\"a\":"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );

    let mut bad = serde_json::to_value(&record).unwrap();
    bad["memory_used (bytes)"] = Value::from(1.5);
    let (status, body, _) = call(
        &router,
        post("/ingest/single", "application/json", bad.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"],
        "memory_used (bytes)"
    );
    assert_eq!(body["error"]["details"]["fields"][0]["kind"], "wrong_type");

    let (status, body, _) = call(
        &router,
        post("/ingest/single", "text/plain", record.to_json_bytes()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    for (path, content_type) in [
        ("/ingest/single", "application/json"),
        ("/ingest/batch", "application/json"),
        ("/ingest/batch", "application/x-ndjson"),
        ("/ingest/file", "application/x-ndjson"),
    ] {
        for empty in ["", " \n"] {
            let (status, body, _) = call(&router, post(path, content_type, empty)).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("empty_body")),
                "{path} {content_type} {empty:?}"
            );
        }
    }

    let (status, body, _) = call(
        &router,
        post("/ingest/single", "application/json", vec![b' '; 5000]),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );

    let messages = read(&config, 1);
    assert_eq!(
        messages.len(),
        1,
        "only the valid single record is published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_files_are_streamed_in_chunks_as_ndjson_or_json_array() {
    let (mut config, _topics) = config();
    config.ingest.file_chunk_records = 100;
    let router = service(config.clone()).await;
    let records: Vec<RawRecord> = obs_samplegen::records(11, 250).collect();

    let ndjson: Vec<u8> = records
        .iter()
        .flat_map(|r| [r.to_json_bytes(), b"\n".to_vec()].concat())
        .collect();
    let boundary = "XBOUNDARYX";
    let mut multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"runs.ndjson\"\r\n\
         Content-Type: application/x-ndjson\r\n\r\n"
    )
    .into_bytes();
    multipart.extend_from_slice(&ndjson);
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = post(
        "/ingest/file",
        &format!("multipart/form-data; boundary={boundary}"),
        multipart,
    );
    let (status, body, _) = call(&router, request).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::ACCEPTED, Value::from(250)),
        "{body}"
    );

    let array = serde_json::to_vec(&records[..50]).unwrap();
    let (status, body, _) = call(&router, post("/ingest/file", "application/json", array)).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::ACCEPTED, Value::from(50)),
        "{body}"
    );

    let (status, body, _) = call(&router, post("/ingest/file", "text/plain", "{}")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(
        body["error"]["details"]["expected"][0],
        "multipart/form-data"
    );

    assert_eq!(read(&config, 300).len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_reads_only_inside_the_data_directory() {
    let dir = std::env::temp_dir().join(format!("obs-trigger-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let records: Vec<u8> = obs_samplegen::records(5, 20)
        .flat_map(|r| [r.to_json_bytes(), b"\n".to_vec()].concat())
        .collect();
    std::fs::write(dir.join("runs.json"), records).unwrap();
    let (mut config, _topics) = config();
    config.ingest.data_dir = dir.clone();
    config.ingest.trigger_file = "runs.json".into();
    let router = service(config.clone()).await;

    let trigger = |uri: &str| {
        Request::post(uri)
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap()
    };
    let (status, body, _) = call(&router, trigger("/ingest/trigger")).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::ACCEPTED, Value::from(20)),
        "{body}"
    );
    let (status, _, _) = call(&router, trigger("/ingest/trigger?file=../etc/passwd")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(&router, trigger("/ingest/trigger?file=%2Fetc%2Fpasswd")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(&router, trigger("/ingest/trigger?file=missing.json")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = call(&router, trigger("/ingest/trigger?flie=runs.json")).await;
    assert_eq!(
        (status, body["error"]["details"]["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("flie")),
        "{body}"
    );
    assert_eq!(read(&config, 20).len(), 20);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_503_with_retry_after_and_nothing_claimed() {
    let mut config = IngestionConfig {
        auth: obs_testkit::auth(),
        ..IngestionConfig::default()
    };
    config.kafka.bootstrap_servers = "127.0.0.1:1".into();
    config.producer.delivery_timeout_ms = 2000;
    let topics = obs_testkit::unique_topics();
    config.topics = topics.clone();
    let router = ingestion::router(AppState::new(config).unwrap());
    let records: Vec<RawRecord> = obs_samplegen::records(9, 10).collect();
    let (status, body, headers) = call(
        &router,
        post(
            "/ingest/batch",
            "application/json",
            serde_json::to_vec(&records).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["details"]["accepted_before_failure"], 0);
    assert_eq!(body["error"]["details"]["not_acknowledged"], 10);
    assert!(headers.contains_key("retry-after"));
    assert!(body.get("accepted").is_none());

    let (status, health, _) = call(
        &router,
        Request::get("/health")
            .header("authorization", obs_testkit::bearer())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["kafka"]["reachable"], false);
    assert_eq!(health["status"], "not_ready");
    assert!(
        health["reasons"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("kafka: unreachable"),
        "{health}"
    );
    // Alive all the same: a restart would not bring Kafka back.
    for (path, expected) in [
        ("/health/live", StatusCode::OK),
        ("/health/ready", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let (status, body, _) = call(
            &router,
            Request::get(path)
                .header("authorization", obs_testkit::bearer())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, expected, "{path}: {body}");
    }
}

fn uuid_like() -> String {
    format!("{}-{}", std::process::id(), TraceParent::new_root().span_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_answers_503_with_retry_after_at_once() {
    let (mut config, _topics) = config();
    // 1 MiB of admission (the minimum); a topic that does not exist (and is never
    // auto-created) keeps the first batch in flight until its delivery timeout.
    config.producer.max_in_flight_bytes = 1 << 20;
    config.producer.delivery_timeout_ms = 5000;
    config.topics.raw_logs.name = format!("{}-never-created", config.topics.raw_logs.name);
    let holding = ingestion::router(AppState::new(config).unwrap());

    let records: Vec<RawRecord> = obs_samplegen::records(31, 1200).collect();
    let first_half = serde_json::to_vec(&records[..600]).unwrap();
    let second_half = serde_json::to_vec(&records[600..]).unwrap();
    assert!(first_half.len() > 300_000 && second_half.len() > 300_000);
    // Two batches of ~0.4 MB each fill the 1 MiB gate only together with a third.
    let holder = holding.clone();
    let body = first_half.clone();
    let first = tokio::spawn(async move {
        call(&holder, post("/ingest/batch", "application/json", body)).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let holder = holding.clone();
    let second = tokio::spawn(async move {
        call(
            &holder,
            post("/ingest/batch", "application/json", second_half),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (status, body, headers) = call(
        &holding,
        post("/ingest/batch", "application/json", first_half),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once, not after a wait"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("queue is full"),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
    // The two in flight are not acknowledged either (their topic does not exist): 503.
    for pending in [first, second] {
        let (status, body, _) = pending.await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_larger_than_the_producer_can_admit_is_413() {
    let (mut config, _topics) = config();
    config.producer.max_in_flight_bytes = 1 << 20;
    config.http.max_body_bytes = 4 << 20;
    let router = service(config.clone()).await;
    let records: Vec<RawRecord> = obs_samplegen::records(41, 3000).collect();
    let body = serde_json::to_vec(&records).unwrap();
    assert!(body.len() > 1 << 20);
    let (status, body, _) = call(&router, post("/ingest/batch", "application/json", body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(read(&config, 0).is_empty(), "nothing published");
}
