//! Feeds the [`TraceView`] from `processed-metrics` and `dead-letters`, where runs leave
//! the pipeline (their `position` headers tell the hops before): a sink of the views'
//! follower ([`crate::views`]), which reads every partition of both, so each replica
//! answers for every record and a restart rebuilds the index from the retained topics.

use super::metrics::TraceMetrics;
use super::sighting::TraceTopics;
use super::view::TraceView;
use crate::writers::Writers;
use obs_kafka::consumer::follower::FollowSink;
use rdkafka::message::BorrowedMessage;
use std::sync::Arc;

/// Every stage a record of the followed topics tells, into the index: what the stages
/// that `writers` accepts wrote.
pub struct TraceSink {
    topics: TraceTopics,
    view: Arc<TraceView>,
    metrics: TraceMetrics,
    writers: Writers,
}

impl TraceSink {
    pub(super) fn new(
        topics: TraceTopics,
        view: Arc<TraceView>,
        metrics: TraceMetrics,
        writers: Writers,
    ) -> Self {
        TraceSink {
            topics,
            view,
            metrics,
            writers,
        }
    }

    /// `processed-metrics` and `dead-letters`.
    pub fn topics(&self) -> Vec<String> {
        self.topics.names()
    }
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
