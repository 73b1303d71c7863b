//! The transactions of a stage loop, on a thread of their own.
//!
//! A transaction costs several round trips to the brokers (partitions added, records
//! acknowledged, offsets sent, markers written): tens of milliseconds in which the loop
//! would otherwise sit idle. The committer runs them one at a time while the loop consumes
//! and transforms the next batch, so a stage's throughput is set by the slower of the two
//! rather than by their sum. At most one batch is in flight: the loop hands over batch
//! N + 1 only once batch N has ended, which keeps the order of commits, the memory bound
//! and the rewind simple (see [`super`]).

use super::outputs::Outputs;
use crate::config::KafkaConfig;
use crate::error::KafkaError;
use crate::sync::lock;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};
use rdkafka::TopicPartitionList;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the commit thread sleeps between two looks at the producer's queue.
const FLUSH_SLICE: Duration = Duration::from_micros(500);
/// Longest wait for each transactional call.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);
/// A transactional call still running after this has ignored its timeout: librdkafka's
/// `send_offsets_to_transaction` can wait for ever for a group coordinator that went away
/// (librdkafka issues 5456 and 5511; seen here after a restart: the stage stood still,
/// alive, until killed). The stage then ends, so that its supervisor starts it afresh.
const CALL_STALL: Duration = Duration::from_secs(60);
/// How often a wait for the commit thread looks for a stalled call.
const STALL_CHECK: Duration = Duration::from_millis(500);

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

/// Built by the loop, polled by the commit thread.
pub(super) type StageProducer = BaseProducer;

/// A transactional producer with `transactional_id`, its transactions initialized (which
/// aborts one its predecessor left open).
pub(super) fn transactional_producer(
    kafka: &KafkaConfig,
    stage: &str,
    transactional_id: &str,
    transaction_timeout_ms: u64,
) -> Result<StageProducer, KafkaError> {
    let producer: StageProducer = kafka
        .client_config_tuned(stage, PRODUCER_TUNING)
        .set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .set("transaction.timeout.ms", transaction_timeout_ms.to_string())
        .create()?;
    producer.init_transactions(TXN_TIMEOUT)?;
    tracing::info!(transactional_id, "transactions initialized");
    Ok(producer)
}

/// One batch to commit: its outputs and the offsets of its inputs.
pub(super) struct Job {
    pub(super) producer: Arc<StageProducer>,
    pub(super) outputs: Outputs,
    pub(super) offsets: TopicPartitionList,
    pub(super) group: ConsumerGroupMetadata,
}

/// How a transaction ended.
pub(super) struct Outcome {
    pub(super) result: Result<(), KafkaError>,
    /// From `begin_transaction` to the end of the commit or abort.
    pub(super) duration: Duration,
    /// The job's outputs, for the loop to reuse their buffers.
    pub(super) outputs: Outputs,
}

pub(super) struct Committer {
    jobs: Option<SyncSender<Job>>,
    outcomes: Receiver<Outcome>,
    thread: Option<JoinHandle<()>>,
    gate: Arc<TransactionGate>,
    /// A call of the commit thread stalled: the thread is stuck in it for good.
    stalled: Option<(&'static str, Duration)>,
}

impl Outcome {
    /// The next transaction goes on a new producer after any failure: its initialization
    /// bumps the transactional id's epoch, which fences whatever request of this one is
    /// still on its way to a broker (the abort purged them unanswered: they may still land,
    /// and only a newer epoch keeps them out of a later transaction), and it starts from
    /// clean sequence numbers rather than this one's state after the purge.
    pub(super) fn rebuild_producer(&self) -> bool {
        self.result.is_err()
    }
}

impl Committer {
    /// Starts the commit thread; `gate` tells whether it is running a transaction.
    pub(super) fn spawn(stage: &str, gate: Arc<TransactionGate>) -> Result<Self, KafkaError> {
        let (jobs, job_queue) = mpsc::sync_channel::<Job>(1);
        let (outcome_sender, outcomes) = mpsc::sync_channel(1);
        let thread_gate = gate.clone();
        let producer_name: Arc<str> = stage.into();
        let thread = std::thread::Builder::new()
            .name(format!("{stage}-commit"))
            .spawn(move || {
                for job in job_queue {
                    let outcome = run(job, &producer_name, &thread_gate);
                    thread_gate.set(false);
                    if outcome_sender.send(outcome).is_err() {
                        break;
                    }
                }
            })
            .map_err(|source| KafkaError::ThreadStart {
                thread: format!("{stage}-commit"),
                source,
            })?;
        Ok(Committer {
            jobs: Some(jobs),
            outcomes,
            thread: Some(thread),
            gate,
            stalled: None,
        })
    }

