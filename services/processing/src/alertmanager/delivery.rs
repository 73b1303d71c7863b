//! The HTTP side of the notifier: a Tokio task POSTs each batch to Alertmanager, retried
//! with exponential backoff until it is accepted or refused for good, and counts the
//! outcomes.

use super::config::AlertmanagerConfig;
use super::mapping::PostableAlert;
use obs_kafka::KafkaError;
use obs_kafka::{ErrorCounter, ErrorStage};
use prometheus::IntCounter;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Longest body of a refusal kept for the log.
const MAX_REFUSAL_CHARS: usize = 500;

/// The error types the notifier counts in `errors_total`.
mod error_type {
    /// A POST that failed or was answered 5xx, 408 or 429; retried (`sending`).
    pub const ALERTMANAGER_UNAVAILABLE: &str = "alertmanager_unavailable";
    /// Alerts Alertmanager refused as invalid (4xx); dropped, counted per alert (`sending`).
    pub const ALERTMANAGER_REFUSED: &str = "alertmanager_refused";
}

/// Counters of the notifier: each alert sent counted once, delivered or an error.
#[derive(Clone)]
pub(super) struct DeliveryMetrics {
    delivered: IntCounter,
    errors: ErrorCounter,
}

impl DeliveryMetrics {
    pub(super) fn register(registry: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        let errors = registry.errors().clone();
        // Every error exported from the start (at 0): increase() in the alert rules
        // cannot see a counter's first step from absent to 1.
        errors.declare(ErrorStage::Sending, error_type::ALERTMANAGER_UNAVAILABLE);
        errors.declare(ErrorStage::Sending, error_type::ALERTMANAGER_REFUSED);
        Ok(DeliveryMetrics {
            delivered: registry.register(IntCounter::new(
                "processing_alerts_delivered_total",
                "Incident alerts Alertmanager accepted (repeats included).",
            )?)?,
            errors,
        })
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    Accepted,
    /// Alertmanager refused it as invalid; repeating it cannot succeed.
    Refused,
}

/// One batch handed to the HTTP task, and where its fate is reported.
struct Batch {
    alerts: Vec<PostableAlert>,
    done: oneshot::Sender<Delivery>,
}

/// The inbox of the HTTP task, which takes one batch at a time.
pub(super) struct DeliveryTask {
    batches: mpsc::Sender<Batch>,
}

impl DeliveryTask {
    /// Starts POSTing to `endpoint` on `runtime`, with the timeout and backoff of `config`.
    pub(super) fn spawn(
        config: &AlertmanagerConfig,
        endpoint: reqwest::Url,
        metrics: DeliveryMetrics,
        runtime: &tokio::runtime::Handle,
    ) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .build()?;
        let (batches, inbox) = mpsc::channel(1);
        let retry = Backoff {
            initial: Duration::from_millis(config.retry_initial_ms),
            max: Duration::from_millis(config.retry_max_ms),
        };
        runtime.spawn(deliver(client, endpoint, inbox, retry, metrics));
        Ok(DeliveryTask { batches })
    }

    /// Hands `alerts` to the task and returns where their fate will be reported; dropping
    /// it abandons the batch.
    pub(super) async fn send(
        &self,
        alerts: Vec<PostableAlert>,
    ) -> Result<oneshot::Receiver<Delivery>, KafkaError> {
        let (done, fate) = oneshot::channel();
        self.batches
            .send(Batch { alerts, done })
            .await
            .map_err(|_| KafkaError::Stopped("the Alertmanager delivery task"))?;
        Ok(fate)
    }
}

