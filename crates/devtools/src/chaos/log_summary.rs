//! The warnings and errors of a stage's JSON log, counted by what they say: the part of
//! its log the report shows when a stage did not come back.

use std::collections::HashMap;

/// Longest text kept of one warning.
const MAX_TEXT: usize = 240;

/// Each distinct warning or error among `log`'s lines (JSON, as the services write them)
/// with how often it came, the most frequent first (then the earliest), at most `limit`.
pub fn warnings(log: &str, limit: usize) -> Vec<(usize, String)> {
    // Text → (count, first line).
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for (index, line) in log.lines().enumerate() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let level = entry["level"].as_str().unwrap_or_default();
        if level != "WARN" && level != "ERROR" {
            continue;
        }
        let mut text = format!("{level} {}", entry["message"].as_str().unwrap_or_default());
        if let Some(error) = entry["error"].as_str() {
            text.push_str(": ");
            text.push_str(error);
        }
        if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT) {
            text.truncate(cut);
            text.push('…');
        }
        seen.entry(text).or_insert((0, index)).0 += 1;
    }
    let mut counted: Vec<(usize, usize, String)> = seen
        .into_iter()
        .map(|(text, (count, first))| (count, first, text))
        .collect();
    counted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    counted
        .into_iter()
        .take(limit)
        .map(|(count, _, text)| (count, text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_warnings_and_errors_by_text_most_frequent_first() {
        let log = [
            r#"{"level":"INFO","message":"transactions initialized"}"#,
            r#"{"level":"WARN","message":"librdkafka: GETPID retrying"}"#,
            r#"{"level":"ERROR","message":"global error","error":"AllBrokersDown"}"#,
            "not json: a panic's message",
            r#"{"level":"ERROR","message":"global error","error":"AllBrokersDown"}"#,
            r#"{"level":"WARN","message":"error","error":"timed out"}"#,
        ]
        .join("\n");
        assert_eq!(
            warnings(&log, 2),
            vec![
                (2, "ERROR global error: AllBrokersDown".to_owned()),
                (1, "WARN librdkafka: GETPID retrying".to_owned()),
            ]
        );
        assert_eq!(warnings(&log, 10).len(), 3);
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(1000);
        let log = format!(r#"{{"level":"WARN","message":"{long}"}}"#);
        let (_, text) = &warnings(&log, 1)[0];
        assert_eq!(text.chars().count(), MAX_TEXT + 1);
        assert!(text.ends_with('…'));
    }
}
