use rdkafka::ClientConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Connection settings shared by every Kafka client of a service.
///
/// `bootstrap_servers` comes from `KAFKA_BOOTSTRAP_SERVERS` (see the service config loader);
/// the security settings map 1:1 to librdkafka properties, and `properties` passes any
/// other librdkafka property through unchanged (`ssl.*`, `sasl.*`, tuning...).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    /// `security.protocol`: plaintext, ssl, sasl_plaintext, sasl_ssl.
    pub security_protocol: Option<String>,
    /// `sasl.mechanism`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512...
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    /// `ssl.ca.location`: PEM file of the CA that signed the brokers' certificates.
    pub ssl_ca_location: Option<String>,
    /// Any other librdkafka property, passed through verbatim.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// A librdkafka config for one client of `service` (used as `client.id`).
    pub fn client_config(&self, service: &str) -> ClientConfig {
        self.client_config_tuned(service, &[])
    }

    /// [`client_config`](Self::client_config) with a component's own tuning defaults,
    /// which `properties` can still override (the settings its correctness depends on are
    /// set by the caller afterwards).
    pub fn client_config_tuned(&self, service: &str, tuning: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", service);
        for (key, value) in tuning {
            config.set(*key, *value);
        }
        let security = [
            ("security.protocol", &self.security_protocol),
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
            ("ssl.ca.location", &self.ssl_ca_location),
        ];
        for (key, value) in security {
            if let Some(value) = value {
                config.set(key, value);
            }
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_security_and_extra_properties_through() {
        let mut kafka = KafkaConfig {
            bootstrap_servers: "b1:9092,b2:9092".into(),
            security_protocol: Some("sasl_ssl".into()),
            sasl_mechanism: Some("SCRAM-SHA-512".into()),
            sasl_username: Some("svc".into()),
            sasl_password: Some("secret".into()),
            ..KafkaConfig::default()
        };
        kafka
            .properties
            .insert("socket.keepalive.enable".into(), "true".into());
        let config = kafka.client_config("ingestion");
        assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        assert_eq!(config.get("client.id"), Some("ingestion"));
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("sasl.password"), Some("secret"));
        assert_eq!(config.get("ssl.ca.location"), None);
        assert_eq!(config.get("socket.keepalive.enable"), Some("true"));
    }

    #[test]
    fn properties_override_tuning_defaults() {
        let mut kafka = KafkaConfig::default();
        kafka.properties.insert("linger.ms".into(), "20".into());
        let config = kafka.client_config_tuned("stage", &[("linger.ms", "5"), ("acks", "all")]);
        assert_eq!(config.get("linger.ms"), Some("20"));
        assert_eq!(config.get("acks"), Some("all"));
    }
}
