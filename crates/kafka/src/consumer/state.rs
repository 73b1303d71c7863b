//! What a consumer is doing, shared by its thread, its context and its handle.

use crate::error_counter::{ErrorCounter, ErrorStage};
use crate::sync::lock;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// The latest error of a consumer, and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LastError {
    pub message: String,
    pub at: DateTime<Utc>,
}

/// A snapshot of a consumer, for `/status`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConsumerStatus {
    /// The thread's name.
    pub consumer: String,
    pub running: bool,
    /// What the thread is doing, in the words of the component (snake_case).
    pub phase: &'static str,
    /// Partitions assigned by the group (empty for a consumer that assigns its own).
    pub assigned: Vec<TopicPartition>,
    /// Assignments and revocations since start.
    pub rebalances: u64,
    /// Errors since start (client errors, failed commits...).
    pub errors: u64,
    pub last_error: Option<LastError>,
}

#[derive(Debug)]
struct Inner {
    phase: &'static str,
    assigned: Vec<TopicPartition>,
    errors: u64,
    last_error: Option<LastError>,
}

/// Shared by the consumer's thread (phase, errors), its context (assignment, rebalances)
/// and its handle (status).
#[derive(Debug)]
pub struct ConsumerState {
    rebalances: AtomicU64,
    inner: Mutex<Inner>,
    errors: ErrorCounter,
}

impl ConsumerState {
    /// A consumer's state; its errors are counted in `errors`.
    pub fn new(errors: ErrorCounter) -> ConsumerState {
        ConsumerState {
            rebalances: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                phase: "starting",
                assigned: Vec::new(),
                errors: 0,
                last_error: None,
            }),
            errors,
        }
    }

    pub fn set_phase(&self, phase: &'static str) {
        lock(&self.inner).phase = phase;
    }

    pub fn phase(&self) -> &'static str {
        lock(&self.inner).phase
    }

    /// Records `error` as the latest one; counted in `errors_total` and logged there.
    pub fn error(
        &self,
        stage: ErrorStage,
        error_type: &'static str,
        error: &dyn std::fmt::Display,
    ) {
        let message = error.to_string();
        self.errors.failure(stage, error_type, 1, &message);
        let mut inner = lock(&self.inner);
        inner.errors += 1;
        inner.last_error = Some(LastError {
            message,
            at: Utc::now(),
        });
    }

    /// Forgets the latest error once the consumer works again.
    pub fn clear_error(&self) {
        lock(&self.inner).last_error = None;
    }

    /// How many assignments and revocations happened: a consumer that compares it with
    /// the count it saw last knows whether what it holds belongs to an old assignment.
    pub fn rebalances(&self) -> u64 {
        self.rebalances.load(Ordering::SeqCst)
    }

    pub fn assigned(&self) -> Vec<TopicPartition> {
        lock(&self.inner).assigned.clone()
    }

    /// The partitions of `topic` assigned now.
    pub fn assigned_partitions(&self, topic: &str) -> Vec<i32> {
        lock(&self.inner)
            .assigned
            .iter()
            .filter(|tp| tp.topic == topic)
            .map(|tp| tp.partition)
            .collect()
    }

    pub(super) fn rebalanced(&self, assigned: Vec<TopicPartition>) {
        lock(&self.inner).assigned = assigned;
        self.rebalances.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn status(&self, consumer: &str, running: bool) -> ConsumerStatus {
        let inner = lock(&self.inner);
        ConsumerStatus {
            consumer: consumer.to_owned(),
            running,
            phase: inner.phase,
            assigned: inner.assigned.clone(),
            rebalances: self.rebalances(),
            errors: inner.errors,
            last_error: inner.last_error.clone(),
        }
    }
}
