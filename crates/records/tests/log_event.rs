//! Application log events: validation names every bad field, the level is normalized or
//! the classifier decides, a missing timestamp is the received time and says so, and no
//! input panics the parser.

use chrono::{DateTime, Utc};
use obs_records::log_event::{MAX_OTHER_ATTRIBUTES, MAX_SERVICE_BYTES};
use obs_records::{
    event_id, standardize_log_event, ErrorKind, LogEvent, LogSeverity, RecordError,
    SeverityClassifier, SeveritySource, TimestampSource,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Always answers the same, so tests see exactly when it was asked.
struct Fixed(LogSeverity, f64);

impl SeverityClassifier for Fixed {
    fn classify(&self, _message: &str) -> (LogSeverity, f64) {
        (self.0, self.1)
    }
}

fn received() -> DateTime<Utc> {
    "2026-11-21T08:00:00Z".parse().unwrap()
}

fn full() -> Value {
    json!({
        "message": "Token refresh failed for tenant 42: 401 Unauthorized",
        "service": "zoho-connector",
        "level": "ERR",
        "timestamp": "2026-11-21T09:43:00.250+02:00",
        "attributes": {
            "company": "akonovia",
            "source": "Zoho Projects",
            "object_id": 1995,
            "record_id": "akonovia:2025-09-05-16-45:1995",
            "trace_id": "attr-trace",
            "tenant": 42,
            "region": "eu-west"
        },
        "trace_id": "0af7651916cd43dd8448eb211c80319c"
    })
}

fn errors_of(value: &Value) -> Vec<(String, ErrorKind, String)> {
    match LogEvent::parse(value.to_string().as_bytes()) {
        Ok(event) => panic!("expected errors, got {event:?}"),
        Err(RecordError::Invalid(errors)) => errors
            .into_iter()
            .map(|e| (e.field.to_owned(), e.kind, e.problem))
            .collect(),
        Err(other) => panic!("expected field errors, got {other}"),
    }
}

/// The one error of the minimal event with `field` set to `value`.
fn single_error(path: &[&str], value: Value) -> (String, ErrorKind, String) {
    let mut event = json!({"message": "m", "service": "s"});
    match path {
        [field] => event[*field] = value,
        [outer, inner] => event[*outer] = json!({ *inner: value }),
        _ => unreachable!(),
    }
    let errors = errors_of(&event);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn a_full_event_is_read_field_by_field() {
    let event = LogEvent::parse(full().to_string().as_bytes()).unwrap();
    assert_eq!(event.service, "zoho-connector");
    assert_eq!(event.level.as_deref(), Some("ERR"));
    assert_eq!(
        event.timestamp,
        Some("2026-11-21T07:43:00.250Z".parse().unwrap())
    );
    assert_eq!(event.attributes.company.as_deref(), Some("akonovia"));
    assert_eq!(event.attributes.object_id.as_deref(), Some("1995"));
    assert_eq!(event.attributes.trace_id.as_deref(), Some("attr-trace"));
    assert_eq!(event.attributes.other.len(), 2);
    assert_eq!(event.attributes.other["tenant"], json!(42));
}

#[test]
fn the_minimal_event_has_message_and_service() {
    let event = LogEvent::parse(br#"{"message":"started","service":"api"}"#).unwrap();
    assert_eq!(event.level, None);
    assert_eq!(event.timestamp, None);
    assert_eq!(event.trace_id, None);
    assert!(event.attributes.other.is_empty());
    // Null is absent, as for runs.
    let nulls = json!({"message": "m", "service": "s", "level": null, "timestamp": null,
        "attributes": null, "trace_id": null});
    LogEvent::parse(nulls.to_string().as_bytes()).unwrap();
}

#[test]
fn each_field_error_names_its_field() {
    let cases: Vec<(&[&str], Value, ErrorKind)> = vec![
        (&["message"], json!(null), ErrorKind::MissingField),
        (&["message"], json!(3), ErrorKind::WrongType),
        (&["message"], json!("  "), ErrorKind::EmptyField),
        (&["service"], json!(["a"]), ErrorKind::WrongType),
        (&["service"], json!(""), ErrorKind::EmptyField),
        (
            &["service"],
            json!("s".repeat(MAX_SERVICE_BYTES + 1)),
            ErrorKind::OutOfRange,
        ),
        (&["level"], json!(true), ErrorKind::WrongType),
        (&["level"], json!(2.5), ErrorKind::WrongType),
        (&["level"], json!(""), ErrorKind::EmptyField),
        (
            &["timestamp"],
            json!("yesterday"),
            ErrorKind::InvalidTimestamp,
        ),
        (
            &["timestamp"],
            json!("2026-11-21 07:43:00"),
            ErrorKind::InvalidTimestamp,
        ),
        (&["timestamp"], json!(1_700_000_000), ErrorKind::WrongType),
        (&["attributes"], json!("company=x"), ErrorKind::WrongType),
        (&["trace_id"], json!(7), ErrorKind::WrongType),
        (&["trace_id"], json!(""), ErrorKind::EmptyField),
    ];
    for (path, value, kind) in cases {
        let (field, found, problem) = single_error(path, value.clone());
        assert_eq!(
            (field.as_str(), found),
            (path[0], kind),
            "{value}: {problem}"
        );
    }
    for attribute in ["company", "source", "object_id", "record_id", "trace_id"] {
        let (field, kind, _) = single_error(&["attributes", attribute], json!(false));
        assert_eq!(
            (field, kind),
            (format!("attributes.{attribute}"), ErrorKind::WrongType)
        );
        let (field, kind, _) = single_error(&["attributes", attribute], json!(""));
        assert_eq!(
            (field, kind),
            (format!("attributes.{attribute}"), ErrorKind::EmptyField)
        );
    }
    let (field, kind, _) = single_error(&["attributes", "source"], json!("--"));
    assert_eq!(
        (field.as_str(), kind),
        ("attributes.source", ErrorKind::EmptyField)
    );
    let (field, kind, _) = single_error(&["attributes", "company"], json!(12));
    assert_eq!(
        (field.as_str(), kind),
        ("attributes.company", ErrorKind::WrongType)
    );
}

#[test]
fn missing_fields_and_unknown_fields_are_all_reported() {
    let errors = errors_of(&json!({"levle": "warn", "msg": "x"}));
    let found: Vec<(&str, ErrorKind)> = errors.iter().map(|(f, k, _)| (f.as_str(), *k)).collect();
    assert_eq!(
        found,
        vec![
            ("$", ErrorKind::UnknownField),
            ("$", ErrorKind::UnknownField),
            ("message", ErrorKind::MissingField),
            ("service", ErrorKind::MissingField),
        ]
    );
    assert!(errors[0].2.contains("\"levle\""), "{}", errors[0].2);
    assert!(errors[1].2.contains("\"msg\""), "{}", errors[1].2);
}

#[test]
fn attributes_are_bounded() {
    let many: serde_json::Map<String, Value> = (0..=MAX_OTHER_ATTRIBUTES)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect();
    let errors = errors_of(&json!({"message": "m", "service": "s", "attributes": many}));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].0.as_str(), errors[0].1),
        ("attributes", ErrorKind::OutOfRange)
    );
    let long_name = json!({"message": "m", "service": "s", "attributes": {"k".repeat(200): 1}});
    assert_eq!(errors_of(&long_name)[0].1, ErrorKind::OutOfRange);
}

