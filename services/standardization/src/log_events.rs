//! The second loop's transform: one application log event → one standardized event, its
//! severity given or classified, or one dead letter; and its metrics.

use chrono::{DateTime, Utc};
use obs_kafka::dead_letter::DeadLetterTally;
use obs_kafka::headers::INGESTED_AT;
use obs_kafka::ErrorCounter;
use obs_kafka::{InputRecord, Outputs, Transform};
use obs_records::{
    standardize_log_event, LogSeverity, SeveritySource, STANDARDIZED_LOG_EVENT_SCHEMA_VERSION,
};
use obs_severity::SeverityModel;
use prometheus::{IntCounterVec, Opts};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The loop's name: its Kafka clients, its thread and its dead letters' `dead-letter-stage`.
pub const LOG_EVENTS_STAGE: &str = "standardization-app-logs";

/// The `service` label of services beyond the bound.
pub const OTHER_SERVICES: &str = "other";

/// Business counters of the log-event loop, updated only for committed batches: each
/// event is counted once, as standardized (by service and severity) or as an error
/// (`errors_total{stage="processing"}`, by the kind it was dead-lettered under).
#[derive(Clone)]
pub struct LogEventMetrics {
    events: IntCounterVec,
    classified: IntCounterVec,
    errors: ErrorCounter,
    /// Totals for `/status`.
    standardized_total: Arc<AtomicU64>,
    dead_lettered_total: Arc<AtomicU64>,
}

impl LogEventMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        Ok(LogEventMetrics {
            events: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_log_events_total",
                    "Application log events standardized, by service (bounded: past the bound, \"other\") and severity.",
                ),
                &["service", "severity"],
            )?)?,
            classified: metrics.register(IntCounterVec::new(
                Opts::new(
                    "standardization_log_events_classified_total",
                    "Application log events whose severity was classified from their text (no or an unknown level), by severity.",
                ),
                &["severity"],
            )?)?,
            errors: metrics.errors().clone(),
            standardized_total: Arc::default(),
            dead_lettered_total: Arc::default(),
        })
    }

    /// Committed events: `(standardized, dead-lettered)`.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.standardized_total.load(Ordering::Relaxed),
            self.dead_lettered_total.load(Ordering::Relaxed),
        )
    }
}

/// Counts of the batch in flight, applied to the metrics when it commits.
#[derive(Default)]
pub struct PendingEvents {
    by_service: BTreeMap<(String, LogSeverity), u64>,
    classified: BTreeMap<LogSeverity, u64>,
    dead_letters: DeadLetterTally,
}

/// The `service` label: the first `max` services seen keep their name, the others are
/// [`OTHER_SERVICES`], so a client cannot grow the metrics without bound.
struct ServiceLabels {
    known: HashSet<String>,
    max: usize,
}

impl ServiceLabels {
    fn label<'a>(&mut self, service: &'a str) -> &'a str {
        if self.known.contains(service) {
            return service;
        }
        if self.known.len() < self.max {
            self.known.insert(service.to_owned());
            return service;
        }
        OTHER_SERVICES
    }
}

pub struct LogEventTransform {
    classifier: Arc<SeverityModel>,
    standardized_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    services: ServiceLabels,
    metrics: LogEventMetrics,
}

impl LogEventTransform {
    pub fn new(
        classifier: Arc<SeverityModel>,
        standardized_topic: &str,
        dead_letter_topic: &str,
        max_services: usize,
        metrics: LogEventMetrics,
    ) -> Self {
        LogEventTransform {
            classifier,
            standardized_topic: standardized_topic.into(),
            dead_letter_topic: dead_letter_topic.into(),
            services: ServiceLabels {
                known: HashSet::new(),
                max: max_services,
            },
            metrics,
        }
    }
}

/// When ingestion received the record (its `ingested-at`), else now.
fn received_at(input: &InputRecord<'_>) -> DateTime<Utc> {
    input
        .header(INGESTED_AT)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map_or_else(Utc::now, |at| at.with_timezone(&Utc))
}

impl Transform for LogEventTransform {
    type Batch = PendingEvents;

    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut PendingEvents, out: &mut Outputs) {
        let payload = input.payload.unwrap_or_default();
        match standardize_log_event(payload, received_at(input), self.classifier.as_ref()) {
            Ok(event) => {
                let service = self.services.label(&event.service).to_owned();
                *batch
                    .by_service
                    .entry((service, event.severity))
                    .or_default() += 1;
                if event.severity_source == SeveritySource::Classified {
                    *batch.classified.entry(event.severity).or_default() += 1;
                }
                out.record(&self.standardized_topic, Some(event.service.as_bytes()))
                    .next_hop_headers(input, STANDARDIZED_LOG_EVENT_SCHEMA_VERSION)
                    .json(&event);
            }
            Err(error) => {
                // An empty or absent payload is malformed JSON too.
                batch.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    LOG_EVENTS_STAGE,
                    error.kind().as_str(),
                    &error.to_string(),
                );
            }
        }
    }

    fn committed(&mut self, pending: PendingEvents) {
        let m = &self.metrics;
        let mut standardized = 0;
        for ((service, severity), count) in pending.by_service {
            m.events
                .with_label_values(&[service.as_str(), severity.as_str()])
                .inc_by(count);
            standardized += count;
        }
        for (severity, count) in pending.classified {
            m.classified
                .with_label_values(&[severity.as_str()])
                .inc_by(count);
        }
        m.standardized_total
            .fetch_add(standardized, Ordering::Relaxed);
        let dead = pending.dead_letters.commit(&m.errors);
        m.dead_lettered_total.fetch_add(dead, Ordering::Relaxed);
    }

    /// Nothing was counted yet: the events will be consumed and counted again.
    fn discarded(&mut self, _batches: Vec<PendingEvents>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_beyond_the_bound_are_other() {
        let mut labels = ServiceLabels {
            known: HashSet::new(),
            max: 2,
        };
        assert_eq!(labels.label("a"), "a");
        assert_eq!(labels.label("b"), "b");
        assert_eq!(labels.label("c"), OTHER_SERVICES);
        assert_eq!(labels.label("a"), "a", "a known service keeps its label");
        assert_eq!(labels.known.len(), 2);
    }
}
