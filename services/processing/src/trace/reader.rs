//! Feeds the [`TraceView`] from `processed-metrics` and `dead-letters`, where runs leave
//! the pipeline (their `position` headers tell the hops before): a follower
//! ([`obs_kafka::consumer::follower`]) of every partition of both, so each replica
//! answers for every record and a restart rebuilds the index from the retained topics.

use super::metrics::TraceMetrics;
use super::sighting::TraceTopics;
use super::view::TraceView;
use crate::writers::Writers;
use obs_kafka::consumer::follower::{spawn_follower, FollowSink, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use rdkafka::message::BorrowedMessage;
use std::sync::Arc;
use std::time::Duration;

/// `client.id` of the reader, the prefix of its throwaway `group.id`, its thread's name.
const READER_NAME: &str = "processing-trace";

/// Starts reading every partition of the `topics` into `view`, on a thread of its own.
pub(crate) fn spawn_trace_reader(
    kafka: &KafkaConfig,
    topics: TraceTopics,
    partition_check: Duration,
    view: Arc<TraceView>,
    metrics: TraceMetrics,
    errors: &ErrorCounter,
    writers: Writers,
) -> Result<FollowerHandle, KafkaError> {
    let settings = FollowerSettings {
        name: READER_NAME,
        topics: topics.names(),
        partition_check,
    };
    let sink = TraceSink {
        topics,
        view,
        metrics,
        writers,
    };
    spawn_follower(kafka, &settings, errors, sink)
}

struct TraceSink {
    topics: TraceTopics,
    view: Arc<TraceView>,
    metrics: TraceMetrics,
    writers: Writers,
}

impl FollowSink for TraceSink {
    fn apply(&mut self, topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
        if !self.writers.admits(topic, message) {
            return Ok(());
        }
        let Some((record_id, sightings)) = self
            .topics
            .sightings(topic, message)
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        for sighting in sightings {
            let (evicted, held) = self.view.see(record_id, sighting);
            if evicted {
                self.metrics.evicted.inc();
            }
            self.metrics.held.set(held as i64);
        }
        Ok(())
    }

    fn caught_up(&mut self) {
        self.view.mark_caught_up();
    }
}
