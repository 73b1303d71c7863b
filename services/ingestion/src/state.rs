//! What the handlers share.

use crate::config::IngestionConfig;
use crate::idempotency::Idempotency;
use crate::metrics::IngestionMetrics;
use anyhow::Context;
use chrono::{DateTime, Utc};
use obs_kafka::{AckedProducer, BrokerProbe};
use obs_service::auth::Auth;
use obs_service::Metrics;
use std::sync::Arc;

/// The service's name: `client.id` of its Kafka clients, `service` of its health report.
pub const SERVICE: &str = "ingestion";

/// Everything the handlers share.
pub struct AppState {
    pub config: IngestionConfig,
    pub(crate) producer: AckedProducer,
    pub(crate) probe: BrokerProbe,
    pub(crate) metrics: IngestionMetrics,
    /// The answers kept for `Idempotency-Key` retries.
    pub(crate) idempotency: Idempotency,
    pub(crate) registry: Metrics,
    /// The API keys every route group checks.
    pub(crate) auth: Arc<Auth>,
    pub(crate) started_at: DateTime<Utc>,
}

impl AppState {
    /// Creates the producer and starts the broker probe (needs a Tokio runtime).
    pub fn new(config: IngestionConfig) -> anyhow::Result<Arc<AppState>> {
        let registry = Metrics::new();
        let metrics = IngestionMetrics::register(&registry).context("registering metrics")?;
        let idempotency =
            Idempotency::new(&config.idempotency, &registry).context("registering metrics")?;
        let producer = AckedProducer::new(&config.kafka, SERVICE, &config.producer)
            .context("creating the Kafka producer")?;
        let probe = BrokerProbe::start(&config.kafka, SERVICE)?;
        let auth = Arc::new(Auth::new(&config.auth).context("invalid configuration of auth")?);
        Ok(Arc::new(AppState {
            auth,
            config,
            producer,
            probe,
            metrics,
            idempotency,
            registry,
            started_at: Utc::now(),
        }))
    }
}
