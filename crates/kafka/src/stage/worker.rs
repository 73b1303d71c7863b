//! The loop itself: gathers batches, hands each to the commit thread, settles its outcome.

use super::batches::Batches;
use super::committer::{transactional_producer, Committer, Job, StageProducer, TransactionGate};
use super::config::StageConfig;
use super::context::StageHooks;
use super::input::InputRecord;
use super::metrics::{error_type, StageMetrics};
use super::outputs::Outputs;
use super::status::StageProgress;
use super::transform::Transform;
use crate::config::KafkaConfig;
use crate::consumer::{
    spawn_consumer, ConsumerSettings, ConsumerState, ConsumerThread, Control, TrackedConsumer,
};
use crate::error::KafkaError;
use crate::error_counter::ErrorStage;
use crate::headers::INGESTED_AT;
use crate::sync::lock;
use chrono::{DateTime, Utc};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The stage consumer's tuning (`kafka.properties` overrides it).
const CONSUMER_TUNING: &[(&str, &str)] = &[
    // Bounded memory: librdkafka prefetches up to 64 MiB per consumer by default, and a
    // stage that lags would hold all of it, decompressed (lz4 JSON: about 3.5 times as
    // much). 1 MiB still keeps a batch's worth queued...
    ("queued.max.messages.kbytes", "1024"),
    // ...but a partition whose prefetch is full is not fetched again for
    // `fetch.queue.backoff.ms`, 1 s by default: a stall at every full queue.
    ("fetch.queue.backoff.ms", "5"),
    // How long the broker holds a fetch that finds nothing. It answers as soon as records
    // commit (the markers it writes wake the fetch: measured on Kafka 3.9, a run posted
    // alone is processed as fast with 500 ms as with 25 ms, docs/benchmarks.md), so the
    // wait costs no latency; a short one only makes an idle loop ask 40 times a second,
    // which the broker pays for.
    ("fetch.wait.max.ms", "500"),
    // 1 MiB per partition (compressed; about 5,000 records): a fetch feeds a batch.
    ("max.partition.fetch.bytes", "1048576"),
    // The lag of each partition comes from librdkafka's statistics, which it gathers
    // without asking the broker: no round trip on the loop thread (`StageHooks`).
    ("statistics.interval.ms", "5000"),
];

/// Longest poll of a loop whose due batch waits for the transaction in flight.
const COMMIT_CHECK_INTERVAL: Duration = Duration::from_millis(1);

/// The running loop.
pub type StageHandle = ConsumerThread<StageProgress>;

