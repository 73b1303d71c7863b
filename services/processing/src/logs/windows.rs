//! Each service's error rate in tumbling windows of event time: the error-rate stage's
//! state, pure, with the undo log that takes back a batch whose transaction did not
//! commit.
//!
//! A service has one open window at a time, aligned on multiples of its length since the
//! Unix epoch. An event past the window's end closes it and opens the event's own window
//! (windows without events are never opened); an event before the window's start is late:
//! its window closed already, so it is counted in no window, only in the open window's
//! `late_events`, which its record carries.

use chrono::{DateTime, Duration, Utc};
use obs_records::{source_slug, LogSeverity, StandardizedLogEvent};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The open windows of up to `max_services` services.
pub struct ErrorRateWindows {
    length: Duration,
    max_services: usize,
    open: HashMap<String, OpenWindow>,
    /// Events seen, to find the service seen least recently.
    arrivals: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct OpenWindow {
    start: DateTime<Utc>,
    events: u64,
    errors: u64,
    company: Company,
    late_events: u64,
    /// The arrival number of the service's latest event.
    last_seen: u64,
}

/// The company the events of a window name.
#[derive(Debug, Clone, PartialEq)]
enum Company {
    Unnamed,
    One(String),
    Several,
}

/// Why a window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    /// An event of the service past the window's end.
    LaterEvent,
    /// A new service needed the room (`logs.error_rate_max_services`), and this one had
    /// been seen least recently: its window closed early.
    Evicted,
}

/// A closed window of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedWindow {
    /// The service's slug (its name if that has no letter or digit).
    pub service: String,
    /// The company the window's events name, when all those naming one agree; else "".
    pub company: String,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub window_start: DateTime<Utc>,
    #[serde(
        serialize_with = "obs_records::time::rfc3339",
        deserialize_with = "obs_records::time::deserialize_rfc3339"
    )]
    pub window_end: DateTime<Utc>,
    pub events: u64,
    /// Events of severity error or critical.
    pub errors: u64,
    /// Events that came while this window was open but belonged to one already closed:
    /// counted in no window.
    pub late_events: u64,
    pub closed_by: ClosedBy,
}

impl ClosedWindow {
    /// `errors / events`, in [0, 1] (a window has at least one event).
    pub fn error_rate(&self) -> f64 {
        self.errors as f64 / self.events.max(1) as f64
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Too late for its window, which had closed: counted in no window.
    pub late: bool,
    /// The window the event closed: its service's previous one, or another service's
    /// evicted to make room.
    pub closed: Option<ClosedWindow>,
}

/// What a batch changed: each service's window as it was before the batch first touched it
/// (`None`: the service had none).
#[derive(Debug, Default)]
pub struct WindowsUndo {
    saved: HashMap<String, Option<OpenWindow>>,
}

impl WindowsUndo {
    fn save(&mut self, service: &str, before: Option<&OpenWindow>) {
        if !self.saved.contains_key(service) {
            self.saved.insert(service.to_owned(), before.cloned());
        }
    }
}

impl ErrorRateWindows {
    /// Windows of `length_seconds` (at least 1) for at most `max_services` (at least 1).
    pub fn new(length_seconds: u64, max_services: usize) -> ErrorRateWindows {
        let seconds = i64::try_from(length_seconds).unwrap_or(i64::MAX).max(1);
        ErrorRateWindows {
            length: Duration::try_seconds(seconds).unwrap_or(Duration::MAX),
            max_services: max_services.max(1),
            open: HashMap::new(),
            arrivals: 0,
        }
    }

    /// Counts `event` in its service's window, recording in `undo` what it changes.
    pub fn add(&mut self, event: &StandardizedLogEvent, undo: &mut WindowsUndo) -> Placed {
        self.arrivals += 1;
        let service = service_key(&event.service);
        let start = self.window_start(event.timestamp);
        let mut closed = None;
        match self.open.get_mut(&service) {
            Some(window) => {
                undo.save(&service, Some(window));
                window.last_seen = self.arrivals;
                if start < window.start {
                    window.late_events += 1;
                    return Placed { late: true, closed };
                }
                if start > window.start {
                    let next = OpenWindow::new(start, self.arrivals);
                    let previous = std::mem::replace(window, next);
                    closed = Some(previous.close(&service, self.length, ClosedBy::LaterEvent));
                }
                window.count(event);
            }
            None => {
                if self.open.len() >= self.max_services {
                    closed = self.evict_least_recent(undo);
                }
                undo.save(&service, None);
                let mut window = OpenWindow::new(start, self.arrivals);
                window.count(event);
                self.open.insert(service, window);
            }
        }
        Placed {
            late: false,
            closed,
        }
    }

