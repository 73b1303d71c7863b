//! Retraining on demand, off the stage's path.
//!
//! `POST /detector/retrain` only schedules: a thread of its own retrains one series at a
//! time, taking the detector bank's lock for that series alone, so the stage loop (which
//! locks the bank per record) goes on between them instead of waiting for every forest.
//! Requests that arrive while a retraining is pending are coalesced into it: a client that
//! retrains in a loop costs at most one pass running and one waiting.

use chrono::{DateTime, Utc};
use obs_detector::DetectorBank;
use obs_kafka::sync::lock;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// What a request asks to retrain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Series(String),
}

/// What the retrainer has done and has yet to do, for `/status` and the tests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RetrainStatus {
    /// A pass over every series is waiting.
    pub all_pending: bool,
    /// Series waiting for their own retraining.
    pub series_pending: usize,
    /// Whether a retraining runs now.
    pub running: bool,
    /// Requests taken, and those of them folded into a retraining already waiting.
    pub requests: u64,
    pub coalesced: u64,
    /// Forests retrained since start.
    pub forests_retrained: u64,
    /// When the last retraining (a pass or a series) ended.
    pub last_finished_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Queue {
    all: bool,
    series: BTreeSet<String>,
    stop: bool,
    status: RetrainStatus,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The retraining thread and its queue.
pub struct Retrainer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Retrainer {
    /// Starts the thread that retrains the forests of `bank`.
    pub fn start(bank: Arc<Mutex<DetectorBank>>) -> std::io::Result<Retrainer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("detector-retrain".into())
            .spawn(move || run(&worker, &bank))?;
        Ok(Retrainer {
            shared,
            thread: Some(thread),
        })
    }

    /// Schedules `scope`; `true` when it was folded into a retraining already waiting.
    pub fn schedule(&self, scope: Scope) -> bool {
        let mut queue = lock(&self.shared.queue);
        let coalesced = match scope {
            Scope::All => std::mem::replace(&mut queue.all, true),
            // A pass over every series waiting covers it too.
            Scope::Series(key) => queue.all || !queue.series.insert(key),
        };
        queue.status.requests += 1;
        queue.status.coalesced += u64::from(coalesced);
        drop(queue);
        self.shared.wake.notify_one();
        coalesced
    }

    pub fn status(&self) -> RetrainStatus {
        let queue = lock(&self.shared.queue);
        RetrainStatus {
            all_pending: queue.all,
            series_pending: queue.series.len(),
            ..queue.status.clone()
        }
    }
}

impl Drop for Retrainer {
    /// Stops after the series being retrained; what waits is dropped.
    fn drop(&mut self) {
        lock(&self.shared.queue).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Takes what is scheduled, retrains it one series per lock of the bank, and again.
fn run(shared: &Shared, bank: &Mutex<DetectorBank>) {
    loop {
        let (all, series) = {
            let mut queue = lock(&shared.queue);
            while !queue.stop && !queue.all && queue.series.is_empty() {
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if queue.stop {
                return;
            }
            queue.status.running = true;
            (
                std::mem::take(&mut queue.all),
                std::mem::take(&mut queue.series),
            )
        };
        let mut trained = 0u64;
        if all {
            // Slots added or evicted meanwhile may be skipped or seen twice: a series
            // retrains on its own schedule anyway (every `retrain_every` points).
            let mut at = 0;
            while at < lock(bank).len() {
                if lock(&shared.queue).stop {
                    return;
                }
                trained += u64::from(lock(bank).retrain_at(at));
                at += 1;
            }
        } else {
            for key in &series {
                // A series evicted since it was scheduled has nothing left to retrain.
                trained += lock(bank).retrain(Some(key)).map_or(0, |n| n as u64);
            }
        }
        let mut queue = lock(&shared.queue);
        queue.status.running = false;
        queue.status.forests_retrained += trained;
        queue.status.last_finished_at = Some(Utc::now());
        tracing::info!(
            all,
            series = series.len(),
            forests = trained,
            "detectors retrained"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use obs_detector::DetectorConfig;
    use std::time::{Duration, Instant};

    fn trained_bank(series: usize) -> Arc<Mutex<DetectorBank>> {
        let mut config = DetectorConfig::default();
        config.forest.min_metrics = 1;
        let mut bank = DetectorBank::new(config).unwrap();
        let start = DateTime::<Utc>::UNIX_EPOCH;
        for i in 0..300 {
            for s in 0..series {
                let at = start + chrono::TimeDelta::minutes(i);
                let value = 1.0 + ((i * 7 + s as i64) % 13) as f64;
                bank.observe(
                    &format!("s{s}"),
                    at,
                    &[("duration_seconds", value), ("memory_bytes", value * 10.0)],
                )
                .unwrap();
            }
        }
        Arc::new(Mutex::new(bank))
    }

    fn wait_until(retrainer: &Retrainer, done: impl Fn(&RetrainStatus) -> bool) -> RetrainStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = retrainer.status();
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "{status:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn requests_are_coalesced_and_retrained_off_the_caller() {
        let bank = trained_bank(4);
        let retrainer = Retrainer::start(bank.clone()).unwrap();
        // The bank held by the caller: nothing can run, every request after the first waits
        // and folds into it.
        let held = lock(&bank);
        let first = retrainer.schedule(Scope::All);
        let later: Vec<bool> = (0..50).map(|_| retrainer.schedule(Scope::All)).collect();
        let series = retrainer.schedule(Scope::Series("s1".into()));
        drop(held);
        assert!(!first);
        let status = wait_until(&retrainer, |s| {
            s.last_finished_at.is_some() && !s.running && !s.all_pending
        });
        assert_eq!(status.requests, 52);
        // At most one pass ran while the others waited: all but the first two were folded.
        assert!(status.coalesced >= 50, "{status:?}");
        assert!(later.iter().filter(|c| !**c).count() <= 1, "{later:?}");
        assert!(series || status.series_pending == 0);
        assert!(status.forests_retrained >= 4, "{status:?}");
    }

    #[test]
    fn one_series_is_retrained_alone() {
        let bank = trained_bank(3);
        let retrainer = Retrainer::start(bank).unwrap();
        assert!(!retrainer.schedule(Scope::Series("s2".into())));
        let status = wait_until(&retrainer, |s| s.last_finished_at.is_some());
        assert_eq!(status.forests_retrained, 1);
    }
}
