//! Alert delivery: the records of the `alerts` topic pushed to Alertmanager
//! (`POST /api/v2/alerts`).
//!
//! * **Once across replicas.** The forwarder consumes in its own consumer group
//!   (`alert-forwarder`), so the replicas of processing share the topic's partitions and
//!   each alert is forwarded by one of them.
//! * **At least once.** Offsets are committed only after Alertmanager answered 2xx for the
//!   batch that holds them; a crash or a rebalance in between re-sends the batch. That is
//!   harmless: Alertmanager merges alerts with the same label set, and the same record
//!   always gives the same labels, annotations and times.
//! * **Never on the async runtime's threads, never ejected from the group.** librdkafka's
//!   calls block, so the consumer runs on its own OS thread. The POSTs run on a Tokio task
//!   with the async `reqwest` client, fed one batch at a time through a bounded channel.
//!   While a batch is in flight (retried with exponential backoff for as long as
//!   Alertmanager is down), the thread pauses its partitions and keeps polling: the
//!   consumer stays in the group (`max.poll.interval.ms`), follows rebalances and buffers
//!   nothing new.
//! * **A bad record does not wedge delivery.** A payload that does not parse is counted,
//!   logged with its partition and offset, and committed past. A batch Alertmanager
//!   refuses as invalid (4xx other than 408/429) is counted and dropped, since repeating it
//!   cannot succeed.
//!
//! The alert's identity in Alertmanager is its label set: `alertname`
//! ([`ALERT_NAME`]), `severity`, `source`, `company`, `object` (object type),
//! `object_id`, `series_key`, `detector`, `rules` (sorted, comma-separated). Repeated
//! anomalies of one series with the same rules are one alert whose annotations (`summary`,
//! `reasons`, `record_id`, `alert_id`) show the latest run. `startsAt` is when processing
//! raised it and `endsAt` that plus [`AlertmanagerConfig::alert_ttl_seconds`]: an anomaly
//! is an event, so it resolves by itself unless it happens again; re-sent or replayed
//! alerts carry the same times, and old ones arrive already resolved.
//!
//! Only `http://` URLs: the workspace builds `reqwest` without TLS (put a TLS-terminating
//! proxy in front of a remote Alertmanager).

