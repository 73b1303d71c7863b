//! Standardization against the field seed records, the daylight-saving edge cases, the
//! failure classification, and properties over arbitrary input.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use chrono_tz::Tz;
use obs_records::standardize::UNKNOWN_ERROR;
use obs_records::{
    parse_time_zone, standardize, standardize_bytes, ErrorKind, FailureKind, QualityFlag,
    RawRecord, RecordError, StandardizeOptions, StandardizedRecord, Status,
    STANDARDIZED_SCHEMA_VERSION, WIRE_FIELDS,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The 72 field records (NDJSON), kept as a fixture in tests/fixtures.
const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
));

fn seed_lines() -> Vec<&'static str> {
    SEED.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn seed_objects() -> Vec<Map<String, Value>> {
    seed_lines()
        .into_iter()
        .map(|line| match serde_json::from_str(line).unwrap() {
            Value::Object(map) => map,
            other => panic!("seed line is not an object: {other}"),
        })
        .collect()
}

fn seed_by_object_id(object_id: i64) -> Map<String, Value> {
    seed_objects()
        .into_iter()
        .find(|o| o["Objet_Id"] == json!(object_id))
        .unwrap_or_else(|| panic!("no seed record with Objet_Id {object_id}"))
}

fn first_seed() -> Map<String, Value> {
    seed_objects().remove(0)
}

fn paris() -> StandardizeOptions {
    StandardizeOptions::with_zone_name("Europe/Paris").unwrap()
}

fn run(
    object: &Map<String, Value>,
    options: &StandardizeOptions,
) -> Result<StandardizedRecord, RecordError> {
    standardize_bytes(&serde_json::to_vec(object).unwrap(), options)
}

fn ok(object: &Map<String, Value>) -> StandardizedRecord {
    run(object, &StandardizeOptions::default()).unwrap()
}

fn with(mut object: Map<String, Value>, changes: &[(&str, Value)]) -> Map<String, Value> {
    for (field, value) in changes {
        object.insert((*field).to_owned(), value.clone());
    }
    object
}

fn failed_with(description: &str) -> Map<String, Value> {
    with(
        first_seed(),
        &[
            ("Etat", json!("FAILED")),
            ("Description", json!(description)),
        ],
    )
}

/// The single field error of a refused record.
fn single_error(result: Result<StandardizedRecord, RecordError>) -> obs_records::FieldError {
    match result {
        Err(RecordError::Invalid(errors)) if errors.len() == 1 => errors[0].clone(),
        other => panic!("expected exactly one field error, got {other:?}"),
    }
}

#[test]
fn every_seed_record_standardizes() {
    for options in [StandardizeOptions::default(), paris()] {
        let failures: Vec<String> = seed_lines()
            .iter()
            .filter_map(|line| standardize_bytes(line.as_bytes(), &options).err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(seed_lines().len(), 72);
        assert!(failures.is_empty(), "{failures:?}");
    }
}

#[test]
fn first_seed_record_exact_values() {
    let record = ok(&first_seed());
    assert_eq!(record.record_id, "akonovia:2025-09-05-16-45:1995");
    assert_eq!(record.series_key, "akonovia:zohoprojects:1995");
    assert_eq!(record.schema_version, STANDARDIZED_SCHEMA_VERSION);
    assert_eq!(record.source, "zohoprojects");
    assert_eq!(record.cpu_time_seconds, 0.09);
    assert_eq!(record.memory_used_bytes, 5_517_312);
    assert_eq!(record.status, Status::Success);
    assert_eq!(record.error_message, None);
    assert_eq!(record.error_kind, None);
    assert!(record.quality.is_empty());

    let json = serde_json::to_value(&record).unwrap();
    let expected = json!({
        "record_id": "akonovia:2025-09-05-16-45:1995",
        "series_key": "akonovia:zohoprojects:1995",
        "schema_version": "standardized-v1",
        "sequence_id": "2025-09-05-16-45",
        "sequence_time": "2025-09-05T16:45:00Z",
        "company": "akonovia",
        "zone": "1-Raw",
        "source": "zohoprojects",
        "object_id": 1995,
        "object_type": "projects",
        "transformation": "Zoho_API_get_data",
        "status": "SUCCESS",
        "start_time": "2025-09-05T16:45:26.191702Z",
        "end_time": "2025-09-05T16:45:27.089917Z",
        "duration_seconds": 0.898215,
        "cpu_time_seconds": 0.09,
        "memory_used_bytes": 5517312,
        "description": "Tout roule, pas de stress!",
        "error_message": null,
        "error_kind": null,
        "quality": []
    });
    assert_eq!(json, expected);
}

#[test]
fn source_is_slugged_in_the_field_and_the_key() {
    let object = seed_objects()
        .into_iter()
        .find(|o| o["Source"] == "EasyProjects")
        .unwrap();
    let record = ok(&object);
    assert_eq!(record.source, "easyprojects");
    assert_eq!(
        record.series_key,
        format!("akonovia:easyprojects:{}", record.object_id)
    );
}

#[test]
fn failed_seed_record_is_a_missing_field() {
    let record = ok(&seed_by_object_id(1035));
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.error_message.as_deref(), Some("'id'"));
    assert_eq!(record.error_kind, Some(FailureKind::MissingField));
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["error_kind"], "missing_field");
    assert_eq!(json["status"], "FAILED");
}

