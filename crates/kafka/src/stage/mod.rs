//! The one consume-transform-produce loop of the stack, used by standardization and
//! processing: exactly once through Kafka transactions.
//!
//! A [`Transform`] turns each input record into output records. The loop gathers them into
//! batches (up to `batch_max_records` or `batch_max_ms`) and commits each batch as one
//! transaction together with the consumed offsets (`send_offsets_to_transaction`, next
//! offset = last processed + 1; no auto-commit), so after a crash at any instant every
//! input's outputs are visible exactly once to `read_committed` readers.
//!
//! * Transactions run on a commit thread of their own ([`committer`]) while the loop
//!   gathers the next batch; one at a time, in order.
//! * An abortable error aborts the transaction; a fatal one (fenced producer) rebuilds the
//!   producer. Either way the failed batch and the one gathered behind it are dropped and
//!   their partitions rewound to the failed batch's start.
//! * A rebalance waits for the transaction in flight, then drops the batch being gathered
//!   (nothing of it was produced yet); the eager assignment strategy makes the new
//!   assignment start from the committed offsets.
//! * The transactional id is stable per instance, so a restarted instance aborts the
//!   transaction its predecessor left open instead of stalling readers until it times out.
//!
//! librdkafka's transactional calls block, so the loop runs on its own threads, never on
//! the async runtime.

use crate::headers::INGESTED_AT;
use crate::{KafkaConfig, KafkaError};
use chrono::{DateTime, Utc};
use committer::{Committer, Job, TransactionGate};
use prometheus::{
    Counter, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedHeaders, Headers, Message};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod committer;
mod outputs;

pub use outputs::{Output, OutputWriter, Outputs};

/// The stage consumer's tuning (`kafka.properties` overrides it).
const CONSUMER_TUNING: &[(&str, &str)] = &[
    // Bounded memory: librdkafka prefetches up to 64 MiB per consumer by default, and a
    // stage that lags would hold all of it, decompressed (lz4 JSON: about 3.5 times as
    // much). 1 MiB still keeps a batch's worth queued...
    ("queued.max.messages.kbytes", "1024"),
    // ...but a partition whose prefetch is full is not fetched again for
    // `fetch.queue.backoff.ms`, 1 s by default: a stall at every full queue.
    ("fetch.queue.backoff.ms", "5"),
    // A broker wakes a waiting fetch when the high watermark moves, not when a commit moves
    // the last stable offset, so a read_committed fetch could sit on committed records for
    // the whole default 500 ms: latency.
    ("fetch.wait.max.ms", "25"),
    // 1 MiB per partition (compressed; about 5,000 records): a fetch feeds a batch.
    ("max.partition.fetch.bytes", "1048576"),
    // The lag of each partition comes from librdkafka's statistics, which it gathers
    // without asking the broker: no round trip on the loop thread (`StageContext::stats`).
    ("statistics.interval.ms", "5000"),
];

/// The stage producer's tuning (`kafka.properties` overrides it).
const PRODUCER_TUNING: &[(&str, &str)] = &[
    ("linger.ms", "5"),
    ("compression.type", "lz4"),
    // A report per delivered record costs an event, a wake-up and a clock read each; the
    // commit fails anyway if any record of the transaction failed.
    ("delivery.report.only.error", "true"),
    // The next transaction's partitions are refused (CONCURRENT_TRANSACTIONS) until the
    // broker has written the previous one's markers, a few ms; the default 100 ms retry
    // backoff would add up to 100 ms to a transaction.
    ("retry.backoff.ms", "5"),
    ("retry.backoff.max.ms", "100"),
];

