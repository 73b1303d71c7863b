//! The check made before the runs' loop starts: each `raw-logs` partition has a
//! `standardized-ids` partition of its number.

use obs_kafka::topics::partition_count;
use obs_kafka::{ErrorCounter, KafkaConfig, TopicsConfig};

/// Refuses to start when `standardized-ids` has fewer partitions than `raw-logs`: a
/// partition's ids go to the partition of the same number. A topic missing yet passes
/// (the restores wait for it).
pub fn check_partitions(
    kafka: &KafkaConfig,
    topics: &TopicsConfig,
    errors: &ErrorCounter,
) -> anyhow::Result<()> {
    let (ids, raw) = (&topics.standardized_ids.name, &topics.raw_logs.name);
    if let (Some(ids_count), Some(raw_count)) = (
        partition_count(kafka, ids, errors)?,
        partition_count(kafka, raw, errors)?,
    ) {
        anyhow::ensure!(
            ids_count >= raw_count,
            "{ids} has {ids_count} partitions but {raw} has {raw_count}: \
             add partitions to {ids} (each raw partition's ids go to its number)"
        );
    }
    Ok(())
}
