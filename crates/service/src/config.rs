//! The one config loader.
//!
//! Each service has one typed config struct (`Default` gives the built-in defaults). Layers,
//! later ones winning:
//! 1. the defaults;
//! 2. a TOML file: `$OBS_CONFIG_FILE` if set (then it must exist), else
//!    `config/<service>.toml` if present;
//! 3. environment variables `OBS_<SECTION>__<KEY>` (e.g. `OBS_HTTP__PORT=9001`); the
//!    lists of key digests (`OBS_AUTH__READ_KEY_HASHES` …) separated by commas;
//! 4. the Kafka variables operators expect: `KAFKA_BOOTSTRAP_SERVERS`,
//!    `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`,
//!    `KAFKA_SASL_PASSWORD`, `KAFKA_SSL_CA_LOCATION` (into the `kafka` section).
//!
//! Unknown keys are refused (the structs use `deny_unknown_fields`), so a typo fails at
//! start-up with the key's name instead of being silently ignored.

use config::{Config, Environment, File, FileFormat};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;

pub use crate::tls::TlsConfig;

/// The variable naming an explicit config file.
pub const CONFIG_FILE_VAR: &str = "OBS_CONFIG_FILE";

const KAFKA_VARS: [(&str, &str); 6] = [
    ("KAFKA_BOOTSTRAP_SERVERS", "kafka.bootstrap_servers"),
    ("KAFKA_SECURITY_PROTOCOL", "kafka.security_protocol"),
    ("KAFKA_SASL_MECHANISM", "kafka.sasl_mechanism"),
    ("KAFKA_SASL_USERNAME", "kafka.sasl_username"),
    ("KAFKA_SASL_PASSWORD", "kafka.sasl_password"),
    ("KAFKA_SSL_CA_LOCATION", "kafka.ssl_ca_location"),
];

/// A configuration that cannot be loaded; the message names the key or the file.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration of {service}: {source}")]
pub struct ConfigError {
    service: String,
    #[source]
    source: Box<config::ConfigError>,
}

/// Where a service listens, and what one client may hold of it: every resource bounded.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Largest body of a single or batch request, in bytes.
    pub max_body_bytes: usize,
    /// Longest wait for a request's headers, in milliseconds, from the connection's start or
    /// the end of the previous request on it (so also the idle keep-alive timeout): past it
    /// the connection is closed (a slowloris holds nothing).
    pub header_timeout_ms: u64,
    /// Longest wait for the next part of a request's body, in milliseconds: past it the
    /// request is answered 408.
    pub body_timeout_ms: u64,
    /// Open connections at most; one more is answered 503 with `Retry-After` and closed.
    pub max_connections: usize,
    /// Requests handled at once at most (health probes and `/metrics` aside); one more is
    /// answered 503 with `Retry-After` at once rather than queued.
    pub max_in_flight_requests: usize,
    /// Requests per second, sustained, that one client address may send without a key
    /// (the open endpoints; the health probes are never limited).
    pub address_rate_per_second: u32,
    /// Requests one client address may send without a key at once above that rate.
    pub address_burst: u32,
    /// HTTPS instead of HTTP when both files are named.
    #[serde(default)]
    pub tls: TlsConfig,
}

impl HttpConfig {
    pub fn on_port(port: u16) -> Self {
        HttpConfig {
            // Loopback outside containers; the images and compose set 0.0.0.0 themselves.
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_connections: 512,
            max_in_flight_requests: 32,
            address_rate_per_second: 50,
            address_burst: 200,
            tls: TlsConfig::default(),
        }
    }
}

/// Loads the config of `service` from the process environment.
pub fn load_config<T>(service: &str) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    load_from(service, std::env::vars().collect())
}

