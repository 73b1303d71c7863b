//! The analytics view of the processing service: `/analytics/summary`, `/sources`,
//! `/recent` and `/anomalies`.
//!
//! # Why a view of the output topics
//!
//! Every processing replica only sees the partitions of `standardized-logs` its group
//! assigned it, and forgets everything on restart. The view is therefore built from what
//! the replicas *published*: the reader ([`spawn_reader`], a follower of
//! [`obs_kafka::consumer::follower`]) reads every partition of `processed-metrics` and
//! `alerts` from the beginning, `read_committed`, outside the processing consumer group
//! and without committing offsets. Each replica thus answers for the whole stack, and a
//! restart rebuilds the same view from the retained topics (30 d of processed records,
//! 1 d of alerts by default); partitions added to a topic later are read from their
//! beginning once found.
//!
//! # Memory bound
//!
//! Everything kept is capped by a count in [`AnalyticsConfig`]:
//!
//! ```text
//! recent      recent_capacity    × R             R ≈ 1.1–1.5 KiB per processed record
//! anomalies   anomalies_capacity × A             A ≈ 1.0 KiB per alert (its id index included)
//! sources     max_sources        × (S + 3 × quantile_max_buckets × 16 B)    S ≈ 0.4 KiB
//! objects     max_objects        × O                O ≈ 0.3 KiB per object with its key and names
//! ```
//!
//! `R` and `A` are one record or alert in memory with its strings, allocator and B-tree
//! overhead, measured on a FAILED PowerBI run from the sample data (an 80-character error
//! text; 1.1 KiB) and on records carrying a scored detector verdict (1.2–1.7 KB of JSON;
//! 1.5 KiB). They grow with the text of `description` / `error_message`, which only the
//! topic's maximum message size caps: the counts are hard bounds, the bytes per item are
//! typical figures. Sketch buckets are allocated as used (116 per decade of spread per
//! sign at α = 1 %), never past `quantile_max_buckets`.
//!
//! At the defaults (5 000 records, 5 000 alerts, 1 000 sources, 512 buckets, 10 000
//! objects): recent ≈ 7.5 MiB + anomalies ≈ 5 MiB + sources ≤ 24 MiB (worst case, every
//! source spanning 4.4 decades in duration, memory *and* CPU; a source with durations of
//! 0.5–20 s, memory of 0.2–5 MB and CPU of 0.01–1 s uses ~580 buckets, 9 KiB) + objects
//! ≈ 3 MiB — about **40 MiB** at most, plus librdkafka's prefetch queue, which the reader caps at 1 MiB of
//! compressed records, about 3.5 MiB decompressed (`queued.max.messages.kbytes`, unless the
//! Kafka `properties` set it), plus a request's
//! own answer (at most 1 000 records cloned, ~1 MiB).

mod config;
mod newest;
mod objects;
mod reader;
mod responses;
mod routes;
mod sketch;
#[cfg(test)]
pub(crate) mod testing;
mod view;

pub use config::{AnalyticsConfig, MAX_RELATIVE_ACCURACY, MIN_RELATIVE_ACCURACY};
pub use objects::{Objects, SourceObjects};
pub use reader::AnalyticsSink;
pub use responses::{
    Anomalies, ObjectSummary, RecentRecords, SourceSummary, SourcesReport, Summary,
};
pub use routes::{
    router, ANOMALIES_DEFAULT_LIMIT, ANOMALIES_MAX_LIMIT, RECENT_DEFAULT_LIMIT, RECENT_MAX_LIMIT,
};
pub use sketch::{QuantileSketch, MIN_MAGNITUDE};
pub use view::{AnalyticsView, AnomalyQuery, RecentQuery, ViewStats};
