//! From framed records to acknowledged ones: validation, keys and headers, publishing in
//! chunks, and the answer's bookkeeping. Every endpoint goes through this one path, for
//! every [`RecordKind`].

use crate::kinds::{Identity, RecordKind};
use crate::metrics::{publish_error, KindCounters};
use crate::state::AppState;
use axum::http::StatusCode;
use chrono::Utc;
use obs_kafka::{KafkaError, OutgoingRecord, RecordHeaders, TraceParent};
use obs_records::framing::Frame;
use obs_service::ApiError;
use serde::Serialize;
use serde_json::json;
use std::marker::PhantomData;
use std::time::Instant;

/// How positions are named in answers: NDJSON lines (from 1) or array indexes (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    Line,
    Index,
}

/// One refused record: its NDJSON line (from 1) or array index (from 0), and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub index: Option<usize>,
    pub errors: Vec<String>,
}

/// The `202` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
    /// Every rejection, also those beyond the listed ones.
    pub rejected_total: usize,
}

/// Accumulates the records of one request, all of kind `K`, and publishes them.
pub struct Ingest<'a, K: RecordKind> {
    kind: PhantomData<K>,
    state: &'a AppState,
    positions: Positions,
    /// Trace of the request when the client sent one; otherwise one new trace per record.
    trace: Option<TraceParent>,
    pending: Vec<OutgoingRecord>,
    /// First position of the records in `pending`.
    pending_from: Option<usize>,
    accepted: usize,
    rejected: Vec<Rejection>,
    rejected_total: usize,
}

impl<'a, K: RecordKind> Ingest<'a, K> {
    pub fn new(state: &'a AppState, positions: Positions, trace: Option<TraceParent>) -> Self {
        Ingest {
            kind: PhantomData,
            state,
            positions,
            trace,
            pending: Vec::new(),
            pending_from: None,
            accepted: 0,
            rejected: Vec::new(),
            rejected_total: 0,
        }
    }

    pub fn set_positions(&mut self, positions: Positions) {
        self.positions = positions;
    }

