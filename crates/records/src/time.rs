//! The connectors' naive timestamp format, `DD-MM-YYYY HH:MM:SS[.ffffff]`, and the
//! `YYYY-MM-DD` sequence date.
//!
//! Parsing goes through a hand-written reader of the exact layout the connectors write
//! first, because `chrono`'s format-string parser (which re-reads the format on every call
//! and accepts many looser shapes) is a large share of the per-record cost on the ingest
//! hot path. The reader only ever *accepts* a subset of what `chrono` accepts, with the
//! same result; anything else (single-digit fields, leading spaces, leap seconds, more
//! than nine fraction digits, garbage) is handed to `chrono`, so both the accepted
//! language and the error messages are exactly `chrono`'s.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};

/// `chrono` format of `Debut` / `Fin`; `%.f` also accepts a missing fraction.
pub const CONNECTOR_TIME_FORMAT: &str = "%d-%m-%Y %H:%M:%S%.f";

/// `chrono` format of `Date_Sequence`.
pub const SEQUENCE_DATE_FORMAT: &str = "%Y-%m-%d";

/// Parses a connector timestamp; the zone is not part of it (see standardization).
pub fn parse_connector_time(text: &str) -> Result<NaiveDateTime, chrono::ParseError> {
    match parse_connector_time_exact(text) {
        Some(time) => Ok(time),
        None => NaiveDateTime::parse_from_str(text, CONNECTOR_TIME_FORMAT),
    }
}

/// Parses a `Date_Sequence` (`YYYY-MM-DD`).
pub fn parse_sequence_date(text: &str) -> Result<NaiveDate, chrono::ParseError> {
    match parse_sequence_date_exact(text) {
        Some(date) => Ok(date),
        None => NaiveDate::parse_from_str(text, SEQUENCE_DATE_FORMAT),
    }
}

/// Serializes a UTC timestamp exactly as `chrono`'s `Serialize` does (RFC 3339, `Z`, the
/// fraction in 0, 3, 6 or 9 digits as needed), without the formatting machinery, which is
/// a tenth of the CPU of a stage that writes four timestamps per record. For
/// `#[serde(serialize_with = "obs_records::time::rfc3339")]`; years outside 0–9999 and leap
/// seconds go through `chrono`.
pub fn rfc3339<S: serde::Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return serde::Serialize::serialize(time, serializer);
    }
    // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for i in (at..at + digits).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year.unsigned_abs(), 4);
    put(5, time.month(), 2);
    put(8, time.day(), 2);
    put(11, time.hour(), 2);
    put(14, time.minute(), 2);
    put(17, time.second(), 2);
    put(20, nanos, 9);
    let end = match nanos {
        0 => 19,
        n if n % 1_000_000 == 0 => 23,
        n if n % 1_000 == 0 => 26,
        _ => 29,
    };
    text[end] = b'Z';
    match std::str::from_utf8(&text[..=end]) {
        Ok(text) => serializer.serialize_str(text),
        Err(_) => serde::Serialize::serialize(time, serializer),
    }
}

/// Deserializes a UTC timestamp as `chrono`'s `Deserialize` does, reading the shape this
/// stack writes (`YYYY-MM-DDTHH:MM:SS[.f…]Z`, see [`rfc3339`]) by hand and anything else
/// through `chrono`, so the accepted texts, the values and the errors are `chrono`'s. For
/// `#[serde(deserialize_with = "obs_records::time::deserialize_rfc3339")]`: a processing
/// stage reads five timestamps per record.
pub fn deserialize_rfc3339<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 formatted date and time string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            match parse_rfc3339_utc_exact(text) {
                Some(time) => Ok(time),
                None => text
                    .parse::<DateTime<FixedOffset>>()
                    .map(|time| time.with_timezone(&Utc))
                    .map_err(E::custom),
            }
        }
    }
    deserializer.deserialize_str(Visitor)
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, or `None` (then `chrono` decides).
fn parse_rfc3339_utc_exact(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let (head, rest) = bytes.split_at_checked(19)?;
    let [y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2] =
        head
    else {
        return None;
    };
    let [fraction @ .., b'Z'] = rest else {
        return None;
    };
    naive_date_time(
        [y1, y2, y3, y4],
        [mo1, mo2, d1, d2],
        [h1, h2, mi1, mi2, s1, s2],
        fraction,
    )
    .map(|time| Utc.from_utc_datetime(&time))
}

/// Writes a timestamp the way the connectors do, always with microseconds.
pub fn format_connector_time(time: &NaiveDateTime) -> String {
    time.format("%d-%m-%Y %H:%M:%S%.6f").to_string()
}

/// Reads exactly `DD-MM-YYYY HH:MM:SS` optionally followed by `.` and 1 to 9 digits, all
/// fields zero-padded ASCII digits, seconds below 60. `None` means "not this exact
/// shape or not a real date/time", never "invalid": the caller then asks `chrono`.
pub(crate) fn parse_connector_time_exact(text: &str) -> Option<NaiveDateTime> {
    let [d1, d2, b'-', mo1, mo2, b'-', y1, y2, y3, y4, b' ', h1, h2, b':', mi1, mi2, b':', s1, s2, fraction @ ..] =
        text.as_bytes()
    else {
        return None;
    };
    naive_date_time(
        [y1, y2, y3, y4],
        [mo1, mo2, d1, d2],
        [h1, h2, mi1, mi2, s1, s2],
        fraction,
    )
}