    /// Starts committing `job`; the previous one must have been collected.
    pub(super) fn submit(&mut self, job: Job) -> Result<(), KafkaError> {
        self.gate.set(true);
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => {
                self.gate.set(false);
                Err(KafkaError::Stopped("the commit thread"))
            }
        }
    }

    /// The outcome of the submitted transaction: waits for it when `wait`, otherwise
    /// `None` while it runs. Only called with a transaction submitted and not collected.
    pub(super) fn collect(&mut self, wait: bool) -> Option<Outcome> {
        let received = if wait {
            self.wait_for_outcome()
        } else {
            match self.outcomes.try_recv() {
                Ok(outcome) => Ok(outcome),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => Err(KafkaError::Stopped("the commit thread")),
            }
        };
        Some(received.unwrap_or_else(|error| Outcome {
            result: Err(error),
            duration: Duration::ZERO,
            outputs: Outputs::default(),
        }))
    }

    /// Waits for the outcome, looking every [`STALL_CHECK`] for a call of the commit thread
    /// that has stalled (see [`CALL_STALL`]): that ends the wait with its error, and
    /// [`stalled`](Self::stalled) says it for good.
    fn wait_for_outcome(&mut self) -> Result<Outcome, KafkaError> {
        loop {
            match self.outcomes.recv_timeout(STALL_CHECK) {
                Ok(outcome) => return Ok(outcome),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(KafkaError::Stopped("the commit thread"))
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some((call, after)) = self.gate.stalled() {
                        self.stalled = Some((call, after));
                        return Err(KafkaError::CallStalled { call, after });
                    }
                }
            }
        }
    }

    /// The stalled call that ended this commit thread's use, if one did.
    pub(super) fn stalled(&self) -> Option<KafkaError> {
        self.stalled
            .map(|(call, after)| KafkaError::CallStalled { call, after })
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            // A thread stuck in a stalled call is left behind: the process is ending.
            if self.stalled.is_none() {
                // A panic there already failed its transaction; nothing more to report.
                let _ = thread.join();
            }
        }
    }
}

/// Commits the job, or aborts it; `gate` times each transactional call.
fn run(job: Job, stage: &str, gate: &TransactionGate) -> Outcome {
    let started = Instant::now();
    let result = transact(&job, stage, gate);
    let Job {
        producer, outputs, ..
    } = job;
    if let Err(error) = &result {
        // A fenced or broken producer cannot abort; the next one (see
        // `Outcome::rebuild_producer`) aborts the open transaction when it initializes
        // with the same transactional id.
        let fatal = matches!(error, KafkaError::Client(rdkafka::error::KafkaError::Transaction(e)) if e.is_fatal());
        if !fatal {
            if let Err(abort_error) = abort(&producer, gate) {
                tracing::warn!(%abort_error, "abort failed");
            }
        }
    }
    Outcome {
        result,
        duration: started.elapsed(),
        outputs,
    }
}

fn transact(job: &Job, stage: &str, gate: &TransactionGate) -> Result<(), KafkaError> {
    let producer = &*job.producer;
    gate.time("begin_transaction", || producer.begin_transaction())?;
    // Every step of a transaction is bounded, the wait for room in the queue too.
    let deadline = Instant::now() + TXN_TIMEOUT;
    for output in job.outputs.iter() {
        let mut record = BaseRecord::to(output.topic)
            .payload(output.payload)
            .headers(output.kafka_headers(stage));
        if let Some(key) = output.key {
            record = record.key(key);
        }
        if let Some(partition) = output.partition {
            record = record.partition(partition);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    // Room comes back as the brokers acknowledge.
                    if Instant::now() >= deadline {
                        return Err(KafkaError::QueueStayedFull { after: TXN_TIMEOUT });
                    }
                    record = back;
                    producer.poll(Duration::ZERO);
                    std::thread::sleep(FLUSH_SLICE);
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }
    gate.time("send_offsets_to_transaction", || {
        producer.send_offsets_to_transaction(&job.offsets, &job.group, TXN_TIMEOUT)
    })?;
    flush(producer)?;
    gate.time("commit_transaction", || {
        producer.commit_transaction(TXN_TIMEOUT)
    })?;
    Ok(())
}

/// Aborts the open transaction. librdkafka's abort purges the records not yet
/// acknowledged, then waits until their failure reports have been served, which only a
/// poll of the producer does; this thread is the only one polling it, so the abort alone
/// waited out its whole timeout whenever records were outstanding (after a broker outage:
/// half a minute without output, then a new producer). The records are purged and their
/// reports drained first.
fn abort(producer: &StageProducer, gate: &TransactionGate) -> Result<(), KafkaError> {
    producer.purge(PurgeConfig::default().queue().inflight());
    flush(producer)?;
    gate.time("abort_transaction", || {
        producer.abort_transaction(TXN_TIMEOUT)
    })?;
    Ok(())
}

/// Waits until every message of the transaction is acknowledged (or, purged, reported
/// failed). rdkafka's own `flush` (which `commit_transaction` calls) polls in 100 ms
/// slices that always run to their end, adding up to 100 ms to every transaction, and
/// `BaseProducer::poll` with a timeout spins through its last sub-millisecond (it rounds
/// the remaining time down to 0 ms); so this sleeps in short slices and only drains the
/// event queue, which holds nothing but failed deliveries (`delivery.report.only.error`:
/// a failure also fails the commit).
fn flush(producer: &StageProducer) -> Result<(), KafkaError> {
    let deadline = Instant::now() + TXN_TIMEOUT;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(KafkaError::Undelivered {
                count: producer.in_flight_count(),
                after: TXN_TIMEOUT,
            });
        }
        producer.poll(Duration::ZERO);
        std::thread::sleep(FLUSH_SLICE);
    }
    Ok(())
}

