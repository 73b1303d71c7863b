//! Feeds the [`TraceView`] from `processed-metrics` and `dead-letters`, where runs leave
//! the pipeline (their `position` headers tell the hops before): a part of the views'
//! follower ([`crate::views`]), which reads every partition of both, so each replica
//! answers for every record and a restart rebuilds the index from the retained topics.

use super::index::Sighting;
use super::metrics::TraceMetrics;
use super::sighting::TraceTopics;
use super::view::TraceView;
use crate::processed::ProcessedFields;
use crate::writers::Writers;
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

    /// Whether the processed record `message` was written by a stage the index takes it
    /// from; counts it as ignored when not.
    pub fn admits_processed(&self, message: &BorrowedMessage<'_>) -> bool {
        self.writers.admits(&self.topics.processed_metrics, message)
    }

    /// A processed record the index admits, its `fields` read; an `Err` says why it
    /// cannot be indexed.
    pub fn apply_processed(
        &self,
        message: &BorrowedMessage<'_>,
        fields: &ProcessedFields<'_>,
    ) -> Result<(), String> {
        let (record_id, sightings) = self
            .topics
            .processed(message, fields)
            .map_err(|e| e.to_string())?;
        self.see(record_id, sightings);
        Ok(())
    }

    /// A dead letter, when the index admits and follows it; an `Err` says why it cannot
    /// be indexed.
    pub fn apply_dead_letter(&self, message: &BorrowedMessage<'_>) -> Result<(), String> {
        if !self.writers.admits(&self.topics.dead_letters, message) {
            return Ok(());
        }
        if let Some((record_id, sightings)) = self
            .topics
            .dead_lettered(message)
            .map_err(|e| e.to_string())?
        {
            self.see(record_id, sightings);
        }
        Ok(())
    }

    fn see(&self, record_id: &str, sightings: Vec<Sighting>) {
        for sighting in sightings {
            let (evicted, held) = self.view.see(record_id, sighting);
            if evicted {
                self.metrics.evicted.inc();
            }
            self.metrics.held.set(held as i64);
        }
    }

    /// Every partition reached what was published before the follower started.
    pub fn caught_up(&self) {
        self.view.mark_caught_up();
    }
}
