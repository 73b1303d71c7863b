//! The `console` section of processing's configuration: where the other services answer,
//! and when an object counts as silent.

use crate::config::error::InvalidConfig;
use serde::{Deserialize, Serialize};

/// Longest accepted [`ConsoleConfig::status_timeout_ms`]: the pipeline page refreshes
/// every few seconds and must not wait longer than that for a service that is down.
pub const MAX_STATUS_TIMEOUT_MS: u64 = 5_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Base URL of the ingestion service, whose `/status` and `/metrics` the pipeline page
    /// shows.
    pub ingestion_url: String,
    /// Base URL of the standardization service, likewise.
    pub standardization_url: String,
    /// Base URL of an instance running processing's stages, likewise, for an instance
    /// running the views alone; unset, the page shows this process (`role = all`).
    pub processing_url: Option<String>,
    /// How long the pipeline page waits for another service before showing it as
    /// unreachable.
    pub status_timeout_ms: u64,
    /// An object is silent when the time since its latest run exceeds this many of its
    /// usual intervals between runs.
    pub silent_after_intervals: f64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            ingestion_url: "http://127.0.0.1:8001".into(),
            standardization_url: "http://127.0.0.1:8002".into(),
            processing_url: None,
            status_timeout_ms: 1_000,
            silent_after_intervals: 3.0,
        }
    }
}

impl ConsoleConfig {
    /// Refuses values the console cannot work with, naming the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        for (key, url) in [
            ("ingestion_url", Some(&self.ingestion_url)),
            ("standardization_url", Some(&self.standardization_url)),
            ("processing_url", self.processing_url.as_ref()),
        ] {
            let Some(url) = url else { continue };
            let scheme = reqwest::Url::parse(url).map(|u| u.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("http")) {
                return Err(invalid(key, format!("must be an http:// URL, got {url:?}")));
            }
        }
        if !(1..=MAX_STATUS_TIMEOUT_MS).contains(&self.status_timeout_ms) {
            return Err(invalid(
                "status_timeout_ms",
                format!(
                    "must be from 1 to {MAX_STATUS_TIMEOUT_MS}, got {}",
                    self.status_timeout_ms
                ),
            ));
        }
        if !(self.silent_after_intervals.is_finite() && self.silent_after_intervals >= 1.0) {
            return Err(invalid(
                "silent_after_intervals",
                format!("must be at least 1, got {}", self.silent_after_intervals),
            ));
        }
        Ok(())
    }
}

fn invalid(key: &'static str, reason: String) -> InvalidConfig {
    InvalidConfig {
        section: "console",
        key,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_key(change: impl FnOnce(&mut ConsoleConfig)) -> &'static str {
        let mut config = ConsoleConfig::default();
        change(&mut config);
        config.validate().unwrap_err().key
    }

    #[test]
    fn defaults_are_valid_and_invalid_values_name_their_key() {
        assert_eq!(ConsoleConfig::default().validate(), Ok(()));
        assert_eq!(
            invalid_key(|c| c.ingestion_url = "127.0.0.1:8001".into()),
            "ingestion_url"
        );
        // TLS is not built into the client (reqwest without a TLS backend).
        assert_eq!(
            invalid_key(|c| c.standardization_url = "https://std:8002".into()),
            "standardization_url"
        );
        assert_eq!(
            invalid_key(|c| c.processing_url = Some("processing-stages:8003".into())),
            "processing_url"
        );
        assert_eq!(
            invalid_key(|c| c.status_timeout_ms = 0),
            "status_timeout_ms"
        );
        assert_eq!(
            invalid_key(|c| c.status_timeout_ms = 60_000),
            "status_timeout_ms"
        );
        assert_eq!(
            invalid_key(|c| c.silent_after_intervals = 0.5),
            "silent_after_intervals"
        );
        assert_eq!(
            invalid_key(|c| c.silent_after_intervals = f64::NAN),
            "silent_after_intervals"
        );
    }

    #[test]
    fn config_refuses_unknown_keys_and_fills_defaults() {
        let config: ConsoleConfig =
            serde_json::from_str(r#"{"ingestion_url": "http://ingestion:8001"}"#).unwrap();
        assert_eq!(config.ingestion_url, "http://ingestion:8001");
        assert_eq!(config.standardization_url, "http://127.0.0.1:8002");
        assert!(serde_json::from_str::<ConsoleConfig>(r#"{"ingestion": "x"}"#).is_err());
    }
}
