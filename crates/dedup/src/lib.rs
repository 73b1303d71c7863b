//! Remembering what was already seen, in memory bounded by design.
//!
//! * [`id_hash`]: the stable 64-bit hash a record id is remembered by;
//! * [`SeenWindow`]: the hashes seen within a horizon, in time buckets that expire whole,
//!   capped in count;
//! * [`Answers`]: the first answer to each idempotent request, bounded in entries, bytes
//!   and age.
//!
//! Nothing here does I/O; the services wire it to Kafka and HTTP.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod answers;
mod hash;
mod window;

pub use answers::{Answers, AnswersConfig, Claim, Ticket};
pub use hash::id_hash;
pub use window::{SeenWindow, WindowConfig, BUCKETS};