#[test]
fn only_the_two_negative_memory_seeds_are_flagged() {
    let mut flagged: Vec<(i64, Vec<QualityFlag>)> = seed_objects()
        .iter()
        .map(ok)
        .filter(|r| !r.quality.is_empty())
        .map(|r| (r.object_id, r.quality))
        .collect();
    flagged.sort_by_key(|(id, _)| *id);
    assert_eq!(
        flagged,
        vec![
            (1216, vec![QualityFlag::NegativeMemory]),
            (1313, vec![QualityFlag::NegativeMemory]),
        ]
    );
    let json = serde_json::to_value(ok(&seed_by_object_id(1313))).unwrap();
    assert_eq!(json["quality"], json!(["negative_memory"]));
}

#[test]
fn naive_times_are_read_in_the_configured_zone() {
    let record = run(&first_seed(), &paris()).unwrap();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["start_time"], "2025-09-05T14:45:26.191702Z");
    assert_eq!(json["end_time"], "2025-09-05T14:45:27.089917Z");
    assert_eq!(json["sequence_time"], "2025-09-05T14:45:00Z");
    // The keys do not depend on the zone.
    assert_eq!(record.record_id, "akonovia:2025-09-05-16-45:1995");
}

#[test]
fn a_local_time_skipped_by_dst_is_refused() {
    let object = with(first_seed(), &[("Debut", json!("29-03-2026 02:30:00"))]);
    let error = single_error(run(&object, &paris()));
    assert_eq!(error.field, "Debut");
    assert_eq!(error.kind, ErrorKind::InvalidTimestamp);
    assert!(
        error.problem.contains("does not exist"),
        "{}",
        error.problem
    );
    assert!(error.problem.contains("Europe/Paris"), "{}", error.problem);
    // The same wall time is fine in UTC.
    assert!(run(&object, &StandardizeOptions::default()).is_ok());
}

#[test]
fn a_local_time_repeated_by_dst_is_refused() {
    let object = with(first_seed(), &[("Fin", json!("25-10-2026 02:30:00"))]);
    let error = single_error(run(&object, &paris()));
    assert_eq!(error.field, "Fin");
    assert_eq!(error.kind, ErrorKind::InvalidTimestamp);
    assert!(error.problem.contains("ambiguous"), "{}", error.problem);
}

#[test]
fn a_sequence_time_skipped_by_dst_is_refused() {
    let object = with(
        first_seed(),
        &[
            ("Date_Sequence", json!("2026-03-29")),
            ("Heure_Sequence", json!("02")),
            ("Minute_Sequence", json!("15")),
        ],
    );
    let error = single_error(run(&object, &paris()));
    assert_eq!(error.field, "Heure_Sequence");
    assert_eq!(error.kind, ErrorKind::InvalidTimestamp);
}

