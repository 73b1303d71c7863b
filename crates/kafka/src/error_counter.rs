//! The one way a service counts and logs its errors: `errors_total{stage, error_type}`.
//!
//! Every error a service meets is counted here and logged here, once, by the component that
//! handled it: a record refused or dead-lettered, a publish not acknowledged, a consumer or
//! transaction failure, a delivery to Alertmanager that failed. `stage` says where in the
//! service (Vector's instrumentation stages): `receiving` (reading and validating input),
//! `processing` (turning input into output), `sending` (writing output). `error_type` is
//! one of a closed set of names written in the code, so the label set stays bounded.
//! It lives in the lowest runtime crate so the Kafka plumbing can count its own errors.

use prometheus::{IntCounterVec, Opts, Registry};
use std::fmt::Display;

/// Where in a service an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStage {
    Receiving,
    Processing,
    Sending,
}

impl ErrorStage {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStage::Receiving => "receiving",
            ErrorStage::Processing => "processing",
            ErrorStage::Sending => "sending",
        }
    }
}

/// `errors_total{stage, error_type}` of one process, and the log line of each error.
#[derive(Clone, Debug)]
pub struct ErrorCounter {
    errors: IntCounterVec,
}

impl ErrorCounter {
    pub const NAME: &'static str = "errors_total";

    /// Registers `errors_total` in `registry`.
    pub fn register(registry: &Registry) -> Result<ErrorCounter, prometheus::Error> {
        let errors = IntCounterVec::new(
            Opts::new(
                Self::NAME,
                "Errors by stage (receiving, processing, sending) and type; an error that affects records counts once per record.",
            ),
            &["stage", "error_type"],
        )?;
        registry.register(Box::new(errors.clone()))?;
        Ok(ErrorCounter { errors })
    }

    /// A counter in no registry (tests, tools).
    pub fn unregistered() -> ErrorCounter {
        ErrorCounter {
            errors: IntCounterVec::new(Opts::new(Self::NAME, "errors"), &["stage", "error_type"])
                .unwrap_or_else(|_| unreachable!("valid counter definition")),
        }
    }

    /// Exports the series at 0, so that `increase()` sees its first error.
    pub fn declare(&self, stage: ErrorStage, error_type: &str) {
        self.errors.with_label_values(&[stage.as_str(), error_type]);
    }

    /// A failure of the system (Kafka, a transaction, Alertmanager): counted `count` times
    /// and logged at `warn`.
    pub fn failure(&self, stage: ErrorStage, error_type: &str, count: u64, error: &dyn Display) {
        self.count(stage, error_type, count);
        tracing::warn!(stage = stage.as_str(), error_type, count, %error, "error");
    }

    /// Input that cannot be used (a record refused or dead-lettered): counted `count` times
    /// and logged at `debug` only, since the client's answer or the dead letter carries
    /// the reason and a flood of bad input must not flood the log.
    pub fn invalid_input(
        &self,
        stage: ErrorStage,
        error_type: &str,
        count: u64,
        reason: &dyn Display,
    ) {
        self.count(stage, error_type, count);
        tracing::debug!(stage = stage.as_str(), error_type, count, %reason, "invalid input");
    }

    /// How many errors of this stage and type were counted.
    pub fn get(&self, stage: ErrorStage, error_type: &str) -> u64 {
        self.errors
            .with_label_values(&[stage.as_str(), error_type])
            .get()
    }

    fn count(&self, stage: ErrorStage, error_type: &str, count: u64) {
        self.errors
            .with_label_values(&[stage.as_str(), error_type])
            .inc_by(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_stage_and_type() {
        let registry = Registry::new();
        let errors = ErrorCounter::register(&registry).unwrap();
        errors.declare(ErrorStage::Sending, "queue_full");
        errors.invalid_input(ErrorStage::Receiving, "malformed_json", 3, &"bad");
        errors.failure(ErrorStage::Sending, "not_acknowledged", 1, &"timeout");
        assert_eq!(errors.get(ErrorStage::Receiving, "malformed_json"), 3);
        assert_eq!(errors.get(ErrorStage::Sending, "not_acknowledged"), 1);
        let families = registry.gather();
        let family = families
            .iter()
            .find(|f| f.name() == "errors_total")
            .unwrap();
        assert_eq!(
            family.get_metric().len(),
            3,
            "the declared series is exported at 0"
        );
        assert!(
            ErrorCounter::register(&registry).is_err(),
            "one per registry"
        );
    }
}