use crate::config::error::InvalidConfig;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use obs_kafka::KafkaConfig;
use prometheus::{IntCounterVec, Opts};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// `alertname` of every alert the forwarder sends.
pub const ALERT_NAME: &str = "ConnectorRunAnomaly";
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a stopping forwarder still waits for the answer to its batch in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Longest body of a refusal kept for the log.
const MAX_REFUSAL_CHARS: usize = 500;
/// Longest `alert_ttl_seconds`: an anomaly older than a week is history, not an alert.
const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// Where and how alerts are delivered (`[alertmanager]`, `OBS_ALERTMANAGER__*`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL of Alertmanager, e.g. `http://alertmanager:9093` (basic auth:
    /// `http://user:password@host:9093`); `None` disables the forwarder.
    pub url: Option<String>,
    /// Consumer group shared by every replica (each alert is forwarded by one of them).
    pub group_id: String,
    /// Most alerts in one POST.
    pub batch_max_alerts: usize,
    /// Longest an alert waits for its batch to fill.
    pub batch_max_ms: u64,
    /// Timeout of one POST.
    pub request_timeout_ms: u64,
    /// First pause before a failed POST is repeated; doubled up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// `endsAt` = the time processing raised the alert + this.
    pub alert_ttl_seconds: u64,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            url: None,
            group_id: "alert-forwarder".into(),
            batch_max_alerts: 100,
            batch_max_ms: 500,
            request_timeout_ms: 10_000,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            alert_ttl_seconds: 3600,
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
        if self.group_id.trim().is_empty() {
            return invalid("group_id", "must not be empty".into());
        }
        for (key, value) in [
            ("batch_max_alerts", self.batch_max_alerts as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("retry_initial_ms", self.retry_initial_ms),
            ("alert_ttl_seconds", self.alert_ttl_seconds),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if self.alert_ttl_seconds > MAX_TTL_SECONDS {
            return invalid(
                "alert_ttl_seconds",
                format!(
                    "must be at most {MAX_TTL_SECONDS}, got {}",
                    self.alert_ttl_seconds
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
fn alerts_endpoint(url: &str) -> Result<reqwest::Url, String> {
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
fn redacted(endpoint: &reqwest::Url) -> String {
    let mut shown = endpoint.clone();
    // Only fails for URLs that cannot have credentials, which then have none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// What the forwarder reads of an alert record. Deliberately lenient (rules as text,
/// optional context) so it forwards what any detector raises, including kinds added later.
#[derive(Debug, Clone, Deserialize)]
struct AlertRecord {
    alert_id: String,
    series_key: String,
    record_id: String,
    severity: String,
    message: String,
    raised_at: DateTime<Utc>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    object_id: Option<i64>,
    #[serde(default)]
    object_type: String,
    #[serde(default)]
    detector: String,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    reasons: Vec<String>,
}

/// One alert of Alertmanager's v2 API.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct PostableAlert {
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
    #[serde(rename = "startsAt")]
    starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt")]
    ends_at: DateTime<Utc>,
}

impl PostableAlert {
    fn from_record(alert: AlertRecord, ttl: ChronoDuration) -> Self {
        let mut rules = alert.rules;
        rules.sort();
        rules.dedup();
        let labels = [
            ("alertname", ALERT_NAME.to_owned()),
            ("severity", alert.severity),
            ("source", alert.source),
            ("company", alert.company),
            ("object", alert.object_type),
            (
                "object_id",
                alert.object_id.map(|id| id.to_string()).unwrap_or_default(),
            ),
            ("series_key", alert.series_key),
            ("detector", alert.detector),
            ("rules", rules.join(",")),
        ];
        let annotations = [
            ("summary", alert.message),
            ("reasons", alert.reasons.join("; ")),
            ("record_id", alert.record_id),
            ("alert_id", alert.alert_id),
        ];
        // Alertmanager treats an empty label as an absent one; leaving it out says so.
        let non_empty = |pairs: &mut dyn Iterator<Item = (&'static str, String)>| {
            pairs.filter(|(_, v)| !v.is_empty()).collect()
        };
        PostableAlert {
            labels: non_empty(&mut labels.into_iter()),
            annotations: non_empty(&mut annotations.into_iter()),
            starts_at: alert.raised_at,
            ends_at: alert
                .raised_at
                .checked_add_signed(ttl)
                .unwrap_or(alert.raised_at),
        }
    }
}

/// Counters of the forwarder.
#[derive(Clone)]
struct ForwarderMetrics {
    /// Alert records by fate: `accepted`, `refused` (Alertmanager said 4xx), `unreadable`.
    alerts: IntCounterVec,
    /// POSTs by outcome: `accepted`, `refused`, `failed` (retried).
    requests: IntCounterVec,
}

impl ForwarderMetrics {
    fn register(registry: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        let metrics = ForwarderMetrics {
            alerts: registry.register(IntCounterVec::new(
                Opts::new(
                    "processing_alerts_forwarded_total",
                    "Alert records handled by the Alertmanager forwarder, by outcome (accepted, refused, unreadable).",
                ),
                &["outcome"],
            )?)?,
            requests: registry.register(IntCounterVec::new(
                Opts::new(
                    "processing_alertmanager_requests_total",
                    "POSTs to Alertmanager's /api/v2/alerts, by outcome (accepted, refused, failed = retried).",
                ),
                &["outcome"],
            )?)?,
        };
        // Every outcome exported from the start (at 0): increase() in the alert rules
        // cannot see a counter's first step from absent to 1.
        for outcome in ["accepted", "refused", "unreadable"] {
            metrics.alerts.with_label_values(&[outcome]);
        }
        for outcome in ["accepted", "refused", "failed"] {
            metrics.requests.with_label_values(&[outcome]);
        }
        Ok(metrics)
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Accepted,
    /// Alertmanager refused it as invalid; repeating it cannot succeed.
    Refused,
}

/// One batch handed to the HTTP task, and where its fate is reported.
struct Batch {
    alerts: Vec<PostableAlert>,
    done: oneshot::Sender<Delivery>,
}

/// The running forwarder.
pub struct AlertForwarderHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl AlertForwarderHandle {
    /// Asks the forwarder to deliver its pending batch (waiting up to 5 s for Alertmanager)
    /// and leave.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Waits for the consumer thread (after [`AlertForwarderHandle::stop`], or if it failed).
    pub fn join(mut self) -> anyhow::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(anyhow::anyhow!("alert forwarder thread panicked")),
            None => Ok(()),
        }
    }

    /// Whether the consumer thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

/// Starts forwarding the records of `alerts_topic` to Alertmanager; `Ok(None)` when
/// `config.url` is unset. Registers the forwarder's counters in `metrics`; the POSTs run
/// on `runtime`.
pub fn spawn_forwarder(
    config: &AlertmanagerConfig,
    kafka: &KafkaConfig,
    alerts_topic: &str,
    metrics: &obs_service::Metrics,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Option<AlertForwarderHandle>> {
    let Some(url) = &config.url else {
        tracing::info!("alertmanager.url is not set: alerts are not forwarded");
        return Ok(None);
    };
    config.validate()?;
    let endpoint = alerts_endpoint(url).map_err(|reason| anyhow::anyhow!(reason))?;
    let metrics = ForwarderMetrics::register(metrics)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.request_timeout_ms))
        .build()?;
    let context = ForwarderContext::default();
    let consumer: BaseConsumer<ForwarderContext> = kafka
        .client_config("processing-alert-forwarder")
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        // A new group starts at the oldest retained alert: alerts raised before the
        // forwarder first joined are delivered too (old ones arrive already resolved).
        .set("auto.offset.reset", "earliest")
        .set("allow.auto.create.topics", "false")
        .create_with_context(context)?;
    consumer.subscribe(&[alerts_topic])?;

    let (batches, inbox) = mpsc::channel(1);
    let retry = Backoff {
        initial: Duration::from_millis(config.retry_initial_ms),
        max: Duration::from_millis(config.retry_max_ms),
    };
    runtime.spawn(deliver(
        client,
        endpoint.clone(),
        inbox,
        retry,
        metrics.clone(),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let forwarder = Forwarder {
        consumer,
        batches,
        stop: stop.clone(),
        metrics,
        // Validated: at most MAX_TTL_SECONDS.
        ttl: ChronoDuration::seconds(config.alert_ttl_seconds.min(MAX_TTL_SECONDS) as i64),
        batch_max_alerts: config.batch_max_alerts,
        batch_max: Duration::from_millis(config.batch_max_ms),
        pending: Pending::default(),
        seen_rebalances: 0,
    };
    let thread = std::thread::Builder::new()
        .name("alert-forwarder".into())
        .spawn(move || forwarder.run())?;
    tracing::info!(endpoint = redacted(&endpoint), topic = alerts_topic, group = %config.group_id, "forwarding alerts to Alertmanager");
    Ok(Some(AlertForwarderHandle {
        stop,
        thread: Some(thread),
    }))
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
/// the outcome. A batch whose reporter was dropped (the forwarder stopped) is abandoned.
async fn deliver(
    client: reqwest::Client,
    endpoint: reqwest::Url,
    mut inbox: mpsc::Receiver<Batch>,
    retry: Backoff,
    metrics: ForwarderMetrics,
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
                        tracing::error!(%status, %body, alerts = count, "Alertmanager refused the batch; dropping it");
                        break Some(Delivery::Refused);
                    }
                    format!("HTTP {status}: {body}")
                }
                Err(error) => error.to_string(),
            };
            metrics.requests.with_label_values(&["failed"]).inc();
            attempt = attempt.saturating_add(1);
            let pause = retry.delay(attempt);
            tracing::warn!(%error, attempt, retry_in_ms = pause.as_millis() as u64, alerts = count, "cannot deliver alerts to Alertmanager");
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = batch.done.closed() => break None,
            }
        };
        let Some(outcome) = outcome else {
            tracing::warn!(
                alerts = count,
                "forwarder stopped before Alertmanager accepted the batch; it will be sent again"
            );
            continue;
        };
        let label = match outcome {
            Delivery::Accepted => "accepted",
            Delivery::Refused => "refused",
        };
        metrics.requests.with_label_values(&[label]).inc();
        metrics.alerts.with_label_values(&[label]).inc_by(count);
        // The forwarder may have given up waiting (stopping); then nothing is committed.
        let _ = batch.done.send(outcome);
    }
}

/// Counts rebalances, so the thread can tell that what it buffered belongs to an old
/// assignment.
#[derive(Default)]
struct ForwarderContext {
    rebalances: AtomicU64,
}

impl ClientContext for ForwarderContext {}

impl ConsumerContext for ForwarderContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        tracing::info!(?rebalance, "alert forwarder rebalanced");
    }
}

