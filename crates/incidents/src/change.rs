//! What applying a signal did to each incident it changed.

use crate::incident::Incident;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An incident changed by a signal and what happened to it. Its new state is read from
/// the book ([`crate::IncidentBook::changed`]) rather than copied out with every signal: an
/// open source-wide incident, tens of kilobytes of evidence, changes with nearly every
/// anomalous run, and whoever writes changes once per batch wants only the last state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub transition: Transition,
}

/// What applying one signal did: the incidents it changed, in the order first changed, and
/// the resolved incidents the book then forgot to stay within its bound, moved out in their
/// last state (one of them may be among the changes, or among those of an earlier signal
/// whose state a caller has not written yet).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    pub changes: Vec<Change>,
    pub forgotten: Vec<Incident>,
}

/// What happened to an incident, as notifications and metrics see it. When one signal
/// does several things to one incident, the most telling is reported (the order below,
/// from the most telling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Opened,
    Reopened,
    Resolved,
    Acknowledged,
    Escalated,
    /// New alerts or runs, nothing else.
    Updated,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Opened => "opened",
            Transition::Reopened => "reopened",
            Transition::Resolved => "resolved",
            Transition::Acknowledged => "acknowledged",
            Transition::Escalated => "escalated",
            Transition::Updated => "updated",
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The incidents one signal changed, in the order first changed, each with the most
/// telling of what happened to it.
#[derive(Debug, Default)]
pub(crate) struct Touched(Vec<(String, Transition)>);

impl Touched {
    pub(crate) fn mark(&mut self, id: &str, transition: Transition) {
        match self.0.iter_mut().find(|(touched, _)| touched == id) {
            Some((_, kept)) => *kept = (*kept).min_by_rank(transition),
            None => self.0.push((id.to_owned(), transition)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_inner(self) -> Vec<(String, Transition)> {
        self.0
    }
}

impl Transition {
    /// The more telling of two (the earlier in the declaration order).
    fn min_by_rank(self, other: Transition) -> Transition {
        let rank = |t: Transition| t as u8;
        if rank(other) < rank(self) {
            other
        } else {
            self
        }
    }
}