#[test]
fn every_time_problem_is_reported_at_once() {
    let object = with(
        first_seed(),
        &[
            ("Debut", json!("29-03-2026 02:30:00")),
            ("Fin", json!("25-10-2026 02:30:00")),
        ],
    );
    match run(&object, &paris()) {
        Err(RecordError::Invalid(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["Debut", "Fin"]);
            assert!(errors.iter().all(|e| e.kind == ErrorKind::InvalidTimestamp));
        }
        other => panic!("expected two errors, got {other:?}"),
    }
}

#[test]
fn a_run_across_a_dst_change_is_measured_in_real_time() {
    // 01:59 CEST (23:59Z) to 03:01 CET (02:01Z): 2 h 2 min really elapsed, 1 h 2 min on
    // the wall clock. The reported duration is the real one, so nothing is flagged.
    let object = with(
        first_seed(),
        &[
            ("Debut", json!("25-10-2026 01:59:00")),
            ("Fin", json!("25-10-2026 03:01:00")),
            ("Duree secondes", json!(7320.0)),
        ],
    );
    let record = run(&object, &paris()).unwrap();
    assert_eq!(
        record.end_time - record.start_time,
        TimeDelta::seconds(7320)
    );
    assert!(record.quality.is_empty(), "{:?}", record.quality);
}

#[test]
fn duration_mismatch_needs_both_one_second_and_one_percent() {
    let base = with(
        first_seed(),
        &[
            ("Debut", json!("05-09-2025 16:00:00")),
            ("cpu_time (sec)", json!("0.10")),
        ],
    );
    let flags = |fin: &str, duration: f64| {
        ok(&with(
            base.clone(),
            &[("Fin", json!(fin)), ("Duree secondes", json!(duration))],
        ))
        .quality
    };
    // 1.5 s off a 100 s run: 1.5 % → flagged.
    assert_eq!(
        flags("05-09-2025 16:01:40", 101.5),
        [QualityFlag::DurationMismatch]
    );
    // 1.5 s off a 1000 s run: 0.15 % → not flagged.
    assert!(flags("05-09-2025 16:16:40", 1001.5).is_empty());
    // 0.5 s off a 0.5 s run: 100 % but under a second → not flagged.
    assert!(flags("05-09-2025 16:00:00.500000", 1.0).is_empty());
    // Fin before Debut while a duration is reported.
    assert_eq!(
        flags("05-09-2025 15:59:00", 60.0),
        [QualityFlag::DurationMismatch]
    );
}

#[test]
fn cpu_above_wall_time_is_flagged() {
    let record = ok(&with(
        first_seed(),
        &[
            ("cpu_time (sec)", json!("0.95")),
            ("memory_used (bytes)", json!(-1)),
        ],
    ));
    assert_eq!(
        record.quality,
        [QualityFlag::NegativeMemory, QualityFlag::CpuAboveWallTime]
    );
    // Equal is not above.
    let record = ok(&with(first_seed(), &[("cpu_time (sec)", json!(0.898215))]));
    assert!(record.quality.is_empty());
}

