//! Configuration of the processing service (see the README's configuration table).

use crate::alertmanager::AlertmanagerConfig;
use crate::analytics::AnalyticsConfig;
use obs_detector::{DetectorConfig, RulesConfig};
use obs_kafka::{KafkaConfig, StageConfig, TopicsConfig};
use obs_service::HttpConfig;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingConfig {
    pub http: HttpConfig,
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub stage: StageConfig,
    pub rules: RulesConfig,
    pub detector: DetectorConfig,
    pub analytics: AnalyticsConfig,
    pub alertmanager: AlertmanagerConfig,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig {
            http: HttpConfig::on_port(8003),
            kafka: KafkaConfig::default(),
            topics: TopicsConfig::default(),
            stage: StageConfig::for_group("processing"),
            rules: RulesConfig::default(),
            detector: DetectorConfig::default(),
            analytics: AnalyticsConfig::default(),
            alertmanager: AlertmanagerConfig::default(),
        }
    }
}

/// A value of the `analytics` or `alertmanager` section that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// `analytics` or `alertmanager`.
    pub section: &'static str,
    /// The field of that section at fault.
    pub key: &'static str,
    pub reason: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.section, self.key, self.reason)
    }
}

impl std::error::Error for InvalidConfig {}