/// The date and time of zero-padded ASCII fields (`YYYY`, `MMDD`, `HHMMSS`) and a fraction
/// that is empty or `.` and 1 to 9 digits; `None` for anything else or a date or time that
/// does not exist. `from_hms_nano_opt` refuses hour 24, minute 60 and second 60 (a leap
/// second is `chrono`'s business, via the callers' fallback).
fn naive_date_time(
    [y1, y2, y3, y4]: [&u8; 4],
    [mo1, mo2, d1, d2]: [&u8; 4],
    [h1, h2, mi1, mi2, s1, s2]: [&u8; 6],
    fraction: &[u8],
) -> Option<NaiveDateTime> {
    let nanosecond = match fraction {
        [] => 0,
        // Same scaling as `%.f`: ".5" is 500 ms, ".191702" is 191 702 µs.
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut value = 0u32;
            for &digit in digits {
                value = value * 10 + ascii_digit(digit)?;
            }
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        four_digits(y1, y2, y3, y4)?,
        two_digits(mo1, mo2)?,
        two_digits(d1, d2)?,
    )?;
    let time = NaiveTime::from_hms_nano_opt(
        two_digits(h1, h2)?,
        two_digits(mi1, mi2)?,
        two_digits(s1, s2)?,
        nanosecond,
    )?;
    Some(date.and_time(time))
}

/// Reads exactly `YYYY-MM-DD`, zero-padded ASCII digits; `None` otherwise (see
/// [`parse_connector_time_exact`]).
pub(crate) fn parse_sequence_date_exact(text: &str) -> Option<NaiveDate> {
    let [y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2] = text.as_bytes() else {
        return None;
    };
    NaiveDate::from_ymd_opt(
        four_digits(y1, y2, y3, y4)?,
        two_digits(mo1, mo2)?,
        two_digits(d1, d2)?,
    )
}

fn ascii_digit(byte: u8) -> Option<u32> {
    byte.is_ascii_digit().then(|| u32::from(byte - b'0'))
}

fn two_digits(tens: &u8, units: &u8) -> Option<u32> {
    Some(ascii_digit(*tens)? * 10 + ascii_digit(*units)?)
}

