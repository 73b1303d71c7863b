//! Why a checkpoint could not be read or a partition restored.

use obs_kafka::KafkaError;
use rdkafka::error::KafkaError as RdKafkaError;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(
        "{state_topic} has {state} partitions and {input_topic} {input}: a saved state \
         must lie in the partition number of its key's records; give both topics the same \
         partition count"
    )]
    PartitionsDiffer {
        state_topic: String,
        state: usize,
        input_topic: String,
        input: usize,
    },
    #[error("unreadable checkpoint record: {0}")]
    UnreadableRecord(&'static str),
    #[error("the state of a restore: {0}")]
    State(String),
    #[error("registering the checkpoint metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl From<RdKafkaError> for CheckpointError {
    fn from(error: RdKafkaError) -> Self {
        CheckpointError::Kafka(KafkaError::Client(error))
    }
}
