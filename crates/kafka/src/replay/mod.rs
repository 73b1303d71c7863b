//! Replay of dead letters after a fix, exactly once.
//!
//! The chosen dead letters go back to the stage input they were read from, with their
//! key and bytes; each one's marker (key = the dead letter's `{topic}/{partition}/{offset}`)
//! goes to a compacted topic in the same transaction, so a dead letter is re-published
//! once or not at all, and a later replay skips what a marker names. The command
//! (`dead-letter-replay`) and the services' endpoints share [`replay`].

mod run;
mod selection;

pub use run::{replay, Listed, ReplayReport, ReplayTopics, REPLAYED_FROM};
pub use selection::{
    DeadLetterId, DeadLetterInfo, Decision, Selection, SelectionError, Tally, DEFAULT_LIMIT,
    MAX_LIMIT,
};
