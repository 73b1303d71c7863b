//! One follower for the views of what the stages wrote: the analytics view
//! (`processed-metrics`, `alerts`) and the trace index (`processed-metrics`,
//! `dead-letters`). Both read every processed record; sharing the consumer fetches and
//! decompresses `processed-metrics` once instead of twice, and keeps one prefetch queue.

use crate::analytics::AnalyticsSink;
use crate::trace::TraceSink;
use obs_kafka::consumer::follower::{spawn_follower, Fanout, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use std::time::Duration;

/// `client.id` of the follower, the prefix of its throwaway `group.id`, its thread's name.
const READER_NAME: &str = "processing-views";

/// Starts the follower of both views' topics, on a thread of its own; it looks for added
/// partitions every `partition_check`.
pub fn spawn_views_reader(
    kafka: &KafkaConfig,
    analytics: AnalyticsSink,
    trace: TraceSink,
    partition_check: Duration,
    errors: &ErrorCounter,
) -> Result<FollowerHandle, KafkaError> {
    let (analytics_topics, trace_topics) = (analytics.topics(), trace.topics());
    let fanout = Fanout::default()
        .with(analytics_topics, analytics)
        .with(trace_topics, trace);
    let settings = FollowerSettings {
        name: READER_NAME,
        topics: fanout.topics(),
        partition_check,
    };
    spawn_follower(kafka, &settings, errors, fanout)
}