/// Loads the config of `service` with `env` as the environment (tests pass their own).
pub fn load_from<T>(service: &str, env: HashMap<String, String>) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let error = |source| ConfigError {
        service: service.to_owned(),
        source: Box::new(source),
    };
    let mut builder = Config::builder().add_source(Config::try_from(&T::default()).map_err(error)?);
    builder = match env.get(CONFIG_FILE_VAR) {
        Some(path) => builder.add_source(File::new(path, FileFormat::Toml).required(true)),
        None => builder.add_source(
            File::new(&format!("config/{service}.toml"), FileFormat::Toml).required(false),
        ),
    };
    let obs_vars: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("OBS_") && k.as_str() != CONFIG_FILE_VAR)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        Environment::with_prefix("OBS")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            // Only the lists are split at commas (Kafka's bootstrap list stays one string).
            .list_separator(",")
            .with_list_parse_key("auth.ingest_key_hashes")
            .with_list_parse_key("auth.read_key_hashes")
            .with_list_parse_key("auth.operate_key_hashes")
            .source(Some(obs_vars)),
    );
    for (var, key) in KAFKA_VARS {
        builder = builder
            .set_override_option(key, env.get(var).cloned())
            .map_err(error)?;
    }
    builder
        .build()
        .and_then(Config::try_deserialize)
        .map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        http: HttpConfig,
        kafka: obs_kafka::KafkaConfig,
        auth: crate::auth::AuthConfig,
        batch_size: usize,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                http: HttpConfig::on_port(8001),
                kafka: obs_kafka::KafkaConfig::default(),
                auth: crate::auth::AuthConfig::default(),
                batch_size: 500,
            }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_environment() {
        let config: Demo = load_from("demo", env(&[])).unwrap();
        assert_eq!(config, Demo::default());
        let config: Demo = load_from(
            "demo",
            env(&[
                ("OBS_HTTP__LISTEN", "127.0.0.1:9999"),
                ("OBS_BATCH_SIZE", "42"),
                ("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092"),
                ("KAFKA_SASL_PASSWORD", "s3cret"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.http.listen.port(), 9999);
        assert_eq!(config.batch_size, 42);
        assert_eq!(config.kafka.bootstrap_servers, "k1:9092,k2:9092");
        assert_eq!(config.kafka.sasl_password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn tls_is_off_by_default_and_its_paths_come_from_the_environment() {
        let config: Demo = load_from("demo", env(&[])).unwrap();
        assert_eq!(config.http.tls, TlsConfig::default());
        let config: Demo = load_from(
            "demo",
            env(&[
                ("OBS_HTTP__TLS__CERT_PATH", "/etc/obs/cert.pem"),
                ("OBS_HTTP__TLS__KEY_PATH", "/etc/obs/key.pem"),
            ]),
        )
        .unwrap();
        let tls = config.http.tls;
        assert_eq!(tls.cert_path.unwrap().to_str(), Some("/etc/obs/cert.pem"));
        assert_eq!(tls.key_path.unwrap().to_str(), Some("/etc/obs/key.pem"));
    }

    #[test]
    fn key_digests_come_from_the_environment_as_comma_separated_lists() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let config: Demo = load_from(
            "demo",
            env(&[
                ("OBS_AUTH__READ_KEY_HASHES", &format!("{a},{b}")),
                ("OBS_AUTH__INGEST_KEY_HASHES", &a),
                ("OBS_AUTH__OPERATE_KEY_HASHES", ""),
                ("OBS_AUTH__DISABLED", "true"),
                ("OBS_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092"),
            ]),
        )
        .unwrap();
        assert_eq!(config.auth.read_key_hashes, vec![a.clone(), b]);
        assert_eq!(config.auth.ingest_key_hashes, vec![a]);
        // An empty variable (compose's `${VAR:-}`) is no key, not a bad digest.
        assert_eq!(config.auth.operate_key_hashes, vec![String::new()]);
        assert!(crate::auth::Auth::new(&config.auth).is_ok());
        assert!(config.auth.disabled);
        assert_eq!(config.kafka.bootstrap_servers, "k1:9092,k2:9092");
    }

    #[test]
    fn errors_name_the_key() {
        let err = load_from::<Demo>("demo", env(&[("OBS_BATCH_SIZE", "many")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("batch_size"), "{err}");
        let err = load_from::<Demo>("demo", env(&[("OBS_HTTP__PROT", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
        let err = load_from::<Demo>("demo", env(&[(CONFIG_FILE_VAR, "/nonexistent.toml")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nonexistent"), "{err}");
    }

    #[test]
    fn file_layer_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("obs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo.toml");
        std::fs::write(&path, "batch_size = 7\n[http]\nmax_body_bytes = 1024\n").unwrap();
        let path = path.to_string_lossy().to_string();
        let config: Demo = load_from("demo", env(&[(CONFIG_FILE_VAR, &path)])).unwrap();
        assert_eq!((config.batch_size, config.http.max_body_bytes), (7, 1024));
        let config: Demo = load_from(
            "demo",
            env(&[(CONFIG_FILE_VAR, &path), ("OBS_BATCH_SIZE", "9")]),
        )
        .unwrap();
        assert_eq!(config.batch_size, 9);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
