//! Application log events about the generated runs, as their connectors would write them:
//! what `ingest-bench` posts to `/log`.
//!
//! Each run gets a fixed number of events, its outcome last: the run's error text at level
//! error when it failed (critical when its token was refused), a warning when its figures look wrong, an info line otherwise;
//! the events before it are the connector's progress (mostly debug and info, now and then
//! a warning about a slow API). The service is the run's source as the connectors spell
//! it, the attributes name the run's company, source and object, and the timestamps lie
//! between the run's start and end, read as standardization reads them by default (UTC),
//! so the incidents' evidence finds them. One event in [`UNLEVELLED_EVERY`] comes without
//! a level, for the severity classifier; the others spell their level the ways logging
//! libraries and syslog do.

use anyhow::Context;
use chrono::SecondsFormat;
use obs_records::{
    standardize, FailureKind, LogSeverity, RawRecord, StandardizeOptions, StandardizedRecord,
    Status,
};
use serde_json::json;

/// One event in this many has no level.
const UNLEVELLED_EVERY: u64 = 5;
/// A run whose memory delta is above this reports a warning.
const HIGH_MEMORY_BYTES: i64 = 100 << 20;

/// Writes the events of run after run, numbering them to vary levels and wording
/// deterministically.
pub struct LogEventWriter {
    per_run: usize,
    written: u64,
}

impl LogEventWriter {
    /// A writer of `per_run` events per run (at least one: the outcome).
    pub fn new(per_run: usize) -> Self {
        LogEventWriter {
            per_run: per_run.max(1),
            written: 0,
        }
    }

    /// Appends the events of `raw` to `body`, one NDJSON line each.
    pub fn write(&mut self, raw: &RawRecord, body: &mut Vec<u8>) -> anyhow::Result<()> {
        let run = standardize(raw, &StandardizeOptions::default())
            .with_context(|| format!("generated run {} is invalid", raw.record_id()))?;
        let steps = self.per_run as i32;
        for step in 0..steps {
            let (severity, message) = if step + 1 == steps {
                outcome(raw, &run)
            } else {
                progress(raw, step, self.written)
            };
            // From the run's start to its end, the outcome at the end.
            let at = if steps == 1 {
                run.end_time
            } else {
                run.start_time + (run.end_time - run.start_time) * step / (steps - 1)
            };
            let mut event = json!({
                "message": message,
                "service": raw.source,
                "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "attributes": {
                    "company": raw.company,
                    "source": raw.source,
                    "object_id": raw.object_id,
                },
            });
            if self.written % UNLEVELLED_EVERY != UNLEVELLED_EVERY - 1 {
                event["level"] = spelled(severity, self.written).into();
            }
            serde_json::to_writer(&mut *body, &event)?;
            body.push(b'\n');
            self.written += 1;
        }
        Ok(())
    }
}

/// What the connector says when the run ends.
fn outcome(raw: &RawRecord, run: &StandardizedRecord) -> (LogSeverity, String) {
    let object = object(raw);
    if raw.status == Status::Failed {
        let error = run.error_message.as_deref().unwrap_or(&raw.description);
        // A refused token fails every run of the source until someone renews it.
        let severity = if run.error_kind == Some(FailureKind::Authentication) {
            LogSeverity::Critical
        } else {
            LogSeverity::Error
        };
        return (severity, format!("Sync of {object} failed: {error}"));
    }
    let megabytes = raw.memory_used_bytes as f64 / f64::from(1 << 20);
    if raw.memory_used_bytes > HIGH_MEMORY_BYTES {
        let message = format!(
            "Memory usage of {megabytes:.0} MB while syncing {object}, above the {} MB budget",
            HIGH_MEMORY_BYTES >> 20
        );
        return (LogSeverity::Warning, message);
    }
    if !run.quality.is_empty() {
        let flags: Vec<&str> = run.quality.iter().map(|flag| flag.as_str()).collect();
        let message = format!(
            "Measurements of the sync of {object} look wrong ({}): memory delta {megabytes:.1} MB",
            flags.join(", ")
        );
        return (LogSeverity::Warning, message);
    }
    let message = format!(
        "Sync of {object} completed: {} records in {:.1}s",
        rows(raw),
        raw.duration_seconds
    );
    (LogSeverity::Info, message)
}

