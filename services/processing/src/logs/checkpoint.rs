//! The error-rate stage's checkpointed state ([`crate::checkpoint`]): per service (its
//! slug), its open window and its detector series `app:{service}`, saved together in one
//! record of `app-log-rate-state`, so that after a restore the window's partial counts and
//! the series' history are those of an uninterrupted stage.
//!
//! A state is `ert1`, a byte of flags (window, series), then the window as
//! [`ErrorRateWindows::save`] writes it, then the series as the detector bank saves it.

use super::rate_series::{observe_window, read_event, series_key};
use super::windows::{service_key, ErrorRateWindows};
use crate::checkpoint::{CheckpointConfig, CheckpointError, CheckpointNames, Checkpointed};
use obs_detector::{DetectorBank, DetectorConfig};
use obs_kafka::sync::lock;
use obs_kafka::{TopicSpec, TopicsConfig};
use obs_records::StandardizedLogEvent;
use std::sync::Mutex;

/// The first bytes of a service's saved state, and its format's version.
const MAGIC: [u8; 4] = *b"ert1";
const WINDOW: u8 = 1;
const SERIES: u8 = 2;

/// How the error-rate stage's state is saved, restored and replayed.
pub struct ErrorRateState {
    detector: DetectorConfig,
    window_seconds: u64,
    max_services: usize,
}

impl ErrorRateState {
    pub fn new(detector: &DetectorConfig, window_seconds: u64, max_services: usize) -> Self {
        ErrorRateState {
            detector: detector.clone(),
            window_seconds,
            max_services,
        }
    }

    fn windows(&self) -> ErrorRateWindows {
        ErrorRateWindows::new(self.window_seconds, self.max_services)
    }
}

/// The stage's state: its windows and its detectors.
pub struct RateLive<'a> {
    pub windows: &'a mut ErrorRateWindows,
    pub bank: &'a Mutex<DetectorBank>,
}

/// A partition's windows and series, rebuilt apart.
pub struct RateApart {
    windows: ErrorRateWindows,
    bank: DetectorBank,
}

impl Checkpointed for ErrorRateState {
    type Live<'a> = RateLive<'a>;
    type Apart = RateApart;
    type Input = StandardizedLogEvent;

    const NAMES: CheckpointNames = CheckpointNames {
        metrics: "app_log_rate",
        keys: "services",
        inputs: "events",
        stage: "error-rate stage",
        restore_client: "processing-app-logs-restore",
    };

    fn topics(topics: &TopicsConfig) -> (&TopicSpec, &TopicSpec) {
        (&topics.app_log_rate_state, &topics.standardized_app_logs)
    }

    fn interval_records(config: &CheckpointConfig) -> i64 {
        config.error_rate_interval_records
    }

    fn read(&self, payload: Option<&[u8]>) -> Option<(String, StandardizedLogEvent)> {
        let event = read_event(payload).ok()?;
        Some((service_key(&event.service), event))
    }

    fn apart(&self) -> Result<RateApart, CheckpointError> {
        Ok(RateApart {
            windows: self.windows(),
            bank: DetectorBank::new(self.detector.clone())
                .map_err(|error| CheckpointError::State(error.to_string()))?,
        })
    }

    /// All or nothing: the window is read apart first, so that a series refused (saved
    /// under another detector configuration) leaves no window behind.
    fn restore(&self, apart: &mut RateApart, service: &str, saved: &[u8]) -> Result<(), String> {
        let (flags, rest) = match saved.split_at_checked(MAGIC.len() + 1) {
            Some((head, rest)) if head[..MAGIC.len()] == MAGIC => (head[MAGIC.len()], rest),
            _ => return Err("not an error-rate checkpoint".into()),
        };
        let mut window = self.windows();
        let rest = if flags & WINDOW != 0 {
            window.restore(service, rest)?
        } else {
            rest
        };
        if flags & SERIES != 0 {
            apart
                .bank
                .restore_series(&series_key(service), rest)
                .map_err(|error| error.to_string())?;
        } else if !rest.is_empty() {
            return Err("bytes after the window".into());
        }
        apart.windows.absorb(window);
        Ok(())
    }

    fn replay(&self, apart: &mut RateApart, event: StandardizedLogEvent) {
        let placed = apart.windows.add(&event);
        if let Some(window) = placed.closed {
            // Its verdict was written when the stage first closed it.
            let _ = observe_window(&mut apart.bank, &window);
        }
    }

