//! How every consumer of the stack is configured.

use super::context::{ConsumerHooks, TrackedConsumer, TrackedContext};
use super::state::ConsumerState;
use crate::config::KafkaConfig;
use crate::error::KafkaError;
use rdkafka::ClientConfig;
use std::sync::Arc;

/// A name for this instance that survives its restarts: `<prefix>-<hostname>` (the
/// hostname from `/etc/hostname` or `HOSTNAME`; a pod's or a container's name under an
/// orchestrator). For transactional ids and static group membership.
pub fn instance_id(prefix: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "local".into());
    format!("{prefix}-{host}")
}

/// `session.timeout.ms` of a static member, unless `kafka.properties` says otherwise.
const STATIC_SESSION_TIMEOUT_MS: &str = "30000";

/// Which records a consumer may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Only records of committed transactions (every consumer of the stack: the stages
    /// write transactionally).
    ReadCommitted,
    /// Every record, aborted transactions' included.
    ReadUncommitted,
}

/// Who decides which partitions a consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Membership {
    /// A member of `group_id`: the group coordinator assigns the partitions; the consumer
    /// commits its offsets there. `instance_id`: a static member (KIP-345).
    Group {
        group_id: String,
        eager: bool,
        instance_id: Option<String>,
    },
    /// Outside every group: the consumer assigns its partitions itself and commits nothing;
    /// its `group.id` is unique and throwaway (librdkafka wants one).
    Assigned,
}

/// The settings of one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    client_id: String,
    membership: Membership,
    isolation: Isolation,
    tuning: &'static [(&'static str, &'static str)],
}

impl ConsumerSettings {
    /// A member of consumer group `group_id`, reading committed records, starting at the
    /// oldest retained record when the group has no committed offset yet.
    pub fn in_group(client_id: &str, group_id: &str) -> Self {
        ConsumerSettings {
            client_id: client_id.to_owned(),
            membership: Membership::Group {
                group_id: group_id.to_owned(),
                eager: false,
                instance_id: None,
            },
            isolation: Isolation::ReadCommitted,
            tuning: &[],
        }
    }

    /// A consumer outside every group that assigns its partitions itself.
    pub fn assigned(client_id: &str) -> Self {
        ConsumerSettings {
            client_id: client_id.to_owned(),
            membership: Membership::Assigned,
            isolation: Isolation::ReadCommitted,
            tuning: &[],
        }
    }

    /// The component's tuning defaults; `kafka.properties` still overrides them.
    pub fn tuning(mut self, tuning: &'static [(&'static str, &'static str)]) -> Self {
        self.tuning = tuning;
        self
    }

    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Eager rebalances (round robin): a rebalance revokes every partition, so whatever a
    /// member gathered but did not commit is dropped and read again from the committed
    /// offsets. Only for group members.
    pub fn eager_rebalance(mut self) -> Self {
        if let Membership::Group { eager, .. } = &mut self.membership {
            *eager = true;
        }
        self
    }

