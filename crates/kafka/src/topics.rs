//! The stack's topics and their creation at start-up.
//!
//! Services create what is missing with the admin API (broker auto-create is never relied
//! on) and warn, without changing anything, when an existing topic differs from the
//! configuration: repartitioning or changing retention is an operator's decision.

use crate::config::KafkaConfig;
use crate::error::KafkaError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Short: a broker that does not answer DescribeConfigs must not hold start-up.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

/// One topic: name, partitions, retention, compaction.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub retention_ms: i64,
    /// Keeps the latest record of each key (`cleanup.policy=compact,delete`: compacted,
    /// and a key whose latest record is older than the retention goes too).
    #[serde(default)]
    pub compacted: bool,
    /// `segment.bytes` when set: a compacted topic read whole at start-up keeps small
    /// segments, since compaction never touches the segment being written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<i64>,
}

impl TopicSpec {
    fn new(name: &str, partitions: i32, retention_days: i64) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            retention_ms: retention_days * DAY_MS,
            compacted: false,
            segment_bytes: None,
        }
    }

    fn compacted(self) -> Self {
        TopicSpec {
            compacted: true,
            ..self
        }
    }

    fn segment_bytes(self, bytes: i64) -> Self {
        TopicSpec {
            segment_bytes: Some(bytes),
            ..self
        }
    }

    /// The topic's `cleanup.policy`.
    pub fn cleanup_policy(&self) -> &'static str {
        if self.compacted {
            "compact,delete"
        } else {
            "delete"
        }
    }
}

/// Every topic of the stack, as in the architecture guide.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    pub raw_logs: TopicSpec,
    pub standardized_logs: TopicSpec,
    pub processed_metrics: TopicSpec,
    pub alerts: TopicSpec,
    pub dead_letters: TopicSpec,
    /// Application log events as posted to ingestion's `/log`; key = service.
    pub app_logs: TopicSpec,
    /// Application log events standardized, with their severity; key = service.
    pub standardized_app_logs: TopicSpec,
    /// Each service's error rate per window of event time, from processing; key = service.
    pub app_log_rates: TopicSpec,
    /// What incidents are made of: each alerting run (and the next normal runs of its
    /// series) and the operators' commands; key = `{company}:{source}`. One partition by
    /// default: librdkafka sends each partition its own produce request, which the broker
    /// verifies against the transaction and later marks, so each partition a batch's
    /// signals spread over costs the broker in every run transaction, while the incident
    /// stage reading them is light (more partitions let its replicas share it).
    pub incident_signals: TopicSpec,
    /// Every incident's latest state; key = incident id; compacted.
    pub incidents: TopicSpec,
    /// Processing's detector checkpoints: each series' latest saved state; key = series
    /// key; compacted; as many partitions as `standardized_logs`, so that a series' state
    /// lies in the partition number of its runs.
    pub detector_state: TopicSpec,
    /// Processing's error-rate checkpoints: each service's latest saved open window and
    /// detector series; key = service; compacted; as many partitions as
    /// `standardized_app_logs`, so that a service's state lies in the partition number of
    /// its events.
    pub app_log_rate_state: TopicSpec,
    /// The record ids standardization has standardized, each batch's as 64-bit hashes in
    /// one record per input partition, written in the batch's transaction to the partition
    /// numbered as its `raw_logs` partition (as many partitions); its retention is the
    /// longest de-duplication horizon it can serve.
    pub standardized_ids: TopicSpec,
    /// Which dead letters were replayed: one record per replayed dead letter, key = its
    /// `{topic}/{partition}/{offset}`, written in the replay's transaction; compacted.
    pub dead_letter_replays: TopicSpec,
    /// Replication factor of created topics; -1 takes the broker's
    /// `default.replication.factor`.
    pub replication_factor: i32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            raw_logs: TopicSpec::new("raw-logs", 3, 7),
            standardized_logs: TopicSpec::new("standardized-logs", 3, 7),
            processed_metrics: TopicSpec::new("processed-metrics", 3, 30),
            alerts: TopicSpec::new("alerts", 1, 1),
            dead_letters: TopicSpec::new("dead-letters", 1, 30),
            app_logs: TopicSpec::new("app-logs", 3, 7),
            standardized_app_logs: TopicSpec::new("standardized-app-logs", 3, 7),
            app_log_rates: TopicSpec::new("app-log-rates", 3, 7),
            incident_signals: TopicSpec::new("incident-signals", 1, 7),
            incidents: TopicSpec::new("incidents", 3, 30).compacted(),
            detector_state: TopicSpec::new("detector-state", 3, 30)
                .compacted()
                .segment_bytes(16 << 20),
            app_log_rate_state: TopicSpec::new("app-log-rate-state", 3, 30)
                .compacted()
                .segment_bytes(16 << 20),
            standardized_ids: TopicSpec::new("standardized-ids", 3, 7),
            dead_letter_replays: TopicSpec::new("dead-letter-replays", 1, 30).compacted(),
            replication_factor: -1,
        }
    }
}

