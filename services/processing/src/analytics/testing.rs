//! Records for the unit tests of the view and the endpoints.

use chrono::{DateTime, Duration, TimeZone, Utc};
use obs_detector::{ProcessedRecord, RulesConfig};
use obs_records::{StandardizedRecord, Status};

/// 2024-05-01T10:00:00Z.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
}

/// Run `n` of `source` (object `100 + n`, started `n` minutes after [`base_time`]),
/// scored by the default rules and processed `n` seconds after midnight on 2024-05-02.
pub fn processed(
    n: i64,
    source: &str,
    status: Status,
    duration: f64,
    memory: i64,
    cpu: f64,
) -> ProcessedRecord {
    let start = base_time() + Duration::minutes(n);
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
        end_time: start + Duration::milliseconds((duration * 1000.0) as i64),
        duration_seconds: duration,
        cpu_time_seconds: cpu,
        memory_used_bytes: memory,
        description: "run".into(),
        error_message: (status == Status::Failed).then(|| "timeout".into()),
        error_kind: None,
        quality: Vec::new(),
    };
    let processed_at = Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap() + Duration::seconds(n);
    ProcessedRecord::score(record, &RulesConfig::default(), processed_at)
}
