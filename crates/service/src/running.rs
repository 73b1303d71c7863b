//! A background component (a stage loop, a reader...) that a service starts once its
//! state exists and stops at shutdown.

use obs_kafka::sync::lock;
use std::sync::{Mutex, MutexGuard};

/// Holds a running component, if started; shared by the handlers and the shutdown path.
#[derive(Debug)]
pub struct Running<T>(Mutex<Option<T>>);

impl<T> Default for Running<T> {
    fn default() -> Self {
        Running(Mutex::new(None))
    }
}

impl<T> Running<T> {
    fn slot(&self) -> MutexGuard<'_, Option<T>> {
        // A panic while holding the lock cannot leave the Option half-written.
        lock(&self.0)
    }

    /// Records the started component (replacing any previous one).
    pub fn set(&self, component: T) {
        *self.slot() = Some(component);
    }

    /// Takes the component out, to stop it.
    pub fn take(&self) -> Option<T> {
        self.slot().take()
    }

    /// `f` of the component, if started.
    pub fn map<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.slot().as_ref().map(f)
    }

    /// Whether it was started and `is_running` says it still runs.
    pub fn is(&self, is_running: impl FnOnce(&T) -> bool) -> bool {
        self.map(is_running).unwrap_or(false)
    }
}
