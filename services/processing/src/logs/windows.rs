//! Each service's error rate in tumbling windows of event time: the error-rate stage's
//! state, pure. A batch whose transaction does not commit is not taken back here: the
//! stage rebuilds its windows from their checkpoints, as after a rebalance.
//!
//! A service has one open window at a time, aligned on multiples of its length since the
//! Unix epoch. An event past the window's end closes it and opens the event's own window
//! (windows without events are never opened); an event before the window's start is late:
//! its window closed already, so it is counted in no window, only in the open window's
//! `late_events`, which its record carries.
//!
//! A service's open window is checkpointed with its detector series
//! ([`super::checkpoint`]): [`ErrorRateWindows::save`] writes it, [`ErrorRateWindows::restore`]
//! reads it back into the windows a restore rebuilds, which [`ErrorRateWindows::absorb`]
//! then moves into the stage's.

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

/// The company the events of a window name (its tag in a saved window).
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

    /// Counts `event` in its service's window.
    pub fn add(&mut self, event: &StandardizedLogEvent) -> Placed {
        self.arrivals += 1;
        let service = service_key(&event.service);
        let start = self.window_start(event.timestamp);
        let mut closed = None;
        match self.open.get_mut(&service) {
            Some(window) => {
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
                    closed = self.evict_least_recent();
                }
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

    /// Services with an open window.
    pub fn services(&self) -> usize {
        self.open.len()
    }

    /// Appends `service`'s open window to `out`: the window length (a window is taken back
    /// only under the same), then its start, counts and company; false, nothing written,
    /// when the service has none. When it was last seen is not saved: a restored window is
    /// seen as its restore's.
    pub fn save(&self, service: &str, out: &mut Vec<u8>) -> bool {
        let Some(window) = self.open.get(service) else {
            return false;
        };
        out.extend_from_slice(&self.length.num_seconds().to_le_bytes());
        out.extend_from_slice(&window.start.timestamp().to_le_bytes());
        for count in [window.events, window.errors, window.late_events] {
            out.extend_from_slice(&count.to_le_bytes());
        }
        match &window.company {
            Company::Unnamed => out.push(0),
            Company::One(company) => {
                out.push(1);
                out.extend_from_slice(&(company.len() as u32).to_le_bytes());
                out.extend_from_slice(company.as_bytes());
            }
            Company::Several => out.push(2),
        }
        true
    }

    /// Opens `service`'s window as [`save`](Self::save) wrote it at the front of `saved`;
    /// returns the bytes after it. Refused, nothing changed: a window of another length,
    /// bytes that do not read back, a service that has a window.
    pub fn restore<'a>(&mut self, service: &str, saved: &'a [u8]) -> Result<&'a [u8], String> {
        let mut from = Bytes(saved);
        let length = from.i64()?;
        if length != self.length.num_seconds() {
            return Err(format!(
                "a window of {length} s, saved under another logs.error_rate_window_seconds"
            ));
        }
        let start =
            DateTime::from_timestamp(from.i64()?, 0).ok_or("a window start out of range")?;
        let (events, errors, late_events) = (from.u64()?, from.u64()?, from.u64()?);
        let company = match from.take(1)? {
            [0] => Company::Unnamed,
            [1] => {
                let mut len = [0; 4];
                len.copy_from_slice(from.take(4)?);
                let name = from.take(u32::from_le_bytes(len) as usize)?;
                Company::One(String::from_utf8(name.to_vec()).map_err(|e| e.to_string())?)
            }
            [2] => Company::Several,
            _ => return Err("an unknown company tag".into()),
        };
        if self.open.contains_key(service) {
            return Err(format!("{service} has an open window"));
        }
        self.arrivals += 1;
        self.open.insert(
            service.to_owned(),
            OpenWindow {
                start,
                events,
                errors,
                company,
                late_events,
                last_seen: self.arrivals,
            },
        );
        Ok(from.0)
    }

    /// Moves the windows of `other` (rebuilt apart, of the same length) in, in the order
    /// they were last seen there; a service with a window here keeps its own. Returns how
    /// many were moved.
    pub fn absorb(&mut self, other: ErrorRateWindows) -> usize {
        let mut windows: Vec<(String, OpenWindow)> = other.open.into_iter().collect();
        windows.sort_by_key(|(_, window)| window.last_seen);
        let mut moved = 0;
        for (service, mut window) in windows {
            if self.open.contains_key(&service) {
                continue;
            }
            self.arrivals += 1;
            window.last_seen = self.arrivals;
            self.open.insert(service, window);
            moved += 1;
        }
        moved
    }

    /// Forgets every window (a new assignment or an aborted transaction: each partition's
    /// come back from its checkpoints).
    pub fn clear(&mut self) {
        self.open.clear();
    }

    fn window_start(&self, timestamp: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.length.num_seconds();
        let seconds = timestamp.timestamp();
        DateTime::from_timestamp(seconds - seconds.rem_euclid(length), 0).unwrap_or(timestamp)
    }

    fn evict_least_recent(&mut self) -> Option<ClosedWindow> {
        let service = self
            .open
            .iter()
            .min_by_key(|(_, window)| window.last_seen)
            .map(|(service, _)| service.clone())?;
        let window = self.open.remove(&service)?;
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

/// A saved window being read.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or("a saved window cut short")?;
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(bytes))
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.u64().map(|n| n as i64)
    }
}

