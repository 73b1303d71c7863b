//! Feeds the [`AnalyticsView`] from `processed-metrics` and `alerts`: a follower
//! ([`obs_kafka::consumer::follower`]) of every partition of both topics, so each replica's
//! view covers the whole stack and a restart rebuilds it from the retained topics.

use super::view::AnalyticsView;
use crate::writers::Writers;
use obs_detector::Alert;
use obs_kafka::consumer::follower::{spawn_follower, FollowSink, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError, TopicsConfig};
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use std::sync::Arc;
use std::time::Duration;

/// `client.id` of the reader, the prefix of its throwaway `group.id`, its thread's name.
const READER_NAME: &str = "processing-analytics";

/// The running reader (see [`obs_kafka::consumer::follower`] for its status and phases).
pub type ReaderHandle = FollowerHandle;

/// Starts reading every partition of `topics.processed_metrics` and `topics.alerts` into
/// `view`, on a thread of its own: what the stages that `writers` accepts wrote.
pub fn spawn_reader(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    view: Arc<AnalyticsView>,
    errors: &ErrorCounter,
    writers: Writers,
) -> Result<ReaderHandle, KafkaError> {
    let settings = FollowerSettings {
        name: READER_NAME,
        topics: vec![
            topics.processed_metrics.name.clone(),
            topics.alerts.name.clone(),
        ],
        partition_check: Duration::from_millis(view.config().partition_check_ms),
    };
    let sink = ViewSink {
        processed_topic: topics.processed_metrics.name.clone(),
        view,
        writers,
    };
    spawn_follower(kafka, &settings, errors, sink)
}

/// Processed records and alerts, each to its part of the view.
struct ViewSink {
    processed_topic: String,
    view: Arc<AnalyticsView>,
    writers: Writers,
}

impl FollowSink for ViewSink {
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
