//! Feeds the [`LogView`] from `standardized-app-logs`: a follower
//! ([`obs_kafka::consumer::follower`]) of every partition of the topic, so each replica's
//! index covers every event and a restart rebuilds it from the retained topic.

use super::metrics::IndexMetrics;
use super::view::LogView;
use obs_kafka::consumer::follower::{spawn_follower, FollowSink, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use obs_records::StandardizedLogEvent;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use std::sync::Arc;
use std::time::Duration;

/// `client.id` of the reader, the prefix of its throwaway `group.id`, its thread's name.
const READER_NAME: &str = "processing-log-index";

/// The running reader (see [`obs_kafka::consumer::follower`] for its status and phases).
pub type LogReaderHandle = FollowerHandle;

/// What the reader needs besides its Kafka settings.
pub struct LogReaderSettings {
    /// `standardized-app-logs`.
    pub topic: String,
    pub partition_check: Duration,
    pub metrics: IndexMetrics,
}

/// Starts reading every partition of `settings.topic` into `view`, on a thread of its own.
pub fn spawn_log_reader(
    kafka: &KafkaConfig,
    settings: LogReaderSettings,
    view: Arc<LogView>,
    errors: &ErrorCounter,
) -> Result<LogReaderHandle, KafkaError> {
    let follower = FollowerSettings {
        name: READER_NAME,
        topics: vec![settings.topic],
        partition_check: settings.partition_check,
    };
    let sink = IndexSink {
        view,
        metrics: settings.metrics,
    };
    spawn_follower(kafka, &follower, errors, sink)
}

/// Each event into the index, with the index's figures.
struct IndexSink {
    view: Arc<LogView>,
    metrics: IndexMetrics,
}

impl FollowSink for IndexSink {
    fn apply(&mut self, _topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
        let payload = message.payload().unwrap_or_default();
        let event = obs_records::from_json_bytes::<StandardizedLogEvent>(payload)
            .map_err(|e| e.to_string())?;
        let (evicted, stats) = self.view.insert(event);
        let m = &self.metrics;
        m.indexed.inc();
        m.evicted.inc_by(evicted as u64);
        m.held.set(stats.held as i64);
        m.held_bytes.set(stats.held_bytes as i64);
        Ok(())
    }

    fn caught_up(&mut self) {
        self.view.mark_caught_up();
    }
}
