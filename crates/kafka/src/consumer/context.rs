//! The librdkafka context of every consumer: rebalances tracked in the shared state, and
//! the component's hooks.

use super::state::{ConsumerState, TopicPartition};
use crate::error_counter::ErrorStage;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;
use std::sync::Arc;

/// What a component adds to the context. Both run on the thread that polls the consumer.
pub trait ConsumerHooks: Send + Sync + 'static {
    /// Before partitions are assigned or revoked (e.g. wait for a transaction that may
    /// still commit offsets of the partitions about to go).
    fn before_rebalance(&self) {}

    /// librdkafka's statistics, every `statistics.interval.ms` when that is set.
    fn statistics(&self, _statistics: Statistics, _state: &ConsumerState) {}
}

/// No hooks.
impl ConsumerHooks for () {}

/// The context of a [`TrackedConsumer`].
pub struct TrackedContext<H> {
    state: Arc<ConsumerState>,
    hooks: H,
}

impl<H: ConsumerHooks> TrackedContext<H> {
    pub(super) fn new(state: Arc<ConsumerState>, hooks: H) -> Self {
        TrackedContext { state, hooks }
    }

    pub fn state(&self) -> &ConsumerState {
        &self.state
    }

    pub fn hooks(&self) -> &H {
        &self.hooks
    }
}

/// A consumer built by [`super::ConsumerSettings::create`].
pub type TrackedConsumer<H = ()> = BaseConsumer<TrackedContext<H>>;

impl<H: ConsumerHooks> ClientContext for TrackedContext<H> {
    fn stats(&self, statistics: Statistics) {
        self.hooks.statistics(statistics, &self.state);
    }

    /// As librdkafka's default, except the end of a partition: a consumer that asked for
    /// `enable.partition.eof` reads it from `poll`, and it is no error.
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!(%reason, "librdkafka: end of partition");
        } else {
            tracing::error!(%error, %reason, "librdkafka: global error");
        }
    }
}

impl<H: ConsumerHooks> ConsumerContext for TrackedContext<H> {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        self.hooks.before_rebalance();
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(error) = rebalance {
            self.state.error(ErrorStage::Receiving, "rebalance", error);
        }
        // After an error too: what the consumer gathered may belong to a lost assignment.
        let assigned: Vec<TopicPartition> = match rebalance {
            Rebalance::Revoke(_) => Vec::new(),
            Rebalance::Assign(_) | Rebalance::Error(_) => consumer
                .assignment()
                .map(|list| {
                    list.elements()
                        .iter()
                        .map(|e| TopicPartition {
                            topic: e.topic().to_owned(),
                            partition: e.partition(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        tracing::info!(?assigned, "partitions assigned");
        self.state.rebalanced(assigned);
    }
}
