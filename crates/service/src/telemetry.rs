//! Logs and metrics.
//!
//! Logs are JSON lines on stdout (`RUST_LOG` filters, default `info`). Metrics live in one
//! Prometheus registry per process, [`Metrics`], which every component registers into and
//! `/metrics` renders; the process collector adds `process_resident_memory_bytes` & co.

use prometheus::{Encoder, Registry, TextEncoder};
use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber; call once at the top of `main`.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_env_filter(filter)
        .try_init();
}

/// The process's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// A registry with the process collector (memory, CPU, open fds) registered.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            // Registering a fresh collector into a fresh registry cannot collide.
            let _ = registry.register(Box::new(process));
        }
        Metrics { registry }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers a collector; a name registered twice is a programming error reported at
    /// start-up.
    pub fn register<C: prometheus::core::Collector + Clone + 'static>(
        &self,
        collector: C,
    ) -> Result<C, prometheus::Error> {
        self.registry.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        // Encoding into a Vec only fails on invalid metric families, which registration
        // already rejected.
        let _ = encoder.encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
