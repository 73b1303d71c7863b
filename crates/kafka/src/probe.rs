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

/// The last known state of the brokers.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerStatus {
    pub reachable: bool,
    pub brokers: usize,
    pub checked_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
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
            status: Arc::new(RwLock::new(BrokerStatus {
                reachable: false,
                brokers: 0,
                checked_at: None,
                error: Some("not checked yet".into()),
            })),
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
                let next = match result {
                    Ok(brokers) => BrokerStatus {
                        reachable: brokers > 0,
                        brokers,
                        checked_at: Some(Utc::now()),
                        error: (brokers == 0).then(|| "no broker in metadata".to_owned()),
                    },
                    Err(error) => BrokerStatus {
                        reachable: false,
                        brokers: 0,
                        checked_at: Some(Utc::now()),
                        error: Some(error),
                    },
                };
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
