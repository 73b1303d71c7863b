//! Configuration of the standardization service (see the README's configuration table).

use crate::dedup::DedupConfig;
use obs_kafka::{KafkaConfig, StageConfig, TopicsConfig};
use obs_service::auth::AuthConfig;
use obs_service::HttpConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StandardizationConfig {
    pub http: HttpConfig,
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub stage: StageConfig,
    pub standardize: StandardizeConfig,
    pub log_events: LogEventsConfig,
    pub dedup: DedupConfig,
    pub auth: AuthConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StandardizeConfig {
    /// IANA zone the connectors' naive timestamps are written in (`UTC`, `Europe/Paris`...).
    pub time_zone: String,
}

/// The loop of application log events (`app-logs` → `standardized-app-logs`). Its group
/// and transactional id are the stage's with `-app-logs` appended.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogEventsConfig {
    /// Services counted under their own name in `standardization_log_events_total`; the
    /// others are counted as `other`, so metrics stay bounded whatever clients send.
    pub max_services: usize,
}

impl Default for LogEventsConfig {
    fn default() -> Self {
        LogEventsConfig { max_services: 100 }
    }
}

impl StandardizationConfig {
    /// The log-event loop's stage config: the stage's, in a group of its own
    /// (`<group>-app-logs`) with a transactional id of its own (`<id>-app-logs`, or
    /// `<group>-app-logs-<hostname>` by default).
    pub fn log_events_stage(&self) -> StageConfig {
        self.stage.companion("app-logs")
    }
}

impl Default for StandardizeConfig {
    fn default() -> Self {
        StandardizeConfig {
            time_zone: "UTC".into(),
        }
    }
}

impl Default for StandardizationConfig {
    fn default() -> Self {
        StandardizationConfig {
            http: HttpConfig::on_port(8002),
            kafka: KafkaConfig::default(),
            topics: TopicsConfig::default(),
            stage: StageConfig::for_group("standardization"),
            standardize: StandardizeConfig::default(),
            log_events: LogEventsConfig::default(),
            dedup: DedupConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_event_loop_has_a_group_and_a_transactional_id_of_its_own() {
        let mut config = StandardizationConfig::default();
        let stage = config.log_events_stage();
        assert_eq!(stage.group_id, "standardization-app-logs");
        assert_eq!(stage.transactional_id, "", "resolved as <group>-<hostname>");
        assert_eq!(stage.batch_max_records, config.stage.batch_max_records);
        config.stage.transactional_id = "standardization-7".into();
        assert_eq!(
            config.log_events_stage().transactional_id,
            "standardization-7-app-logs"
        );
    }
}
