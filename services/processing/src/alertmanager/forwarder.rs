//! The consumer side of the forwarder: a thread reads the `alerts` topic in its own
//! consumer group, gathers batches, hands each to the delivery task with its partitions
//! paused, and commits the offsets of what Alertmanager took.

use super::config::{alerts_endpoint, redacted, AlertmanagerConfig};
use super::delivery::{DeliveryTask, ForwarderMetrics};
use super::mapping::PostableAlert;
use chrono::Duration as ChronoDuration;
use obs_kafka::consumer::{
    instance_id, spawn_consumer, ConsumerSettings, ConsumerState, ConsumerThread, Control,
    TrackedConsumer,
};
use obs_kafka::{ErrorStage, KafkaConfig, KafkaError};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a stopping forwarder still waits for the answer to its batch in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The running forwarder: stopping it delivers its pending batch (waiting a few seconds
/// for Alertmanager at most) before it leaves.
pub type AlertForwarderHandle = ConsumerThread;

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
    let state = Arc::new(ConsumerState::new(metrics.errors().clone()));
    let metrics = ForwarderMetrics::register(metrics)?;
    let delivery = DeliveryTask::spawn(config, endpoint.clone(), metrics.clone(), runtime)?;
    // A new group starts at the oldest retained alert: alerts raised before the forwarder
    // first joined are delivered too (old ones arrive already resolved).
    let consumer = ConsumerSettings::in_group("processing-alert-forwarder", &config.group_id)
        .static_member(&instance_id(&config.group_id))
        .create(kafka, Arc::clone(&state), ())?;
    consumer.subscribe(&[alerts_topic])?;
    let forwarder = Forwarder {
        consumer,
        delivery,
        metrics,
        ttl: config.alert_ttl(),
        batch_max_alerts: config.batch_max_alerts,
        batch_max: Duration::from_millis(config.batch_max_ms),
        pending: Pending::default(),
        seen_rebalances: 0,
    };
    let handle = spawn_consumer("alert-forwarder", state, Arc::new(()), move |control| {
        forwarder.run(control)
    })?;
    tracing::info!(endpoint = redacted(&endpoint), topic = alerts_topic, group = %config.group_id, "forwarding alerts to Alertmanager");
    Ok(Some(handle))
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
    consumer: TrackedConsumer,
    delivery: DeliveryTask,
    metrics: ForwarderMetrics,
    ttl: ChronoDuration,
    batch_max_alerts: usize,
    batch_max: Duration,
    pending: Pending,
    seen_rebalances: u64,
}

impl Forwarder {
    fn run(mut self, control: &Control) -> Result<(), KafkaError> {
        control.state().set_phase("running");
        loop {
            let stopping = control.stopping();
            let due = !self.pending.is_empty()
                && (stopping
                    || self.pending.alerts.len() >= self.batch_max_alerts
                    || self
                        .pending
                        .since
                        .is_some_and(|t| t.elapsed() >= self.batch_max));
            if due {
                let batch = std::mem::take(&mut self.pending);
                self.send(control, batch)?;
                continue;
            }
            if stopping {
                return Ok(());
            }
            self.poll_once(control);
        }
    }

    /// One poll: a record joins the pending batch. After a rebalance the pending batch is
    /// dropped: the new assignment starts again from the committed offsets.
    fn poll_once(&mut self, control: &Control) {
        let polled = self.consumer.poll(POLL_TIMEOUT);
        let rebalances = control.state().rebalances();
        if rebalances != self.seen_rebalances {
            self.seen_rebalances = rebalances;
            self.pending = Pending::default();
        }
        match polled {
            None => {}
            Some(Err(error)) => {
                control
                    .state()
                    .error(ErrorStage::Receiving, "kafka_consumer", &error)
            }
            Some(Ok(message)) => {
                let (topic, partition, offset) = (
                    message.topic().to_owned(),
                    message.partition(),
                    message.offset(),
                );
                let ttl = self.ttl;
                let parsed = message
                    .payload()
                    .ok_or_else(|| "empty payload".to_owned())
                    .and_then(|p| PostableAlert::from_json(p, ttl).map_err(|e| e.to_string()));
                match parsed {
                    Ok(alert) => self.pending.alerts.push(alert),
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
    fn send(&mut self, control: &Control, mut batch: Pending) -> Result<(), KafkaError> {
        if batch.alerts.is_empty() {
            self.commit(control, &batch);
            return Ok(());
        }
        let mut fate = self
            .delivery
            .send_blocking(std::mem::take(&mut batch.alerts))?;
        self.pause(control);
        let mut give_up_at = None;
        let outcome = loop {
            match fate.try_recv() {
                Ok(outcome) => break Some(outcome),
                Err(oneshot::error::TryRecvError::Closed) => break None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if control.stopping()
                && Instant::now() >= *give_up_at.get_or_insert_with(|| Instant::now() + STOP_GRACE)
            {
                break None;
            }
            let before = self.seen_rebalances;
            self.poll_once(control);
            if self.seen_rebalances != before {
                // The new assignment is not paused yet.
                self.pause(control);
            }
        };
        self.resume(control);
        if outcome.is_some() {
            self.commit(control, &batch);
        }
        Ok(())
    }

    fn pause(&self, control: &Control) {
        if let Err(error) = self
            .consumer
            .assignment()
            .and_then(|assigned| self.consumer.pause(&assigned))
        {
            control.state().error(
                ErrorStage::Receiving,
                "kafka_consumer",
                &format_args!("cannot pause its partitions: {error}"),
            );
        }
    }

    fn resume(&self, control: &Control) {
        if let Err(error) = self
            .consumer
            .assignment()
            .and_then(|assigned| self.consumer.resume(&assigned))
        {
            control.state().error(
                ErrorStage::Receiving,
                "kafka_consumer",
                &format_args!("cannot resume its partitions: {error}"),
            );
        }
    }

    /// Commits the next offsets. A failure (e.g. during a rebalance) only means the batch
    /// is sent again later.
    fn commit(&self, control: &Control, batch: &Pending) {
        self.metrics.count_unreadable(batch.unreadable);
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &batch.next_offsets {
            if let Err(error) =
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            {
                tracing::warn!(%error, topic, partition, "alert forwarder: bad offset to commit");
            }
        }
        match self.consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => control.state().clear_error(),
            Err(error) => control.state().error(
                ErrorStage::Receiving,
                "offset_commit",
                &format_args!("commit failed, the batch may be sent again: {error}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alertmanager::testing::fake_alertmanager;
    use chrono::Utc;

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
            text.contains(r#"errors_total{error_type="unreadable_alert",stage="receiving"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("processing_alerts_delivered_total 25"),
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
