//! A consumer's own thread, behind one handle type.

use super::state::{ConsumerState, ConsumerStatus};
use crate::error::KafkaError;
use crate::error_counter::ErrorStage;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A component's own progress, shared by its thread and its handle, and the status it
/// reports from it.
pub trait Progress: Send + Sync + 'static {
    type Status;

    fn status(&self, consumer: ConsumerStatus) -> Self::Status;
}

/// No progress of its own: the consumer's status is the whole status.
impl Progress for () {
    type Status = ConsumerStatus;

    fn status(&self, consumer: ConsumerStatus) -> ConsumerStatus {
        consumer
    }
}

/// What the thread's body is given: whether to stop, and the state to report in.
#[derive(Clone)]
pub struct Control {
    stop: Arc<AtomicBool>,
    state: Arc<ConsumerState>,
}

impl Control {
    /// Whether the handle asked the thread to stop (finish what it has in hand, leave).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn state(&self) -> &ConsumerState {
        &self.state
    }
}

/// The running consumer thread. Dropping the handle asks the thread to stop without
/// waiting for it; [`ConsumerThread::join`] waits.
pub struct ConsumerThread<P: Progress = ()> {
    name: String,
    control: Control,
    progress: Arc<P>,
    thread: Option<JoinHandle<Result<(), KafkaError>>>,
}

impl<P: Progress> ConsumerThread<P> {
    /// Asks the thread to stop.
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
    }

    /// Stops the thread and waits for it; its error, if it failed.
    pub fn join(mut self) -> Result<(), KafkaError> {
        self.stop();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(KafkaError::ThreadPanicked {
                thread: self.name.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    pub fn progress(&self) -> &P {
        &self.progress
    }

    pub fn status(&self) -> P::Status {
        self.progress
            .status(self.control.state.status(&self.name, self.is_running()))
    }
}

impl<P: Progress> Drop for ConsumerThread<P> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `body` on a thread named `name`. The body polls its consumer until
/// [`Control::stopping`]; an error it returns is kept as the consumer's last error (and
/// given back by [`ConsumerThread::join`]).
pub fn spawn_consumer<P, F>(
    name: &str,
    state: Arc<ConsumerState>,
    progress: Arc<P>,
    body: F,
) -> Result<ConsumerThread<P>, KafkaError>
where
    P: Progress,
    F: FnOnce(&Control) -> Result<(), KafkaError> + Send + 'static,
{
    let control = Control {
        stop: Arc::new(AtomicBool::new(false)),
        state,
    };
    let thread_control = control.clone();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = body(&thread_control);
            match &result {
                Ok(()) => thread_control.state.set_phase("stopped"),
                Err(error) => {
                    thread_control
                        .state
                        .error(ErrorStage::Receiving, "consumer_failed", error);
                    thread_control.state.set_phase("failed");
                }
            }
            result
        })
        .map_err(|source| KafkaError::ThreadStart {
            thread: name.to_owned(),
            source,
        })?;
    Ok(ConsumerThread {
        name: name.to_owned(),
        control,
        progress,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_counter::ErrorCounter;
    use std::time::{Duration, Instant};

    fn state() -> Arc<ConsumerState> {
        Arc::new(ConsumerState::new(ErrorCounter::unregistered()))
    }

    fn wait_until(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_body_runs_until_asked_to_stop() {
        let thread = spawn_consumer("t-stop", state(), Arc::new(()), |control| {
            control.state().set_phase("running");
            while !control.stopping() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
        .unwrap();
        wait_until(|| thread.status().phase == "running");
        let status = thread.status();
        assert!(status.running && status.last_error.is_none());
        assert_eq!(status.consumer, "t-stop");
        thread.join().unwrap();
    }

    #[test]
    fn a_failure_is_the_last_error_and_the_join_result() {
        let thread = spawn_consumer("t-fail", state(), Arc::new(()), |_| {
            Err(KafkaError::NoGroupMetadata)
        })
        .unwrap();
        wait_until(|| !thread.is_running());
        let status = thread.status();
        assert_eq!((status.phase, status.errors), ("failed", 1));
        let message = status.last_error.map(|e| e.message).unwrap_or_default();
        assert!(message.contains("group metadata"), "{message}");
        assert!(matches!(thread.join(), Err(KafkaError::NoGroupMetadata)));
    }

    #[test]
    fn a_panic_is_reported_by_join() {
        let thread = spawn_consumer("t-panic", state(), Arc::new(()), |_| panic!("boom")).unwrap();
        assert!(matches!(
            thread.join(),
            Err(KafkaError::ThreadPanicked { thread }) if thread == "t-panic"
        ));
    }
}
