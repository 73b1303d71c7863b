//! Reading a `timestamp,value` series and writing its scores.

use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// One data row, with its text kept to be echoed unchanged.
pub struct Row<'a> {
    /// 1-based line number in the file.
    pub line: usize,
    pub timestamp_text: &'a str,
    pub value_text: &'a str,
    pub timestamp: DateTime<Utc>,
    pub value: f64,
}

/// Timestamps as NAB and most exports write them, read as UTC when they carry no offset.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN))
    })
    .map(|t| t.and_utc())
}

/// The rows of a CSV whose header is `timestamp,value`; blank lines are skipped. Errors
/// name the line and the problem (the caller adds the file).
pub fn parse(text: &str) -> Result<Vec<Row<'_>>> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = lines.next().map(|(_, h)| h.trim_start_matches('\u{feff}'));
    let columns: Vec<String> = header
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if columns != ["timestamp", "value"] {
        bail!(
            "line 1: header is {:?}, expected \"timestamp,value\"",
            header.unwrap_or_default()
        );
    }
    let mut rows = Vec::new();
    for (line, text) in lines.filter(|(_, l)| !l.is_empty()) {
        let Some((timestamp_text, value_text)) = text.split_once(',') else {
            bail!("line {line}: expected two fields, timestamp and value, got {text:?}");
        };
        let (timestamp_text, value_text) = (timestamp_text.trim(), value_text.trim());
        if value_text.contains(',') {
            bail!("line {line}: expected two fields, timestamp and value, got {text:?}");
        }
        let Some(timestamp) = parse_timestamp(timestamp_text) else {
            bail!("line {line}: timestamp {timestamp_text:?} is not a date and time (e.g. 2014-04-01 00:00:00)");
        };
        let Ok(value) = value_text.parse::<f64>() else {
            bail!("line {line}: value {value_text:?} is not a number");
        };
        rows.push(Row {
            line,
            timestamp_text,
            value_text,
            timestamp,
            value,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nab_rows_and_says_where_it_fails() {
        let rows = parse("timestamp,value\n2014-04-01 00:00:00,20.5\n\n2014-04-01T00:05:00Z,-1\n")
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].line, rows[1].value), (4, -1.0));
        assert_eq!(rows[0].timestamp_text, "2014-04-01 00:00:00");
        assert_eq!((rows[1].timestamp - rows[0].timestamp).num_seconds(), 300);
        let err = |text: &str| parse(text).err().unwrap().to_string();
        assert!(err("time,value\n").starts_with("line 1: header"));
        assert!(
            err("timestamp,value\n2014-04-01 00:00:00,abc\n").starts_with("line 2: value \"abc\"")
        );
        assert!(err("timestamp,value\nyesterday,1\n").starts_with("line 2: timestamp"));
        assert!(err("timestamp,value\n2014-04-01,1,2\n").starts_with("line 2: expected two fields"));
    }
}
