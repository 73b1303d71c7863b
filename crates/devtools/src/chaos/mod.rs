//! The pure parts of `make chaos` (the binary `chaos` drives the services and the broker):
//! the seeded schedule of kills, the ledger that finds lost and duplicated records, the
//! recovery figures and the warnings of a stage's log.

mod ledger;
mod log_summary;
mod recovery;
mod schedule;

pub use ledger::{record_key, Ledger, Verdict};
pub use log_summary::warnings;
pub use recovery::{Recovery, RecoveryStats};
pub use schedule::{schedule, Event, Planned, Target};