    /// Puts back the windows as they were before the batch of `undo`. Undo the batches
    /// discarded together newest first.
    pub fn undo(&mut self, undo: WindowsUndo) {
        for (service, before) in undo.saved {
            match before {
                Some(window) => {
                    self.open.insert(service, window);
                }
                None => {
                    self.open.remove(&service);
                }
            }
        }
    }

    /// Services with an open window.
    pub fn services(&self) -> usize {
        self.open.len()
    }

    fn window_start(&self, timestamp: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.length.num_seconds();
        let seconds = timestamp.timestamp();
        DateTime::from_timestamp(seconds - seconds.rem_euclid(length), 0).unwrap_or(timestamp)
    }

    fn evict_least_recent(&mut self, undo: &mut WindowsUndo) -> Option<ClosedWindow> {
        let service = self
            .open
            .iter()
            .min_by_key(|(_, window)| window.last_seen)
            .map(|(service, _)| service.clone())?;
        let window = self.open.remove(&service)?;
        undo.save(&service, Some(&window));
        Some(window.close(&service, self.length, ClosedBy::Evicted))
    }
}

impl OpenWindow {
    fn new(start: DateTime<Utc>, arrival: u64) -> OpenWindow {
        OpenWindow {
            start,
            events: 0,
            errors: 0,
            company: Company::Unnamed,
            late_events: 0,
            last_seen: arrival,
        }
    }

    fn count(&mut self, event: &StandardizedLogEvent) {
        self.events += 1;
        if event.severity >= LogSeverity::Error {
            self.errors += 1;
        }
        if let Some(named) = &event.company {
            self.company = match std::mem::replace(&mut self.company, Company::Several) {
                Company::Unnamed => Company::One(named.clone()),
                Company::One(company) if &company == named => Company::One(company),
                Company::One(_) | Company::Several => Company::Several,
            };
        }
    }