    fn held(apart: &RateApart) -> usize {
        apart.windows.services().max(apart.bank.len())
    }

    fn save(&self, live: &mut RateLive<'_>, service: &str, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        let flags_at = out.len();
        out.push(0);
        let mut flags = 0;
        if live.windows.save(service, out) {
            flags |= WINDOW;
        }
        if lock(live.bank).save_series(&series_key(service), out) {
            flags |= SERIES;
        }
        if flags == 0 {
            out.truncate(start);
            return false;
        }
        out[flags_at] = flags;
        true
    }

    fn absorb(&self, live: &mut RateLive<'_>, apart: RateApart) -> Result<(), String> {
        live.windows.absorb(apart.windows);
        lock(live.bank)
            .absorb(apart.bank)
            .map(drop)
            .map_err(|error| error.to_string())
    }

    fn clear(live: &mut RateLive<'_>) {
        live.windows.clear();
        lock(live.bank).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::event;
    use chrono::Duration;
    use obs_records::LogSeverity;

    fn state() -> ErrorRateState {
        let detector = DetectorConfig {
            min_history: 5,
            ..DetectorConfig::default()
        };
        ErrorRateState::new(&detector, 60, 100)
    }

    /// `errors` error events of ten in `minute` for `service`.
    fn minute(service: &str, minute: i64, errors: usize) -> Vec<StandardizedLogEvent> {
        (0..10)
            .map(|n| {
                let mut e = event(service, minute, "m");
                e.timestamp += Duration::seconds(n * 5);
                if (n as usize) < errors {
                    e.severity = LogSeverity::Error;
                }
                e
            })
            .collect()
    }

    fn stream(minutes: std::ops::Range<i64>) -> Vec<StandardizedLogEvent> {
        minutes
            .flat_map(|m| {
                let mut events = minute("billing", m, usize::from(m % 4 == 0));
                events.extend(minute("Shipping", m, (m % 3) as usize));
                events
            })
            .collect()
    }

    /// The windows closed while `events` are replayed into `apart`, with their verdicts.
    fn closed(apart: &mut RateApart, events: &[StandardizedLogEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| {
                let closed = apart.windows.add(e).closed?;
                let verdict = observe_window(&mut apart.bank, &closed);
                Some(format!("{closed:?} {verdict:?}"))
            })
            .collect()
    }

    #[test]
    fn a_service_saved_part_way_through_a_window_continues_as_if_never_stopped() {
        let state = state();
        let events = stream(0..40);
        // Part-way through minute 20: the open windows hold some of its events.
        let split = 20 * 20 + 7;
        let mut uninterrupted = state.apart().unwrap();
        closed(&mut uninterrupted, &events[..split]);
        let expected = closed(&mut uninterrupted, &events[split..]);

        let mut first = state.apart().unwrap();
        closed(&mut first, &events[..split]);
        let bank = Mutex::new(first.bank);
        let mut live = RateLive {
            windows: &mut first.windows,
            bank: &bank,
        };
        let mut restored = state.apart().unwrap();
        for service in ["billing", "shipping"] {
            let mut saved = vec![7, 7];
            assert!(state.save(&mut live, service, &mut saved));
            state.restore(&mut restored, service, &saved[2..]).unwrap();
        }
        assert!(!state.save(&mut live, "unknown", &mut Vec::new()));
        assert_eq!(closed(&mut restored, &events[split..]), expected);
        assert!(
            expected.iter().any(|c| c.contains("Scored")),
            "{expected:?}"
        );
    }

    #[test]
    fn a_state_that_does_not_read_back_is_refused_whole() {
        let state = state();
        let mut apart = state.apart().unwrap();
        closed(&mut apart, &stream(0..3));
        let bank = Mutex::new(apart.bank);
        let mut saved = Vec::new();
        assert!(state.save(
            &mut RateLive {
                windows: &mut apart.windows,
                bank: &bank,
            },
            "billing",
            &mut saved
        ));
        let other = ErrorRateState::new(&DetectorConfig::default(), 60, 100);
        let mut refused = other.apart().unwrap();
        assert!(other.restore(&mut refused, "billing", &saved).is_err());
        assert_eq!((refused.windows.services(), refused.bank.len()), (0, 0));
        assert!(state
            .restore(&mut state.apart().unwrap(), "billing", b"ckp1\x03")
            .is_err());
    }
}