#[test]
fn each_failure_kind_is_recognised_from_a_realistic_text() {
    let cases = [
        (
            "HTTPSConnectionPool(host='www.zohoapis.eu', port=443): Read timed out. (read timeout=30)",
            FailureKind::Timeout,
        ),
        ("Request timeout after 60s", FailureKind::Timeout),
        (
            "401 Client Error: Unauthorized for url: https://graph.microsoft.com/v1.0/sites",
            FailureKind::Authentication,
        ),
        (
            "{\"code\":\"INVALID_TOKEN\",\"message\":\"invalid_token\"}",
            FailureKind::Authentication,
        ),
        ("HTTP 403 Forbidden", FailureKind::Authentication),
        ("Authentication failed for user svc-etl", FailureKind::Authentication),
        (
            "429 Client Error: Too Many Requests for url: https://api.powerbi.com/v1.0/myorg/groups",
            FailureKind::RateLimit,
        ),
        ("Rate limit exceeded, retry in 60 seconds", FailureKind::RateLimit),
        (
            "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
            FailureKind::Network,
        ),
        (
            "HTTPSConnectionPool(host='crm.efficy.io', port=443): Max retries exceeded with url: /api/v1 (Caused by NewConnectionError: [Errno -3] Temporary failure in name resolution)",
            FailureKind::Network,
        ),
        ("ConnectionError: [Errno 111] Connection refused", FailureKind::Network),
        ("'id'", FailureKind::MissingField),
        ("  'project_id'  ", FailureKind::MissingField),
        ("KeyError: 'value'", FailureKind::MissingField),
        ("missing field `owner` at line 1 column 80", FailureKind::MissingField),
        ("division by zero", FailureKind::Other),
        ("'two words'", FailureKind::Other),
        ("object 14010 not found", FailureKind::Other),
        (
            "Traceback (most recent call last):\n  File \"etl.py\", line 403, in run\nValueError: bad date",
            FailureKind::Other,
        ),
    ];
    for (text, kind) in cases {
        assert_eq!(FailureKind::classify(text), kind, "{text}");
        let record = ok(&failed_with(text));
        assert_eq!(record.error_kind, Some(kind), "{text}");
        assert_eq!(record.error_message.as_deref(), Some(text.trim()));
    }
    // Serialized labels.
    let labels: Vec<Value> = FailureKind::ALL
        .iter()
        .map(|k| serde_json::to_value(k).unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "timeout",
            "authentication",
            "rate_limit",
            "network",
            "missing_field",
            "other"
        ]
    );
}

#[test]
fn a_failure_without_a_usable_description_is_an_unknown_error() {
    for description in ["Tout roule, pas de stress!", "", "   "] {
        let record = ok(&failed_with(description));
        assert_eq!(
            record.error_message.as_deref(),
            Some(UNKNOWN_ERROR),
            "{description:?}"
        );
        assert_eq!(record.error_kind, Some(FailureKind::Other));
        assert_eq!(record.description, description);
    }
}

#[test]
fn a_success_has_no_error_even_with_an_error_like_text() {
    let record = ok(&with(first_seed(), &[("Description", json!("'id'"))]));
    assert_eq!(record.error_message, None);
    assert_eq!(record.error_kind, None);
}

#[test]
fn bad_records_come_back_with_the_right_kind() {
    let error = single_error(run(
        &with(first_seed(), &[("Etat", json!("RUNNING"))]),
        &StandardizeOptions::default(),
    ));
    assert_eq!(
        (error.field, error.kind),
        ("Etat", ErrorKind::UnknownStatus)
    );

    let error = single_error(run(
        &with(first_seed(), &[("Debut", json!("2025-09-05 16:45:26"))]),
        &StandardizeOptions::default(),
    ));
    assert_eq!(
        (error.field, error.kind),
        ("Debut", ErrorKind::InvalidTimestamp)
    );

    let mut missing = first_seed();
    missing.remove("Objet_Id");
    let error = single_error(run(&missing, &StandardizeOptions::default()));
    assert_eq!(
        (error.field, error.kind),
        ("Objet_Id", ErrorKind::MissingField)
    );

    let error =
        standardize_bytes(b"{\"No_Sequence\": ", &StandardizeOptions::default()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MalformedJson);
}

#[test]
fn a_hand_built_record_with_non_finite_numbers_is_refused() {
    let mut raw = RawRecord::parse(seed_lines()[0].as_bytes()).unwrap();
    raw.duration_seconds = f64::NAN;
    raw.cpu_time_seconds = -1.0;
    match standardize(&raw, &StandardizeOptions::default()) {
        Err(RecordError::Invalid(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| (e.field, e.kind)).collect();
            assert_eq!(
                fields,
                [
                    ("Duree secondes", ErrorKind::OutOfRange),
                    ("cpu_time (sec)", ErrorKind::OutOfRange)
                ]
            );
        }
        other => panic!("expected two errors, got {other:?}"),
    }
}