/// Whether a transaction is running, for the consumer's rebalance callback, and which
/// transactional call the commit thread is in since when, to tell a stalled one.
#[derive(Debug)]
pub(super) struct TransactionGate {
    running: Mutex<bool>,
    ended: Condvar,
    call: Mutex<Option<(&'static str, Instant)>>,
    stall_after: Duration,
}

impl Default for TransactionGate {
    fn default() -> Self {
        TransactionGate::stalling_after(CALL_STALL)
    }
}

impl TransactionGate {
    /// A gate that calls a call stalled once it has run for `stall_after`.
    fn stalling_after(stall_after: Duration) -> Self {
        TransactionGate {
            running: Mutex::new(false),
            ended: Condvar::new(),
            call: Mutex::new(None),
            stall_after,
        }
    }

    fn set(&self, running: bool) {
        *lock(&self.running) = running;
        if !running {
            self.ended.notify_all();
        }
    }

    /// Runs `call`, named `name`, noting when it began.
    fn time<T>(&self, name: &'static str, call: impl FnOnce() -> T) -> T {
        *lock(&self.call) = Some((name, Instant::now()));
        let result = call();
        *lock(&self.call) = None;
        result
    }

    /// The call running for longer than it may, and for how long.
    fn stalled(&self) -> Option<(&'static str, Duration)> {
        let (name, since) = (*lock(&self.call))?;
        let running_for = since.elapsed();
        (running_for >= self.stall_after).then_some((name, running_for))
    }

