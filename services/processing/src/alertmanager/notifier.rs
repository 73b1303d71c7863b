//! The notifier: tells Alertmanager of the incidents, the way Prometheus tells it of its
//! alerts.
//!
//! Every tick it sends the incidents whose state changed since it last sent them (opened,
//! escalated, acknowledged, resolved…), and every `resend_interval_seconds` every active
//! incident again, each firing until a few resend intervals later: an incident stays
//! firing while processing runs, and Alertmanager resolves it by itself if processing
//! stops telling it. A resolved incident is sent with its resolution time as `endsAt`.
//! Every replica sends the same alerts — the view is global — and Alertmanager merges
//! alerts with the same labels and notifies once per group, so a restart or a second
//! replica never pages twice. An escalated incident's earlier alert (its labels differ by
//! `severity`) is sent ended, so one incident is one firing alert. It starts once the view has caught up, so that a restart
//! does not page for what it has not read yet.

use super::config::{alerts_endpoint, redacted, AlertmanagerConfig};
use super::delivery::{Delivery, DeliveryMetrics, DeliveryTask};
use super::mapping::PostableAlert;
use crate::incidents::IncidentView;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use obs_detector::Severity;
use obs_kafka::sync::lock;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the view is looked at for changed incidents.
const TICK: Duration = Duration::from_secs(1);
/// An active incident fires until this many resend intervals after it was last sent.
const FIRING_RESENDS: i32 = 4;

/// What the notifier did, for `/status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NotifierStatus {
    pub running: bool,
    /// Incidents Alertmanager accepted, counting repeats.
    pub sent: u64,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The view has not caught up yet: nothing is sent.
    pub waiting_for_view: bool,
}

/// The running notifier; stopping it ends its task at the next tick.
pub struct NotifierHandle {
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<NotifierStatus>>,
}

impl NotifierHandle {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn is_running(&self) -> bool {
        lock(&self.status).running
    }

    pub fn status(&self) -> NotifierStatus {
        lock(&self.status).clone()
    }
}

