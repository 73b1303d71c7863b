//! The pure parts of `make chaos` (the binary `chaos` drives the services and the broker):
//! the seeded schedule of kills, the ledger that finds lost and duplicated records, and
//! the recovery figures.

mod ledger;
mod recovery;
mod schedule;

pub use ledger::{record_key, Ledger, Verdict};
pub use recovery::{Recovery, RecoveryStats};
pub use schedule::{schedule, Event, Planned, Target};