type StageConsumer = TrackedConsumer<StageHooks>;

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
    let transactional_id = config.resolved_transactional_id();
    let progress = Arc::new(StageProgress {
        input_topic: input_topic.to_owned(),
        group_id: config.group_id.clone(),
        transactional_id: transactional_id.clone(),
        ..StageProgress::default()
    });
    let transactions = Arc::new(TransactionGate::default());
    let hooks = StageHooks {
        transactions: transactions.clone(),
        progress: progress.clone(),
        lag: metrics.lag.clone(),
        lag_partitions: Mutex::new(BTreeSet::new()),
    };
    let state = Arc::new(ConsumerState::new(metrics.errors.clone()));
    let consumer = ConsumerSettings::in_group(stage, &config.group_id)
        .tuning(CONSUMER_TUNING)
        .eager_rebalance()
        .static_member(&transactional_id)
        .create(kafka, Arc::clone(&state), hooks)?;
    consumer.subscribe(&[input_topic])?;
    let mut worker = Worker {
        kafka: kafka.clone(),
        stage: stage.to_owned(),
        input_topic: input_topic.to_owned(),
        config: config.clone(),
        transactional_id,
        consumer: Arc::new(consumer),
        producer: None,
        committer: Committer::spawn(stage, transactions)?,
        in_flight: None,
        transform,
        batches: Batches::default(),
        metrics,
        progress: progress.clone(),
        batch: Batch::default(),
        spare_outputs: Outputs::default(),
        seen_rebalances: 0,
    };
    spawn_consumer(&format!("{stage}-loop"), state, progress, move |control| {
        worker.run(control)
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
    /// The transform's state of each batch not settled yet.
    batches: Batches<T::Batch>,
    metrics: StageMetrics,
    progress: Arc<StageProgress>,
    /// The batch being gathered.
    batch: Batch,
    /// The outputs buffer of the last committed batch, for the next batch to fill.
    spare_outputs: Outputs,
    seen_rebalances: u64,
}

impl<T: Transform> Worker<T> {
    fn run(&mut self, control: &Control) -> Result<(), KafkaError> {
        let max_wait = Duration::from_millis(self.config.batch_max_ms.max(1));
        // Its own handle: a polled message borrows it while the worker settles batches.
        let consumer = self.consumer.clone();
        let state = control.state();
        while !control.stopping() {
            // A commit thread stuck in a call that ignored its timeout cannot be replaced
            // in place (librdkafka holds it): the loop ends, and the service with it, so
            // that its supervisor starts it afresh.
            if let Some(error) = self.committer.stalled() {
                return Err(error);
            }
            if self.producer.is_none() {
                // Dropped only once its transaction ended: nothing is in flight.
                state.set_phase("initializing_transactions");
                match transactional_producer(
                    &self.kafka,
                    &self.stage,
                    &self.transactional_id,
                    self.config.transaction_timeout_ms,
                ) {
                    Ok(producer) => self.producer = Some(Arc::new(producer)),
                    Err(error) => {
                        state.error(
                            ErrorStage::Sending,
                            error_type::TRANSACTIONAL_PRODUCER,
                            &error,
                        );
                        std::thread::sleep(Duration::from_secs(2));
                        continue;
                    }
                }
                state.set_phase("running");
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
            let rebalances = state.rebalances();
            if rebalances != self.seen_rebalances {
                self.seen_rebalances = rebalances;
                // The transaction in flight ended before the partitions were revoked
                // (`StageHooks::before_rebalance` waits for it); its outcome is settled
                // first, so that `discard` below only drops the batch being gathered.
                self.settle_in_flight(true);
                if !self.batch.is_empty() {
                    tracing::info!(
                        inputs = self.batch.inputs,
                        "rebalance: dropping the uncommitted batch"
                    );
                    self.batch.clear();
                    let dropped = self.batches.discard();
                    self.transform.discarded(dropped);
                }
                self.transform
                    .rebalanced(&state.assigned_partitions(&self.input_topic));
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
                        timestamp_ms: message.timestamp().to_millis(),
                    };
                    if let Some(at) = input
                        .header(INGESTED_AT)
                        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                    {
                        self.batch.ingested_at.push(at.with_timezone(&Utc));
                    }
                    self.transform.transform(
                        &input,
                        self.batches.gathering(),
                        &mut self.batch.outputs,
                    );
                    let range = self
                        .batch
                        .ranges
                        .entry(input.partition)
                        .or_insert((input.offset, input.offset));
                    range.1 = input.offset;
                    self.batch.inputs += 1;
                    self.batch.started.get_or_insert_with(Instant::now);
                }
                // A fatal error leaves the consumer unusable for good (a static member
                // fenced by another with its instance id, for one): the loop ends, and
                // the service with it, so that its supervisor starts it afresh.
                Some(Err(error @ rdkafka::error::KafkaError::MessageConsumptionFatal(_))) => {
                    let error = KafkaError::Client(error);
                    state.error(ErrorStage::Receiving, error_type::KAFKA_CONSUMER, &error);
                    self.settle_in_flight(true);
                    return Err(error);
                }
                Some(Err(error)) => state.error(
                    ErrorStage::Receiving,
                    error_type::KAFKA_CONSUMER,
                    &KafkaError::Client(error),
                ),
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
        state.set_phase("stopping");
        self.settle_in_flight(true);
        if !self.batch.is_empty() && self.producer.is_some() {
            self.hand_over();
            self.settle_in_flight(true);
        }
        self.consumer.unsubscribe();
        Ok(())
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
        self.transform
            .seal(self.batches.gathering(), &mut self.batch.outputs);
        let mut batch = std::mem::take(&mut self.batch);
        self.batch.outputs = std::mem::take(&mut self.spare_outputs);
        self.batches.seal();
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
            .ok_or(KafkaError::NoGroupMetadata)?;
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
        let rebuild_producer = outcome.rebuild_producer();
        let mut outputs = outcome.outputs;
        outputs.clear();
        self.spare_outputs = outputs;
        match outcome.result {
            Ok(()) => self.committed(batch, outcome.duration),
            Err(error) => self.failed(error, rebuild_producer, batch),
        }
    }

    fn committed(&mut self, batch: Batch, duration: Duration) {
        if let Some(state) = self.batches.commit() {
            self.transform.committed(state);
        }
        let m = &self.metrics;
        m.consumed.inc_by(batch.inputs as u64);
        let mut produced = 0;
        for (topic, count) in &batch.per_topic {
            let (topic, count): (&str, u64) = (topic, *count);
            m.produced.with_label_values(&[topic]).inc_by(count);
            produced += count;
        }
        m.committed.inc();
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
        *lock(&p.last_commit_at) = Some(now);
        self.consumer.context().state().clear_error();
    }

    /// The transaction of `batch` failed (or could not start). It and the batch being
    /// gathered behind it are dropped, and their partitions go back to the first input of
    /// either, to be read again.
    fn failed(&mut self, error: KafkaError, rebuild_producer: bool, mut batch: Batch) {
        let gathering_ranges = std::mem::take(&mut self.batch.ranges);
        tracing::info!(
            inputs = batch.inputs + self.batch.inputs,
            "transaction failed; rewinding"
        );
        self.batch.clear();
        self.consumer.context().state().error(
            ErrorStage::Sending,
            error_type::TRANSACTION_ABORTED,
            &error,
        );
        self.progress.aborted.fetch_add(1, Ordering::Relaxed);
        if rebuild_producer {
            self.producer = None;
        }
        let dropped = self.batches.discard();
        self.transform.discarded(dropped);
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
}