/// The service's slug, as runs' sources are written, so that an error-rate alert names
/// the source an incident's evidence looks for; its name as given if it has no letter or
/// digit.
pub fn service_key(service: &str) -> String {
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
        for (seconds, severity) in [
            (0, LogSeverity::Info),
            (10, LogSeverity::Error),
            (59, LogSeverity::Critical),
            (30, LogSeverity::Warning),
        ] {
            let placed = windows.add(&logged("Billing", 0, seconds, severity));
            assert_eq!(
                placed,
                Placed {
                    late: false,
                    closed: None
                }
            );
        }
        let placed = windows.add(&logged("billing", 3, 0, LogSeverity::Info));
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
        windows.add(&logged("app", 0, 0, LogSeverity::Info));
        windows.add(&logged("app", 1, 0, LogSeverity::Info));
        let placed = windows.add(&logged("app", 0, 30, LogSeverity::Error));
        assert_eq!(
            placed,
            Placed {
                late: true,
                closed: None
            }
        );
        let closed = windows
            .add(&logged("app", 2, 0, LogSeverity::Info))
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
            windows.add(&e);
        }
        let closed = windows.add(&company(None, 3)).closed.unwrap();
        assert_eq!(closed.company, "", "no company named");
        let mut windows = ErrorRateWindows::new(60, 10);
        windows.add(&company(Some("acme"), 0));
        windows.add(&company(None, 0));
        let closed = windows.add(&company(Some("globex"), 1)).closed.unwrap();
        assert_eq!(closed.company, "acme");
        let closed = windows.add(&company(Some("acme"), 2)).closed.unwrap();
        assert_eq!(closed.company, "globex");
    }

    #[test]
    fn a_new_service_past_the_bound_closes_the_least_recently_seen() {
        let mut windows = ErrorRateWindows::new(60, 2);
        windows.add(&logged("a", 0, 0, LogSeverity::Error));
        windows.add(&logged("b", 0, 0, LogSeverity::Info));
        windows.add(&logged("a", 0, 1, LogSeverity::Info));
        let closed = windows
            .add(&logged("c", 0, 0, LogSeverity::Info))
            .closed
            .unwrap();
        assert_eq!(
            (closed.service.as_str(), closed.closed_by),
            ("b", ClosedBy::Evicted)
        );
        assert_eq!(windows.services(), 2);
    }

    #[test]
    fn a_saved_window_restores_whole_and_is_absorbed_once() {
        let mut windows = ErrorRateWindows::new(60, 10);
        let mut named = logged("billing", 4, 0, LogSeverity::Error);
        named.company = Some("acmé".into());
        windows.add(&named);
        windows.add(&logged("billing", 4, 30, LogSeverity::Info));
        windows.add(&logged("billing", 3, 0, LogSeverity::Info));
        windows.add(&logged("several", 2, 0, LogSeverity::Info));
        let mut saved = Vec::new();
        assert!(windows.save("billing", &mut saved));
        saved.extend_from_slice(b"rest");
        assert!(!windows.save("unknown", &mut Vec::new()));

        let mut apart = ErrorRateWindows::new(60, 10);
        assert_eq!(apart.restore("billing", &saved), Ok(&b"rest"[..]));
        assert_eq!(
            apart.open["billing"],
            OpenWindow {
                last_seen: 1,
                ..windows.open["billing"].clone()
            }
        );
        assert!(apart.restore("billing", &saved).is_err(), "held already");
        assert!(ErrorRateWindows::new(300, 10)
            .restore("billing", &saved)
            .is_err());
        for cut in 0..saved.len() - 4 {
            assert!(
                ErrorRateWindows::new(60, 10)
                    .restore("billing", &saved[..cut])
                    .is_err(),
                "{cut} bytes"
            );
        }

        // Absorbed beside the windows held here, which keep their own.
        let mut live = ErrorRateWindows::new(60, 10);
        live.add(&logged("several", 9, 0, LogSeverity::Info));
        apart.add(&logged("several", 2, 0, LogSeverity::Info));
        assert_eq!(live.absorb(apart), 1, "several is held here");
        assert_eq!(
            (
                live.open["billing"].events,
                live.open["billing"].late_events
            ),
            (2, 1)
        );
        assert_eq!(live.open["several"].start, at(9));
        live.clear();
        assert_eq!(live.services(), 0);
    }
}
