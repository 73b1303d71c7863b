//! The check made before a checkpointed stage starts: a key's saved state is read from the
//! partition of the checkpoint topic (`detector-state`, `app-log-rate-state`) numbered as
//! the partition of its records in the stage's input (`standardized-logs`,
//! `standardized-app-logs`), which holds when both topics have as many partitions and
//! their producers the same partitioner. Both producers are stage producers
//! (standardization's and this one's), whose partitioner is librdkafka's default (CRC32 of
//! the key, modulo the partition count) unless `kafka.properties` sets `partitioner`; the
//! partition counts are checked here, and every restored state says which partition it was
//! saved for.

use super::error::CheckpointError;
use obs_kafka::consumer::{ConsumerSettings, ConsumerState};
use obs_kafka::{ErrorCounter, KafkaConfig};
use rdkafka::consumer::Consumer;
use std::sync::Arc;
use std::time::Duration;

const CLIENT_NAME: &str = "processing-checkpoint-check";
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses topics whose partition counts differ. A topic missing yet passes (the service
/// creates its topics before starting its stages; a test may start them first): the
/// restores then wait for it.
pub fn check_partitions(
    kafka: &KafkaConfig,
    state_topic: &str,
    input_topic: &str,
    errors: &ErrorCounter,
) -> Result<(), CheckpointError> {
    let consumer = ConsumerSettings::assigned(CLIENT_NAME).create(
        kafka,
        Arc::new(ConsumerState::new(errors.clone())),
        (),
    )?;
    let count = |topic: &str| -> Result<Option<usize>, CheckpointError> {
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len()))
    };
    match (count(state_topic)?, count(input_topic)?) {
        (Some(state), Some(input)) if state != input => Err(CheckpointError::PartitionsDiffer {
            state_topic: state_topic.to_owned(),
            state,
            input_topic: input_topic.to_owned(),
            input,
        }),
        _ => Ok(()),
    }
}