#[test]
fn not_json_and_not_an_object_are_their_own_kinds() {
    let error = LogEvent::parse(b"{\"message\": ").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MalformedJson);
    let error = LogEvent::parse(b"[1, 2]").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotAnObject);
}

#[test]
fn a_given_level_is_normalized_and_trusted() {
    let bytes = full().to_string();
    let classifier = Fixed(LogSeverity::Debug, 0.3);
    let event = standardize_log_event(bytes.as_bytes(), received(), &classifier).unwrap();
    assert_eq!(event.severity, LogSeverity::Error);
    assert_eq!(event.severity_source, SeveritySource::Given);
    assert_eq!(event.severity_confidence, 1.0);
    assert_eq!(event.level.as_deref(), Some("ERR"));
    assert_eq!(event.timestamp_source, TimestampSource::Given);
    assert_eq!(
        event.timestamp,
        "2026-11-21T07:43:00.250Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(event.event_id, event_id(bytes.as_bytes()));
    assert_eq!(event.source.as_deref(), Some("zoho-projects"));
    assert_eq!(event.object_id.as_deref(), Some("1995"));
    assert_eq!(
        event.trace_id.as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(event.attributes.len(), 2);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["schema_version"], "standardized-app-log-v1");
    assert_eq!(json["severity"], "error");
    assert_eq!(json["severity_source"], "given");
    assert_eq!(json["timestamp"], "2026-11-21T07:43:00.250Z");
    let back: obs_records::StandardizedLogEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
}

#[test]
fn without_a_usable_level_the_classifier_decides() {
    let classifier = Fixed(LogSeverity::Warning, 0.75);
    for level in [None, Some(json!("loud")), Some(json!(9))] {
        let mut value = json!({"message": "disk 91% full", "service": "db"});
        if let Some(level) = &level {
            value["level"] = level.clone();
        }
        let bytes = value.to_string();
        let event = standardize_log_event(bytes.as_bytes(), received(), &classifier).unwrap();
        assert_eq!(event.severity, LogSeverity::Warning, "{level:?}");
        assert_eq!(event.severity_source, SeveritySource::Classified);
        assert_eq!(event.severity_confidence, 0.75);
        assert_eq!(event.timestamp, received());
        assert_eq!(event.timestamp_source, TimestampSource::Received);
    }
    // A syslog number is a level.
    let bytes = br#"{"message":"m","service":"s","level":3}"#;
    let event = standardize_log_event(bytes, received(), &classifier).unwrap();
    assert_eq!(
        (event.severity, event.severity_source),
        (LogSeverity::Error, SeveritySource::Given)
    );
    // The trace id attribute stands in for a missing top-level one.
    let bytes = br#"{"message":"m","service":"s","attributes":{"trace_id":"t1"}}"#;
    let event = standardize_log_event(bytes, received(), &classifier).unwrap();
    assert_eq!(event.trace_id.as_deref(), Some("t1"));
}

#[test]
fn confidence_is_kept_in_range() {
    let bytes = br#"{"message":"m","service":"s"}"#;
    let high = standardize_log_event(bytes, received(), &Fixed(LogSeverity::Info, 1.5)).unwrap();
    assert_eq!(high.severity_confidence, 1.0);
    let low = standardize_log_event(bytes, received(), &Fixed(LogSeverity::Info, -0.5)).unwrap();
    assert_eq!(low.severity_confidence, 0.0);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn no_input_panics_and_errors_name_a_field(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = LogEvent::parse(&bytes);
    }

    #[test]
    fn every_error_of_an_object_names_a_known_field(
        fields in proptest::collection::btree_map(
            prop_oneof![
                Just("message".to_owned()), Just("service".to_owned()), Just("level".to_owned()),
                Just("timestamp".to_owned()), Just("attributes".to_owned()),
                Just("trace_id".to_owned()), "[a-z]{1,6}",
            ],
            any_json(),
            0..8,
        )
    ) {
        let value = Value::Object(fields.into_iter().collect());
        if let Err(RecordError::Invalid(errors)) = LogEvent::parse(value.to_string().as_bytes()) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                let known = error.field == "$"
                    || obs_records::log_event::LOG_EVENT_FIELDS.contains(&error.field)
                    || error.field.starts_with("attributes.");
                prop_assert!(known, "{}", error);
                prop_assert!(!error.problem.is_empty());
            }
        }
    }

    #[test]
    fn valid_events_standardize_with_a_severity(
        message in "[a-zA-Z0-9 .:%-]{1,80}",
        service in "[a-z-]{1,20}",
        level in proptest::option::of("[a-zA-Z0-9]{0,8}"),
    ) {
        prop_assume!(!message.trim().is_empty());
        let mut value = json!({"message": message, "service": service});
        if let Some(level) = level.as_ref().filter(|l| !l.is_empty()) {
            value["level"] = json!(level);
        }
        let bytes = value.to_string();
        let event = standardize_log_event(bytes.as_bytes(), received(), &Fixed(LogSeverity::Info, 0.5)).unwrap();
        let given = level.as_deref().and_then(LogSeverity::from_level);
        prop_assert_eq!(event.severity_source == SeveritySource::Given, given.is_some());
        prop_assert!((0.0..=1.0).contains(&event.severity_confidence));
    }
}
