//! The harness's `read_committed` reader: every record of `processed-metrics` into the
//! ledger by its `record-id`, and the first output of each stage after a kill.

use obs_devtools::chaos::{Ledger, Verdict};
use obs_kafka::consumer::ConsumerSettings;
use obs_kafka::headers::RECORD_ID;
use obs_kafka::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest wait for the broker's answer to a diagnosis's question.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waiting for the first record of `topic` written after `after_ms` (epoch ms).
struct Wait {
    topic: String,
    after_ms: i64,
    seen_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    ledger: Ledger,
    unique: u64,
    waits: Vec<Wait>,
    error: Option<String>,
    /// Topic → partition → the offset after the last record read.
    positions: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// The reader's thread and what it found so far.
pub struct Watch {
    /// Asks the broker for watermarks (the reader's own consumer is on its thread).
    probe: BaseConsumer,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Reads `processed` (counted in the ledger) and `standardized` (for recoveries)
    /// from their beginning, on a thread of its own.
    pub fn start(
        kafka: &KafkaConfig,
        processed: &str,
        standardized: &str,
    ) -> anyhow::Result<Watch> {
        let consumer: BaseConsumer = ConsumerSettings::assigned("chaos-reader")
            .client_config(kafka)
            .create()?;
        let mut assignment = TopicPartitionList::new();
        for topic in [processed, standardized] {
            let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
            for t in metadata.topics() {
                for p in t.partitions() {
                    assignment.add_partition_offset(topic, p.id(), Offset::Beginning)?;
                }
            }
        }
        consumer.assign(&assignment)?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop, processed) = (state.clone(), stop.clone(), processed.to_owned());
            std::thread::Builder::new()
                .name("chaos-reader".into())
                .spawn(move || read(&consumer, &state, &stop, &processed))?
        };
        let probe = ConsumerSettings::assigned("chaos-probe")
            .client_config(kafka)
            .create()?;
        Ok(Watch {
            probe,
            state,
            stop,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A record id was acknowledged by the broker.
    pub fn sent(&self, id: &[u8]) {
        self.lock().ledger.sent(id);
    }

    /// Distinct records read from `processed-metrics`, and every copy.
    pub fn progress(&self) -> (u64, u64) {
        let state = self.lock();
        (state.unique, state.ledger.read_total())
    }

    /// Starts waiting for `topic`'s first record written after `after_ms`; its index.
    pub fn wait_for(&self, topic: &str, after_ms: i64) -> usize {
        let mut state = self.lock();
        state.waits.push(Wait {
            topic: topic.to_owned(),
            after_ms,
            seen_at: None,
        });
        state.waits.len() - 1
    }

    /// When the wait `index` saw its record.
    pub fn seen_at(&self, index: usize) -> Option<Instant> {
        self.lock().waits.get(index).and_then(|w| w.seen_at)
    }

    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// Per partition of `topic`: the offset after the last record read `read_committed`,
    /// and the broker's high watermark (records not read below it are in a transaction
    /// not ended yet, or not fetched yet).
    pub fn positions(&self, topic: &str) -> Vec<(i32, Option<i64>, anyhow::Result<i64>)> {
        let read = self
            .lock()
            .positions
            .get(topic)
            .cloned()
            .unwrap_or_default();
        let partitions = obs_kafka::topics::partitions_of(&self.probe, topic, PROBE_TIMEOUT)
            .ok()
            .flatten()
            .unwrap_or_else(|| read.keys().copied().collect());
        partitions
            .into_iter()
            .map(|partition| {
                let high = self
                    .probe
                    .fetch_watermarks(topic, partition, PROBE_TIMEOUT)
                    .map(|(_, high)| high)
                    .map_err(anyhow::Error::from);
                (partition, read.get(&partition).copied(), high)
            })
            .collect()
    }

    pub fn verdict(&self) -> Verdict {
        self.lock().ledger.verdict()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read(consumer: &BaseConsumer, state: &Mutex<State>, stop: &AtomicBool, processed: &str) {
    while !stop.load(Ordering::Relaxed) {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let message = match result {
            Ok(message) => message,
            // The broker's restarts show here as transport errors; librdkafka reconnects.
            Err(e) => {
                state.error = Some(e.to_string());
                continue;
            }
        };
        let written_ms = message.timestamp().to_millis().unwrap_or(0);
        let now = Instant::now();
        for wait in &mut state.waits {
            if wait.seen_at.is_none() && wait.topic == message.topic() && written_ms > wait.after_ms
            {
                wait.seen_at = Some(now);
            }
        }
        let (partition, next) = (message.partition(), message.offset() + 1);
        match state.positions.get_mut(message.topic()) {
            Some(partitions) => {
                partitions.insert(partition, next);
            }
            None => {
                let partitions = BTreeMap::from([(partition, next)]);
                state
                    .positions
                    .insert(message.topic().to_owned(), partitions);
            }
        }
        if message.topic() == processed {
            let id = message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == RECORD_ID))
                .and_then(|h| h.value)
                .unwrap_or_default();
            if state.ledger.read(id) {
                state.unique += 1;
            }
        }
    }
}
