//! The raw job-execution record, as the connectors write it.
//!
//! Field names stay French on the wire (`Entreprise`, `Objet_Id`, `cpu_time (sec)`...),
//! listed once in [`WIRE_FIELDS`]; in Rust they are English. Validation reads a JSON
//! object field by field and reports every problem at once, each naming the wire field,
//! so a client fixes a record in one go.
//!
//! [`RawRecord::parse`] is on the ingest hot path, so it first tries a fast path (module
//! `fast_path`) that reads the bytes straight into borrowed fields; whenever that path
//! declines, for whatever reason, the validating path (module `reader`) decides. Success
//! values are the same either way; errors always come from the validating path.

mod fast_path;
#[cfg(test)]
mod fast_path_tests;
mod fields;
mod reader;
mod record;

pub(crate) use fields::Field;
pub use fields::WIRE_FIELDS;
pub use record::{RawRecord, Status, RAW_SCHEMA_VERSION};
