//! The fast path against the validating path: on the field records, on edited and
//! re-escaped ones and on arbitrary bytes, the fast path declines or returns exactly the
//! validating path's record, and `RawRecord::parse` always returns the validating path's
//! result.

use super::fast_path;
use super::fields::WIRE_FIELDS;
use super::reader::parse_via_value;
use super::record::RawRecord;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// The 72 field records, one per line; read in place, never copied into the project.
const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
));

fn seed_lines() -> Vec<&'static str> {
    SEED.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The fast path declines or returns exactly the validating path's record (floats
/// compared bit for bit, `==` would equate `-0.0` and `0.0`), and `parse` always
/// returns exactly the validating path's result.
fn check_same(bytes: &[u8]) -> Result<(), TestCaseError> {
    let slow = parse_via_value(bytes);
    if let Some(fast) = fast_path::parse(bytes) {
        let text = String::from_utf8_lossy(bytes);
        let Ok(expected) = &slow else {
            return Err(TestCaseError::fail(format!(
                "fast path accepted what the validating path refuses ({slow:?}): {text}"
            )));
        };
        prop_assert_eq!(&fast, expected, "{}", text);
        prop_assert_eq!(
            fast.duration_seconds.to_bits(),
            expected.duration_seconds.to_bits()
        );
        prop_assert_eq!(
            fast.cpu_time_seconds.to_bits(),
            expected.cpu_time_seconds.to_bits()
        );
        prop_assert_eq!(fast.to_json_bytes(), expected.to_json_bytes());
    }
    prop_assert_eq!(RawRecord::parse(bytes), slow);
    Ok(())
}

fn check(bytes: &[u8]) {
    if let Err(e) = check_same(bytes) {
        panic!("{e}");
    }
}

fn takes_fast_path(bytes: &[u8]) -> bool {
    fast_path::parse(bytes).is_some()
}

#[test]
fn every_seed_record_takes_the_fast_path_with_the_same_result() {
    let lines = seed_lines();
    assert_eq!(lines.len(), 72);
    for line in lines {
        assert!(takes_fast_path(line.as_bytes()), "{line}");
        check(line.as_bytes());
    }
}

/// Seed record 0 with `extra` entries put first and `tail` entries put last.
fn around(extra: &str, tail: &str) -> Vec<u8> {
    let line = seed_lines()[0];
    let inner = &line[1..line.len() - 1];
    let mut text = String::from("{");
    if !extra.is_empty() {
        text.push_str(extra);
        text.push_str(", ");
    }
    text.push_str(inner);
    if !tail.is_empty() {
        text.push_str(", ");
        text.push_str(tail);
    }
    text.push('}');
    text.into_bytes()
}

