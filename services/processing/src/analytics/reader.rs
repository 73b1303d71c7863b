//! Feeds the [`AnalyticsView`] from `processed-metrics` and `alerts`: a sink of the views'
//! follower ([`crate::views`]), which reads every partition of both topics, so each
//! replica's view covers the whole stack and a restart rebuilds it from the retained
//! topics.

use super::view::AnalyticsView;
use crate::writers::Writers;
use obs_detector::Alert;
use obs_kafka::consumer::follower::FollowSink;
use obs_kafka::TopicsConfig;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use std::sync::Arc;

/// Processed records and alerts, each to its part of the view: what the stages that
/// `writers` accepts wrote.
pub struct AnalyticsSink {
    processed_topic: String,
    alerts_topic: String,
    view: Arc<AnalyticsView>,
    writers: Writers,
}

impl AnalyticsSink {
    pub fn new(topics: &TopicsConfig, view: Arc<AnalyticsView>, writers: Writers) -> Self {
        AnalyticsSink {
            processed_topic: topics.processed_metrics.name.clone(),
            alerts_topic: topics.alerts.name.clone(),
            view,
            writers,
        }
    }

    /// `processed-metrics` and `alerts`.
    pub fn topics(&self) -> Vec<String> {
        vec![self.processed_topic.clone(), self.alerts_topic.clone()]
    }
}

impl FollowSink for AnalyticsSink {
    fn apply(&mut self, topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
        if !self.writers.admits(topic, message) {
            return Ok(());
        }
        let payload = message.payload().unwrap_or_default();
        if topic == self.processed_topic {
            self.view
                .apply_processed(payload)
                .map_err(|e| e.to_string())
        } else {
            let alert = serde_json::from_slice::<Alert>(payload).map_err(|e| e.to_string())?;
            self.view.apply_alert(alert);
            Ok(())
        }
    }

    fn caught_up(&mut self) {
        self.view.mark_caught_up();
    }
}