/// Longest poll of a loop whose due batch waits for the transaction in flight.
const COMMIT_CHECK_INTERVAL: Duration = Duration::from_millis(1);
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// Batching and identity of one stage instance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Consumer group shared by every replica of the stage.
    pub group_id: String,
    /// Stable per instance (replicas need distinct ones); empty: `<group>-<hostname>`.
    pub transactional_id: String,
    /// Most input records in one transaction. What a batch holds until it commits (its
    /// outputs, in the transform and in the producer's queue, and the detectors' undo log
    /// in processing) grows with it, twice over since two batches can be open; past a
    /// couple of thousand records, the cost of a commit is already spread thin.
    pub batch_max_records: usize,
    /// Longest a batch gathers before it is committed, unless the transaction before it
    /// still runs: then it gathers until that one ends (or it is full).
    pub batch_max_ms: u64,
    /// `transaction.timeout.ms`: how long an abandoned transaction can hold readers back.
    pub transaction_timeout_ms: u64,
}

impl StageConfig {
    pub fn for_group(group_id: &str) -> Self {
        StageConfig {
            group_id: group_id.into(),
            transactional_id: String::new(),
            batch_max_records: 2000,
            batch_max_ms: 25,
            transaction_timeout_ms: 30_000,
        }
    }

    fn resolved_transactional_id(&self) -> String {
        if !self.transactional_id.is_empty() {
            return self.transactional_id.clone();
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "local".into());
        format!("{}-{host}", self.group_id)
    }
}

/// One consumed record, borrowed from the consumer.
pub struct InputRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Option<&'a BorrowedHeaders>,
}

impl InputRecord<'_> {
    /// The text of header `name`, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers?
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// The stage's logic: pure per record, told the fate of what it produced.
///
/// Batches are committed in order while the next one is gathered, so a transform may have
/// one sealed batch awaiting its commit besides the one it is adding to; [`PerBatch`]
/// keeps per-batch state along these calls.
pub trait Transform: Send + 'static {
    /// Writes the outputs of one input record to `out`.
    fn transform(&mut self, input: &InputRecord<'_>, out: &mut Outputs);

    /// The records transformed since the last seal form a batch, now being committed;
    /// the following ones belong to the next batch.
    fn seal(&mut self) {}

    /// The oldest sealed batch committed. Business counters are updated here, so each
    /// record is counted once.
    fn commit(&mut self) {}

    /// Every batch not committed yet, sealed or being gathered, is dropped: its records
    /// will be consumed again.
    fn discard(&mut self) {}
}

/// What a transform keeps per batch until the batch is committed or dropped, following
/// the loop's [`Transform::seal`], [`Transform::commit`] and [`Transform::discard`].
#[derive(Debug, Default)]
pub struct PerBatch<P> {
    gathering: P,
    sealed: VecDeque<P>,
}

impl<P: Default> PerBatch<P> {
    /// The state of the batch being gathered.
    pub fn gathering(&mut self) -> &mut P {
        &mut self.gathering
    }

    pub fn seal(&mut self) {
        let sealed = std::mem::take(&mut self.gathering);
        self.sealed.push_back(sealed);
    }

    /// The state of the batch that committed (the oldest sealed one).
    pub fn commit(&mut self) -> Option<P> {
        self.sealed.pop_front()
    }

    /// Drops the state of every batch not committed yet.
    pub fn discard(&mut self) {
        self.gathering = P::default();
        self.sealed.clear();
    }
}

/// Metrics of the loop; every series carries the constant label `stage`.
#[derive(Clone)]
pub struct StageMetrics {
    consumed: IntCounter,
    produced: IntCounterVec,
    transactions: IntCounterVec,
    commit_duration: Histogram,
    end_to_end: Histogram,
    lag: IntGaugeVec,
    batch_size: Histogram,
    commit_wait: Counter,
    input_wait: Counter,
}

impl StageMetrics {
    pub fn register(registry: &Registry, stage: &str) -> Result<StageMetrics, prometheus::Error> {
        fn add<C: prometheus::core::Collector + Clone + 'static>(
            registry: &Registry,
            collector: C,
        ) -> Result<C, prometheus::Error> {
            registry.register(Box::new(collector.clone()))?;
            Ok(collector)
        }
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("stage", stage);
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramOpts::new(name, help)
                .const_label("stage", stage)
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
            transactions: add(registry, IntCounterVec::new(
                opts("stage_transactions_total", "Transactions by outcome (committed, aborted)."),
                &["outcome"],
            )?)?,
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
        })
    }
}