#[test]
fn unknown_fields_are_allowed_on_the_fast_path() {
    let bytes = around(r#""extra": {"nested": [1, 2.5, "x", null, true]}"#, "");
    assert!(takes_fast_path(&bytes));
    check(&bytes);
}

#[test]
fn repeated_keys_keep_the_last_value_on_both_paths() {
    for (first, last) in [
        (r#""Zone": "2-Std""#, r#""Zone": "3-Gold""#),
        (r#""Zone": 5"#, r#""Zone": "ok""#),
        (r#""Etat": "SUCCESS""#, r#""Etat": "DONE""#),
        (r#""Etat": "DONE""#, r#""Etat": "FAILED""#),
        (r#""Objet_Id": 1"#, r#""Objet_Id": null"#),
        (r#""Objet_Id": [1]"#, r#""Objet_Id": 2"#),
    ] {
        check(&around(first, last));
        check(&around(last, first));
    }
    let parsed = RawRecord::parse(&around("", r#""Zone": "3-Gold""#)).unwrap();
    assert_eq!(parsed.zone, "3-Gold");
    assert!(takes_fast_path(&around("", r#""Zone": "3-Gold""#)));
}

/// What a skipped (rather than parsed) unknown value would have let through, and the
/// keys `serde_json` reserves (they only change the validating path's result when
/// serde_json's `raw_value` feature is on, as it is in the services through axum; run
/// `cargo test -p obs-records -p obs-service --lib raw::` to check with it).
#[test]
fn unknown_values_are_refused_exactly_when_the_validating_path_refuses_them() {
    let deep = |n: usize| format!(r#""deep": {}1{}"#, "[".repeat(n), "]".repeat(n));
    let mut cases: Vec<Vec<u8>> = vec![
        around(r#""x": "\ud800""#, ""),
        around(r#""x": "\udc00\ud800""#, ""),
        around(r#""x": 1e400"#, ""),
        around(r#""x": -1e400"#, ""),
        around(r#""x": 18446744073709551616"#, ""),
        around(r#""x": {"$serde_json::private::RawValue": "1"}"#, ""),
        around(r#""$serde_json::private::RawValue": "{}""#, ""),
        around(r#""$serde_json::private::Number": "1""#, ""),
    ];
    for n in 120..=132 {
        cases.push(around(&deep(n), ""));
    }
    let mut invalid_utf8 = around(r#""x": "é""#, "");
    if let Some(at) = invalid_utf8.iter().position(|b| *b == 0xC3) {
        invalid_utf8[at] = 0xFF;
    }
    cases.push(invalid_utf8);
    for case in cases {
        check(&case);
    }
    assert!(RawRecord::parse(&around(r#""x": "\ud800""#, "")).is_err());
    assert!(RawRecord::parse(&around(&deep(200), "")).is_err());
}

#[test]
fn other_shapes_are_left_to_the_validating_path() {
    let line = seed_lines()[0];
    let record: Value = serde_json::from_str(line).unwrap();
    let values: Vec<Value> = WIRE_FIELDS.iter().map(|f| record[*f].clone()).collect();
    let as_array = serde_json::to_vec(&values).unwrap();
    assert!(!takes_fast_path(&as_array));
    check(&as_array);
    for text in [
        format!("{line} x"),
        format!("{line} {{}}"),
        format!(" \n{line}\n "),
        format!("[{line}]"),
        line.replacen("\"Zone\"", "\"Zo\\u006ee\"", 1),
        line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": -0", 1),
        line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 1995.0", 1),
        line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 1.995e3", 1),
        line.replacen("\"Duree secondes\": 0.898215", "\"Duree secondes\": -0", 1),
        line.replacen(
            "\"Duree secondes\": 0.898215",
            "\"Duree secondes\": -0.0",
            1,
        ),
        line.replacen("\"Duree secondes\": 0.898215", "\"Duree secondes\": 7", 1),
        line.replacen(
            "\"cpu_time (sec)\": \"0.09\"",
            "\"cpu_time (sec)\": \" +1e2 \"",
            1,
        ),
        line.replacen(
            "\"cpu_time (sec)\": \"0.09\"",
            "\"cpu_time (sec)\": \"inf\"",
            1,
        ),
        line.replacen(
            "\"cpu_time (sec)\": \"0.09\"",
            "\"cpu_time (sec)\": \"-0\"",
            1,
        ),
        line.replacen(
            "\"Heure_Sequence\": \"16\"",
            "\"Heure_Sequence\": \" +7\\t\"",
            1,
        ),
        line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": 16", 1),
        line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": 16.0", 1),
        line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": null", 1),
        line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": -5", 1),
        line.replacen("\"Heure_Sequence\": \"16\"", "\"Heure_Sequence\": -0", 1),
        line.replacen(
            "\"Heure_Sequence\": \"16\"",
            "\"Heure_Sequence\": \"-0\"",
            1,
        ),
        line.replacen(
            "\"Minute_Sequence\": \"45\"",
            "\"Minute_Sequence\": 4294967341",
            1,
        ),
        line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": -1995", 1),
        line.replacen("\"Objet_Id\": 1995", "\"Objet_Id\": 9223372036854775808", 1),
        line.replacen("\"Source\": \"zohoprojects\"", "\"Source\": \" -é- \"", 1),
        line.replacen("\"Source\": \"zohoprojects\"", "\"Source\": \"_\"", 1),
        line.replacen(
            "\"Entreprise\": \"akonovia\"",
            "\"Entreprise\": \"\\u0020\"",
            1,
        ),
        line.replacen(
            "\"Entreprise\": \"akonovia\"",
            "\"Entreprise\": \"a\\u003ab\"",
            1,
        ),
        line.replacen("05-09-2025 16:45:26.191702", "5-9-2025 16:45:26.191702", 1),
        line.replacen("05-09-2025 16:45:26.191702", "31-12-2016 23:59:60.5", 1),
        line.replacen("\"2025-09-05\"", "\"2025-9-5\"", 1),
    ] {
        check(text.as_bytes());
    }
    let escaped_key = line.replacen("\"Zone\"", "\"Zo\\u006ee\"", 1);
    assert!(takes_fast_path(escaped_key.as_bytes()));
}

/// A value put in a record: JSON, or raw bytes written verbatim (numbers in shapes
/// `Value` does not keep, invalid strings, invalid JSON).
#[derive(Debug, Clone)]
enum Piece {
    Json(Value),
    Raw(Vec<u8>),
}

fn scalar_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-2i64..70).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-1.0f64..100.0).prop_map(Value::from),
        "[ -~éà😀\"\\\\\n\t:]{0,12}".prop_map(Value::from),
        "[ \t+-]{0,2}[0-9]{0,3}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?[ \n]?".prop_map(Value::from),
        prop::sample::select(vec![
            "",
            " ",
            "inf",
            "NaN",
            "-inf",
            "infinity",
            "-0",
            "SUCCESS",
            "FAILED",
            "success",
            "16",
            "23",
            "24",
            "59",
            "60",
            "_",
            "--",
            "a:b",
            "Tout roule, pas de stress!",
        ])
        .prop_map(Value::from),
        "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}".prop_map(Value::from),
        "[0-3][0-9]-[01][0-9]-20[0-9]{2} [0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?"
            .prop_map(Value::from),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    let json = scalar_json().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-z$:]{0,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        8 => json.prop_map(Piece::Json),
        1 => prop::sample::select(vec![
            &b"-0"[..], b"-0.0", b"5.0", b"1E2", b"1e400", b"-1e400", b"1e-400",
            b"18446744073709551616", b"-9223372036854775809", b"9223372036854775808",
            b"\"\\ud800\"", b"\"\\ud83d\\ude00\"", b"\"\xff\"", b"\"\xc3\"", b"[[[[1]]]]",
            b"{\"a\":{}}", b"tru", b"01", b"\"\\u003a\"", b"\"\\/\"",
        ])
        .prop_map(|raw| Piece::Raw(raw.to_vec())),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(WIRE_FIELDS.to_vec()).prop_map(String::from),
        2 => "[A-Za-z_ ()é]{0,12}",
        1 => Just("$serde_json::private::RawValue".to_owned()),
    ]
}

/// How strings (keys included) are escaped: as `serde_json` writes them, non-ASCII as
/// `\u`, everything as `\u`, or every other character as `\u`.
fn write_str(out: &mut Vec<u8>, text: &str, style: u8) {
    if style == 0 {
        out.extend(serde_json::to_vec(text).unwrap());
        return;
    }
    out.push(b'"');
    for (i, c) in text.chars().enumerate() {
        let escape = c == '"'
            || c == '\\'
            || c < ' '
            || (style == 1 && !c.is_ascii())
            || style == 2
            || (style == 3 && i % 2 == 0);
        if escape {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.extend(format!("\\u{unit:04x}").bytes());
            }
        } else {
            let mut buf = [0u8; 4];
            out.extend(c.encode_utf8(&mut buf).bytes());
        }
    }
    out.push(b'"');
}

fn write_json(out: &mut Vec<u8>, value: &Value, style: u8) {
    match value {
        Value::String(s) => write_str(out, s, style),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item, style);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k, style);
                out.push(b':');
                write_json(out, v, style);
            }
            out.push(b'}');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap()),
    }
}

/// A seed record with `edits` applied, as the list of its entries (repeats allowed).
fn edited(index: usize, edits: &[(u8, String, Piece)]) -> Vec<(String, Piece)> {
    let record: Value = serde_json::from_str(seed_lines()[index]).unwrap();
    let mut entries: Vec<(String, Piece)> = record
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Piece::Json(v.clone())))
        .collect();
    for (op, key, piece) in edits {
        match op % 4 {
            0 => match entries.iter_mut().rev().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = piece.clone(),
                None => entries.push((key.clone(), piece.clone())),
            },
            1 => entries.retain(|(k, _)| k != key),
            2 => entries.push((key.clone(), piece.clone())),
            _ => entries.insert(0, (key.clone(), piece.clone())),
        }
    }
    entries
}

fn write_record(entries: &[(String, Piece)], style: u8, spaced: bool) -> Vec<u8> {
    let gap: &[u8] = if spaced { b" \n\t" } else { b"" };
    let mut out = vec![b'{'];
    for (i, (key, piece)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(gap);
        write_str(&mut out, key, style);
        out.extend(gap);
        out.push(b':');
        out.extend(gap);
        match piece {
            Piece::Json(value) => write_json(&mut out, value, style),
            Piece::Raw(raw) => out.extend(raw),
        }
    }
    out.extend(gap);
    out.push(b'}');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Seed records, whole or edited (values replaced with anything, fields removed,
    /// repeated first or last, unknown fields added), written with any escaping.
    #[test]
    fn fast_path_agrees_with_the_validating_path_on_edited_records(
        index in 0usize..72,
        edits in prop::collection::vec((any::<u8>(), key(), piece()), 0..4),
        style in 0u8..4,
        spaced in any::<bool>(),
    ) {
        let bytes = write_record(&edited(index, &edits), style, spaced);
        check_same(&bytes)?;
        if edits.is_empty() {
            prop_assert!(takes_fast_path(&bytes));
        }
    }

    /// Seed records with one field re-written in every escaping: still the fast path.
    #[test]
    fn escaped_seed_records_take_the_fast_path(index in 0usize..72, style in 0u8..4) {
        let bytes = write_record(&edited(index, &[]), style, false);
        prop_assert!(takes_fast_path(&bytes));
        check_same(&bytes)?;
    }

    #[test]
    fn fast_path_agrees_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        check_same(&bytes)?;
    }
}
