//! How the error-rate stage turns its input into detector points: an event read from its
//! payload, and a closed window's rate as one point of its service's series. The stage and
//! a restore's replay both use these, so a replayed window is taught exactly as it was.

use super::windows::ClosedWindow;
use obs_detector::{DetectorBank, DetectorError, Verdict};
use obs_records::StandardizedLogEvent;

/// The metric of the series, and the `detector` of its alerts.
pub const ERROR_RATE: &str = "error_rate";

/// An event as the stage reads it from its payload; a restore reads the events it replays
/// so.
pub(super) fn read_event(payload: Option<&[u8]>) -> Result<StandardizedLogEvent, String> {
    payload
        .ok_or_else(|| "empty payload: no bytes to read".to_owned())
        .and_then(|p| {
            obs_records::from_json_bytes::<StandardizedLogEvent>(p).map_err(|e| e.to_string())
        })
}

/// The detector series of `service`'s error rate.
pub(super) fn series_key(service: &str) -> String {
    format!("app:{service}")
}

/// A closed window's error rate, one point of its service's series: how the stage, and a
/// restore's replay, teach it to the detectors.
pub(super) fn observe_window(
    bank: &mut DetectorBank,
    window: &ClosedWindow,
) -> Result<Verdict, DetectorError> {
    bank.observe(
        &series_key(&window.service),
        window.window_start,
        &[(ERROR_RATE, window.error_rate())],
    )
}