/// What the loop is doing, for `/status`.
#[derive(Debug, Default)]
pub struct StageProgress {
    consumed: AtomicU64,
    produced: AtomicU64,
    committed: AtomicU64,
    aborted: AtomicU64,
    state: Mutex<StageState>,
}

#[derive(Debug, Default, Clone, Serialize)]
struct StageState {
    phase: &'static str,
    assigned_partitions: Vec<i32>,
    lag: BTreeMap<i32, i64>,
    last_commit_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// A snapshot of [`StageProgress`].
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub phase: &'static str,
    pub input_topic: String,
    pub group_id: String,
    pub transactional_id: String,
    pub assigned_partitions: Vec<i32>,
    pub lag: BTreeMap<i32, i64>,
    pub records_consumed: u64,
    pub records_produced: u64,
    pub transactions_committed: u64,
    pub transactions_aborted: u64,
    pub last_commit_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl StageProgress {
    fn state(&self) -> MutexGuard<'_, StageState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut StageState)) {
        f(&mut self.state());
    }

    fn assigned_partitions(&self) -> BTreeSet<i32> {
        self.state().assigned_partitions.iter().copied().collect()
    }
}

/// The running loop.
pub struct StageHandle {
    progress: Arc<StageProgress>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), KafkaError>>>,
    input_topic: String,
    group_id: String,
    transactional_id: String,
}

impl StageHandle {
    /// Asks the loop to stop taking input, commit its batch in flight and leave.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Waits for the loop thread (after [`StageHandle::stop`], or if it failed).
    pub fn join(mut self) -> Result<(), KafkaError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(KafkaError::Stage("stage thread panicked".into())),
            None => Ok(()),
        }
    }

    /// Whether the loop thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    pub fn status(&self) -> StageStatus {
        let p = &self.progress;
        let state = p.state().clone();
        StageStatus {
            phase: state.phase,
            input_topic: self.input_topic.clone(),
            group_id: self.group_id.clone(),
            transactional_id: self.transactional_id.clone(),
            assigned_partitions: state.assigned_partitions,
            lag: state.lag,
            records_consumed: p.consumed.load(Ordering::Relaxed),
            records_produced: p.produced.load(Ordering::Relaxed),
            transactions_committed: p.committed.load(Ordering::Relaxed),
            transactions_aborted: p.aborted.load(Ordering::Relaxed),
            last_commit_at: state.last_commit_at,
            last_error: state.last_error,
        }
    }
}

/// Counts rebalances, so the loop notices one happened during a poll, and holds a
/// rebalance until the transaction in flight has ended: partitions are never revoked
/// while a transaction may still commit offsets for them.
struct StageContext {
    rebalances: AtomicU64,
    progress: Arc<StageProgress>,
    transactions: Arc<TransactionGate>,
    input_topic: String,
    lag: IntGaugeVec,
    /// Partitions whose lag this instance exports; dropped when it loses them, so another
    /// replica's partitions never show a stale lag here.
    lag_partitions: Mutex<BTreeSet<i32>>,
}

