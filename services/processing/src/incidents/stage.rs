//! The incident stage's transform: the signals of `incident-signals` → the incidents they
//! changed, each written whole to the compacted `incidents` topic (key = incident id) in
//! the transaction that consumes the signals.
//!
//! An incident that many alerts of one batch change is written once, in its state at the
//! end of the batch ([`Transform::seal`]): the topic is compacted and the book is rebuilt
//! from committed batches only, so the versions in between would be written for nothing —
//! an open source-wide incident takes an alert of nearly every anomalous run.

use super::metrics::IncidentMetrics;
use super::restore::restore;
use obs_incidents::Incident;
use obs_incidents::{IncidentBook, IncidentError, Signal, Transition, INCIDENT_SCHEMA_VERSION};
use obs_kafka::dead_letter::DeadLetterTally;
use obs_kafka::headers::{CONTENT_TYPE, INGESTED_AT, RECORD_ID, SCHEMA_VERSION, TRACEPARENT};
use obs_kafka::TraceParent;
use obs_kafka::{ErrorCounter, ErrorStage, InputRecord, KafkaConfig, Outputs, Transform};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const INCIDENT_STAGE: &str = "incidents";
/// How long one restore may take before it is tried again.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two failed restores.
const RESTORE_RETRY: Duration = Duration::from_secs(1);

/// What a batch writes when it is sealed, and leaves to do once it commits.
#[derive(Default)]
pub struct IncidentBatch {
    /// The ids of the changed incidents, with the headers of the signal that changed each
    /// last; written when the batch is sealed, in id order, in their state then: the
    /// book's, or the last one of an incident the book has forgotten since.
    latest: BTreeMap<String, Pending>,
    transitions: Vec<(Transition, Option<f64>)>,
    rejected_commands: u64,
    dead_letters: DeadLetterTally,
}

pub struct IncidentTransform {
    book: IncidentBook,
    kafka: KafkaConfig,
    incidents_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: IncidentMetrics,
    errors: ErrorCounter,
    /// The book must be rebuilt from the topic before the next signal: at start, after a
    /// rebalance, after a dropped batch (whose signals the book already applied).
    stale: bool,
}

impl IncidentTransform {
    pub fn new(
        book: IncidentBook,
        kafka: &KafkaConfig,
        topics: &obs_kafka::TopicsConfig,
        metrics: IncidentMetrics,
        errors: ErrorCounter,
    ) -> Self {
        IncidentTransform {
            book,
            kafka: kafka.clone(),
            incidents_topic: topics.incidents.name.as_str().into(),
            dead_letter_topic: topics.dead_letters.name.as_str().into(),
            metrics,
            errors,
            stale: true,
        }
    }

    /// Rebuilds the book, trying until it succeeds: applying a signal to a stale book would
    /// write wrong incidents, so the stage waits (its status shows the errors).
    fn restore_book(&mut self) {
        loop {
            match restore(
                &self.kafka,
                &self.incidents_topic,
                &mut self.book,
                &self.errors,
                RESTORE_TIMEOUT,
            ) {
                Ok(restored) => {
                    tracing::info!(
                        incidents = restored.incidents,
                        records = restored.records,
                        unreadable = restored.unreadable,
                        "incident book restored"
                    );
                    self.metrics.restores.inc();
                    self.stale = false;
                    return;
                }
                Err(error) => {
                    self.errors
                        .failure(ErrorStage::Receiving, "incident_restore", 1, &error);
                    std::thread::sleep(RESTORE_RETRY);
                }
            }
        }
    }
}