    /// A static member of its group (`group.instance.id`, stable per instance, like a
    /// transactional id): a restarted instance takes its partitions back at once, without a
    /// rebalance, instead of waiting for its dead predecessor's session to expire. The
    /// session timeout is what an instance that does not come back costs its partitions
    /// (`session.timeout.ms`, 30 s here; `kafka.properties` overrides it). A static member
    /// does not leave the group when it stops: its partitions wait for it, or for that
    /// timeout. Only for group members.
    pub fn static_member(mut self, id: &str) -> Self {
        if let Membership::Group { instance_id, .. } = &mut self.membership {
            *instance_id = Some(id.to_owned());
        }
        self
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The librdkafka configuration: connection and security from `kafka`, the tuning,
    /// `kafka.properties`, then the settings the consumer's correctness depends on.
    pub fn client_config(&self, kafka: &KafkaConfig) -> ClientConfig {
        let mut tuning: Vec<(&str, &str)> = Vec::with_capacity(self.tuning.len() + 1);
        if let Membership::Group {
            instance_id: Some(_),
            ..
        } = &self.membership
        {
            tuning.push(("session.timeout.ms", STATIC_SESSION_TIMEOUT_MS));
        }
        tuning.extend_from_slice(self.tuning);
        let mut config = kafka.client_config_tuned(&self.client_id, &tuning);
        let group_id = match &self.membership {
            Membership::Group {
                group_id,
                eager,
                instance_id,
            } => {
                if *eager {
                    config.set("partition.assignment.strategy", "roundrobin");
                }
                if let Some(id) = instance_id {
                    config.set("group.instance.id", id);
                }
                group_id.clone()
            }
            Membership::Assigned => format!("{}-{}", self.client_id, uuid::Uuid::new_v4().simple()),
        };
        let isolation = match self.isolation {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        };
        config
            .set("group.id", group_id)
            // Offsets are committed by the component when its outputs are safe (in a
            // transaction, or once delivered), never on a timer.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", isolation)
            .set("auto.offset.reset", "earliest")
            // Topics are created by the services at start-up with their configured
            // partitions and retention, never by a consumer's metadata request.
            .set("allow.auto.create.topics", "false");
        config
    }

    /// Creates the consumer, its assignment and rebalances tracked in `state`.
    pub fn create<H: ConsumerHooks>(
        &self,
        kafka: &KafkaConfig,
        state: Arc<ConsumerState>,
        hooks: H,
    ) -> Result<TrackedConsumer<H>, KafkaError> {
        Ok(self
            .client_config(kafka)
            .create_with_context(TrackedContext::new(state, hooks))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_members_commit_by_hand_and_read_committed() {
        let mut kafka = KafkaConfig::default();
        kafka
            .properties
            .insert("queued.max.messages.kbytes".into(), "2048".into());
        kafka
            .properties
            .insert("enable.auto.commit".into(), "true".into());
        let config = ConsumerSettings::in_group("stage", "g1")
            .tuning(&[
                ("queued.max.messages.kbytes", "1024"),
                ("fetch.wait.max.ms", "25"),
            ])
            .eager_rebalance()
            .client_config(&kafka);
        assert_eq!(config.get("client.id"), Some("stage"));
        assert_eq!(config.get("group.id"), Some("g1"));
        assert_eq!(
            config.get("queued.max.messages.kbytes"),
            Some("2048"),
            "properties override tuning"
        );
        assert_eq!(config.get("fetch.wait.max.ms"), Some("25"));
        assert_eq!(
            config.get("enable.auto.commit"),
            Some("false"),
            "correctness settings win over properties"
        );
        assert_eq!(config.get("isolation.level"), Some("read_committed"));
        assert_eq!(
            config.get("partition.assignment.strategy"),
            Some("roundrobin")
        );
        assert_eq!(config.get("allow.auto.create.topics"), Some("false"));
    }

    #[test]
    fn static_members_have_an_instance_id_and_a_session_timeout() {
        let mut kafka = KafkaConfig::default();
        let settings = ConsumerSettings::in_group("stage", "g1").static_member("g1-host-a");
        let config = settings.client_config(&kafka);
        assert_eq!(config.get("group.instance.id"), Some("g1-host-a"));
        assert_eq!(
            config.get("session.timeout.ms"),
            Some(STATIC_SESSION_TIMEOUT_MS)
        );
        kafka
            .properties
            .insert("session.timeout.ms".into(), "60000".into());
        let config = settings.client_config(&kafka);
        assert_eq!(
            config.get("session.timeout.ms"),
            Some("60000"),
            "properties win"
        );
        let dynamic = ConsumerSettings::in_group("stage", "g1").client_config(&kafka);
        assert_eq!(dynamic.get("group.instance.id"), None);
        let outside = ConsumerSettings::assigned("reader")
            .static_member("x")
            .client_config(&KafkaConfig::default());
        assert_eq!(outside.get("group.instance.id"), None);
    }

    #[test]
    fn assigned_consumers_get_a_throwaway_group_each() {
        let kafka = KafkaConfig::default();
        let settings = ConsumerSettings::assigned("reader")
            .eager_rebalance()
            .isolation(Isolation::ReadUncommitted);
        let (a, b) = (
            settings.client_config(&kafka),
            settings.client_config(&kafka),
        );
        let group = a.get("group.id").unwrap_or_default().to_owned();
        assert!(group.starts_with("reader-"), "{group}");
        assert_ne!(a.get("group.id"), b.get("group.id"));
        assert_eq!(a.get("partition.assignment.strategy"), None);
        assert_eq!(a.get("isolation.level"), Some("read_uncommitted"));
    }
}
