//! Stage metrics of ingestion. Each record is counted once, here, by what became of it.

use obs_service::Metrics;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

#[derive(Clone)]
pub struct IngestionMetrics {
    /// Records read from request bodies (valid or not).
    pub received: IntCounter,
    /// Records acknowledged by Kafka.
    pub published: IntCounter,
    /// Records refused, by error kind (bounded: the record error kinds plus `oversized`).
    pub rejected: IntCounterVec,
    /// Records valid but not acknowledged (the request answered 503), by reason.
    pub publish_failed: IntCounterVec,
    /// Time from handing a chunk to the producer to the last acknowledgement.
    pub publish_duration: Histogram,
    /// Bytes admitted to the producer and not yet acknowledged.
    pub in_flight_bytes: IntGauge,
}

impl IngestionMetrics {
    pub fn register(metrics: &Metrics) -> Result<Self, prometheus::Error> {
        Ok(IngestionMetrics {
            received: metrics.register(IntCounter::new(
                "ingestion_records_received_total",
                "Records read from request bodies, valid or not.",
            )?)?,
            published: metrics.register(IntCounter::new(
                "ingestion_records_published_total",
                "Records acknowledged by Kafka on the raw-logs topic.",
            )?)?,
            rejected: metrics.register(IntCounterVec::new(
                Opts::new(
                    "ingestion_records_rejected_total",
                    "Records refused by validation, by error kind.",
                ),
                &["kind"],
            )?)?,
            publish_failed: metrics.register(IntCounterVec::new(
                Opts::new(
                    "ingestion_records_publish_failed_total",
                    "Valid records Kafka did not acknowledge (answered 503), by reason.",
                ),
                &["reason"],
            )?)?,
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
