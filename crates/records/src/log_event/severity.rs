//! The five severities of an application log event, and how a client's `level` maps to
//! them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Severity of an application log event, from least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LogSeverity {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogSeverity {
    /// Every severity, least severe first; the index of each is its class number in the
    /// severity classifier.
    pub const ALL: [LogSeverity; 5] = [
        LogSeverity::Debug,
        LogSeverity::Info,
        LogSeverity::Warning,
        LogSeverity::Error,
        LogSeverity::Critical,
    ];

    /// The label used in JSON, metrics and the classifier's corpus.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSeverity::Debug => "debug",
            LogSeverity::Info => "info",
            LogSeverity::Warning => "warning",
            LogSeverity::Error => "error",
            LogSeverity::Critical => "critical",
        }
    }

    /// The severity a label names exactly (`debug`... `critical`), as written by
    /// [`LogSeverity::as_str`].
    pub fn from_label(label: &str) -> Option<LogSeverity> {
        LogSeverity::ALL.into_iter().find(|s| s.as_str() == label)
    }

    /// Normalizes a client's `level`: the common spellings of logging libraries and
    /// syslog, case-insensitive, surrounding spaces ignored, and the syslog numbers
    /// (0 emergency … 7 debug). Anything else is `None`: the event is then classified
    /// from its text rather than guessed from an unknown word.
    pub fn from_level(level: &str) -> Option<LogSeverity> {
        let level = level.trim();
        if let Ok(number) = level.parse::<u8>() {
            return LogSeverity::from_syslog(number);
        }
        let severity = match level.to_ascii_lowercase().as_str() {
            "trace" | "debug" | "verbose" => LogSeverity::Debug,
            "info" | "information" | "informational" | "notice" => LogSeverity::Info,
            "warn" | "warning" => LogSeverity::Warning,
            "err" | "error" | "severe" => LogSeverity::Error,
            "crit" | "critical" | "fatal" | "panic" | "emerg" | "emergency" | "alert" => {
                LogSeverity::Critical
            }
            _ => return None,
        };
        Some(severity)
    }

    /// Syslog severities (RFC 5424): 0-2 critical, 3 error, 4 warning, 5-6 info, 7 debug.
    pub fn from_syslog(number: u8) -> Option<LogSeverity> {
        match number {
            0..=2 => Some(LogSeverity::Critical),
            3 => Some(LogSeverity::Error),
            4 => Some(LogSeverity::Warning),
            5 | 6 => Some(LogSeverity::Info),
            7 => Some(LogSeverity::Debug),
            _ => None,
        }
    }
}

impl fmt::Display for LogSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event's severity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeveritySource {
    /// The client's `level`, normalized.
    Given,
    /// No or an unrecognized `level`: the classifier read the message.
    Classified,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_spellings_normalize() {
        let cases = [
            ("trace", LogSeverity::Debug),
            ("DEBUG", LogSeverity::Debug),
            ("Info", LogSeverity::Info),
            ("information", LogSeverity::Info),
            ("notice", LogSeverity::Info),
            ("warn", LogSeverity::Warning),
            (" WARNING ", LogSeverity::Warning),
            ("err", LogSeverity::Error),
            ("Error", LogSeverity::Error),
            ("crit", LogSeverity::Critical),
            ("critical", LogSeverity::Critical),
            ("FATAL", LogSeverity::Critical),
            ("panic", LogSeverity::Critical),
            ("emerg", LogSeverity::Critical),
            ("alert", LogSeverity::Critical),
            ("0", LogSeverity::Critical),
            ("2", LogSeverity::Critical),
            ("3", LogSeverity::Error),
            ("4", LogSeverity::Warning),
            ("5", LogSeverity::Info),
            ("6", LogSeverity::Info),
            ("7", LogSeverity::Debug),
        ];
        for (level, expected) in cases {
            assert_eq!(LogSeverity::from_level(level), Some(expected), "{level}");
        }
    }

    #[test]
    fn unknown_levels_are_none() {
        for level in [
            "", "  ", "8", "-1", "256", "loud", "warnings", "e rror", "info!",
        ] {
            assert_eq!(LogSeverity::from_level(level), None, "{level:?}");
        }
    }

    #[test]
    fn labels_round_trip() {
        for severity in LogSeverity::ALL {
            assert_eq!(LogSeverity::from_label(severity.as_str()), Some(severity));
            assert_eq!(LogSeverity::from_level(severity.as_str()), Some(severity));
            let json = serde_json::to_string(&severity).unwrap();
            assert_eq!(json, format!("\"{severity}\""));
        }
        assert!(LogSeverity::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    proptest! {
        #[test]
        fn normalization_ignores_case_and_padding(
            index in 0usize..5,
            upper in proptest::collection::vec(any::<bool>(), 8),
            pad in "[ \t]{0,3}",
        ) {
            let label = LogSeverity::ALL[index].as_str();
            let mixed: String = label
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            let level = format!("{pad}{mixed}{pad}");
            prop_assert_eq!(LogSeverity::from_level(&level), Some(LogSeverity::ALL[index]));
        }

        #[test]
        fn any_text_normalizes_without_panicking(level in ".{0,40}") {
            let _ = LogSeverity::from_level(&level);
        }
    }
}
