//! Checkpoints: a stage's state survives restarts (SIGKILL included) and rebalances, and
//! the outputs that follow are those of an uninterrupted stage, bit for bit. One building
//! block ([`Checkpoints`]: the schedule, the records, the restore and its replay) serves
//! two stages, each saying what its state is ([`Checkpointed`]):
//!
//! * the run stage ([`RunState`]): each series' detector state, key = series key, on
//!   `detector-state`, restored from it and `standardized-logs`, as described below;
//! * the error-rate stage (`crate::logs`): each service's open window and its detector
//!   series `app:{service}`, key = the service (slug), on `app-log-rate-state`, restored
//!   from it and `standardized-app-logs` the same way (a window's partial counts come
//!   back with it: the saved window, then the events since replayed into it).
//!
//! Described for the run stage:
//!
//! * Each series' state is saved, whole, to the compacted `detector-state` topic (key =
//!   series key, the partition number of the series' runs) in the transaction of the run
//!   before which it is saved, so a saved state holds exactly the runs of its partition
//!   before that run's offset, which the record says. A series is saved again once its
//!   partition has moved half to seven eighths of `checkpoint.interval_records` offsets
//!   past its last save (or a day has passed), spread so that a transaction carries a
//!   few states, not all, and gathered at gates so that most carry none ([`schedule`]).
//!   The forest's trees are not saved: they are grown again, the same, from the rows and
//!   the generator's position the state keeps.
//! * After every assignment the bank is cleared, and a partition is restored before its
//!   first run is scored: that run's offset is where the group's committed offsets put
//!   it, so nothing needs asking. Its partition of `detector-state` is read to the last
//!   stable offset (the latest state of each series), then its runs of
//!   `standardized-logs` from the oldest state's offset (at most `interval_records`
//!   before) up to that first run are replayed into a bank of their own, each series from
//!   its state's offset, exactly as the stage scored them; the bank is then absorbed into
//!   the stage's. A transaction that aborts clears the bank as an assignment does
//!   ([`forget_discarded`]), and each partition is restored again.
//!
//! Continuity holds while the stage holds every key of its partitions
//! (`detector.max_series`; for the error-rate stage `logs.error_rate_max_services` too):
//! which keys a bounded stage forgets depends on every partition's records, so it differs
//! between replicas; a forgotten key is written as such (an empty payload) when it is next
//! due. A forest retrained by `POST /detector/retrain` since its series' last save is not
//! retrained by a restore's replay. A key must live in one input partition: the
//! error-rate stage's key is the service's slug, and its input is keyed by the service's
//! name as sent, so two spellings of one service (`Billing`, `billing`) on two partitions
//! share a window whose checkpoint follows whichever partition is due.

mod config;
mod error;
mod keeper;
mod metrics;
mod partitions;
mod record;
mod runs;
mod schedule;
mod state;

pub use config::CheckpointConfig;
pub use error::CheckpointError;
pub use keeper::{forget_discarded, CheckpointBatch, Checkpoints};
pub use runs::{ReadRun, RunState};
pub use state::{CheckpointNames, Checkpointed};
