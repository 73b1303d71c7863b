//! Record traces: `GET /trace/{record_id}` says where one run has been — accepted by
//! ingestion, standardized or dead-lettered, processed — from an index every replica keeps,
//! never by reading topics per request.
//!
//! # The index
//!
//! A follower ([`obs_kafka::consumer::follower`], [`reader`]) reads every partition of
//! `processed-metrics` and `dead-letters`, where runs leave the pipeline, from the
//! beginning, outside every group, `read_committed`: each replica answers for every record
//! and a restart rebuilds the index. What it reads of each record is little
//! ([`sighting`]): the `record-id` and `ingested-at` headers, the `position` headers the
//! stages add at every hop (where the run was in `raw-logs` and `standardized-logs`, which
//! are never read) and the record's own partition, offset and timestamp; a dead letter's
//! `dead-letter-*` headers; five fields of a processed record. A run still on its way has
//! no trace until it is processed or dead-lettered.
//!
//! The trace index (`index::TraceIndex`) keeps, per record, the first sighting of each stage, for the last
//! `trace.capacity` records (the record seen first is evicted first).
//!
//! # Memory bound
//!
//! Both parts are allocated at the capacity with the first record indexed (an instance
//! running the stages alone indexes none and holds neither): an entry is 136 bytes in
//! the ring (the id's fingerprint and four stages) and 16 bytes and a control byte in the
//! map, whose buckets are the capacity × 8/7 rounded up to a power of two — **15.8 MB at
//! the default 100,000 records** (13.6 MB of ring, 2.2 MB of map). Once it evicts, the
//! slots its removals leave (tombstones) fill the map, which then doubles once (`/status`
//! shows what the index takes: `trace.memory_bytes`). A dead letter adds 72 bytes and its
//! three texts (its reason, stage and error type, each cut at 256 bytes): about 200 bytes
//! for the stack's own dead letters, 840 at most. The follower's prefetch queue (1 MiB of
//! compressed records) comes on top.
//!
//! # Freshness
//!
//! The reader's fetches wait for 256 KiB or half a second, as every follower's: a record's stage
//! shows up at most about half a second after its transaction committed. While the reader
//! reads what was published before start, answers say `view_caught_up: false`; then the
//! oldest records' traces may lack a stage that another topic's backlog had not reached
//! when they were evicted.

mod config;
mod index;
mod metrics;
mod reader;
mod routes;
mod sighting;
mod view;

pub use config::TraceConfig;
pub use reader::TraceSink;

use crate::writers::Writers;
use anyhow::Context;
use index::TraceStats;
use metrics::TraceMetrics;
use obs_kafka::consumer::follower::FollowerStatus;
use obs_kafka::TopicsConfig;
use obs_service::Metrics;
use routes::TraceApi;
use serde::Serialize;
use sighting::TraceTopics;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;
use view::TraceView;

/// The trace index and its endpoint, as the service holds them; the views' follower
/// ([`crate::views`]) feeds it through [`Traces::sink`].
pub struct Traces {
    config: TraceConfig,
    api: Arc<TraceApi>,
    metrics: TraceMetrics,
}

impl Traces {
    /// Validates the config and registers the metrics.
    pub fn new(
        config: TraceConfig,
        topics: &TopicsConfig,
        registry: &Metrics,
    ) -> anyhow::Result<Traces> {
        config
            .validate()
            .context("invalid configuration of trace")?;
        let metrics =
            TraceMetrics::register(registry).context("registering the trace index metrics")?;
        let api = Arc::new(TraceApi {
            view: Arc::new(TraceView::new(config.capacity)),
            topics: TraceTopics::of(topics),
        });
        Ok(Traces {
            config,
            api,
            metrics,
        })
    }

    /// What feeds the index, reading what the stages that `writers` accepts wrote.
    pub fn sink(&self, writers: Writers) -> TraceSink {
        TraceSink::new(
            self.api.topics.clone(),
            self.api.view.clone(),
            self.metrics.clone(),
            writers,
        )
    }

    /// How often the follower looks for added partitions, for the index.
    pub fn partition_check(&self) -> Duration {
        Duration::from_millis(self.config.partition_check_ms)
    }

    /// `GET /trace/{record_id}`.
    pub fn router(&self) -> obs_service::openapi::OpenApiRouter {
        routes::router(self.api.clone())
    }

    /// The index, with `reader` (the views' follower), for `/status`.
    pub fn status(&self, reader: Option<FollowerStatus>) -> TraceStatus {
        TraceStatus {
            reader,
            index: self.api.view.stats(),
            memory_bytes: self.api.view.memory_bytes(),
        }
    }
}

/// The trace index, as `/status` shows it.
#[derive(Serialize, ToSchema)]
pub struct TraceStatus {
    /// The views' follower, which feeds the index; `null` until it started.
    pub reader: Option<FollowerStatus>,
    pub index: TraceStats,
    /// The ring and the map as allocated, plus the dead letters held.
    pub memory_bytes: usize,
}
