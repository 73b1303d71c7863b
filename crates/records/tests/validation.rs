//! Validation of raw records: every field's error names the field and the problem, all
//! problems come at once, and no input panics the validator.

use obs_records::{ErrorKind, RawRecord, RecordError, WIRE_FIELDS};
use proptest::prelude::*;
use serde_json::{json, Value};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);

fn seed_lines() -> Vec<String> {
    std::fs::read_to_string(SEED)
        .expect("tests/fixtures/seed-logs.json")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn valid() -> Value {
    serde_json::from_str(&seed_lines()[0]).unwrap()
}

fn errors_of(value: &Value) -> Vec<(String, ErrorKind, String)> {
    match RawRecord::from_json(value) {
        Ok(record) => panic!("expected errors, got {record:?}"),
        Err(RecordError::Invalid(errors)) => errors
            .into_iter()
            .map(|e| (e.field.to_owned(), e.kind, e.problem))
            .collect(),
        Err(other) => panic!("expected field errors, got {other}"),
    }
}

fn single_error(field: &str, value: Value) -> (String, ErrorKind, String) {
    let mut record = valid();
    record[field] = value;
    let errors = errors_of(&record);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, field);
    errors.into_iter().next().unwrap()
}

#[test]
fn the_field_data_is_valid_and_typed() {
    let lines = seed_lines();
    assert_eq!(lines.len(), 72);
    for line in &lines {
        RawRecord::parse(line.as_bytes()).unwrap();
    }
    let first = RawRecord::parse(lines[0].as_bytes()).unwrap();
    assert_eq!(first.object_id, 1995);
    assert_eq!(first.cpu_time_seconds, 0.09);
    assert_eq!(first.sequence_hour, 16);
    assert_eq!(first.series_key(), "akonovia:zohoprojects:1995");
    assert_eq!(first.record_id(), "akonovia:2025-09-05-16-45:1995");
}

#[test]
fn every_field_reports_missing_and_wrong_type_by_its_wire_name() {
    let fields: Vec<String> = valid().as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields.len(), 18);
    for field in &fields {
        let mut record = valid();
        record.as_object_mut().unwrap().remove(field);
        let errors = errors_of(&record);
        assert_eq!(
            errors,
            vec![(
                field.clone(),
                ErrorKind::MissingField,
                "required field is missing".into()
            )]
        );
        let (_, kind, problem) = single_error(field, json!([1]));
        assert_eq!(kind, ErrorKind::WrongType, "{field}: {problem}");
        assert!(problem.contains("got an array"), "{field}: {problem}");
        let (_, kind, _) = single_error(field, Value::Null);
        assert_eq!(kind, ErrorKind::MissingField);
    }
}

#[test]
fn value_errors_say_what_was_expected_and_what_came() {
    let cases = [
        (
            "Objet_Id",
            json!("1995"),
            ErrorKind::WrongType,
            "expected an integer, got a string",
        ),
        (
            "Objet_Id",
            json!(12.5),
            ErrorKind::WrongType,
            "expected an integer, got 12.5",
        ),
        (
            "memory_used (bytes)",
            json!(1.5),
            ErrorKind::WrongType,
            "expected an integer",
        ),
        (
            "cpu_time (sec)",
            json!("abc"),
            ErrorKind::WrongType,
            "numeric string, got \"abc\"",
        ),
        (
            "cpu_time (sec)",
            json!("-1"),
            ErrorKind::OutOfRange,
            "expected a finite number >= 0",
        ),
        (
            "cpu_time (sec)",
            json!("NaN"),
            ErrorKind::OutOfRange,
            "expected a finite number >= 0",
        ),
        (
            "Duree secondes",
            json!(-0.5),
            ErrorKind::OutOfRange,
            "got -0.5",
        ),
        (
            "Duree secondes",
            json!("0.5"),
            ErrorKind::WrongType,
            "expected a number, got a string",
        ),
        (
            "Debut",
            json!("2025-09-05 16:45:26"),
            ErrorKind::InvalidTimestamp,
            "expected DD-MM-YYYY HH:MM:SS[.ffffff]",
        ),
        (
            "Fin",
            json!("31-02-2025 10:00:00"),
            ErrorKind::InvalidTimestamp,
            "\"31-02-2025 10:00:00\"",
        ),
        (
            "Date_Sequence",
            json!("2025-13-01"),
            ErrorKind::InvalidTimestamp,
            "expected a date YYYY-MM-DD",
        ),
        (
            "Heure_Sequence",
            json!("24"),
            ErrorKind::OutOfRange,
            "expected an integer 0-23",
        ),
        (
            "Minute_Sequence",
            json!("x"),
            ErrorKind::OutOfRange,
            "expected an integer 0-59",
        ),
        (
            "Etat",
            json!("DONE"),
            ErrorKind::UnknownStatus,
            "expected one of SUCCESS, FAILED, got \"DONE\"",
        ),
        (
            "Etat",
            json!("success"),
            ErrorKind::UnknownStatus,
            "got \"success\"",
        ),
        (
            "Entreprise",
            json!("  "),
            ErrorKind::EmptyField,
            "must not be empty",
        ),
        (
            "Entreprise",
            json!("a:b"),
            ErrorKind::OutOfRange,
            "must not contain ':'",
        ),
        (
            "No_Sequence",
            json!(""),
            ErrorKind::EmptyField,
            "must not be empty",
        ),
        (
            "Source",
            json!("--"),
            ErrorKind::EmptyField,
            "must contain a letter or digit",
        ),
    ];
    for (field, value, kind, text) in cases {
        let (_, got_kind, problem) = single_error(field, value.clone());
        assert_eq!(got_kind, kind, "{field} = {value}: {problem}");
        assert!(
            problem.contains(text),
            "{field} = {value}: {problem:?} lacks {text:?}"
        );
    }
}