/// What the connector says while the run goes on: step `step` of it, event number `n`.
fn progress(raw: &RawRecord, step: i32, n: u64) -> (LogSeverity, String) {
    if step == 0 {
        let message = format!(
            "Sync of {} started, sequence {}",
            object(raw),
            raw.sequence_id
        );
        return (LogSeverity::Info, message);
    }
    if n % 10 == 3 {
        let message = format!(
            "Response time for GET /api/{} was {:.1}s, above the 2s target",
            raw.object_type, raw.duration_seconds
        );
        return (LogSeverity::Warning, message);
    }
    let message = format!(
        "Parsed {} rows from page {step} of the {} {} export",
        rows(raw),
        raw.source,
        raw.object_type
    );
    (LogSeverity::Debug, message)
}

/// The run's object as the connectors' messages name it.
fn object(raw: &RawRecord) -> String {
    format!(
        "object {} ({} {}) of {}",
        raw.object_id, raw.source, raw.object_type, raw.company
    )
}

/// A row count that goes with the run's memory.
fn rows(raw: &RawRecord) -> u64 {
    raw.memory_used_bytes.unsigned_abs() / 2048 + 1
}

/// `severity` as one of the spellings clients send, chosen by the event's number.
fn spelled(severity: LogSeverity, n: u64) -> &'static str {
    let spellings: &[&str] = match severity {
        LogSeverity::Debug => &["debug", "DEBUG", "7"],
        LogSeverity::Info => &["info", "INFO", "information", "6"],
        LogSeverity::Warning => &["warning", "WARN", "warn"],
        LogSeverity::Error => &["error", "ERROR", "err"],
        LogSeverity::Critical => &["critical", "FATAL", "crit"],
    };
    spellings[(n % 7) as usize % spellings.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use obs_records::LogEvent;

    /// The events of the first runs of a seed, parsed as ingestion parses them, with
    /// their run.
    fn events(per_run: usize, runs: usize) -> Vec<(LogEvent, RawRecord)> {
        let mut writer = LogEventWriter::new(per_run);
        obs_samplegen::records(2, runs)
            .flat_map(|run| {
                let mut body = Vec::new();
                writer.write(&run, &mut body).unwrap();
                let parsed: Vec<_> = body
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| (LogEvent::parse(line).unwrap(), run.clone()))
                    .collect();
                assert_eq!(parsed.len(), per_run);
                parsed
            })
            .collect()
    }

    #[test]
    fn every_event_is_valid_and_names_its_run_within_its_time() {
        for (event, run) in events(3, 500) {
            assert_eq!(event.service, run.source);
            assert_eq!(event.attributes.company.as_deref(), Some(&*run.company));
            assert_eq!(event.attributes.source.as_deref(), Some(&*run.source));
            let object_id = run.object_id.to_string();
            assert_eq!(event.attributes.object_id.as_deref(), Some(&*object_id));
            let at = event.timestamp.unwrap().naive_utc();
            // Millisecond precision: the end may be rounded down.
            assert!(run.start - chrono::Duration::milliseconds(1) <= at && at <= run.end);
        }
    }

    #[test]
    fn mostly_info_some_warnings_and_errors_one_in_five_without_a_level() {
        let events = events(1, 5000);
        let mut counts = std::collections::HashMap::new();
        for (event, _) in &events {
            let severity = event.level.as_deref().map(|level| {
                LogSeverity::from_level(level).unwrap_or_else(|| panic!("unknown {level}"))
            });
            *counts.entry(severity).or_insert(0) += 1;
        }
        let share = |severity| f64::from(counts.get(&severity).copied().unwrap_or(0)) / 5000.0;
        assert_eq!(share(None), 0.2);
        assert!(share(Some(LogSeverity::Info)) > 0.7, "{counts:?}");
        for severity in [LogSeverity::Warning, LogSeverity::Error] {
            assert!((0.001..0.1).contains(&share(Some(severity))), "{counts:?}");
        }
    }
}