impl TopicsConfig {
    pub fn all(&self) -> [&TopicSpec; 14] {
        [
            &self.raw_logs,
            &self.standardized_logs,
            &self.processed_metrics,
            &self.alerts,
            &self.dead_letters,
            &self.app_logs,
            &self.standardized_app_logs,
            &self.incident_signals,
            &self.incidents,
            &self.app_log_rates,
            &self.detector_state,
            &self.app_log_rate_state,
            &self.standardized_ids,
            &self.dead_letter_replays,
        ]
    }

    /// [`TopicsConfig::all`], to change them (tests give every topic a name of its own).
    pub fn all_mut(&mut self) -> [&mut TopicSpec; 14] {
        [
            &mut self.raw_logs,
            &mut self.standardized_logs,
            &mut self.processed_metrics,
            &mut self.alerts,
            &mut self.dead_letters,
            &mut self.app_logs,
            &mut self.standardized_app_logs,
            &mut self.incident_signals,
            &mut self.incidents,
            &mut self.app_log_rates,
            &mut self.detector_state,
            &mut self.app_log_rate_state,
            &mut self.standardized_ids,
            &mut self.dead_letter_replays,
        ]
    }
}

/// How many partitions `topic` has (`None`: it does not exist), from the broker's
/// metadata (blocking).
pub fn partition_count(
    kafka: &KafkaConfig,
    topic: &str,
    errors: &crate::error_counter::ErrorCounter,
) -> Result<Option<usize>, KafkaError> {
    use crate::consumer::{ConsumerSettings, ConsumerState};
    let consumer = ConsumerSettings::assigned("topic-partition-count").create(
        kafka,
        Arc::new(ConsumerState::new(errors.clone())),
        (),
    )?;
    Ok(partitions_of(&consumer, topic, ADMIN_TIMEOUT)?.map(|p| p.len()))
}

/// The partition ids of `topic` in the metadata `consumer` fetches; `None` when the topic
/// does not exist (or the broker reports it with an error).
pub fn partitions_of<X: ConsumerContext, C: Consumer<X>>(
    consumer: &C,
    topic: &str,
    timeout: Duration,
) -> Result<Option<Vec<i32>>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect()))
}

/// What start-up found or did for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    /// Exists and matches the configuration.
    Matches,
    /// Exists but differs; each entry says how. Left unchanged.
    Differs(Vec<String>),
}

