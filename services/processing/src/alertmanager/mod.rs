//! Alert delivery: the records of the `alerts` topic pushed to Alertmanager
//! (`POST /api/v2/alerts`).
//!
//! * **Once across replicas.** The forwarder consumes in its own consumer group
//!   (`alert-forwarder`), so the replicas of processing share the topic's partitions and
//!   each alert is forwarded by one of them.
//! * **At least once.** Offsets are committed only after Alertmanager answered 2xx for the
//!   batch that holds them; a crash or a rebalance in between re-sends the batch. That is
//!   harmless: Alertmanager merges alerts with the same label set, and the same record
//!   always gives the same labels, annotations and times.
//! * **Never on the async runtime's threads, never ejected from the group.** librdkafka's
//!   calls block, so the consumer runs on its own OS thread. The POSTs run on a Tokio task
//!   with the async `reqwest` client, fed one batch at a time through a bounded channel.
//!   While a batch is in flight (retried with exponential backoff for as long as
//!   Alertmanager is down), the thread pauses its partitions and keeps polling: the
//!   consumer stays in the group (`max.poll.interval.ms`), follows rebalances and buffers
//!   nothing new.
//! * **A bad record does not wedge delivery.** A payload that does not parse is counted,
//!   logged with its partition and offset, and committed past. A batch Alertmanager
//!   refuses as invalid (4xx other than 408/429) is counted and dropped, since repeating it
//!   cannot succeed.
//!
//! The alert's identity in Alertmanager is its label set: `alertname`
//! ([`ALERT_NAME`]), `severity`, `source`, `company`, `object` (object type),
//! `object_id`, `series_key`, `detector`, `rules` (sorted, comma-separated). Repeated
//! anomalies of one series with the same rules are one alert whose annotations (`summary`,
//! `reasons`, `record_id`, `alert_id`) show the latest run. `startsAt` is when processing
//! raised it and `endsAt` that plus [`AlertmanagerConfig::alert_ttl_seconds`]: an anomaly
//! is an event, so it resolves by itself unless it happens again; re-sent or replayed
//! alerts carry the same times, and old ones arrive already resolved.
//!
//! Only `http://` URLs: the workspace builds `reqwest` without TLS (put a TLS-terminating
//! proxy in front of a remote Alertmanager).

mod config;
mod delivery;
mod forwarder;
mod mapping;
#[cfg(test)]
mod testing;

pub use config::AlertmanagerConfig;
pub use forwarder::{spawn_forwarder, AlertForwarderHandle};
pub use mapping::ALERT_NAME;
