//! The analytics view through the views' follower against a real broker: every partition of both topics, committed
//! records only, bad payloads skipped, duplicates of an alert kept once, records not
//! written by the processing stage ignored and counted, and topics and partitions that
//! appear after the reader started.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use obs_detector::{ProcessedRecord, RulesConfig};
use obs_kafka::consumer::follower::phase;
use obs_kafka::consumer::follower::FollowerHandle;
use obs_kafka::headers::{PRODUCED_BY, RECORD_ID};
use obs_kafka::{ensure_topics, ErrorCounter, KafkaConfig, TopicsConfig};
use obs_records::{StandardizedRecord, Status};
use obs_service::Metrics;
use obs_testkit::TestTopics;
use processing::analytics::{router, AnalyticsConfig, AnalyticsSink, AnalyticsView};
use processing::trace::{TraceConfig, Traces};
use processing::views::spawn_views_reader;
use processing::writers::Writers;
use prometheus::IntCounter;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
}

/// A processed record of run `n`, scored by the default rules, processed `n` seconds
/// after midnight on 2024-05-02.
fn processed(
    n: i64,
    source: &str,
    status: Status,
    duration: f64,
    memory: i64,
    cpu: f64,
) -> ProcessedRecord {
    let start = base_time() + ChronoDuration::minutes(n);
    let record = StandardizedRecord {
        record_id: format!("acme:{n}:{}", 100 + n),
        series_key: format!("acme:{source}:{}", 100 + n),
        schema_version: "standardized-v1".into(),
        sequence_id: n.to_string(),
        sequence_time: start,
        company: "acme".into(),
        zone: "1-Raw".into(),
        source: source.into(),
        object_id: 100 + n,
        object_type: "Projects".into(),
        transformation: "load".into(),
        status,
        start_time: start,
        end_time: start + ChronoDuration::milliseconds((duration * 1000.0) as i64),
        duration_seconds: duration,
        cpu_time_seconds: cpu,
        memory_used_bytes: memory,
        description: "run".into(),
        error_message: (status == Status::Failed).then(|| "timeout".into()),
        error_kind: None,
        quality: Vec::new(),
    };
    let processed_at =
        Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap() + ChronoDuration::seconds(n);
    ProcessedRecord::score(record, &RulesConfig::default(), processed_at)
}

fn producer(kafka: &KafkaConfig) -> FutureProducer {
    kafka
        .client_config("analytics-test")
        .set("acks", "all")
        .create()
        .unwrap()
}

/// Sends `payload` as the processing stage writes it (its `produced-by` header).
async fn send(producer: &FutureProducer, topic: &str, partition: i32, payload: &[u8]) {
    send_as(producer, topic, partition, payload, Some(processing::STAGE)).await;
}

/// Sends `payload` as `writer` (`None`: no `produced-by` header).
async fn send_as(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    payload: &[u8],
    writer: Option<&str>,
) {
    let mut headers = OwnedHeaders::new().insert(Header {
        key: RECORD_ID,
        value: Some("analytics-test:1"),
    });
    if let Some(w) = writer {
        headers = headers.insert(Header {
            key: PRODUCED_BY,
            value: Some(w),
        });
    }
    let record = FutureRecord::<(), [u8]>::to(topic)
        .partition(partition)
        .payload(payload)
        .headers(headers);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap();
}

/// The views' follower of `topics` as the service runs it (the analytics view, and a
/// trace index beside it), into `view`, taking what processing's stages wrote, and the
/// count of what the analytics view ignored.
fn reader(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    view: &Arc<AnalyticsView>,
) -> (FollowerHandle, IntCounter) {
    let ignored = IntCounter::new("ignored", "test").unwrap();
    let processed = || {
        (
            topics.processed_metrics.name.clone(),
            &[processing::STAGE][..],
        )
    };
    let writers = Writers::new(
        vec![
            processed(),
            (topics.alerts.name.clone(), &[processing::STAGE][..]),
        ],
        ignored.clone(),
    );
    let analytics = AnalyticsSink::new(topics, view.clone(), writers);
    let traces = Traces::new(TraceConfig::default(), topics, &Metrics::new()).unwrap();
    let trace = traces.sink(Writers::new(
        vec![processed(), (topics.dead_letters.name.clone(), &[][..])],
        IntCounter::new("trace_ignored", "test").unwrap(),
    ));
    let partition_check = Duration::from_millis(view.config().partition_check_ms);
    let errors = ErrorCounter::unregistered();
    let handle = spawn_views_reader(kafka, analytics, trace, partition_check, &errors).unwrap();
    (handle, ignored)
}

