//! The connectors' naive timestamp format, `DD-MM-YYYY HH:MM:SS[.ffffff]`.

use chrono::NaiveDateTime;

/// `chrono` format of `Debut` / `Fin`; `%.f` also accepts a missing fraction.
pub const CONNECTOR_TIME_FORMAT: &str = "%d-%m-%Y %H:%M:%S%.f";

/// Parses a connector timestamp; the zone is not part of it (see standardization).
pub fn parse_connector_time(text: &str) -> Result<NaiveDateTime, chrono::ParseError> {
    NaiveDateTime::parse_from_str(text, CONNECTOR_TIME_FORMAT)
}

/// Writes a timestamp the way the connectors do, always with microseconds.
pub fn format_connector_time(time: &NaiveDateTime) -> String {
    time.format("%d-%m-%Y %H:%M:%S%.6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

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
}
