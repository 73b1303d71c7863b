//! `incidents.*` of the processing config.

use super::evidence::EvidenceConfig;
use obs_incidents::IncidentConfig;
use obs_kafka::ProducerConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Grouping, resolution and reopening rules, and the bounds of one incident.
    pub rules: IncidentConfig,
    pub evidence: EvidenceConfig,
    /// Resolved incidents the view keeps for the API (every open one is kept). Each holds
    /// its evidence (a few KB), so this bound is one of processing's largest holders of
    /// memory once incidents have piled up; by default it keeps what the incident stage's
    /// book keeps (`rules.max_incidents`).
    pub view_max_resolved: usize,
    /// The producer of operators' commands.
    pub commands_producer: ProducerConfig,
    /// Longest the incident stage gathers signals before it commits them. Each commit
    /// writes every incident the batch changed whole, so longer batches write an incident
    /// hit by many alerts once instead of once per run stage transaction: this bounds the
    /// `incidents` topic's bytes per second by the number of active incidents, and
    /// is the delay before a change shows in the API and notifications.
    pub batch_max_ms: u64,
    /// Most signals in one incident stage transaction.
    pub batch_max_records: usize,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        let rules = IncidentConfig::default();
        IncidentsConfig {
            view_max_resolved: rules.max_incidents,
            rules,
            evidence: EvidenceConfig::default(),
            commands_producer: ProducerConfig {
                max_in_flight_bytes: 1 << 20,
                ..ProducerConfig::default()
            },
            batch_max_ms: 1000,
            batch_max_records: 10_000,
        }
    }
}