/// Exponential backoff between attempts at one batch.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Backoff {
    /// Pause after the `attempt`-th failure (from 1).
    fn delay(self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// The HTTP side: POSTs each batch until Alertmanager accepts or refuses it, and reports
/// the outcome. A batch whose reporter was dropped (the notifier stopped) is abandoned.
async fn deliver(
    client: reqwest::Client,
    endpoint: reqwest::Url,
    mut inbox: mpsc::Receiver<Batch>,
    retry: Backoff,
    metrics: DeliveryMetrics,
) {
    while let Some(mut batch) = inbox.recv().await {
        let count = batch.alerts.len() as u64;
        let mut attempt = 0u32;
        let outcome = loop {
            let error = match client
                .post(endpoint.clone())
                .json(&batch.alerts)
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => break Some(Delivery::Accepted),
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let body: String = body.chars().take(MAX_REFUSAL_CHARS).collect();
                    if status.is_client_error() && !matches!(status.as_u16(), 408 | 429) {
                        metrics.errors.failure(
                            ErrorStage::Sending,
                            error_type::ALERTMANAGER_REFUSED,
                            count,
                            &format_args!(
                                "Alertmanager refused the batch, dropped: HTTP {status}: {body}"
                            ),
                        );
                        break Some(Delivery::Refused);
                    }
                    format!("HTTP {status}: {body}")
                }
                Err(error) => error.to_string(),
            };
            attempt = attempt.saturating_add(1);
            let pause = retry.delay(attempt);
            metrics.errors.failure(
                ErrorStage::Sending,
                error_type::ALERTMANAGER_UNAVAILABLE,
                1,
                &format_args!(
                    "cannot deliver {count} alerts (attempt {attempt}, retry in {} ms): {error}",
                    pause.as_millis()
                ),
            );
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = batch.done.closed() => break None,
            }
        };
        let Some(outcome) = outcome else {
            tracing::warn!(
                alerts = count,
                "notifier stopped before Alertmanager accepted the batch"
            );
            continue;
        };
        if outcome == Delivery::Accepted {
            metrics.delivered.inc_by(count);
        }
        // The notifier may have given up waiting (stopping).
        let _ = batch.done.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alertmanager::config::alerts_endpoint;
    use crate::alertmanager::testing::{fake_alertmanager, incident};
    use chrono::Duration as ChronoDuration;
    use obs_incidents::IncidentStatus;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let backoff = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        let delays: Vec<u128> = [1, 2, 3, 7, 8, 100]
            .map(|a| backoff.delay(a).as_millis())
            .into();
        assert_eq!(delays, [500, 1000, 2000, 30_000, 30_000, 30_000]);
    }

    fn test_metrics() -> DeliveryMetrics {
        DeliveryMetrics::register(&obs_service::Metrics::new()).unwrap()
    }

    async fn deliver_one(script: Vec<u16>) -> (Option<Delivery>, Vec<String>, DeliveryMetrics) {
        let (url, mut received) = fake_alertmanager(script).await;
        let metrics = test_metrics();
        let (batches, inbox) = mpsc::channel(1);
        let retry = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(20),
        };
        let client = reqwest::Client::new();
        tokio::spawn(deliver(
            client,
            alerts_endpoint(&url).unwrap(),
            inbox,
            retry,
            metrics.clone(),
        ));
        let (done, fate) = oneshot::channel();
        let incident = incident(IncidentStatus::Open);
        let alert =
            PostableAlert::of_incident(&incident, incident.opened_at, ChronoDuration::hours(1));
        batches
            .send(Batch {
                alerts: vec![alert],
                done,
            })
            .await
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(10), fate)
            .await
            .unwrap()
            .ok();
        let mut bodies = Vec::new();
        while let Ok(body) = received.try_recv() {
            bodies.push(body);
        }
        (outcome, bodies, metrics)
    }

    #[tokio::test]
    async fn a_batch_is_retried_until_alertmanager_accepts_it() {
        let (outcome, bodies, metrics) = deliver_one(vec![503, 500, 429]).await;
        assert_eq!(outcome, Some(Delivery::Accepted));
        assert_eq!(bodies.len(), 4);
        assert!(
            bodies.iter().all(|b| b == &bodies[0]),
            "every attempt sends the same batch"
        );
        let sent: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(sent[0]["labels"]["source"], "powerbi");
        let errors = &metrics.errors;
        assert_eq!(
            errors.get(ErrorStage::Sending, error_type::ALERTMANAGER_UNAVAILABLE),
            3
        );
        assert_eq!(metrics.delivered.get(), 1);
    }

    #[tokio::test]
    async fn an_invalid_batch_is_not_repeated() {
        let (outcome, bodies, metrics) = deliver_one(vec![400]).await;
        assert_eq!(outcome, Some(Delivery::Refused));
        assert_eq!(bodies.len(), 1);
        assert_eq!(
            metrics
                .errors
                .get(ErrorStage::Sending, error_type::ALERTMANAGER_REFUSED),
            1
        );
        assert_eq!(metrics.delivered.get(), 0);
    }
}