fn four_digits(a: &u8, b: &u8, c: &u8, d: &u8) -> Option<i32> {
    let value = two_digits(a, b)? * 100 + two_digits(c, d)?;
    // At most 9999: always fits.
    i32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike};
    use proptest::prelude::*;

    fn chrono_time(text: &str) -> Result<NaiveDateTime, chrono::ParseError> {
        NaiveDateTime::parse_from_str(text, CONNECTOR_TIME_FORMAT)
    }

    fn chrono_date(text: &str) -> Result<NaiveDate, chrono::ParseError> {
        NaiveDate::parse_from_str(text, SEQUENCE_DATE_FORMAT)
    }

    #[test]
    fn parses_with_and_without_fraction() {
        let t = parse_connector_time("05-09-2025 16:45:26.191702").unwrap();
        assert_eq!(t.nanosecond(), 191_702_000);
        assert_eq!(format_connector_time(&t), "05-09-2025 16:45:26.191702");
        let t = parse_connector_time("05-09-2025 16:45:26").unwrap();
        assert_eq!(t.second(), 26);
        assert_eq!(t.nanosecond(), 0);
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "2025-09-05 16:45:26",
            "05-09-2025T16:45:26",
            "32-09-2025 16:45:26",
            "05-09-2025 16:45",
            "",
            "05-09-2025 16:45:26.19 extra",
        ] {
            assert!(parse_connector_time(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn looser_shapes_chrono_accepts_still_parse_through_the_fallback() {
        for loose in [
            "5-9-2025 16:45:26",
            " 05-09-2025 16:45:26",
            "05-09-2025  16:45:26",
            "05-09-2025 16:45:26.1234567891234",
            "31-12-2016 23:59:60",
            "05-09-+2025 16:45:26",
        ] {
            assert_eq!(parse_connector_time_exact(loose), None, "{loose}");
            assert_eq!(parse_connector_time(loose), chrono_time(loose), "{loose}");
            assert!(parse_connector_time(loose).is_ok(), "{loose}");
        }
        assert_eq!(parse_sequence_date_exact("2025-9-5"), None);
        assert_eq!(
            parse_sequence_date("2025-9-5"),
            Ok(NaiveDate::from_ymd_opt(2025, 9, 5).unwrap())
        );
    }

    /// Every day-month pair (valid or not) of leap, non-leap, century and edge years: the
    /// exact reader accepts precisely what `chrono` accepts, with the same value.
    #[test]
    fn exact_readers_match_chrono_on_every_calendar_day() {
        for year in [0, 1, 1900, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let date = format!("{year:04}-{month:02}-{day:02}");
                    assert_eq!(parse_sequence_date_exact(&date), chrono_date(&date).ok());
                    for fraction in ["", ".5", ".000001"] {
                        let time = format!("{day:02}-{month:02}-{year:04} 12:34:56{fraction}");
                        assert_eq!(parse_connector_time_exact(&time), chrono_time(&time).ok());
                    }
                }
            }
        }
    }

    /// Every hour-minute-second up to one past each bound; second 60 (a leap second) is
    /// left to `chrono`, which the public parser still honours.
    #[test]
    fn exact_reader_matches_chrono_on_every_time_of_day() {
        for hour in 0..=24 {
            for minute in 0..=60 {
                for second in 0..=60 {
                    let text = format!("28-02-2024 {hour:02}:{minute:02}:{second:02}.25");
                    let expected = chrono_time(&text);
                    assert_eq!(parse_connector_time(&text), expected, "{text}");
                    if second < 60 {
                        assert_eq!(parse_connector_time_exact(&text), expected.ok(), "{text}");
                    } else {
                        assert_eq!(parse_connector_time_exact(&text), None, "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_fraction_length_scales_like_chrono() {
        for digits in 0..=12 {
            let fraction: String = "123456789012".chars().take(digits).collect();
            let text = format!("05-09-2025 16:45:26.{fraction}");
            let expected = chrono_time(&text);
            assert_eq!(parse_connector_time(&text), expected, "{text}");
            if (1..=9).contains(&digits) {
                assert_eq!(parse_connector_time_exact(&text), expected.ok(), "{text}");
            } else {
                assert_eq!(parse_connector_time_exact(&text), None, "{text}");
            }
        }
    }

    /// Strings close to the layout (wrong widths, signs, spaces, separators, fractions,
    /// trailing text), and arbitrary ones.
    fn near_connector_time() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9 +-]{0,3}[-/][0-9 ]{1,3}-[0-9+-]{1,5}[ T]{0,2}[0-9 ]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9a]{0,11})?[ a.]?",
            "[0-3][0-9]-[01][0-9]-[0-9]{4} [0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?",
            ".{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn exact_time_reader_never_disagrees_with_chrono(text in near_connector_time()) {
            if let Some(time) = parse_connector_time_exact(&text) {
                prop_assert_eq!(Ok(time), chrono_time(&text), "{}", text);
            }
            prop_assert_eq!(parse_connector_time(&text), chrono_time(&text), "{}", text);
        }

        #[test]
        fn exact_date_reader_never_disagrees_with_chrono(
            text in prop_oneof!["[0-9+ -]{0,5}-[0-9 ]{1,3}-[0-9 ]{1,3}[ a]?", ".{0,12}"],
        ) {
            if let Some(date) = parse_sequence_date_exact(&text) {
                prop_assert_eq!(Ok(date), chrono_date(&text), "{}", text);
            }
            prop_assert_eq!(parse_sequence_date(&text), chrono_date(&text), "{}", text);
        }

        /// Every valid timestamp written in the layout, with 0 to 9 fraction digits, takes
        /// the exact reader and gives `chrono`'s value.
        #[test]
        fn valid_timestamps_take_the_exact_reader(
            days in 0i64..3_652_059,
            second_of_day in 0u32..86_400,
            nanosecond in 0u32..1_000_000_000,
            digits in 0usize..=9,
        ) {
            let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let nanos = format!("{nanosecond:09}");
            let fraction = if digits == 0 { String::new() } else { format!(".{}", &nanos[..digits]) };
            let text = format!(
                "{:02}-{:02}-{:04} {:02}:{:02}:{:02}{fraction}",
                date.day(), date.month(), date.year(),
                second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60,
            );
            let expected = chrono_time(&text).unwrap();
            prop_assert_eq!(parse_connector_time_exact(&text), Some(expected), "{}", text);
            let iso = date.format("%Y-%m-%d").to_string();
            prop_assert_eq!(parse_sequence_date_exact(&iso), Some(date));
        }
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_writes_what_chrono_writes(
            seconds in -70_000_000_000i64..300_000_000_000,
            nanos in proptest::prop_oneof![
                proptest::prelude::Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let time = DateTime::from_timestamp(seconds, nanos).unwrap();
            let mut ours = Vec::new();
            rfc3339(&time, &mut serde_json::Serializer::new(&mut ours)).unwrap();
            proptest::prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&time).unwrap()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn deserialize_rfc3339_reads_what_chrono_reads(
            seconds in 0i64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            digits in 0usize..=9,
            junk in proptest::option::of("[0-9TZz:.+ -]{0,4}"),
        ) {
            let time = DateTime::from_timestamp(seconds, nanos).unwrap();
            let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
            if digits > 0 {
                text.push_str(&format!(".{:09}", nanos)[..=digits]);
            }
            text.push('Z');
            if let Some(junk) = junk {
                text.insert_str(text.len() - 1, &junk);
            }
            let json = serde_json::to_string(&text).unwrap();
            let ours = deserialize_rfc3339(&mut serde_json::Deserializer::from_str(&json))
                .map_err(|e| e.to_string());
            let chrono = serde_json::from_str::<DateTime<Utc>>(&json).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(ours, chrono, "{}", text);
        }
    }
}
