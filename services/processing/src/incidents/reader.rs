//! Feeds the [`IncidentView`] from the `incidents` topic: a follower of every partition, so
//! each replica knows every incident and a restart rebuilds them.

use super::metrics::IncidentMetrics;
use super::view::IncidentView;
use obs_incidents::Incident;
use obs_kafka::consumer::follower::{spawn_follower, FollowSink, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use std::sync::Arc;
use std::time::Duration;

const READER_NAME: &str = "processing-incidents";
const PARTITION_CHECK: Duration = Duration::from_secs(30);

/// Starts reading every partition of `topic` into `view`.
pub fn spawn_incident_reader(
    kafka: &KafkaConfig,
    topic: &str,
    view: Arc<IncidentView>,
    metrics: IncidentMetrics,
    errors: &ErrorCounter,
) -> Result<FollowerHandle, KafkaError> {
    let settings = FollowerSettings {
        name: READER_NAME,
        topics: vec![topic.to_owned()],
        partition_check: PARTITION_CHECK,
    };
    let sink = IncidentSink { view, metrics };
    spawn_follower(kafka, &settings, errors, sink)
}

struct IncidentSink {
    view: Arc<IncidentView>,
    metrics: IncidentMetrics,
}

impl FollowSink for IncidentSink {
    fn apply(&mut self, _topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
        // A tombstone (compaction's deletion marker) carries nothing to apply.
        let Some(payload) = message.payload() else {
            return Ok(());
        };
        let incident =
            obs_records::from_json_bytes::<Incident>(payload).map_err(|e| e.to_string())?;
        self.view.apply(incident);
        self.metrics.set_active(&self.view.counts());
        Ok(())
    }

    fn caught_up(&mut self) {
        self.view.mark_caught_up();
    }
}
