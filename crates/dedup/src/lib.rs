//! Remembering what was already seen, in memory bounded by design.
//!
//! * [`id_hash`]: the stable 64-bit hash a record id is remembered by;
//! * [`SeenWindow`]: the hashes seen within a horizon, in time buckets that expire whole,
//!   capped in count.
//!
//! Nothing here does I/O; the services wire it to Kafka and HTTP.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod hash;
mod window;

pub use hash::id_hash;
pub use window::{SeenWindow, WindowConfig, BUCKETS};