/// The batch being gathered: alerts to send and, per partition, the offset to commit once
/// they are accepted (unreadable records advance it too).
#[derive(Default)]
struct Pending {
    alerts: Vec<PostableAlert>,
    /// Records skipped as unreadable, counted when their offsets are committed.
    unreadable: u64,
    next_offsets: BTreeMap<(String, i32), i64>,
    since: Option<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.next_offsets.is_empty()
    }
}

/// The consumer side, on its own thread.
struct Forwarder {
    consumer: BaseConsumer<ForwarderContext>,
    batches: mpsc::Sender<Batch>,
    stop: Arc<AtomicBool>,
    metrics: ForwarderMetrics,
    ttl: ChronoDuration,
    batch_max_alerts: usize,
    batch_max: Duration,
    pending: Pending,
    seen_rebalances: u64,
}

impl Forwarder {
    fn run(mut self) -> anyhow::Result<()> {
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let due = !self.pending.is_empty()
                && (stopping
                    || self.pending.alerts.len() >= self.batch_max_alerts
                    || self
                        .pending
                        .since
                        .is_some_and(|t| t.elapsed() >= self.batch_max));
            if due {
                let batch = std::mem::take(&mut self.pending);
                self.send(batch)?;
                continue;
            }
            if stopping {
                return Ok(());
            }
            self.poll_once();
        }
    }

    /// One poll: a record joins the pending batch. After a rebalance the pending batch is
    /// dropped: the new assignment starts again from the committed offsets.
    fn poll_once(&mut self) {
        let polled = self.consumer.poll(POLL_TIMEOUT);
        let rebalances = self.consumer.context().rebalances.load(Ordering::SeqCst);
        if rebalances != self.seen_rebalances {
            self.seen_rebalances = rebalances;
            self.pending = Pending::default();
        }
        match polled {
            None => {}
            Some(Err(error)) => tracing::warn!(%error, "alert forwarder: consumer error"),
            Some(Ok(message)) => {
                let (topic, partition, offset) = (
                    message.topic().to_owned(),
                    message.partition(),
                    message.offset(),
                );
                let parsed = message
                    .payload()
                    .ok_or_else(|| "empty payload".to_owned())
                    .and_then(|p| {
                        serde_json::from_slice::<AlertRecord>(p).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(alert) => self
                        .pending
                        .alerts
                        .push(PostableAlert::from_record(alert, self.ttl)),
                    Err(error) => {
                        self.pending.unreadable += 1;
                        tracing::warn!(%error, topic, partition, offset, "unreadable alert record; skipped");
                    }
                }
                self.pending
                    .next_offsets
                    .insert((topic, partition), offset + 1);
                self.pending.since.get_or_insert_with(Instant::now);
            }
        }
    }

    /// Hands the batch to the HTTP task and waits for its fate with the partitions paused,
    /// polling meanwhile; commits its offsets once it is accepted (or refused for good).
    fn send(&mut self, mut batch: Pending) -> anyhow::Result<()> {
        if batch.alerts.is_empty() {
            self.commit(&batch);
            return Ok(());
        }
        let (done, mut fate) = oneshot::channel();
        self.batches
            .blocking_send(Batch {
                alerts: std::mem::take(&mut batch.alerts),
                done,
            })
            .map_err(|_| anyhow::anyhow!("the Alertmanager delivery task has stopped"))?;
        self.pause();
        let mut give_up_at = None;
        let outcome = loop {
            match fate.try_recv() {
                Ok(outcome) => break Some(outcome),
                Err(oneshot::error::TryRecvError::Closed) => break None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if self.stop.load(Ordering::SeqCst)
                && Instant::now() >= *give_up_at.get_or_insert_with(|| Instant::now() + STOP_GRACE)
            {
                break None;
            }
            let before = self.seen_rebalances;
            self.poll_once();
            if self.seen_rebalances != before {
                // The new assignment is not paused yet.
                self.pause();
            }
        };
        self.resume();
        if outcome.is_some() {
            self.commit(&batch);
        }
        Ok(())
    }

    fn pause(&self) {
        if let Err(error) = self
            .consumer
            .assignment()
            .and_then(|assigned| self.consumer.pause(&assigned))
        {
            tracing::warn!(%error, "alert forwarder: cannot pause its partitions");
        }
    }

    fn resume(&self) {
        if let Err(error) = self
            .consumer
            .assignment()
            .and_then(|assigned| self.consumer.resume(&assigned))
        {
            tracing::warn!(%error, "alert forwarder: cannot resume its partitions");
        }
    }

    /// Commits the next offsets. A failure (e.g. during a rebalance) only means the batch
    /// is sent again later.
    fn commit(&self, batch: &Pending) {
        self.metrics
            .alerts
            .with_label_values(&["unreadable"])
            .inc_by(batch.unreadable);
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &batch.next_offsets {
            if let Err(error) =
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            {
                tracing::warn!(%error, topic, partition, "alert forwarder: bad offset to commit");
            }
        }
        if let Err(error) = self.consumer.commit(&list, CommitMode::Sync) {
            tracing::warn!(%error, "alert forwarder: commit failed; the batch may be sent again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn record() -> AlertRecord {
        serde_json::from_value(serde_json::json!({
            "alert_id": "akonovia:2025-09-03-17-20:1204/rules",
            "series_key": "akonovia:powerbi:1204",
            "record_id": "akonovia:2025-09-03-17-20:1204",
            "source": "powerbi",
            "company": "akonovia",
            "object_id": 1204,
            "object_type": "Datasets",
            "detector": "rules",
            "rules": ["high_memory", "failure"],
            "severity": "critical",
            "message": "powerbi Datasets (1204): FAILED; memory 2e8 B",
            "reasons": ["FAILED", "memory 2e8 B"],
            "metrics": {"duration_seconds": 1.0},
            "run_started_at": "2025-09-03T17:20:15Z",
            "raised_at": "2025-09-03T17:21:00Z",
            "some_later_field": true
        }))
        .unwrap()
    }

    #[test]
    fn alert_records_become_alertmanager_alerts() {
        let alert = PostableAlert::from_record(record(), ChronoDuration::hours(1));
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "labels": {
                    "alertname": "ConnectorRunAnomaly",
                    "severity": "critical",
                    "source": "powerbi",
                    "company": "akonovia",
                    "object": "Datasets",
                    "object_id": "1204",
                    "series_key": "akonovia:powerbi:1204",
                    "detector": "rules",
                    "rules": "failure,high_memory",
                },
                "annotations": {
                    "summary": "powerbi Datasets (1204): FAILED; memory 2e8 B",
                    "reasons": "FAILED; memory 2e8 B",
                    "record_id": "akonovia:2025-09-03-17-20:1204",
                    "alert_id": "akonovia:2025-09-03-17-20:1204/rules",
                },
                "startsAt": "2025-09-03T17:21:00Z",
                "endsAt": "2025-09-03T18:21:00Z",
            })
        );
    }

    #[test]
    fn missing_context_leaves_labels_out_instead_of_empty() {
        let minimal: AlertRecord = serde_json::from_value(serde_json::json!({
            "alert_id": "a/zscore", "series_key": "c:s:1", "record_id": "c:1:1",
            "severity": "warning", "message": "odd", "raised_at": "2025-09-03T17:21:00Z",
            "detector": "zscore"
        }))
        .unwrap();
        let alert = PostableAlert::from_record(minimal, ChronoDuration::minutes(5));
        let names: Vec<_> = alert.labels.keys().copied().collect();
        assert_eq!(names, ["alertname", "detector", "series_key", "severity"]);
        assert!(!alert.annotations.contains_key("reasons"));
    }

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
        assert_eq!(with(|c| c.group_id = " ".into()), Err("group_id"));
        assert_eq!(
            alerts_endpoint("http://am:9093/prefix/").map(|u| u.to_string()),
            Ok("http://am:9093/prefix/api/v2/alerts".to_owned())
        );
        let with_password = alerts_endpoint("http://user:s3cret@am:9093").unwrap();
        assert_eq!(redacted(&with_password), "http://am:9093/api/v2/alerts");
        let refused = alerts_endpoint("https://user:s3cret@am:9093").unwrap_err();
        assert!(!refused.contains("s3cret"), "{refused}");
    }

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

    /// A stand-in for Alertmanager: answers the statuses of `script` in turn (then 200) and
    /// hands over the bodies it received.
    async fn fake_alertmanager(script: Vec<u16>) -> (String, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (bodies, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut script = script.into_iter();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = socket.read(&mut chunk).await.unwrap();
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            assert!(head.starts_with("POST /api/v2/alerts "), "{head}");
                            break body.to_owned();
                        }
                    }
                };
                let status = script.next().unwrap_or(200);
                bodies.send(body).unwrap();
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno"
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        (url, received)
    }

    fn test_metrics() -> ForwarderMetrics {
        ForwarderMetrics::register(&obs_service::Metrics::new()).unwrap()
    }

    async fn deliver_one(script: Vec<u16>) -> (Option<Delivery>, Vec<String>, ForwarderMetrics) {
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
        let alert = PostableAlert::from_record(record(), ChronoDuration::hours(1));
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
        assert_eq!(sent[0]["labels"]["series_key"], "akonovia:powerbi:1204");
        assert_eq!(metrics.requests.with_label_values(&["failed"]).get(), 3);
        assert_eq!(metrics.alerts.with_label_values(&["accepted"]).get(), 1);
    }

    #[tokio::test]
    async fn an_invalid_batch_is_not_repeated() {
        let (outcome, bodies, metrics) = deliver_one(vec![400]).await;
        assert_eq!(outcome, Some(Delivery::Refused));
        assert_eq!(bodies.len(), 1);
        assert_eq!(metrics.alerts.with_label_values(&["refused"]).get(), 1);
    }

    /// Against the real broker: every alert record reaches Alertmanager, the unreadable one
    /// is skipped, and the offsets are committed only for what was delivered, so a second
    /// forwarder in the same group sends nothing again.
    #[test]
    fn alerts_of_the_topic_reach_alertmanager_once_committed() {
        let kafka = obs_testkit::kafka();
        let topics = obs_testkit::unique_topics();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime
            .block_on(obs_kafka::ensure_topics(
                &kafka,
                "alert-forwarder-test",
                &topics,
            ))
            .unwrap();
        let topic = topics.alerts.name.clone();
        let mut messages: Vec<obs_testkit::TestMessage> = (0..25)
            .map(|i| {
                let mut value = serde_json::to_value(record_json()).unwrap();
                value["series_key"] = format!("akonovia:powerbi:{i}").into();
                (
                    None,
                    serde_json::to_vec(&value).unwrap(),
                    rdkafka::message::OwnedHeaders::new(),
                )
            })
            .collect();
        messages.insert(
            7,
            (
                None,
                b"not json".to_vec(),
                rdkafka::message::OwnedHeaders::new(),
            ),
        );
        obs_testkit::produce(&kafka, &topic, messages);

        let (url, mut received) = runtime.block_on(fake_alertmanager(vec![503]));
        let config = AlertmanagerConfig {
            url: Some(url),
            group_id: format!("{topic}-forwarder"),
            batch_max_alerts: 10,
            retry_initial_ms: 10,
            ..AlertmanagerConfig::default()
        };
        let registry = obs_service::Metrics::new();
        let forwarder = spawn_forwarder(&config, &kafka, &topic, &registry, runtime.handle())
            .unwrap()
            .unwrap();
        let mut keys = std::collections::BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while keys.len() < 25 && Instant::now() < deadline {
            let next =
                async { tokio::time::timeout(Duration::from_secs(1), received.recv()).await };
            match runtime.block_on(next) {
                Ok(Some(body)) => {
                    let alerts: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
                    assert!(alerts.len() <= 10, "batches hold at most batch_max_alerts");
                    keys.extend(alerts.iter().map(|a| a["labels"]["series_key"].to_string()));
                }
                _ => continue,
            }
        }
        assert_eq!(keys.len(), 25, "every alert reached Alertmanager");
        // Let the last commit land, then check a successor has nothing left to send.
        std::thread::sleep(Duration::from_secs(1));
        forwarder.stop();
        forwarder.join().unwrap();
        let text = registry.render();
        assert!(
            text.contains(r#"processing_alerts_forwarded_total{outcome="unreadable"} 1"#),
            "{text}"
        );

        let registry = obs_service::Metrics::new();
        let successor = spawn_forwarder(&config, &kafka, &topic, &registry, runtime.handle())
            .unwrap()
            .unwrap();
        std::thread::sleep(Duration::from_secs(8));
        successor.stop();
        successor.join().unwrap();
        if let Ok(body) = received.try_recv() {
            panic!("a committed alert was sent again: {body}");
        }
    }

    fn record_json() -> serde_json::Value {
        serde_json::json!({
            "alert_id": "akonovia:1:1/rules", "series_key": "akonovia:powerbi:1",
            "record_id": "akonovia:1:1", "source": "powerbi", "severity": "warning",
            "message": "slow", "rules": ["long_duration"], "raised_at": Utc::now(),
        })
    }
}