impl Transform for IncidentTransform {
    type Batch = IncidentBatch;

    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut IncidentBatch, out: &mut Outputs) {
        if self.stale {
            self.restore_book();
        }
        let parsed = input
            .payload
            .ok_or_else(|| "empty payload: no bytes to read".to_owned())
            .and_then(|p| obs_records::from_json_bytes::<Signal>(p).map_err(|e| e.to_string()));
        let signal = match parsed {
            Ok(signal) => signal,
            Err(reason) => {
                batch.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    INCIDENT_STAGE,
                    "unreadable_incident_signal",
                    &reason,
                );
                return;
            }
        };
        match self.book.apply(&signal) {
            Ok(applied) => {
                for (incident, transition) in self.book.changed(&applied) {
                    let took = match transition {
                        Transition::Acknowledged => incident.acknowledged.as_ref().map(|m| m.at),
                        Transition::Resolved => incident.resolved.as_ref().map(|r| r.at),
                        _ => None,
                    }
                    .map(|at| (at - incident.opened_at).num_milliseconds().max(0) as f64 / 1e3);
                    batch.transitions.push((transition, took));
                }
                for change in applied.changes {
                    let pending = Pending {
                        forgotten: None,
                        headers: SignalHeaders::of(input),
                    };
                    batch.latest.insert(change.id, pending);
                }
                for incident in applied.forgotten {
                    if let Some(pending) = batch.latest.get_mut(&incident.id) {
                        pending.forgotten = Some(incident);
                    }
                }
            }
            // An operator's command that no longer applies (two operators resolving at
            // once): the first one won; counted, nothing to write.
            Err(
                error @ (IncidentError::ImpossibleTransition { .. }
                | IncidentError::UnknownIncident { .. }),
            ) => {
                tracing::info!(%error, "incident command skipped");
                batch.rejected_commands += 1;
            }
            Err(error) => {
                batch.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    INCIDENT_STAGE,
                    "incident_signal_refused",
                    &error.to_string(),
                );
            }
        }
    }

    fn seal(&mut self, batch: &mut IncidentBatch, out: &mut Outputs) {
        for (id, Pending { forgotten, headers }) in std::mem::take(&mut batch.latest) {
            let Some(incident) = forgotten.as_ref().or_else(|| self.book.get(&id)) else {
                // Changed in this batch, so in the book or handed out when forgotten.
                tracing::error!(incident = %id, "a changed incident is missing from the book");
                continue;
            };
            let mut record = out
                .record(&self.incidents_topic, Some(id.as_bytes()))
                .header(RECORD_ID, Some(id.as_bytes()))
                .header(SCHEMA_VERSION, Some(INCIDENT_SCHEMA_VERSION.as_bytes()))
                .header(CONTENT_TYPE, Some(b"application/json"))
                .header(TRACEPARENT, Some(&headers.traceparent.encode()));
            if let Some(at) = &headers.ingested_at {
                record = record.header(INGESTED_AT, Some(at.as_bytes()));
            }
            record.json(incident);
        }
    }

    fn committed(&mut self, batch: IncidentBatch) {
        batch.dead_letters.commit(&self.errors);
        self.metrics
            .commands_rejected
            .inc_by(batch.rejected_commands);
        for (transition, took) in batch.transitions {
            self.metrics.observe(transition, took);
        }
    }

    /// The book applied their signals: it is rebuilt from what committed.
    fn discarded(&mut self, _batches: Vec<IncidentBatch>) {
        self.stale = true;
    }

    fn rebalanced(&mut self, _assigned: &[i32]) {
        self.stale = true;
    }
}

/// An incident a batch changed, until the batch is sealed.
struct Pending {
    /// Its last state if the book forgot it since (a resolved incident beyond the bound).
    forgotten: Option<Incident>,
    headers: SignalHeaders,
}

/// What an incident's record carries of the signal that changed it last: when the run (or
/// command) entered the stack, and the next span of its trace.
struct SignalHeaders {
    ingested_at: Option<String>,
    traceparent: TraceParent,
}

impl SignalHeaders {
    fn of(input: &InputRecord<'_>) -> Self {
        SignalHeaders {
            ingested_at: input.header(INGESTED_AT).map(str::to_owned),
            traceparent: input
                .header(TRACEPARENT)
                .and_then(|t| t.parse::<TraceParent>().ok())
                .map_or_else(TraceParent::new_root, |t| t.child()),
        }
    }
}
