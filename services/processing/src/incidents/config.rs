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
    /// Resolved incidents the view keeps for the API (every open one is kept).
    pub view_max_resolved: usize,
    /// The producer of operators' commands.
    pub commands_producer: ProducerConfig,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            rules: IncidentConfig::default(),
            evidence: EvidenceConfig::default(),
            view_max_resolved: 10_000,
            commands_producer: ProducerConfig {
                max_in_flight_bytes: 1 << 20,
                ..ProducerConfig::default()
            },
        }
    }
}
