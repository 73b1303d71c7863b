//! One follower for the views of what the stages wrote: the analytics view
//! (`processed-metrics`, `alerts`) and the trace index (`processed-metrics`,
//! `dead-letters`). Both read every processed record; sharing the consumer fetches and
//! decompresses `processed-metrics` once instead of twice, keeps one prefetch queue, and
//! parses each processed record once for both ([`ProcessedFields`]).

use crate::analytics::AnalyticsSink;
use crate::processed::ProcessedFields;
use crate::trace::TraceSink;
use obs_kafka::consumer::follower::{spawn_follower, FollowSink, FollowerHandle, FollowerSettings};
use obs_kafka::{ErrorCounter, KafkaConfig, KafkaError};
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
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
    let mut topics = analytics.topics();
    for topic in trace.topics() {
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    let settings = FollowerSettings {
        name: READER_NAME,
        topics,
        partition_check,
    };
    let sink = ViewsSink { analytics, trace };
    spawn_follower(kafka, &settings, errors, sink)
}

/// Each record to the views that follow its topic.
struct ViewsSink {
    analytics: AnalyticsSink,
    trace: TraceSink,
}

impl FollowSink for ViewsSink {
    /// A processed record is read once, for the views that admit it; the first refusal is
    /// the record's.
    fn apply(&mut self, topic: &str, message: &BorrowedMessage<'_>) -> Result<(), String> {
        let (analytics, trace) = (&self.analytics, &self.trace);
        if topic == analytics.processed_topic() {
            let to_analytics = analytics.admits_processed(message);
            let to_trace = trace.admits_processed(message);
            if !(to_analytics || to_trace) {
                return Ok(());
            }
            let json = message.payload().unwrap_or_default();
            let fields = ProcessedFields::read(json).map_err(|e| e.to_string())?;
            if to_analytics {
                analytics.apply_processed(&fields, json);
            }
            if to_trace {
                trace.apply_processed(message, &fields)?;
            }
            Ok(())
        } else if topic == analytics.alerts_topic() {
            analytics.apply_alert(message)
        } else {
            trace.apply_dead_letter(message)
        }
    }

    fn caught_up(&mut self) {
        self.analytics.caught_up();
        self.trace.caught_up();
    }
}
