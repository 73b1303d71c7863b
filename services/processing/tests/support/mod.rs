//! What processing's tests on the real broker share: a run as standardization writes it,
//! and a processing configuration on a test's own topics.

use chrono::{Duration as Span, TimeZone, Utc};
use obs_kafka::{KafkaConfig, StageConfig, TopicsConfig};
use obs_records::standardize::StandardizedRecord;
use obs_records::Status;
use processing::ProcessingConfig;

/// A successful PowerBI run of `object_id`, `hour` hours into 2025-09-01, taking
/// `duration` seconds (a tenth of it on the CPU) and `memory` bytes: record id
/// `acme:{hour}:{object_id}`, series `acme:powerbi:{object_id}`.
pub fn run(object_id: i64, hour: i64, duration: f64, memory: i64) -> StandardizedRecord {
    let start = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap() + Span::hours(hour);
    StandardizedRecord {
        record_id: format!("acme:{hour}:{object_id}"),
        series_key: format!("acme:powerbi:{object_id}"),
        schema_version: "standardized-v1".into(),
        sequence_id: hour.to_string(),
        sequence_time: start,
        company: "acme".into(),
        zone: "1-Raw".into(),
        source: "powerbi".into(),
        object_id,
        object_type: "datasets".into(),
        transformation: "PowerBI_API_get_data".into(),
        status: Status::Success,
        start_time: start,
        end_time: start + Span::milliseconds((duration * 1000.0) as i64),
        duration_seconds: duration,
        cpu_time_seconds: duration / 10.0,
        memory_used_bytes: memory,
        description: "Tout roule, pas de stress!".into(),
        error_message: None,
        error_kind: None,
        quality: Vec::new(),
    }
}

/// Processing on `topics`, with a group and transactional id of their own and the test
/// keys.
pub fn config(kafka: &KafkaConfig, topics: &TopicsConfig) -> ProcessingConfig {
    let group = format!("processing-{}", topics.raw_logs.name);
    ProcessingConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        stage: StageConfig {
            transactional_id: group.clone(),
            ..StageConfig::for_group(&group)
        },
        auth: obs_testkit::auth(),
        ..ProcessingConfig::default()
    }
}