#[test]
fn time_zones_parse_by_iana_name() {
    assert_eq!(
        parse_time_zone("Europe/Paris").unwrap(),
        chrono_tz::Europe::Paris
    );
    assert_eq!(parse_time_zone(" UTC ").unwrap(), Tz::UTC);
    assert_eq!(StandardizeOptions::default().zone, Tz::UTC);
    let error = parse_time_zone("Europe/Pari").unwrap_err();
    assert!(error.to_string().contains("\"Europe/Pari\""), "{error}");
    assert!(StandardizeOptions::with_zone_name("CEST+2").is_err());
}

#[test]
fn borrowed_and_byte_paths_agree_and_seeds_round_trip() {
    let options = paris();
    for line in seed_lines() {
        let from_bytes = standardize_bytes(line.as_bytes(), &options).unwrap();
        let raw = RawRecord::parse(line.as_bytes()).unwrap();
        assert_eq!(standardize(&raw, &options).unwrap(), from_bytes);
        let json = serde_json::to_vec(&from_bytes).unwrap();
        let back: StandardizedRecord = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, from_bytes);
    }
}

// ---- properties ----

/// Zones with the awkward cases: DST gaps and overlaps, a 30-minute DST (Lord Howe), a
/// whole skipped day (Apia, 30-12-2011), a zone without DST.
fn zones() -> impl Strategy<Value = StandardizeOptions> {
    prop::sample::select(vec![
        Tz::UTC,
        chrono_tz::Europe::Paris,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Apia,
        chrono_tz::Asia::Kolkata,
    ])
    .prop_map(|zone| StandardizeOptions { zone })
}

/// Values that look like what the fields hold, and values that do not.
fn field_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        prop::sample::select(vec![
            "SUCCESS",
            "FAILED",
            "",
            ":",
            "2025-09-05",
            "2026-03-29",
            "16",
            "02",
            "99",
            "-1",
            "0.09",
            "NaN",
            "inf",
            "05-09-2025 16:45:26.191702",
            "29-03-2026 02:30:00",
            "25-10-2026 02:30:00",
            "30-12-2011 12:00:00",
            "'id'",
            "Tout roule, pas de stress!",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A seed record with some fields replaced, removed or added: close enough to valid to
/// reach standardization, not only validation.
fn mutated_seed() -> impl Strategy<Value = Map<String, Value>> {
    let seeds = seed_objects();
    (
        prop::sample::select(seeds),
        prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(WIRE_FIELDS.to_vec()).prop_map(str::to_owned),
                    "\\PC{0,8}",
                ],
                prop::option::weighted(0.8, field_value()),
            ),
            0..6,
        ),
    )
        .prop_map(|(mut object, changes)| {
            for (field, value) in changes {
                match value {
                    Some(value) => object.insert(field, value),
                    None => object.remove(&field),
                };
            }
            object
        })
}

fn naive_time() -> impl Strategy<Value = NaiveDateTime> {
    // 1970 to 2099, microsecond precision: what the connector format carries.
    (0u64..47_000, 0u64..86_400_000_000).prop_filter_map("in range", |(days, micros)| {
        let date = NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_days(Days::new(days))?;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(
            u32::try_from(micros / 1_000_000).ok()?,
            u32::try_from(micros % 1_000_000 * 1_000).ok()?,
        )?;
        Some(date.and_time(time))
    })
}

