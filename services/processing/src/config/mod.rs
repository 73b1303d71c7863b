//! Configuration of the processing service (see the README's configuration table).

pub mod error;

use crate::alertmanager::AlertmanagerConfig;
use crate::analytics::AnalyticsConfig;
use crate::checkpoint::CheckpointConfig;
use crate::console::ConsoleConfig;
use crate::incidents::IncidentsConfig;
use crate::logs::LogsConfig;
use crate::role::Role;
use crate::trace::TraceConfig;
use obs_detector::{DetectorConfig, RulesConfig};
use obs_kafka::{KafkaConfig, StageConfig, TopicsConfig};
use obs_service::auth::AuthConfig;
use obs_service::HttpConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingConfig {
    /// Which parts of processing this instance runs.
    pub role: Role,
    pub http: HttpConfig,
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub stage: StageConfig,
    pub rules: RulesConfig,
    pub detector: DetectorConfig,
    pub analytics: AnalyticsConfig,
    pub alertmanager: AlertmanagerConfig,
    pub logs: LogsConfig,
    pub incidents: IncidentsConfig,
    pub trace: TraceConfig,
    pub console: ConsoleConfig,
    pub checkpoint: CheckpointConfig,
    pub auth: AuthConfig,
}

impl ProcessingConfig {
    /// The incident stage's config: the run stage's, in a group of its own
    /// (`<group>-incidents`) with a transactional id of its own.
    pub fn incident_stage(&self) -> StageConfig {
        StageConfig {
            batch_max_ms: self.incidents.batch_max_ms,
            batch_max_records: self.incidents.batch_max_records,
            ..self.stage.companion("incidents")
        }
    }
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig {
            role: Role::All,
            http: HttpConfig::on_port(8003),
            kafka: KafkaConfig::default(),
            topics: TopicsConfig::default(),
            // Half standardization's batches: each run leaves several times its bytes in
            // outputs (the processed record, its alerts and signals, checkpoints) held until
            // the batch commits, two batches at a time; under a backlog every batch is
            // full: smaller batches lower the peak at the same throughput
            // (docs/benchmarks.md, "Processing's batches").
            stage: StageConfig {
                batch_max_records: 1000,
                ..StageConfig::for_group("processing")
            },
            rules: RulesConfig::default(),
            detector: DetectorConfig::default(),
            analytics: AnalyticsConfig::default(),
            alertmanager: AlertmanagerConfig::default(),
            logs: LogsConfig::default(),
            incidents: IncidentsConfig::default(),
            trace: TraceConfig::default(),
            console: ConsoleConfig::default(),
            checkpoint: CheckpointConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}
