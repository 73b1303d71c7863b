//! Stage metrics of ingestion. Each record or log event is counted once, here, by what
//! became of it: published, or an error (`errors_total`: refused at `receiving`, not
//! acknowledged at `sending`). Runs and log events have counters of their own, so each
//! reconciles with the stage that reads its topic; their errors share `errors_total`.

use obs_kafka::{ErrorCounter, ErrorStage};
use obs_service::Metrics;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why Kafka did not take valid records (`errors_total{stage="sending"}`).
pub mod publish_error {
    pub const UNREACHABLE: &str = "unreachable";
    pub const BATCH_TOO_LARGE: &str = "batch_too_large";
    pub const QUEUE_FULL: &str = "queue_full";
    pub const NOT_ACKNOWLEDGED: &str = "not_acknowledged";
    pub const ALL: [&str; 4] = [UNREACHABLE, BATCH_TOO_LARGE, QUEUE_FULL, NOT_ACKNOWLEDGED];
}

#[derive(Clone)]
pub struct IngestionMetrics {
    /// Job-execution records (`/ingest/*` → `raw-logs`).
    pub runs: KindCounters,
    /// Application log events (`/log` → `app-logs`).
    pub log_events: KindCounters,
    /// Time from handing a chunk to the producer to the last acknowledgement.
    pub publish_duration: Histogram,
    /// Bytes admitted to the producer and not yet acknowledged.
    pub in_flight_bytes: IntGauge,
}

/// What became of the records of one kind.
#[derive(Clone)]
pub struct KindCounters {
    /// Read from request bodies (valid or not).
    received: IntCounter,
    /// Acknowledged by Kafka.
    published: IntCounter,
    errors: ErrorCounter,
    /// Totals of this kind's errors, for `/status`.
    rejected_total: Arc<AtomicU64>,
    failed_total: Arc<AtomicU64>,
}

/// The counts of one kind in `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RecordCounts {
    pub received: u64,
    pub published: u64,
    /// Refused by validation.
    pub rejected: u64,
    /// Valid, but not acknowledged by Kafka (answered 503 or 413).
    pub not_published: u64,
}

impl IngestionMetrics {
    pub fn register(metrics: &Metrics) -> Result<Self, prometheus::Error> {
        let errors = metrics.errors();
        for error_type in publish_error::ALL {
            errors.declare(ErrorStage::Sending, error_type);
        }
        Ok(IngestionMetrics {
            runs: KindCounters::register(
                metrics,
                "ingestion_records",
                "Records",
                "the raw-logs topic",
            )?,
            log_events: KindCounters::register(
                metrics,
                "ingestion_log_events",
                "Application log events",
                "the app-logs topic",
            )?,
            publish_duration: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "ingestion_publish_duration_seconds",
                    "Time to get Kafka's acknowledgement of one published chunk.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ]),
            )?)?,
            in_flight_bytes: metrics.register(IntGauge::new(
                "ingestion_producer_in_flight_bytes",
                "Bytes admitted to the Kafka producer and not yet acknowledged.",
            )?)?,
        })
    }
}

impl KindCounters {
    /// `{prefix}_received_total` and `{prefix}_published_total`.
    fn register(
        metrics: &Metrics,
        prefix: &str,
        what: &str,
        topic: &str,
    ) -> Result<Self, prometheus::Error> {
        Ok(KindCounters {
            received: metrics.register(IntCounter::new(
                format!("{prefix}_received_total"),
                format!("{what} read from request bodies, valid or not."),
            )?)?,
            published: metrics.register(IntCounter::new(
                format!("{prefix}_published_total"),
                format!("{what} acknowledged by Kafka on {topic}."),
            )?)?,
            errors: metrics.errors().clone(),
            rejected_total: Arc::default(),
            failed_total: Arc::default(),
        })
    }

    /// One record read from a body.
    pub fn received(&self) {
        self.received.inc();
    }

    /// `count` records acknowledged by Kafka.
    pub fn published(&self, count: u64) {
        self.published.inc_by(count);
    }

    /// One record refused by validation (`error_type`: its error kind).
    pub fn rejected(&self, error_type: &str, reason: &dyn Display) {
        self.errors
            .invalid_input(ErrorStage::Receiving, error_type, 1, reason);
        self.rejected_total.fetch_add(1, Ordering::Relaxed);
    }

    /// `count` valid records Kafka did not take (`error_type`: one of [`publish_error`]).
    pub fn not_published(&self, error_type: &'static str, count: u64, error: &dyn Display) {
        self.errors
            .failure(ErrorStage::Sending, error_type, count, error);
        self.failed_total.fetch_add(count, Ordering::Relaxed);
    }

    pub fn counts(&self) -> RecordCounts {
        RecordCounts {
            received: self.received.get(),
            published: self.published.get(),
            rejected: self.rejected_total.load(Ordering::Relaxed),
            not_published: self.failed_total.load(Ordering::Relaxed),
        }
    }
}