    /// Records waiting to be published.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn counters(&self) -> &'a KindCounters {
        K::counters(&self.state.metrics)
    }

    /// Validates one framed record; a valid one waits for [`Ingest::publish`].
    pub fn add(&mut self, frame: Frame) {
        self.counters().received();
        match frame {
            Frame::Record { position, bytes } => match K::identify(&bytes) {
                Ok(identity) => {
                    self.pending_from.get_or_insert(position);
                    self.pending.push(self.outgoing(identity, bytes));
                }
                Err(error) => {
                    let kind = error.kind();
                    self.reject(position, kind.as_str(), error.messages());
                }
            },
            Frame::Oversized { position, size } => {
                let limit = self.state.config.ingest.max_record_bytes;
                self.reject(
                    position,
                    "oversized",
                    vec![format!(
                        "record of {size} bytes exceeds the limit of {limit} bytes"
                    )],
                );
            }
        }
    }

    /// Validates one record that is the whole body (`/ingest/single`, one event on `/log`).
    pub fn add_single(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.counters().received();
        match K::identify(bytes) {
            Ok(identity) => {
                self.pending_from.get_or_insert(0);
                self.pending.push(self.outgoing(identity, bytes.to_vec()));
                Ok(())
            }
            Err(error) => {
                self.counters().rejected(error.kind().as_str(), &error);
                Err(error.into())
            }
        }
    }

    fn outgoing(&self, identity: Identity, bytes: Vec<u8>) -> OutgoingRecord {
        let traceparent = self.trace.map_or_else(TraceParent::new_root, |t| t.child());
        OutgoingRecord {
            key: identity.key,
            // The record is published as the client sent it: later stages and dead letters
            // keep the original bytes.
            payload: bytes,
            headers: RecordHeaders {
                record_id: identity.record_id,
                schema_version: K::SCHEMA_VERSION.into(),
                content_type: "application/json".into(),
                ingested_at: Utc::now(),
                traceparent,
            },
        }
    }

    fn reject(&mut self, position: usize, kind: &str, errors: Vec<String>) {
        self.counters().rejected(kind, &Messages(&errors));
        self.rejected_total += 1;
        if self.rejected.len() < self.state.config.ingest.max_reported_rejections {
            let (line, index) = match self.positions {
                Positions::Line => (Some(position), None),
                Positions::Index => (None, Some(position)),
            };
            self.rejected.push(Rejection {
                line,
                index,
                errors,
            });
        }
    }

    /// Publishes the pending records and waits for Kafka's acknowledgement. On failure the
    /// answer says how many records were acknowledged before, and where to resume.
    pub async fn publish(&mut self) -> Result<(), ApiError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let state = self.state;
        let counters = self.counters();
        let probe = state.probe.status();
        if probe.checked_at.is_some() && !probe.reachable {
            let count = self.pending.len() as u64;
            let message = format!("Kafka is unreachable: {}", probe.error.unwrap_or_default());
            counters.not_published(publish_error::UNREACHABLE, count, &message);
            return Err(self.unavailable(message, state.producer.retry_after()));
        }
        let started = Instant::now();
        let topic = K::topic(&state.config.topics);
        let result = state.producer.publish(topic, &self.pending).await;
        state
            .metrics
            .in_flight_bytes
            .set(state.producer.in_flight_bytes() as i64);
        let count = self.pending.len();
        match result {
            Ok(()) => {
                state
                    .metrics
                    .publish_duration
                    .observe(started.elapsed().as_secs_f64());
                counters.published(count as u64);
                self.accepted += count;
                self.pending.clear();
                self.pending_from = None;
                Ok(())
            }
            Err(error @ KafkaError::BatchTooLarge { bytes, capacity }) => {
                // Retrying cannot help: the request must be split.
                counters.not_published(publish_error::BATCH_TOO_LARGE, count as u64, &error);
                Err(ApiError::payload_too_large(capacity).with_details(json!({
                    "limit_bytes": capacity,
                    "batch_bytes": bytes,
                    "accepted_before_failure": self.accepted,
                    "hint": "the batch is larger than producer.max_in_flight_bytes; send it in smaller parts",
                })))
            }
            Err(error) => {
                let (error_type, retry_after) = match &error {
                    KafkaError::QueueFull { retry_after, .. } => {
                        (publish_error::QUEUE_FULL, *retry_after)
                    }
                    _ => (
                        publish_error::NOT_ACKNOWLEDGED,
                        state.producer.retry_after(),
                    ),
                };
                counters.not_published(error_type, count as u64, &error);
                Err(self.unavailable(error.to_string(), retry_after))
            }
        }
    }

    fn unavailable(&self, message: String, retry_after: std::time::Duration) -> ApiError {
        let resume = match self.positions {
            Positions::Line => "resume_from_line",
            Positions::Index => "resume_from_index",
        };
        ApiError::unavailable(message, retry_after).with_details(json!({
            "accepted_before_failure": self.accepted,
            resume: self.pending_from,
            "not_acknowledged": self.pending.len(),
        }))
    }

    /// The final answer: 202 with the report, or 422 when nothing was valid, or 400 when
    /// the body held no record at all.
    pub fn finish(self) -> Result<(StatusCode, IngestReport), ApiError> {
        let report = IngestReport {
            accepted: self.accepted,
            rejected: self.rejected,
            rejected_total: self.rejected_total,
        };
        if report.accepted == 0 && report.rejected_total == 0 {
            return Err(ApiError::empty_body());
        }
        if report.accepted == 0 {
            return Err(ApiError::unprocessable(
                format!("none of the {} records is valid", report.rejected_total),
                json!({ "rejected": report.rejected, "rejected_total": report.rejected_total }),
            ));
        }
        Ok((StatusCode::ACCEPTED, report))
    }
}

/// A record's error messages, joined only if the log line is written.
struct Messages<'a>(&'a [String]);

impl std::fmt::Display for Messages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}