/// Any record validation accepts. Numbers are limited to the precision the connectors
/// write (microseconds, hundredths) so they survive JSON exactly.
fn valid_raw() -> impl Strategy<Value = RawRecord> {
    let identifier = "[A-Za-z0-9][A-Za-z0-9 _.-]{0,15}";
    (
        (
            identifier,
            naive_time(),
            0u32..24,
            0u32..60,
            identifier,
            any::<String>(),
            "[ ./-]{0,2}[A-Za-z0-9][A-Za-z0-9 _./-]{0,15}",
            any::<i64>(),
            any::<String>(),
        ),
        (
            any::<String>(),
            any::<String>(),
            prop::sample::select(Status::ALL.to_vec()),
            naive_time(),
            prop::option::weighted(0.2, naive_time()),
            0u64..10_000_000_000,
            any::<String>(),
            0u32..10_000_000,
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (
                    sequence_id,
                    sequence,
                    hour,
                    minute,
                    company,
                    zone,
                    source,
                    object_id,
                    object_type,
                ),
                (
                    transformation,
                    parameters,
                    status,
                    start,
                    end,
                    duration_micros,
                    description,
                    cpu_hundredths,
                    memory_used_bytes,
                ),
            )| {
                let duration_seconds = duration_micros as f64 / 1e6;
                RawRecord {
                    sequence_id,
                    sequence_date: sequence.date(),
                    sequence_hour: hour,
                    sequence_minute: minute,
                    company,
                    zone,
                    source,
                    object_id,
                    object_type,
                    transformation,
                    parameters,
                    status,
                    start,
                    // Mostly Fin = Debut + duration, sometimes unrelated.
                    end: end
                        .unwrap_or_else(|| start + TimeDelta::microseconds(duration_micros as i64)),
                    duration_seconds,
                    description,
                    cpu_time_seconds: f64::from(cpu_hundredths) / 100.0,
                    memory_used_bytes,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), options in zones()) {
        let _ = standardize_bytes(&bytes, &options);
    }

    #[test]
    fn arbitrary_objects_of_the_fields_never_panic(
        fields in prop::collection::btree_map(prop::sample::select(WIRE_FIELDS.to_vec()), field_value(), 0..=WIRE_FIELDS.len()),
        options in zones(),
    ) {
        let object: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let _ = standardize_bytes(&serde_json::to_vec(&object).unwrap(), &options);
    }

    #[test]
    fn mutated_seeds_standardize_or_say_why(object in mutated_seed(), options in zones()) {
        match standardize_bytes(&serde_json::to_vec(&object).unwrap(), &options) {
            Ok(record) => {
                let json = serde_json::to_vec(&record).unwrap();
                let back: StandardizedRecord = serde_json::from_slice(&json).unwrap();
                prop_assert_eq!(back, record);
            }
            Err(RecordError::Invalid(errors)) => prop_assert!(!errors.is_empty()),
            Err(RecordError::Malformed(_)) => prop_assert!(false, "serde_json wrote invalid JSON"),
        }
    }

    #[test]
    fn valid_records_standardize_and_round_trip(raw in valid_raw()) {
        let options = StandardizeOptions::default();
        let bytes = raw.to_json_bytes();
        let record = standardize_bytes(&bytes, &options).unwrap();
        prop_assert_eq!(&standardize(&raw, &options).unwrap(), &record);
        prop_assert_eq!(&record.record_id, &raw.record_id());
        prop_assert_eq!(&record.series_key, &raw.series_key());
        prop_assert_eq!(record.start_time.naive_utc(), raw.start);
        prop_assert_eq!(record.error_kind.is_some(), raw.status == Status::Failed);
        prop_assert_eq!(
            record.quality.contains(&QualityFlag::NegativeMemory),
            raw.memory_used_bytes < 0
        );

        let json = serde_json::to_vec(&record).unwrap();
        let back: StandardizedRecord = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(back, record);
    }

    #[test]
    fn in_any_zone_a_valid_record_standardizes_or_is_a_dst_refusal(raw in valid_raw(), options in zones()) {
        match standardize(&raw, &options) {
            Ok(record) => prop_assert_eq!(&record.record_id, &raw.record_id()),
            Err(RecordError::Invalid(errors)) => {
                prop_assert!(!errors.is_empty());
                for error in errors {
                    prop_assert_eq!(error.kind, ErrorKind::InvalidTimestamp);
                    prop_assert!(["Heure_Sequence", "Debut", "Fin"].contains(&error.field));
                    prop_assert!(
                        error.problem.contains("does not exist") || error.problem.contains("ambiguous"),
                        "{}", error.problem
                    );
                }
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