/// Starts telling Alertmanager of the incidents of `view`; `Ok(None)` when
/// `config.url` is unset. The POSTs run on `runtime`.
pub fn spawn_notifier(
    config: &AlertmanagerConfig,
    view: Arc<IncidentView>,
    metrics: &obs_service::Metrics,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Option<NotifierHandle>> {
    let Some(url) = &config.url else {
        tracing::info!("alertmanager.url is not set: incidents are not sent to Alertmanager");
        return Ok(None);
    };
    config.validate()?;
    let endpoint = alerts_endpoint(url).map_err(|reason| anyhow::anyhow!(reason))?;
    let metrics = DeliveryMetrics::register(metrics)?;
    let delivery = DeliveryTask::spawn(config, endpoint.clone(), metrics, runtime)?;
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(Mutex::new(NotifierStatus {
        running: true,
        waiting_for_view: true,
        ..NotifierStatus::default()
    }));
    let notifier = Notifier {
        view,
        delivery,
        resend: Duration::from_secs(config.resend_interval_seconds),
        resolved_lookback: ChronoDuration::seconds(config.resolved_lookback_seconds as i64),
        batch_max: config.batch_max_alerts,
        sent: HashMap::new(),
        last_full: None,
        stop: stop.clone(),
        status: status.clone(),
    };
    runtime.spawn(notifier.run());
    tracing::info!(
        endpoint = redacted(&endpoint),
        "sending incidents to Alertmanager"
    );
    Ok(Some(NotifierHandle { stop, status }))
}

struct Notifier {
    view: Arc<IncidentView>,
    delivery: DeliveryTask,
    resend: Duration,
    resolved_lookback: ChronoDuration,
    batch_max: usize,
    /// The version and severity of each incident Alertmanager last accepted.
    sent: HashMap<String, (u64, Severity)>,
    last_full: Option<Instant>,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<NotifierStatus>>,
}

impl Notifier {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.stop.load(Ordering::Acquire) {
            tick.tick().await;
            if !self.view.caught_up() {
                continue;
            }
            lock(&self.status).waiting_for_view = false;
            if !self.send_due().await {
                break;
            }
        }
        lock(&self.status).running = false;
    }

    /// Sends what is due; `false` once the delivery task is gone.
    async fn send_due(&mut self) -> bool {
        let now = Utc::now();
        let full = self.last_full.is_none_or(|at| at.elapsed() >= self.resend);
        let incidents = self.view.to_notify(now - self.resolved_lookback);
        let due: Vec<_> = incidents
            .iter()
            .filter(|i| full || self.sent.get(&i.id).map(|s| s.0) != Some(i.version))
            .collect();
        let firing_for = ChronoDuration::from_std(self.resend * FIRING_RESENDS as u32)
            .unwrap_or(ChronoDuration::minutes(4));
        for chunk in due.chunks(self.batch_max.max(1)) {
            let mut alerts = Vec::with_capacity(chunk.len());
            for incident in chunk {
                let alert = PostableAlert::of_incident(incident, now, firing_for);
                if let Some((_, before)) = self.sent.get(&incident.id) {
                    if *before != incident.severity {
                        alerts.push(alert.clone().superseded(before.as_str(), now));
                    }
                }
                alerts.push(alert);
            }
            let Ok(fate) = self.delivery.send(alerts).await else {
                return false;
            };
            // Refused batches are counted by the delivery task and not repeated until the
            // incident changes again.
            if let Ok(Delivery::Accepted | Delivery::Refused) = fate.await {
                for incident in chunk {
                    self.sent
                        .insert(incident.id.clone(), (incident.version, incident.severity));
                }
                let mut status = lock(&self.status);
                status.sent += chunk.len() as u64;
                status.last_sent_at = Some(now);
            }
        }
        if full {
            self.last_full = Some(Instant::now());
            // Forget what the view no longer has to notify.
            let held: HashSet<&str> = incidents.iter().map(|i| i.id.as_str()).collect();
            self.sent.retain(|id, _| held.contains(id.as_str()));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alertmanager::testing::{fake_alertmanager, incident};
    use obs_incidents::IncidentStatus;
    use serde_json::Value;

    async fn next_body(received: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Value {
        let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a POST within 10 s")
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn incidents_reach_alertmanager_once_the_view_caught_up_and_again_when_they_change() {
        let (url, mut received) = fake_alertmanager(vec![503]).await;
        let view = Arc::new(IncidentView::new(100));
        let open = incident(IncidentStatus::Open);
        view.apply(open.clone());
        let config = AlertmanagerConfig {
            url: Some(url),
            retry_initial_ms: 10,
            retry_max_ms: 20,
            ..AlertmanagerConfig::default()
        };
        let registry = obs_service::Metrics::new();
        let handle = spawn_notifier(
            &config,
            view.clone(),
            &registry,
            &tokio::runtime::Handle::current(),
        )
        .unwrap()
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            received.try_recv().is_err(),
            "nothing before the view caught up"
        );
        assert!(handle.status().waiting_for_view);

        view.mark_caught_up();
        // Refused once (503), then accepted: the same alert twice.
        let first = next_body(&mut received).await;
        assert_eq!(first, next_body(&mut received).await);
        assert_eq!(first[0]["labels"]["incident_id"], open.id.as_str());
        assert!(first[0]["endsAt"].as_str().unwrap() > Utc::now().to_rfc3339().as_str());

        // Resolved now (the fixture's times are of 2024, past the lookback).
        let mut resolved = incident(IncidentStatus::Resolved);
        if let Some(resolution) = resolved.resolved.as_mut() {
            resolution.at = Utc::now();
        }
        view.apply(resolved.clone());
        let sent = next_body(&mut received).await;
        let ends_at: DateTime<Utc> = sent[0]["endsAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(ends_at, resolved.resolved.as_ref().unwrap().at);
        assert_eq!(sent[0]["annotations"]["status"], "resolved");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            received.try_recv().is_err(),
            "an unchanged incident is not sent again before the resend interval"
        );
        assert_eq!(handle.status().sent, 2);
        handle.stop();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_escalated_incident_ends_its_earlier_alert() {
        let (url, mut received) = fake_alertmanager(Vec::new()).await;
        let view = Arc::new(IncidentView::new(100));
        view.mark_caught_up();
        let mut incident = incident(IncidentStatus::Open);
        incident.severity = Severity::Warning;
        view.apply(incident.clone());
        let config = AlertmanagerConfig {
            url: Some(url),
            ..AlertmanagerConfig::default()
        };
        let handle = spawn_notifier(
            &config,
            view.clone(),
            &obs_service::Metrics::new(),
            &tokio::runtime::Handle::current(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            next_body(&mut received).await[0]["labels"]["severity"],
            "warning"
        );

        incident.severity = Severity::Critical;
        incident.version += 1;
        view.apply(incident);
        let sent = next_body(&mut received).await;
        let severities: Vec<&str> = sent
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["labels"]["severity"].as_str().unwrap())
            .collect();
        assert_eq!(severities, ["warning", "critical"]);
        let ended: DateTime<Utc> = sent[0]["endsAt"].as_str().unwrap().parse().unwrap();
        assert!(ended <= Utc::now(), "the warning alert is sent ended");
        let firing: DateTime<Utc> = sent[1]["endsAt"].as_str().unwrap().parse().unwrap();
        assert!(firing > Utc::now(), "the critical one fires");
        handle.stop();
    }
}
