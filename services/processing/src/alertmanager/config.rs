//! The `[alertmanager]` section: its values, their validation, and the endpoint they
//! give (shown in logs without its credentials).

use crate::config::error::InvalidConfig;
use serde::{Deserialize, Serialize};

/// Longest `resend_interval_seconds`: an incident fires for four of them after it was
/// last sent, so a longer one would keep incidents firing for a day after processing
/// stopped.
const MAX_RESEND_SECONDS: u64 = 6 * 3600;

/// Where and how incidents are sent (`[alertmanager]`, `OBS_ALERTMANAGER__*`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL of Alertmanager, e.g. `http://alertmanager:9093` (basic auth:
    /// `http://user:password@host:9093`); `None` disables the notifier.
    pub url: Option<String>,
    /// Most incidents in one POST.
    pub batch_max_alerts: usize,
    /// Timeout of one POST.
    pub request_timeout_ms: u64,
    /// First pause before a failed POST is repeated; doubled up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Every active incident is sent again this often, firing until four of these later.
    pub resend_interval_seconds: u64,
    /// Incidents resolved this recently are sent (resolved) after a restart too.
    pub resolved_lookback_seconds: u64,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            url: None,
            batch_max_alerts: 100,
            request_timeout_ms: 10_000,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            resend_interval_seconds: 60,
            resolved_lookback_seconds: 3600,
        }
    }
}

impl AlertmanagerConfig {
    /// Checks the values, so a bad one fails at start-up with its key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let invalid = |key, reason: String| {
            Err(InvalidConfig {
                section: "alertmanager",
                key,
                reason,
            })
        };
        if let Some(url) = &self.url {
            if let Err(reason) = alerts_endpoint(url) {
                return invalid("url", reason);
            }
        }
        for (key, value) in [
            ("batch_max_alerts", self.batch_max_alerts as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("retry_initial_ms", self.retry_initial_ms),
            ("resend_interval_seconds", self.resend_interval_seconds),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if self.resend_interval_seconds > MAX_RESEND_SECONDS {
            return invalid(
                "resend_interval_seconds",
                format!(
                    "must be at most {MAX_RESEND_SECONDS}, got {}",
                    self.resend_interval_seconds
                ),
            );
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return invalid(
                "retry_max_ms",
                format!(
                    "must be at least retry_initial_ms ({}), got {}",
                    self.retry_initial_ms, self.retry_max_ms
                ),
            );
        }
        Ok(())
    }
}

/// `<url>/api/v2/alerts`, or why `url` cannot be used. Messages never repeat the URL:
/// it may carry basic-auth credentials (`http://user:password@host:9093`).
pub(super) fn alerts_endpoint(url: &str) -> Result<reqwest::Url, String> {
    let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
    let parsed = reqwest::Url::parse(&endpoint).map_err(|e| format!("not a URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "scheme {}: only http:// is supported (this build has no TLS; use a TLS proxy)",
            parsed.scheme()
        ));
    }
    Ok(parsed)
}

/// `endpoint` without its credentials, for the logs.
pub(super) fn redacted(endpoint: &reqwest::Url) -> String {
    let mut shown = endpoint.clone();
    // Only fails for URLs that cannot have credentials, which then have none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_validated_with_the_key_at_fault() {
        assert_eq!(AlertmanagerConfig::default().validate(), Ok(()));
        let with = |change: fn(&mut AlertmanagerConfig)| {
            let mut config = AlertmanagerConfig::default();
            change(&mut config);
            config.validate().map_err(|e| e.key)
        };
        assert_eq!(
            with(|c| c.url = Some("http://alertmanager:9093/".into())),
            Ok(())
        );
        assert_eq!(
            with(|c| c.url = Some("https://am.example:9093".into())),
            Err("url")
        );
        assert_eq!(
            with(|c| c.url = Some("alertmanager:9093".into())),
            Err("url")
        );
        assert_eq!(with(|c| c.batch_max_alerts = 0), Err("batch_max_alerts"));
        assert_eq!(with(|c| c.retry_max_ms = 1), Err("retry_max_ms"));
        assert_eq!(
            with(|c| c.resend_interval_seconds = 86_400),
            Err("resend_interval_seconds")
        );
        assert_eq!(
            alerts_endpoint("http://am:9093/prefix/").map(|u| u.to_string()),
            Ok("http://am:9093/prefix/api/v2/alerts".to_owned())
        );
        let with_password = alerts_endpoint("http://user:s3cret@am:9093").unwrap();
        assert_eq!(redacted(&with_password), "http://am:9093/api/v2/alerts");
        let refused = alerts_endpoint("https://user:s3cret@am:9093").unwrap_err();
        assert!(!refused.contains("s3cret"), "{refused}");
    }
}