    fn close(self, service: &str, length: Duration, closed_by: ClosedBy) -> ClosedWindow {
        ClosedWindow {
            service: service.to_owned(),
            company: match self.company {
                Company::One(company) => company,
                Company::Unnamed | Company::Several => String::new(),
            },
            window_start: self.start,
            window_end: self.start + length,
            events: self.events,
            errors: self.errors,
            late_events: self.late_events,
            closed_by,
        }
    }
}

/// The service's slug, as runs' sources are written, so that an error-rate alert names
/// the source an incident's evidence looks for; its name as given if it has no letter or
/// digit.
fn service_key(service: &str) -> String {
    let slug = source_slug(service);
    if slug.is_empty() {
        service.to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::{at, event};

    fn logged(
        service: &str,
        minute: i64,
        seconds: i64,
        severity: LogSeverity,
    ) -> StandardizedLogEvent {
        let mut e = event(service, minute, "m");
        e.timestamp += Duration::seconds(seconds);
        e.severity = severity;
        e
    }

    #[test]
    fn a_later_event_closes_the_window_with_its_error_rate() {
        let mut windows = ErrorRateWindows::new(60, 10);
        let mut undo = WindowsUndo::default();
        for (seconds, severity) in [
            (0, LogSeverity::Info),
            (10, LogSeverity::Error),
            (59, LogSeverity::Critical),
            (30, LogSeverity::Warning),
        ] {
            let placed = windows.add(&logged("Billing", 0, seconds, severity), &mut undo);
            assert_eq!(
                placed,
                Placed {
                    late: false,
                    closed: None
                }
            );
        }
        let placed = windows.add(&logged("billing", 3, 0, LogSeverity::Info), &mut undo);
        let closed = placed.closed.unwrap();
        assert_eq!(
            (
                closed.service.as_str(),
                closed.window_start,
                closed.window_end
            ),
            ("billing", at(0), at(1))
        );
        assert_eq!(
            (closed.events, closed.errors, closed.late_events),
            (4, 2, 0)
        );
        assert_eq!(closed.error_rate(), 0.5);
        assert_eq!(closed.closed_by, ClosedBy::LaterEvent);
    }

    #[test]
    fn late_events_are_counted_in_no_window_but_reported() {
        let mut windows = ErrorRateWindows::new(60, 10);
        let mut undo = WindowsUndo::default();
        windows.add(&logged("app", 0, 0, LogSeverity::Info), &mut undo);
        windows.add(&logged("app", 1, 0, LogSeverity::Info), &mut undo);
        let placed = windows.add(&logged("app", 0, 30, LogSeverity::Error), &mut undo);
        assert_eq!(
            placed,
            Placed {
                late: true,
                closed: None
            }
        );
        let closed = windows
            .add(&logged("app", 2, 0, LogSeverity::Info), &mut undo)
            .closed
            .unwrap();
        assert_eq!(
            (
                closed.window_start,
                closed.events,
                closed.errors,
                closed.late_events
            ),
            (at(1), 1, 0, 1)
        );
    }

    #[test]
    fn the_company_is_named_when_the_events_agree() {
        let mut windows = ErrorRateWindows::new(60, 10);
        let mut undo = WindowsUndo::default();
        let company = |name: Option<&str>, minute| {
            let mut e = logged("app", minute, 0, LogSeverity::Info);
            e.company = name.map(Into::into);
            e
        };
        for e in [
            company(Some("acme"), 0),
            company(None, 0),
            company(Some("acme"), 1),
            company(Some("globex"), 1),
            company(None, 2),
        ] {
            windows.add(&e, &mut undo);
        }
        let closed = windows.add(&company(None, 3), &mut undo).closed.unwrap();
        assert_eq!(closed.company, "", "no company named");
        let mut windows = ErrorRateWindows::new(60, 10);
        windows.add(&company(Some("acme"), 0), &mut undo);
        windows.add(&company(None, 0), &mut undo);
        let closed = windows
            .add(&company(Some("globex"), 1), &mut undo)
            .closed
            .unwrap();
        assert_eq!(closed.company, "acme");
        let closed = windows
            .add(&company(Some("acme"), 2), &mut undo)
            .closed
            .unwrap();
        assert_eq!(closed.company, "globex");
    }

    #[test]
    fn a_new_service_past_the_bound_closes_the_least_recently_seen() {
        let mut windows = ErrorRateWindows::new(60, 2);
        let mut undo = WindowsUndo::default();
        windows.add(&logged("a", 0, 0, LogSeverity::Error), &mut undo);
        windows.add(&logged("b", 0, 0, LogSeverity::Info), &mut undo);
        windows.add(&logged("a", 0, 1, LogSeverity::Info), &mut undo);
        let closed = windows
            .add(&logged("c", 0, 0, LogSeverity::Info), &mut undo)
            .closed
            .unwrap();
        assert_eq!(
            (closed.service.as_str(), closed.closed_by),
            ("b", ClosedBy::Evicted)
        );
        assert_eq!(windows.services(), 2);
    }

    #[test]
    fn undo_puts_the_windows_back_as_before_the_oldest_discarded_batch() {
        let mut windows = ErrorRateWindows::new(60, 2);
        let mut committed = WindowsUndo::default();
        windows.add(&logged("a", 0, 0, LogSeverity::Error), &mut committed);
        windows.add(&logged("b", 0, 0, LogSeverity::Info), &mut committed);
        let before: HashMap<String, OpenWindow> = windows.open.clone();

        let (mut first, mut second) = (WindowsUndo::default(), WindowsUndo::default());
        windows.add(&logged("a", 0, 5, LogSeverity::Info), &mut first);
        windows.add(&logged("a", 1, 0, LogSeverity::Info), &mut first);
        windows.add(&logged("c", 0, 0, LogSeverity::Info), &mut second);
        windows.add(&logged("a", 2, 0, LogSeverity::Error), &mut second);
        windows.add(&logged("a", 0, 0, LogSeverity::Error), &mut second);
        assert_ne!(windows.open, before);
        windows.undo(second);
        windows.undo(first);
        assert_eq!(windows.open, before);
    }
}