    /// Returns once no transaction is running, or once the one running has stalled (the
    /// loop then ends at its next look at the commit thread).
    pub(super) fn wait_until_idle(&self) {
        let mut running = lock(&self.running);
        while *running && self.stalled().is_none() {
            running = self
                .ended
                .wait_timeout(running, STALL_CHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    /// The same value as this crate's type: the test kit's types are those of the other
    /// copy of this crate that it links.
    fn ours<T: serde::Serialize, U: serde::de::DeserializeOwned>(value: &T) -> U {
        serde_json::from_value(serde_json::to_value(value).unwrap()).unwrap()
    }

    /// A topic of its own on the test broker, and producers of one transactional id with
    /// `properties` added to their configuration.
    struct Setup {
        kafka: KafkaConfig,
        topic: Arc<str>,
        transactional_id: String,
        _topics: obs_testkit::TestTopics,
    }

    impl Setup {
        async fn new(properties: &[(&str, &str)]) -> Setup {
            let mut kafka: KafkaConfig = ours(&obs_testkit::kafka());
            let topics = obs_testkit::unique_topics();
            let topics_config: crate::topics::TopicsConfig = ours(&*topics);
            crate::topics::ensure_topics(&kafka, "committer-test", &topics_config)
                .await
                .unwrap();
            for (key, value) in properties {
                kafka
                    .properties
                    .insert((*key).to_owned(), (*value).to_owned());
            }
            let topic: Arc<str> = topics.raw_logs.name.as_str().into();
            Setup {
                kafka,
                transactional_id: format!("{topic}-txn"),
                topic,
                _topics: topics,
            }
        }

        fn producer(&self) -> StageProducer {
            transactional_producer(
                &self.kafka,
                "committer-test",
                &self.transactional_id,
                60_000,
            )
            .unwrap()
        }

        /// A job of `outputs` with no offsets, for a group of the topic's name.
        fn job(&self, producer: Arc<StageProducer>, outputs: Outputs) -> Job {
            let consumer: BaseConsumer = self
                .kafka
                .client_config("committer-test")
                .set("group.id", format!("{}-group", self.topic))
                .create()
                .unwrap();
            Job {
                producer,
                outputs,
                offsets: TopicPartitionList::new(),
                group: consumer.group_metadata().unwrap(),
            }
        }
    }

    /// A call still running past the gate's bound is stalled, and a rebalance waiting for
    /// the transaction stops waiting then; once the call returns, nothing is stalled.
    #[test]
    fn a_call_past_its_bound_is_stalled_and_frees_the_rebalance() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let gate = Arc::new(TransactionGate::stalling_after(Duration::from_millis(200)));
        gate.set(true);
        let release = Arc::new(AtomicBool::new(false));
        let calling = {
            let (gate, release) = (gate.clone(), release.clone());
            std::thread::spawn(move || {
                gate.time("send_offsets_to_transaction", || {
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(gate.stalled(), None, "running, within its bound");
        let waiting = Instant::now();
        gate.wait_until_idle();
        assert!(waiting.elapsed() < Duration::from_secs(2), "the wait ends");
        let (call, after) = gate.stalled().expect("stalled by now");
        assert_eq!(call, "send_offsets_to_transaction");
        assert!(after >= Duration::from_millis(200));
        release.store(true, Ordering::SeqCst);
        calling.join().unwrap();
        assert_eq!(gate.stalled(), None, "the call returned");
    }

    /// A transaction that fails (a record for a partition the topic does not have) is
    /// aborted and the next one goes on a new producer, whose initialization bumps the
    /// transactional id's epoch: the old producer is fenced, so nothing it purged
    /// unanswered can land in a later transaction; the new one commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_transaction_goes_on_with_a_new_producer_that_fences_the_old_one() {
        let setup = Setup::new(&[]).await;
        let topic = &setup.topic;
        let producer = Arc::new(setup.producer());
        let mut outputs = Outputs::default();
        outputs
            .record(topic, None)
            .partition(999)
            .payload(b"nowhere");
        let outcome = run(
            setup.job(producer.clone(), outputs),
            "committer-test",
            &TransactionGate::default(),
        );
        assert!(outcome.result.is_err(), "partition 999 does not exist");
        assert!(outcome.rebuild_producer(), "a new producer after a failure");

        let next = setup.producer();
        let fenced = producer.begin_transaction().and_then(|()| {
            producer
                .send(BaseRecord::<(), _>::to(topic).payload("zombie"))
                .map_err(|(e, _)| e)?;
            producer.commit_transaction(TXN_TIMEOUT)
        });
        assert!(fenced.is_err(), "the old producer is fenced");
        next.begin_transaction().unwrap();
        next.send(BaseRecord::<(), _>::to(topic).payload("after"))
            .unwrap();
        flush(&next).unwrap();
        next.commit_transaction(TXN_TIMEOUT).unwrap();
    }

    /// A queue that stays full (room for one record, held by a long linger) fails the
    /// transaction after the transactional calls' timeout instead of waiting for room
    /// for ever; the abort then purges it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_that_stays_full_fails_the_transaction_in_bounded_time() {
        let setup = Setup::new(&[
            ("linger.ms", "50000"),
            ("queue.buffering.max.messages", "1"),
        ])
        .await;
        let mut outputs = Outputs::default();
        for payload in [b"first", b"other"] {
            outputs.record(&setup.topic, None).payload(payload);
        }
        let outcome = run(
            setup.job(Arc::new(setup.producer()), outputs),
            "committer-test",
            &TransactionGate::default(),
        );
        assert!(
            matches!(outcome.result, Err(KafkaError::QueueStayedFull { .. })),
            "{:?}",
            outcome.result
        );
        assert!(outcome.rebuild_producer());
    }

    /// Records still queued (a long linger holds them) when a transaction aborts: the
    /// abort succeeds, instead of timing out on reports nobody served, and the producer
    /// goes on with its next transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abort_with_records_outstanding_succeeds_and_the_producer_goes_on() {
        let setup = Setup::new(&[("linger.ms", "3000")]).await;
        let topic = &setup.topic;
        let producer = setup.producer();

        producer.begin_transaction().unwrap();
        for i in 0..100 {
            let payload = i.to_string();
            producer
                .send(BaseRecord::<(), _>::to(topic).payload(&payload))
                .unwrap();
        }
        assert!(producer.in_flight_count() > 0, "records outstanding");
        abort(&producer, &TransactionGate::default()).unwrap();
        assert_eq!(producer.in_flight_count(), 0);

        producer.begin_transaction().unwrap();
        producer
            .send(BaseRecord::<(), _>::to(topic).payload("after"))
            .unwrap();
        flush(&producer).unwrap();
        producer.commit_transaction(TXN_TIMEOUT).unwrap();
    }
}
