//! Configuration of the standardization service (see the README's configuration table).

use obs_kafka::{KafkaConfig, StageConfig, TopicsConfig};
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
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StandardizeConfig {
    /// IANA zone the connectors' naive timestamps are written in (`UTC`, `Europe/Paris`...).
    pub time_zone: String,
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
        }
    }
}