#[test]
fn accepted_variants_of_the_wire_format() {
    let mut record = valid();
    record["cpu_time (sec)"] = json!(0.25);
    record["memory_used (bytes)"] = json!(-4096);
    record["Heure_Sequence"] = json!(7);
    record["Debut"] = json!("05-09-2025 16:45:26");
    record["Description"] = json!("");
    let parsed = RawRecord::from_json(&record).unwrap();
    assert_eq!(parsed.cpu_time_seconds, 0.25);
    assert_eq!(parsed.memory_used_bytes, -4096);
    assert_eq!(parsed.sequence_hour, 7);
}

#[test]
fn all_problems_are_reported_at_once_in_field_order() {
    let mut record = valid();
    record["Objet_Id"] = json!("x");
    record["Etat"] = json!("?");
    record["Fin"] = json!("later");
    let fields: Vec<String> = errors_of(&record).into_iter().map(|e| e.0).collect();
    assert_eq!(fields, vec!["Objet_Id", "Etat", "Fin"]);
}

#[test]
fn non_objects_and_non_json_are_refused_with_their_kind() {
    let errors = errors_of(&json!([1, 2]));
    assert_eq!(errors[0].0, "$");
    assert_eq!(errors[0].1, ErrorKind::NotAnObject);
    let error = RawRecord::parse(b"{\"a\":").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MalformedJson);
    assert!(error.to_string().starts_with("malformed JSON: "), "{error}");
}

#[test]
fn records_serialize_back_to_the_wire_format() {
    for line in seed_lines() {
        let record = RawRecord::parse(line.as_bytes()).unwrap();
        let again = RawRecord::parse(&record.to_json_bytes()).unwrap();
        assert_eq!(again, record);
        let original: Value = serde_json::from_str(&line).unwrap();
        let written: Value = serde_json::from_slice(&record.to_json_bytes()).unwrap();
        assert_eq!(written, original);
        let text = String::from_utf8(record.to_json_bytes()).unwrap();
        let at: Vec<Option<usize>> = WIRE_FIELDS
            .iter()
            .map(|field| text.find(&format!("\"{field}\":")))
            .collect();
        assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{text}");
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        "[0-9]{1,2}-[0-9]{1,2}-[0-9]{4} [0-9:.]{0,15}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json()) {
        let _ = RawRecord::from_json(&value);
    }

    #[test]
    fn arbitrary_values_in_real_fields_never_panic_and_name_the_field(
        field in prop::sample::select(WIRE_FIELDS.to_vec()),
        value in arbitrary_json(),
    ) {
        let mut record = valid();
        record[field] = value;
        if let Err(RecordError::Invalid(errors)) = RawRecord::from_json(&record) {
            prop_assert!(errors.iter().all(|e| e.field == field));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = RawRecord::parse(&bytes);
    }
}
