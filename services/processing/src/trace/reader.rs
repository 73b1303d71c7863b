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

/// The reader's fetches (`kafka.properties` overrides them): the broker answers once it
/// has 256 KiB for it or after 500 ms, so the reader fetches hundreds of records at a time
/// rather than each transaction's few as soon as it commits (a trace shows up at most
/// half a second late); and a fetch brings at most 1 MiB, 256 KiB of a partition, the
/// size of the follower's prefetch queue.
const FETCH_SETTINGS: &[(&str, &str)] = &[
    ("fetch.min.bytes", "262144"),
    ("fetch.wait.max.ms", "500"),
    ("fetch.max.bytes", "1048576"),
    ("max.partition.fetch.bytes", "262144"),
];

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
    spawn_follower(&with_fetch_settings(kafka), &settings, errors, sink)
}

/// `kafka` with the [`FETCH_SETTINGS`] its `properties` do not set.
fn with_fetch_settings(kafka: &KafkaConfig) -> KafkaConfig {
    let mut kafka = kafka.clone();
    for (key, value) in FETCH_SETTINGS {
        kafka
            .properties
            .entry((*key).to_owned())
            .or_insert_with(|| (*value).to_owned());
    }
    kafka
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_settings_yield_to_kafka_properties() {
        let mut kafka = KafkaConfig::default();
        kafka
            .properties
            .insert("fetch.wait.max.ms".into(), "100".into());
        let tuned = with_fetch_settings(&kafka);
        assert_eq!(tuned.properties["fetch.wait.max.ms"], "100");
        assert_eq!(tuned.properties["fetch.min.bytes"], "262144");
        assert_eq!(tuned.properties.len(), FETCH_SETTINGS.len());
    }
}