/// Creates the missing topics of `topics` and compares the existing ones.
pub async fn ensure_topics(
    kafka: &KafkaConfig,
    service: &str,
    topics: &TopicsConfig,
) -> Result<Vec<(String, TopicOutcome)>, KafkaError> {
    let admin: Arc<AdminClient<DefaultClientContext>> =
        Arc::new(kafka.client_config(service).create()?);
    let existing = {
        let admin = admin.clone();
        tokio::task::spawn_blocking(move || -> Result<HashMap<String, i32>, KafkaError> {
            let metadata = admin
                .inner()
                .fetch_metadata(None, Timeout::After(ADMIN_TIMEOUT))?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
                .collect())
        })
        .await
        .map_err(|e| KafkaError::Admin {
            topic: "*".into(),
            reason: format!("metadata task failed: {e}"),
        })??
    };
    let options = AdminOptions::new()
        .operation_timeout(Some(Timeout::After(ADMIN_TIMEOUT)))
        .request_timeout(Some(Timeout::After(ADMIN_TIMEOUT)));

    let missing: Vec<&TopicSpec> = topics
        .all()
        .into_iter()
        .filter(|t| !existing.contains_key(&t.name))
        .collect();
    let retention: Vec<String> = missing.iter().map(|t| t.retention_ms.to_string()).collect();
    let segments: Vec<Option<String>> = missing
        .iter()
        .map(|t| t.segment_bytes.map(|b| b.to_string()))
        .collect();
    let new_topics: Vec<NewTopic> = missing
        .iter()
        .zip(retention.iter().zip(&segments))
        .map(|(t, (retention_ms, segment_bytes))| {
            let topic = NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(topics.replication_factor),
            )
            .set("retention.ms", retention_ms)
            .set("cleanup.policy", t.cleanup_policy());
            match segment_bytes {
                Some(bytes) => topic.set("segment.bytes", bytes),
                None => topic,
            }
        })
        .collect();
    let mut outcomes = Vec::new();
    if !new_topics.is_empty() {
        for result in admin.create_topics(&new_topics, &options).await? {
            match result {
                Ok(name) => {
                    tracing::info!(topic = %name, "created topic");
                    outcomes.push((name, TopicOutcome::Created));
                }
                // Another service created it in the meantime.
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    outcomes.push((name, TopicOutcome::Matches));
                }
                Err((name, code)) => {
                    return Err(KafkaError::Admin {
                        topic: name,
                        reason: code.to_string(),
                    })
                }
            }
        }
    }

    let present: Vec<&TopicSpec> = topics
        .all()
        .into_iter()
        .filter(|t| existing.contains_key(&t.name))
        .collect();
    if present.is_empty() {
        return Ok(outcomes);
    }
    let resources: Vec<ResourceSpecifier> = present
        .iter()
        .map(|t| ResourceSpecifier::Topic(&t.name))
        .collect();
    // Not every broker (librdkafka's mock cluster, restricted ACLs) answers DescribeConfigs;
    // the retention check is then skipped with a warning rather than failing start-up.
    let retentions: HashMap<String, Option<i64>> = match admin
        .describe_configs(
            &resources,
            &AdminOptions::new().request_timeout(Some(Timeout::After(DESCRIBE_TIMEOUT))),
        )
        .await
    {
        Ok(results) => present
            .iter()
            .zip(results)
            .map(|(t, result)| {
                let value = result.ok().and_then(|r| {
                    r.get("retention.ms")
                        .and_then(|e| e.value.as_deref())
                        .and_then(|v| v.parse().ok())
                });
                (t.name.clone(), value)
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "could not read topic configs; retention not checked");
            HashMap::new()
        }
    };
    for spec in present {
        let mut differences = Vec::new();
        let partitions = existing.get(&spec.name).copied().unwrap_or_default();
        if partitions != spec.partitions {
            differences.push(format!(
                "has {partitions} partitions, configured {}",
                spec.partitions
            ));
        }
        if let Some(Some(retention_ms)) = retentions.get(&spec.name) {
            if *retention_ms != spec.retention_ms {
                differences.push(format!(
                    "has retention.ms={retention_ms}, configured {}",
                    spec.retention_ms
                ));
            }
        }
        let outcome = if differences.is_empty() {
            TopicOutcome::Matches
        } else {
            tracing::warn!(topic = %spec.name, differences = ?differences,
                "existing topic differs from the configuration; left unchanged");
            TopicOutcome::Differs(differences)
        };
        outcomes.push((spec.name.clone(), outcome));
    }
    Ok(outcomes)
}

/// [`ensure_topics`] until it succeeds: services start while Kafka is still away and
/// prepare their topics as soon as it answers.
pub async fn ensure_topics_when_reachable(
    kafka: &KafkaConfig,
    service: &str,
    topics: &TopicsConfig,
) {
    loop {
        match ensure_topics(kafka, service, topics).await {
            Ok(outcomes) => {
                tracing::info!(?outcomes, "topics ready");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot prepare topics yet; retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_architecture_guide() {
        let topics = TopicsConfig::default();
        let summary: Vec<(&str, i32, i64, &str)> = topics
            .all()
            .iter()
            .map(|t| {
                let days = t.retention_ms / DAY_MS;
                (t.name.as_str(), t.partitions, days, t.cleanup_policy())
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("raw-logs", 3, 7, "delete"),
                ("standardized-logs", 3, 7, "delete"),
                ("processed-metrics", 3, 30, "delete"),
                ("alerts", 1, 1, "delete"),
                ("dead-letters", 1, 30, "delete"),
                ("app-logs", 3, 7, "delete"),
                ("standardized-app-logs", 3, 7, "delete"),
                ("incident-signals", 1, 7, "delete"),
                ("incidents", 3, 30, "compact,delete"),
                ("app-log-rates", 3, 7, "delete"),
                ("detector-state", 3, 30, "compact,delete"),
                ("app-log-rate-state", 3, 30, "compact,delete"),
                ("standardized-ids", 3, 7, "delete"),
                ("dead-letter-replays", 1, 30, "compact,delete"),
            ]
        );
        assert_eq!(
            topics.detector_state.partitions, topics.standardized_logs.partitions,
            "a series' state lies in the partition number of its runs"
        );
        assert_eq!(
            topics.app_log_rate_state.partitions, topics.standardized_app_logs.partitions,
            "a service's state lies in the partition number of its events"
        );
        assert_eq!(
            topics.standardized_ids.partitions, topics.raw_logs.partitions,
            "a raw partition's ids lie in the partition of the same number"
        );
    }
}