impl ClientContext for StageContext {
    /// Every `statistics.interval.ms`, on the loop thread (it polls the consumer): the lag
    /// of each assigned partition.
    fn stats(&self, statistics: Statistics) {
        let assigned = self.progress.assigned_partitions();
        let lag: BTreeMap<i32, i64> = statistics
            .topics
            .get(&self.input_topic)
            .map(|topic| {
                assigned
                    .iter()
                    .filter_map(|id| {
                        let p = topic.partitions.get(id)?;
                        Some((*id, records_behind(p.app_offset, p.ls_offset, p.hi_offset)?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (partition, behind) in &lag {
            self.lag
                .with_label_values(&[&partition.to_string()])
                .set(*behind);
        }
        let mut exported = self
            .lag_partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for lost in exported.difference(&assigned) {
            // The series may not exist (never set); nothing to remove then.
            let _ = self.lag.remove_label_values(&[&lost.to_string()]);
        }
        *exported = assigned;
        self.progress.update(|s| s.lag = lag);
    }
}

/// Records a partition has yet to hand to the stage: from the offset after the last one
/// handed over (`app_offset`) to the last stable offset, what a `read_committed` consumer
/// can read (the high watermark if librdkafka has none); `None` (-1 offsets) until the
/// partition has been fetched.
fn records_behind(app_offset: i64, last_stable: i64, high_watermark: i64) -> Option<i64> {
    let end = if last_stable >= 0 {
        last_stable
    } else {
        high_watermark
    };
    (end >= 0 && app_offset >= 0).then(|| (end - app_offset).max(0))
}

impl ConsumerContext for StageContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        self.transactions.wait_until_idle();
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        let partitions: Vec<i32> = match rebalance {
            Rebalance::Assign(_) => consumer
                .assignment()
                .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        tracing::info!(?partitions, "partitions assigned");
        self.progress.update(|s| {
            s.assigned_partitions = partitions;
            s.lag.clear();
        });
    }
}

type StageConsumer = BaseConsumer<StageContext>;
/// Built by the loop, polled by the commit thread (see [`committer`]).
type StageProducer = BaseProducer;

/// Starts the loop on its own thread: consumes `input_topic` in the group of `config`,
/// transforms with `transform`, commits batches transactionally.
pub fn spawn_stage<T: Transform>(
    kafka: &KafkaConfig,
    stage: &str,
    input_topic: &str,
    config: &StageConfig,
    transform: T,
    metrics: StageMetrics,
) -> Result<StageHandle, KafkaError> {
    let progress = Arc::new(StageProgress::default());
    let transactions = Arc::new(TransactionGate::default());
    let context = StageContext {
        rebalances: AtomicU64::new(0),
        progress: progress.clone(),
        transactions: transactions.clone(),
        input_topic: input_topic.to_owned(),
        lag: metrics.lag.clone(),
        lag_partitions: Mutex::new(BTreeSet::new()),
    };
    let consumer: StageConsumer = kafka
        .client_config_tuned(stage, CONSUMER_TUNING)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        // Eager: a rebalance revokes everything, so a dropped batch is re-read from the
        // committed offsets.
        .set("partition.assignment.strategy", "roundrobin")
        .create_with_context(context)?;
    consumer.subscribe(&[input_topic])?;
    let transactional_id = config.resolved_transactional_id();
    let mut worker = Worker {
        kafka: kafka.clone(),
        stage: stage.to_owned(),
        input_topic: input_topic.to_owned(),
        config: config.clone(),
        transactional_id: transactional_id.clone(),
        consumer: Arc::new(consumer),
        producer: None,
        committer: Committer::spawn(stage, transactions)?,
        in_flight: None,
        transform,
        metrics,
        progress: progress.clone(),
        batch: Batch::default(),
        spare_outputs: Outputs::default(),
        seen_rebalances: 0,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name(format!("{stage}-loop"))
        .spawn(move || worker.run(&stop_flag))
        .map_err(|e| KafkaError::Stage(format!("cannot start the loop thread: {e}")))?;
    Ok(StageHandle {
        progress,
        stop,
        thread: Some(thread),
        input_topic: input_topic.to_owned(),
        group_id: config.group_id.clone(),
        transactional_id,
    })
}

/// A batch: outputs, where each partition starts and where it ends.
#[derive(Default)]
struct Batch {
    outputs: Outputs,
    /// Outputs per topic, counted when the outputs go to the commit thread.
    per_topic: BTreeMap<Arc<str>, u64>,
    /// Input partition → (first offset, last offset) of the inputs (one input topic).
    ranges: BTreeMap<i32, (i64, i64)>,
    inputs: usize,
    started: Option<Instant>,
    ingested_at: Vec<DateTime<Utc>>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.inputs == 0
    }

    /// Forgets the batch's inputs and outputs, keeping its buffers for the next one.
    fn clear(&mut self) {
        self.outputs.clear();
        self.per_topic.clear();
        self.ranges.clear();
        self.inputs = 0;
        self.started = None;
        self.ingested_at.clear();
    }
}

struct Worker<T: Transform> {
    kafka: KafkaConfig,
    stage: String,
    input_topic: String,
    config: StageConfig,
    transactional_id: String,
    consumer: Arc<StageConsumer>,
    producer: Option<Arc<StageProducer>>,
    committer: Committer,
    /// The batch whose transaction the commit thread is running.
    in_flight: Option<Batch>,
    transform: T,
    metrics: StageMetrics,
    progress: Arc<StageProgress>,
    /// The batch being gathered.
    batch: Batch,
    /// The outputs buffer of the last committed batch, for the next batch to fill.
    spare_outputs: Outputs,
    seen_rebalances: u64,
}

impl<T: Transform> Worker<T> {
    fn run(&mut self, stop: &AtomicBool) -> Result<(), KafkaError> {
        let max_wait = Duration::from_millis(self.config.batch_max_ms.max(1));
        // Its own handle: a polled message borrows it while the worker settles batches.
        let consumer = self.consumer.clone();
        while !stop.load(Ordering::SeqCst) {
            if self.producer.is_none() {
                // Dropped only once its transaction ended: nothing is in flight.
                self.phase("initializing transactions");
                match self.new_producer() {
                    Ok(producer) => self.producer = Some(Arc::new(producer)),
                    Err(error) => {
                        self.fail(&error);
                        std::thread::sleep(Duration::from_secs(2));
                        continue;
                    }
                }
                self.phase("running");
            }
            // At least 1 ms: a due batch waiting for the transaction before it keeps
            // gathering, and the loop looks at that transaction between polls.
            let timeout = match self.batch.started {
                Some(started) => max_wait.saturating_sub(started.elapsed()),
                None => max_wait,
            }
            .max(COMMIT_CHECK_INTERVAL);
            let polling = Instant::now();
            let polled = consumer.poll(timeout);
            self.metrics
                .input_wait
                .inc_by(polling.elapsed().as_secs_f64());
            let rebalances = consumer.context().rebalances.load(Ordering::SeqCst);
            if rebalances != self.seen_rebalances {
                self.seen_rebalances = rebalances;
                // The transaction in flight ended before the partitions were revoked
                // (`StageContext::pre_rebalance` waits for it); its outcome is settled
                // first, so that `discard` below only drops the batch being gathered.
                self.settle_in_flight(true);
                if !self.batch.is_empty() {
                    tracing::info!(
                        inputs = self.batch.inputs,
                        "rebalance: dropping the uncommitted batch"
                    );
                    self.batch.clear();
                    self.transform.discard();
                }
            }
            match polled {
                Some(Ok(message)) => {
                    let input = InputRecord {
                        topic: message.topic(),
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key(),
                        payload: message.payload(),
                        headers: message.headers(),
                    };
                    if let Some(at) = input
                        .header(INGESTED_AT)
                        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                    {
                        self.batch.ingested_at.push(at.with_timezone(&Utc));
                    }
                    self.transform.transform(&input, &mut self.batch.outputs);
                    let range = self
                        .batch
                        .ranges
                        .entry(input.partition)
                        .or_insert((input.offset, input.offset));
                    range.1 = input.offset;
                    self.batch.inputs += 1;
                    self.batch.started.get_or_insert_with(Instant::now);
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "consumer error");
                    self.fail(&KafkaError::Client(error));
                }
                None => {}
            }
            self.settle_in_flight(false);
            let full = self.batch.inputs >= self.config.batch_max_records;
            let due = self.batch.started.is_some_and(|s| s.elapsed() >= max_wait);
            // A due batch is sealed once the transaction before it has ended, and gathers
            // until then: batches grow with the commits' pace, not by waiting idle.
            if !self.batch.is_empty() && (full || (due && self.in_flight.is_none())) {
                self.hand_over();
            }
        }
        self.phase("stopping");
        self.settle_in_flight(true);
        if !self.batch.is_empty() && self.producer.is_some() {
            self.hand_over();
            self.settle_in_flight(true);
        }
        self.consumer.unsubscribe();
        self.phase("stopped");
        Ok(())
    }

    fn new_producer(&self) -> Result<StageProducer, KafkaError> {
        let producer: StageProducer = self
            .kafka
            .client_config_tuned(&self.stage, PRODUCER_TUNING)
            .set("transactional.id", &self.transactional_id)
            .set("enable.idempotence", "true")
            .set(
                "transaction.timeout.ms",
                self.config.transaction_timeout_ms.to_string(),
            )
            .create()?;
        producer.init_transactions(TXN_TIMEOUT)?;
        tracing::info!(transactional_id = %self.transactional_id, "transactions initialized");
        Ok(producer)
    }

    /// Seals the batch being gathered and hands it to the commit thread, once the
    /// transaction before it has ended.
    fn hand_over(&mut self) {
        let waiting = Instant::now();
        self.settle_in_flight(true);
        self.metrics
            .commit_wait
            .inc_by(waiting.elapsed().as_secs_f64());
        // Empty when the previous transaction failed: the batch was dropped with it.
        if self.batch.is_empty() {
            return;
        }
        let Some(producer) = self.producer.clone() else {
            return;
        };
        let mut batch = std::mem::take(&mut self.batch);
        self.batch.outputs = std::mem::take(&mut self.spare_outputs);
        self.transform.seal();
        let submitted = self
            .job(producer, &mut batch)
            .and_then(|job| self.committer.submit(job));
        match submitted {
            Ok(()) => self.in_flight = Some(batch),
            Err(error) => self.failed(error, false, batch),
        }
    }

    /// The transaction of `batch`: its outputs (moved out of it: the inputs are read again
    /// if it fails) and the offsets after its inputs.
    fn job(&self, producer: Arc<StageProducer>, batch: &mut Batch) -> Result<Job, KafkaError> {
        let mut offsets = TopicPartitionList::new();
        for (partition, (_, last)) in &batch.ranges {
            offsets.add_partition_offset(
                &self.input_topic,
                *partition,
                Offset::Offset(last + 1),
            )?;
        }
        let group = self
            .consumer
            .group_metadata()
            .ok_or_else(|| KafkaError::Stage("no consumer group metadata".into()))?;
        for output in batch.outputs.iter() {
            *batch.per_topic.entry(output.topic.clone()).or_default() += 1;
        }
        Ok(Job {
            producer,
            outputs: std::mem::take(&mut batch.outputs),
            offsets,
            group,
        })
    }

    /// Settles the transaction in flight once it has ended (waiting for it when `wait`).
    fn settle_in_flight(&mut self, wait: bool) {
        if self.in_flight.is_none() {
            return;
        }
        let Some(outcome) = self.committer.collect(wait) else {
            return;
        };
        let Some(batch) = self.in_flight.take() else {
            return;
        };
        let mut outputs = outcome.outputs;
        outputs.clear();
        self.spare_outputs = outputs;
        match outcome.result {
            Ok(()) => self.committed(batch, outcome.duration),
            Err(error) => self.failed(error, outcome.rebuild_producer, batch),
        }
    }

    fn committed(&mut self, batch: Batch, duration: Duration) {
        self.transform.commit();
        let m = &self.metrics;
        m.consumed.inc_by(batch.inputs as u64);
        let mut produced = 0;
        for (topic, count) in &batch.per_topic {
            let (topic, count): (&str, u64) = (topic, *count);
            m.produced.with_label_values(&[topic]).inc_by(count);
            produced += count;
        }
        m.transactions.with_label_values(&["committed"]).inc();
        m.commit_duration.observe(duration.as_secs_f64());
        m.batch_size.observe(batch.inputs as f64);
        let now = Utc::now();
        for at in &batch.ingested_at {
            m.end_to_end
                .observe((now - *at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6);
        }
        let p = &self.progress;
        p.consumed.fetch_add(batch.inputs as u64, Ordering::Relaxed);
        p.produced.fetch_add(produced, Ordering::Relaxed);
        p.committed.fetch_add(1, Ordering::Relaxed);
        p.update(|s| {
            s.last_commit_at = Some(now);
            s.last_error = None;
        });
    }

    /// The transaction of `batch` failed (or could not start). It and the batch being
    /// gathered behind it are dropped, and their partitions go back to the first input of
    /// either, to be read again.
    fn failed(&mut self, error: KafkaError, rebuild_producer: bool, mut batch: Batch) {
        let gathering_ranges = std::mem::take(&mut self.batch.ranges);
        tracing::warn!(
            %error,
            inputs = batch.inputs + self.batch.inputs,
            "transaction failed; rewinding"
        );
        self.batch.clear();
        self.fail(&error);
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        self.progress.aborted.fetch_add(1, Ordering::Relaxed);
        if rebuild_producer {
            self.producer = None;
        }
        self.transform.discard();
        for (partition, (first, last)) in gathering_ranges {
            batch.ranges.entry(partition).or_insert((first, last));
        }
        self.rewind(&batch);
    }

    /// Re-reads the batch's inputs: each of its partitions goes back to the batch start.
    fn rewind(&self, batch: &Batch) {
        let topic = self.input_topic.as_str();
        for (partition, (first, _)) in &batch.ranges {
            if let Err(error) = self.consumer.seek(
                topic,
                *partition,
                Offset::Offset(*first),
                Duration::from_secs(5),
            ) {
                // Not assigned any more (rebalance): the new owner reads from the
                // committed offset.
                tracing::info!(%error, topic, partition, "seek after abort skipped");
            }
        }
    }

    fn phase(&self, phase: &'static str) {
        self.progress.update(|s| s.phase = phase);
    }

    fn fail(&self, error: &KafkaError) {
        let text = error.to_string();
        self.progress.update(|s| s.last_error = Some(text));
    }
}

#[cfg(test)]
mod tests {
    use super::{records_behind, PerBatch};

    #[test]
    fn lag_runs_to_the_last_stable_offset_once_offsets_are_known() {
        assert_eq!(
            records_behind(120, 150, 160),
            Some(30),
            "open transaction: up to LSO"
        );
        assert_eq!(records_behind(150, 150, 150), Some(0));
        assert_eq!(
            records_behind(40, -1, 100),
            Some(60),
            "no LSO: the high watermark"
        );
        assert_eq!(
            records_behind(-1, 150, 160),
            None,
            "nothing handed over yet"
        );
        assert_eq!(records_behind(10, -1, -1), None, "not fetched yet");
        assert_eq!(records_behind(151, 150, 150), Some(0), "never negative");
    }

    #[test]
    fn per_batch_state_follows_seal_commit_and_discard() {
        let mut batches: PerBatch<Vec<u32>> = PerBatch::default();
        batches.gathering().push(1);
        batches.seal();
        batches.gathering().push(2);
        assert_eq!(
            batches.commit(),
            Some(vec![1]),
            "the sealed batch, not the open one"
        );
        assert_eq!(batches.commit(), None);
        batches.seal();
        batches.gathering().push(3);
        batches.discard();
        batches.seal();
        assert_eq!(
            batches.commit(),
            Some(vec![]),
            "discard dropped sealed and open state"
        );
        assert_eq!(batches.commit(), None);
    }
}
