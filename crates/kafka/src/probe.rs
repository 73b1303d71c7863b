//! Kafka connectivity for `/health`.
//!
//! A metadata request blocks, so it runs on the blocking pool at an interval and `/health`
//! reads the last answer instead of calling the broker on the request path.

use crate::config::KafkaConfig;
use crate::sync::{read, write};
use chrono::{DateTime, Utc};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::util::Timeout;
use serde::Serialize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Failed checks in a row after which brokers that answered before count as unreachable:
/// one metadata request timing out while the broker is busy (a burst on a small machine)
/// says little, and calling Kafka unreachable turns writes the producer would deliver into
/// 503s.
pub const FAILURES_BEFORE_UNREACHABLE: u32 = 3;

/// The last known state of the brokers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokerStatus {
    pub reachable: bool,
    pub brokers: usize,
    pub checked_at: Option<DateTime<Utc>>,
    /// The last check's error (also while still counted reachable).
    pub error: Option<String>,
    /// Checks that failed since the last that succeeded.
    pub consecutive_failures: u32,
}

impl BrokerStatus {
    /// Before the first check.
    fn unchecked() -> BrokerStatus {
        BrokerStatus {
            reachable: false,
            brokers: 0,
            checked_at: None,
            error: Some("not checked yet".into()),
            consecutive_failures: 0,
        }
    }

    /// The state after a check answered `result` at `now`: unreachable at once when no
    /// check succeeded yet, else after [`FAILURES_BEFORE_UNREACHABLE`] failures in a row.
    fn after(&self, result: Result<usize, String>, now: DateTime<Utc>) -> BrokerStatus {
        match result {
            Ok(brokers) if brokers > 0 => BrokerStatus {
                reachable: true,
                brokers,
                checked_at: Some(now),
                error: None,
                consecutive_failures: 0,
            },
            failed => {
                let failures = self.consecutive_failures.saturating_add(1);
                BrokerStatus {
                    reachable: self.reachable && failures < FAILURES_BEFORE_UNREACHABLE,
                    brokers: if self.reachable { self.brokers } else { 0 },
                    checked_at: Some(now),
                    error: Some(
                        failed
                            .err()
                            .unwrap_or_else(|| "no broker in metadata".into()),
                    ),
                    consecutive_failures: failures,
                }
            }
        }
    }
}

/// Checks the brokers in the background; cheap to clone.
#[derive(Debug, Clone)]
pub struct BrokerProbe {
    status: Arc<RwLock<BrokerStatus>>,
}

impl BrokerProbe {
    /// Runs `check` (a metadata request returning the number of brokers) now and every
    /// `interval` until the runtime stops.
    fn spawn<F>(check: F, interval: Duration) -> BrokerProbe
    where
        F: Fn() -> Result<usize, String> + Send + Sync + 'static,
    {
        let probe = BrokerProbe {
            status: Arc::new(RwLock::new(BrokerStatus::unchecked())),
        };
        let check = Arc::new(check);
        let status = probe.status.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let check = check.clone();
                let result = tokio::task::spawn_blocking(move || check())
                    .await
                    .unwrap_or_else(|e| Err(format!("probe task failed: {e}")));
                let next = read(&status).after(result, Utc::now());
                *write(&status) = next;
            }
        });
        probe
    }

    /// Checks the brokers of `kafka` every 5 s with a client of its own named `client_id`.
    pub fn start(
        kafka: &KafkaConfig,
        client_id: &str,
    ) -> Result<BrokerProbe, crate::error::KafkaError> {
        let client: BaseProducer = kafka.client_config(client_id).create()?;
        Ok(BrokerProbe::spawn(
            move || {
                client
                    .client()
                    .fetch_metadata(None, Timeout::After(Duration::from_secs(3)))
                    .map(|m| m.brokers().len())
                    .map_err(|e| e.to_string())
            },
            Duration::from_secs(5),
        ))
    }

    pub fn status(&self) -> BrokerStatus {
        read(&self.status).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_failure_is_unreachable_and_a_success_reachable() {
        let now = Utc::now();
        let failed = BrokerStatus::unchecked().after(Err("timed out".into()), now);
        assert!(!failed.reachable);
        assert_eq!(failed.error.as_deref(), Some("timed out"));
        let ok = failed.after(Ok(1), now);
        assert!(ok.reachable);
        assert_eq!(
            (ok.brokers, ok.consecutive_failures, ok.error),
            (1, 0, None)
        );
    }

    #[test]
    fn brokers_that_answered_stay_reachable_until_failures_in_a_row() {
        let now = Utc::now();
        let mut status = BrokerStatus::unchecked().after(Ok(1), now);
        for failure in 1..FAILURES_BEFORE_UNREACHABLE {
            status = status.after(Err("timed out".into()), now);
            assert!(status.reachable, "after {failure} failure(s)");
            assert_eq!(status.consecutive_failures, failure);
            assert_eq!(status.error.as_deref(), Some("timed out"));
        }
        status = status.after(Ok(0), now);
        assert!(
            !status.reachable,
            "no broker in metadata, one failure too many"
        );
        assert_eq!(status.error.as_deref(), Some("no broker in metadata"));
        assert!(status.after(Ok(1), now).reachable);
    }
}