async fn wait_for(what: &str, handle: &FollowerHandle, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {:#?}",
            handle.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(view: &Arc<AnalyticsView>, uri: &str) -> (StatusCode, Value) {
    let response = axum::Router::from(router(view.clone()))
        .oneshot(
            Request::get(uri)
                .header("authorization", obs_testkit::bearer())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Publishes a FAILED run of source `aborted` and its alert in one transaction, then
/// aborts it, as a processing replica does when its batch fails.
async fn abort_one_run(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    record_partition: i32,
    alert_partition: i32,
) {
    let transactional: FutureProducer = kafka
        .client_config("analytics-test-txn")
        .set(
            "transactional.id",
            format!("analytics-test-{}", topics.processed_metrics.name),
        )
        .create()
        .unwrap();
    transactional
        .init_transactions(Duration::from_secs(30))
        .unwrap();
    transactional.begin_transaction().unwrap();
    let aborted = processed(6, "aborted", Status::Failed, 1.0, 0, 0.1);
    let alert = aborted.alerts().into_iter().next().unwrap();
    send(
        &transactional,
        &topics.processed_metrics.name,
        record_partition,
        &serde_json::to_vec(&aborted).unwrap(),
    )
    .await;
    send(
        &transactional,
        &topics.alerts.name,
        alert_partition,
        &serde_json::to_vec(&alert).unwrap(),
    )
    .await;
    transactional
        .abort_transaction(Duration::from_secs(30))
        .unwrap();
}

fn topics_with_two_alert_partitions() -> TestTopics {
    let mut topics = obs_testkit::unique_topics();
    topics.alerts.partitions = 2;
    topics
}

/// Fresh topics, `processed-metrics` with a single partition, created on the broker.
async fn topics_with_one_record_partition(kafka: &KafkaConfig) -> TestTopics {
    let mut topics = obs_testkit::unique_topics();
    topics.processed_metrics.partitions = 1;
    ensure_topics(kafka, "analytics-test", &topics)
        .await
        .unwrap();
    topics
}

#[tokio::test(flavor = "multi_thread")]
async fn reader_builds_the_global_view_from_every_partition() {
    let kafka = obs_testkit::kafka();
    let topics = topics_with_two_alert_partitions();
    ensure_topics(&kafka, "analytics-test", &topics)
        .await
        .unwrap();
    let (processed_topic, alerts_topic) = (&topics.processed_metrics.name, &topics.alerts.name);

    // Six runs over the three partitions; c, d and e are anomalous.
    let runs = [
        (
            0,
            processed(0, "zoho", Status::Success, 2.0, 4_000_000, 0.5),
        ), // a: eff 85
        (
            1,
            processed(1, "zoho", Status::Success, 4.0, 2_000_000, 1.0),
        ), // b: eff 85
        (
            2,
            processed(2, "zoho", Status::Failed, 10.0, 1_000_000, 2.0),
        ), // c: eff 72.5, critical
        (0, processed(3, "zoho", Status::Success, 1.0, -500_000, 0.2)), // d: eff 97.5, negative memory
        (
            1,
            processed(4, "powerbi", Status::Success, 30.0, 200_000_000, 5.0),
        ), // e: eff 0
        (2, processed(5, "powerbi", Status::Success, 6.0, 0, 3.0)),     // f: eff 85
    ];
    let producer = producer(&kafka);
    for (partition, record) in &runs {
        send(
            &producer,
            processed_topic,
            *partition,
            &serde_json::to_vec(record).unwrap(),
        )
        .await;
    }
    send(&producer, processed_topic, 1, b"{not json").await;
    // Runs and an alert written by someone else than the processing stage: not counted.
    let foreign = processed(7, "zoho", Status::Failed, 1.0, 0, 0.1);
    let foreign_json = serde_json::to_vec(&foreign).unwrap();
    send_as(&producer, processed_topic, 0, &foreign_json, None).await;
    send_as(&producer, processed_topic, 2, &foreign_json, Some("a-tool")).await;
    let foreign_alert = serde_json::to_vec(&foreign.alerts()[0]).unwrap();
    send_as(&producer, alerts_topic, 0, &foreign_alert, None).await;
    let alerts: Vec<_> = runs.iter().flat_map(|(_, r)| r.alerts()).collect();
    assert_eq!(alerts.len(), 3);
    for (i, alert) in alerts.iter().enumerate() {
        send(
            &producer,
            alerts_topic,
            (i % 2) as i32,
            &serde_json::to_vec(alert).unwrap(),
        )
        .await;
    }
    // The alert of c again, on the other partition: kept once.
    send(
        &producer,
        alerts_topic,
        1,
        &serde_json::to_vec(&alerts[0]).unwrap(),
    )
    .await;

    // A processing transaction that aborted: read_committed must never show it.
    abort_one_run(&kafka, &topics, 2, 0).await;

    let view = Arc::new(AnalyticsView::new(AnalyticsConfig::default()));
    let (handle, ignored) = reader(&kafka, &topics, &view);
    wait_for("catch-up", &handle, || handle.status().caught_up).await;

    let status = handle.status();
    assert_eq!(status.consumer.phase, phase::LIVE);
    assert_eq!(
        (
            status.applied(&topics.processed_metrics.name),
            status.applied(&topics.alerts.name),
            status.parse_errors
        ),
        (6 + 2, 4 + 1, 1),
        "read, the foreign records included: {status:#?}"
    );
    assert_eq!(
        ignored.get(),
        3,
        "the foreign records are counted, not applied"
    );
    let dead_letters = &topics.dead_letters.name;
    assert_eq!(
        status
            .partitions
            .iter()
            .filter(|p| &p.topic != dead_letters)
            .count(),
        5,
        "3 processed + 2 alerts partitions"
    );
    let last_parse_error = status.last_parse_error.unwrap_or_default();
    assert!(
        last_parse_error.starts_with(&format!("{processed_topic}/1@")),
        "{last_parse_error}"
    );
    let stats = view.stats();
    assert_eq!((stats.alerts_kept, stats.duplicate_alerts), (3, 1));

    let (code, summary) = get(&view, "/analytics/summary").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(summary["total_logs_processed"], 6);
    assert_eq!(summary["success_count"], 5);
    assert_eq!(summary["failed_count"], 1);
    assert_eq!(summary["anomaly_count"], 3);
    assert_eq!(summary["total_sources"], 2);
    let close = |v: &Value, expected: f64| (v.as_f64().unwrap() - expected).abs() < 1e-9;
    assert!(close(&summary["success_rate"], 5.0 / 6.0), "{summary}");
    assert!(close(&summary["anomaly_rate"], 0.5), "{summary}");
    // (85 + 85 + 72.5 + 97.5 + 0 + 85) / 6 and (2 + 4 + 10 + 1 + 30 + 6) / 6.
    assert!(
        close(&summary["average_efficiency_score"], 425.0 / 6.0),
        "{summary}"
    );
    assert!(
        close(&summary["average_duration_seconds"], 53.0 / 6.0),
        "{summary}"
    );
    assert_eq!(summary["last_updated"], "2024-05-02T00:00:05Z");

    let (_, sources) = get(&view, "/analytics/sources").await;
    let names: Vec<&str> = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["powerbi", "zoho"]);
    let zoho = &sources["sources"][1];
    assert_eq!(
        (
            &zoho["total_runs"],
            &zoho["success_count"],
            &zoho["failed_count"]
        ),
        (&Value::from(4), &Value::from(3), &Value::from(1))
    );
    let within =
        |v: &Value, expected: f64| (v.as_f64().unwrap() - expected).abs() <= 0.01 * expected.abs();
    // Durations 1, 2, 4, 10: p50 = 2, p95 = p99 = 10 (nearest rank).
    assert!(within(&zoho["duration_p50_seconds"], 2.0), "{zoho}");
    assert!(within(&zoho["duration_p95_seconds"], 10.0), "{zoho}");
    assert!(within(&zoho["memory_p95_bytes"], 4_000_000.0), "{zoho}");
    assert!(within(&zoho["cpu_p95_seconds"], 2.0), "{zoho}");
    assert_eq!(zoho["last_run_at"], "2024-05-01T10:03:00Z");
    assert!(
        close(&zoho["average_efficiency_score"], 85.0),
        "(85 + 85 + 72.5 + 97.5) / 4"
    );

    let (_, anomalies) = get(&view, "/analytics/anomalies").await;
    let ids: Vec<&str> = anomalies["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["acme:4:104/rules", "acme:3:103/rules", "acme:2:102/rules"]
    );
    let (_, critical) = get(&view, "/analytics/anomalies?severity=critical").await;
    assert_eq!(critical["count"], 1);
    assert_eq!(critical["anomalies"][0]["source"], "zoho");

    // Live: a record published after catch-up shows up too.
    let late = processed(7, "efficy", Status::Success, 3.0, 1_000, 1.0);
    send(
        &producer,
        processed_topic,
        0,
        &serde_json::to_vec(&late).unwrap(),
    )
    .await;
    wait_for("the late record", &handle, || {
        view.summary().total_logs_processed == 7
    })
    .await;
    let (_, recent) = get(&view, "/analytics/recent?limit=2").await;
    assert_eq!(recent["records"][0]["source"], "efficy");
    assert_eq!(recent["records"][1]["source"], "powerbi");

    handle.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reader_waits_for_topics_created_after_it_started() {
    let kafka = obs_testkit::kafka();
    let topics = topics_with_two_alert_partitions();
    let view = Arc::new(AnalyticsView::new(AnalyticsConfig::default()));
    let (handle, _) = reader(&kafka, &topics, &view);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = handle.status();
    assert_eq!(
        status.consumer.phase,
        phase::WAITING_FOR_TOPICS,
        "{status:#?}"
    );
    assert!(status.consumer.last_error.is_some());
    assert!(!status.caught_up);

    ensure_topics(&kafka, "analytics-test", &topics)
        .await
        .unwrap();
    let record = processed(0, "sharepoint", Status::Failed, 5.0, 1_000, 1.0);
    let producer = producer(&kafka);
    send(
        &producer,
        &topics.processed_metrics.name,
        2,
        &serde_json::to_vec(&record).unwrap(),
    )
    .await;
    send(
        &producer,
        &topics.alerts.name,
        1,
        &serde_json::to_vec(&record.alerts()[0]).unwrap(),
    )
    .await;
    wait_for("the record and its alert", &handle, || {
        let stats = view.stats();
        stats.records_applied == 1 && stats.alerts_kept == 1
    })
    .await;
    wait_for("catch-up", &handle, || handle.status().caught_up).await;
    assert_eq!(view.summary().failed_count, 1);

    handle.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_holding_only_aborted_transactions_count_as_caught_up() {
    let kafka = obs_testkit::kafka();
    let topics = topics_with_one_record_partition(&kafka).await;
    abort_one_run(&kafka, &topics, 0, 0).await;

    let view = Arc::new(AnalyticsView::new(AnalyticsConfig::default()));
    let (handle, _) = reader(&kafka, &topics, &view);
    wait_for("catch-up", &handle, || handle.status().caught_up).await;
    let status = handle.status();
    assert!(
        status
            .partitions
            .iter()
            .filter(|p| p.topic != topics.dead_letters.name)
            .all(|p| p.start_high_watermark == 2),
        "one aborted record and its abort marker per partition: {status:#?}"
    );
    assert_eq!(
        (
            status.applied(&topics.processed_metrics.name),
            status.applied(&topics.alerts.name)
        ),
        (0, 0)
    );
    assert_eq!(view.summary().total_logs_processed, 0);
    handle.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reader_reads_partitions_added_after_it_started() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
    use rdkafka::client::DefaultClientContext;

    let kafka = obs_testkit::kafka();
    let topics = topics_with_one_record_partition(&kafka).await;
    let topic = topics.processed_metrics.name.clone();
    send(
        &producer(&kafka),
        &topic,
        0,
        &serde_json::to_vec(&processed(0, "zoho", Status::Success, 2.0, 1_000, 0.5)).unwrap(),
    )
    .await;
    let config = AnalyticsConfig {
        partition_check_ms: 200,
        ..AnalyticsConfig::default()
    };
    let view = Arc::new(AnalyticsView::new(config));
    let (handle, _) = reader(&kafka, &topics, &view);
    wait_for("catch-up", &handle, || handle.status().caught_up).await;
    assert_eq!(view.summary().total_logs_processed, 1);

    let admin: AdminClient<DefaultClientContext> =
        kafka.client_config("analytics-test").create().unwrap();
    let results = admin
        .create_partitions(&[NewPartitions::new(&topic, 2)], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // A new producer per try: each learns of partition 1 from fresh metadata (a producer
    // that was told the partition does not exist keeps that answer for a while).
    let payload =
        serde_json::to_vec(&processed(1, "powerbi", Status::Failed, 4.0, 1_000, 1.0)).unwrap();
    let started = Instant::now();
    while let Err((error, _)) = producer(&kafka)
        .send(
            FutureRecord::<(), [u8]>::to(&topic)
                .partition(1)
                .payload(&payload)
                .headers(
                    OwnedHeaders::new()
                        .insert(Header {
                            key: RECORD_ID,
                            value: Some("analytics-test:2"),
                        })
                        .insert(Header {
                            key: PRODUCED_BY,
                            value: Some(processing::STAGE),
                        }),
                ),
            Duration::from_secs(5),
        )
        .await
    {
        assert!(started.elapsed() < Duration::from_secs(60), "{error}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_for("the record on the added partition", &handle, || {
        view.summary().total_logs_processed == 2
    })
    .await;
    let summary = view.summary();
    assert_eq!((summary.success_count, summary.failed_count), (1, 1));
    let status = handle.status();
    assert!(
        status
            .partitions
            .iter()
            .any(|p| p.topic == topic && p.partition == 1),
        "{status:#?}"
    );
    assert!(status.caught_up);
    handle.join().unwrap();
}
