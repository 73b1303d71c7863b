//! Incidents: alerts grouped into the things an operator handles.
//!
//! The processing stage writes a [`Signal`] per scored run that alerted (or that may show
//! a recovery) and per operator command to `incident-signals`, keyed by
//! [`scope_key`] so one source's signals stay in order; a second stage applies them to an
//! [`IncidentBook`] and writes every changed [`Incident`] (full state, key = id) to the
//! compacted `incidents` topic, from which [`IncidentBook::restore`] rebuilds the book.
//!
//! The model:
//! * **Grouping.** An alert of a series goes to the open (or acknowledged) source-wide
//!   incident of its source and company if there is one, else to its series' incident.
//!   When alerts of `source_wide_objects` objects of one source and company end within
//!   `source_wide_window_seconds`, they make one source-wide incident; the series
//!   incidents opened within that window are resolved as merged into it, their evidence
//!   copied, so the operator sees one incident.
//! * **Lifecycle.** `open → acknowledged → resolved`. Resolved automatically when every
//!   object of it had `resolve_after_normal_runs` normal runs in a row (recovered) or
//!   after `quiet_period_seconds` without an alert (quiet); by an operator's command. The
//!   same scope alerting again within `reopen_within_seconds` of the resolution reopens
//!   the same id.
//! * **Severity** is the highest of its alerts; a rise is an escalation.
//! * **Time.** Nothing reads the clock: the rules run on *stream time*, kept per scope
//!   (source and company): the latest run end time among the signals of that scope that
//!   changed one of its incidents (the current signal's included). A signal only ever
//!   changes incidents of its own scope, so a book that also holds other scopes' incidents
//!   (restored from the whole topic) gives the same answers as one that holds only its
//!   own, whichever partitions a replica serves. Wall-clock fields
//!   (`opened_at`, `updated_at`, the marks) come from the signals; the same signals
//!   therefore give the same incidents, ids included.
//! * **Rebuildable.** Whatever the rules need (per-object progress, command ids seen, the
//!   stream time) is in the incident, so restoring the latest version of every incident
//!   the book held gives back a book that continues exactly as the uninterrupted one.
//!   The topic also keeps the incidents the book forgot; restoring forgets them again
//!   (settled, or beyond the bound), and unless the bound is too small for the load they
//!   were resolved longer ago than any window, so they change nothing but the answer to
//!   a command on one (a conflict rather than an unknown incident).
//! * **Bounded.** Alerts, runs, objects, timeline and command ids per incident. A
//!   resolved incident is forgotten once settled: its scope's stream time more than
//!   `reopen_within` plus the source-wide window past its resolution and latest alert,
//!   when nothing but a run that much behind its scope's clock could bring it back into
//!   play. Beyond that, resolved incidents beyond `max_incidents`, oldest resolution
//!   first (open and acknowledged ones are never forgotten: the quiet period resolves
//!   them). The incident view keeps resolved incidents for the API by its own bound.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod book;
pub mod change;
pub mod config;
pub mod error;
pub mod incident;
mod lifecycle;
pub mod signal;
mod text;

pub use book::IncidentBook;
pub use change::{Applied, Change, Transition};
pub use config::IncidentConfig;
pub use error::IncidentError;
pub use incident::{
    incident_id, Incident, IncidentStatus, Mark, Resolution, ResolveReason, Scope, ScopeKind,
    SeriesProgress, TimelineEntry, TimelineEvent, INCIDENT_SCHEMA_VERSION,
};
pub use lifecycle::check_command;
pub use signal::{scope_key, Action, Command, RunSummary, Signal, SIGNAL_SCHEMA_VERSION};
