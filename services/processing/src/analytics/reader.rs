//! Feeds the [`AnalyticsView`] from `processed-metrics` and `alerts`: a part of the views'
//! follower ([`crate::views`]), which reads every partition of both topics, so each
//! replica's view covers the whole stack and a restart rebuilds it from the retained
//! topics.

use super::view::AnalyticsView;
use crate::processed::ProcessedFields;
use crate::writers::Writers;
use obs_detector::Alert;
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

    pub fn processed_topic(&self) -> &str {
        &self.processed_topic
    }

    pub fn alerts_topic(&self) -> &str {
        &self.alerts_topic
    }

    /// Whether the processed record `message` was written by a stage the view takes it
    /// from; counts it as ignored when not.
    pub fn admits_processed(&self, message: &BorrowedMessage<'_>) -> bool {
        self.writers.admits(&self.processed_topic, message)
    }

    /// A processed record the view admits, its `fields` read from its `json`.
    pub fn apply_processed(&self, fields: &ProcessedFields<'_>, json: &[u8]) {
        self.view.apply_fields(fields, json);
    }

    /// An alert, when the view admits it; an `Err` says why it cannot be read.
    pub fn apply_alert(&self, message: &BorrowedMessage<'_>) -> Result<(), String> {
        if !self.writers.admits(&self.alerts_topic, message) {
            return Ok(());
        }
        let payload = message.payload().unwrap_or_default();
        let alert = serde_json::from_slice::<Alert>(payload).map_err(|e| e.to_string())?;
        self.view.apply_alert(alert);
        Ok(())
    }

    /// Every partition reached what was published before the follower started.
    pub fn caught_up(&self) {
        self.view.mark_caught_up();
    }
}
