//! What a stage checkpoints: its state per key (a series, a service), saved and restored by
//! the stage and replayed from its input, apart from the checkpoints' mechanics (the
//! schedule, the records, the restore), which are the same for every stage.

use super::config::CheckpointConfig;
use super::error::CheckpointError;
use obs_kafka::{TopicSpec, TopicsConfig};

/// The names a stage's checkpoints go by in metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointNames {
    /// `processing_{metrics}_restores_total`, ...
    pub metrics: &'static str,
    /// What one saved state is of, plural, in a metric name (`series`, `services`).
    pub keys: &'static str,
    /// What one input record is, plural, in a metric name (`runs`, `events`).
    pub inputs: &'static str,
    /// The stage, in help texts and logs.
    pub stage: &'static str,
    /// The `client.id` of the restores' readers.
    pub restore_client: &'static str,
}

/// A stage's state as its checkpoints see it.
pub trait Checkpointed: Send + 'static {
    /// The stage's own state, as the stage hands it over for a record.
    type Live<'a>;
    /// A partition's state rebuilt apart from the stage's, then taken in at once.
    type Apart;
    /// An input record as the stage reads it.
    type Input;

    const NAMES: CheckpointNames;

    /// The checkpoint topic and the stage's input topic (as many partitions).
    fn topics(topics: &TopicsConfig) -> (&TopicSpec, &TopicSpec);
    /// Offsets of its input partition after which a key's state is saved again.
    fn interval_records(config: &CheckpointConfig) -> i64;

    /// A record's key and what the stage reads of it; `None` for one the stage dead-letters.
    fn read(&self, payload: Option<&[u8]>) -> Option<(String, Self::Input)>;
    /// An empty state to rebuild a partition in.
    fn apart(&self) -> Result<Self::Apart, CheckpointError>;
    /// Puts `key`'s saved state into `apart`; refused, `key` is left out of it.
    fn restore(&self, apart: &mut Self::Apart, key: &str, saved: &[u8]) -> Result<(), String>;
    /// One input record of the partition, as the stage would process it, without outputs.
    fn replay(&self, apart: &mut Self::Apart, input: Self::Input);
    /// Keys `apart` holds.
    fn held(apart: &Self::Apart) -> usize;

    /// Appends `key`'s state to `out`; false (nothing written) when the stage holds none.
    fn save(&self, live: &mut Self::Live<'_>, key: &str, out: &mut Vec<u8>) -> bool;
    /// Takes a rebuilt partition in; a key the stage holds keeps its own state.
    fn absorb(&self, live: &mut Self::Live<'_>, apart: Self::Apart) -> Result<(), String>;
    /// Forgets every key: a new assignment or an aborted transaction (each partition
    /// restored again), or an abort with checkpoints off (as at a restart).
    fn clear(live: &mut Self::Live<'_>);
}
