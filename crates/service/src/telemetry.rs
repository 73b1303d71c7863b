//! Logs and metrics.
//!
//! Logs are JSON lines on stdout (`RUST_LOG` filters, default `info`). Metrics live in one
//! Prometheus registry per process, [`Metrics`], which every component registers into and
//! `/metrics` renders; the process collector (`process_metrics`) adds
//! `process_resident_memory_bytes` & co.

use obs_kafka::ErrorCounter;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
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
    pub(crate) http: HttpMetrics,
    errors: ErrorCounter,
}

/// Per-route request metrics (route templates only, so labels stay bounded).
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
}

impl Metrics {
    /// A registry with the process collector (CPU, memory, open fds, threads), the HTTP metrics
    /// every service serves and its `errors_total`.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // Fixed, valid definitions registered once into a fresh registry: neither the
        // constructors nor the registrations can fail.
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .unwrap_or_else(|_| unreachable!("valid counter definition"));
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["route"],
        )
        .unwrap_or_else(|_| unreachable!("valid histogram definition"));
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(duration.clone()));
        let errors = ErrorCounter::register(&registry)
            .unwrap_or_else(|_| unreachable!("valid counter, registered once"));
        #[cfg(target_os = "linux")]
        {
            let process = crate::process_metrics::ProcessMetrics::for_self();
            let _ = registry.register(Box::new(process));
        }
        Metrics {
            registry,
            http: HttpMetrics { requests, duration },
            errors,
        }
    }

    /// The process's `errors_total`: every error is counted and logged through it.
    pub fn errors(&self) -> &ErrorCounter {
        &self.errors
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
