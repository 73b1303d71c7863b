//! The loop's metrics.

use crate::error_counter::{ErrorCounter, ErrorStage};
use prometheus::{
    Counter, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// The error types the loop counts in `errors_total`.
pub(super) mod error_type {
    /// librdkafka reported a consumer error (the loop goes on).
    pub const KAFKA_CONSUMER: &str = "kafka_consumer";
    /// A transactional producer could not be created or initialized (retried).
    pub const TRANSACTIONAL_PRODUCER: &str = "transactional_producer";
    /// A transaction failed and was aborted; its inputs are read again.
    pub const TRANSACTION_ABORTED: &str = "transaction_aborted";
}

/// Metrics of the loop. The service is the scrape job: no label says which stage it is;
/// the constant label `input` says which of its loops (`runs`, `log_events`).
#[derive(Clone)]
pub struct StageMetrics {
    pub(super) consumed: IntCounter,
    pub(super) produced: IntCounterVec,
    pub(super) committed: IntCounter,
    pub(super) commit_duration: Histogram,
    pub(super) end_to_end: Histogram,
    pub(super) lag: IntGaugeVec,
    pub(super) batch_size: Histogram,
    pub(super) commit_wait: Counter,
    pub(super) input_wait: Counter,
    pub(super) errors: ErrorCounter,
}

impl StageMetrics {
    /// Registers the metrics of the loop reading `input` (what it reads: `runs`,
    /// `log_events`) in `registry`; its errors go to `errors`.
    pub fn register(
        registry: &Registry,
        errors: &ErrorCounter,
        input: &str,
    ) -> Result<StageMetrics, prometheus::Error> {
        errors.declare(ErrorStage::Sending, error_type::TRANSACTION_ABORTED);
        fn add<C: prometheus::core::Collector + Clone + 'static>(
            registry: &Registry,
            collector: C,
        ) -> Result<C, prometheus::Error> {
            registry.register(Box::new(collector.clone()))?;
            Ok(collector)
        }
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("input", input);
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramOpts::new(name, help)
                .const_label("input", input)
                .buckets(buckets)
        };
        Ok(StageMetrics {
            consumed: add(registry, IntCounter::with_opts(
                opts("stage_records_consumed_total", "Input records whose outputs were committed."),
            )?)?,
            produced: add(registry, IntCounterVec::new(
                opts("stage_records_produced_total", "Output records committed, by topic."),
                &["topic"],
            )?)?,
            committed: add(registry, IntCounter::with_opts(opts(
                "stage_transactions_committed_total",
                "Transactions committed (the aborted ones are errors_total{error_type=\"transaction_aborted\"}).",
            ))?)?,
            commit_duration: add(registry, Histogram::with_opts(histogram(
                "stage_transaction_duration_seconds",
                "Time from beginning a transaction to its commit.",
                vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            ))?)?,
            end_to_end: add(registry, Histogram::with_opts(histogram(
                "stage_end_to_end_latency_seconds",
                "Time from ingestion (ingested-at header) to the commit of the record's outputs by this stage.",
                vec![0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            ))?)?,
            lag: add(registry, IntGaugeVec::new(
                opts("stage_consumer_lag_records", "Records not yet consumed up to the last stable offset, by input partition (librdkafka statistics, every 5 s)."),
                &["partition"],
            )?)?,
            batch_size: add(registry, Histogram::with_opts(histogram(
                "stage_batch_records",
                "Input records per committed transaction.",
                vec![1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0],
            ))?)?,
            commit_wait: add(registry, Counter::with_opts(opts(
                "stage_commit_wait_seconds_total",
                "Time the loop waited for the previous transaction before handing over a full batch: a stage bound by its commits, not its transform.",
            ))?)?,
            input_wait: add(registry, Counter::with_opts(opts(
                "stage_input_wait_seconds_total",
                "Time the loop spent in the consumer's poll, waiting for input: a stage starved by its input.",
            ))?)?,
            errors: errors.clone(),
        })
    }
}
