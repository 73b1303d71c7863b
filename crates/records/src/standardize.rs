//! Raw → standardized: the form every stage after `standardized-logs` reads.
//!
//! The raw record keeps the connectors' French names, naive local times and loose types;
//! the standardized one has English snake_case names, UTC instants, a source slug, the
//! keys, a classified failure and data-quality flags, so downstream stages never
//! re-interpret connector quirks. This module is pure (no I/O, no clock): the same bytes
//! and options always give the same record, which is what makes the Kafka
//! consume-transform-produce loop replayable.
//!
//! Nothing is guessed: a naive time that does not exist or is ambiguous in the configured
//! zone is refused, like any other bad field, with a [`RecordError`] naming the wire field.

use crate::error::{ErrorKind, FieldError, RecordError};
use crate::keys;
use crate::raw::{Field, RawRecord, Status};
use crate::time::format_connector_time;
use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Value of the `schema-version` header and field on `standardized-logs`.
pub const STANDARDIZED_SCHEMA_VERSION: &str = "standardized-v1";

/// The description the connectors write on every successful run. On a FAILED run it
/// says nothing about the failure, so it must not be reported as the error message.
const GENERIC_SUCCESS_PHRASE: &str = "Tout roule, pas de stress!";

/// Error message of a FAILED run whose description says nothing usable.
pub const UNKNOWN_ERROR: &str = "unknown error";

/// How to read what the raw record leaves implicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardizeOptions {
    /// Zone in which the connectors' naive times (`Debut`, `Fin`, the sequence date and
    /// time) were written. Configuration, because the records do not say it.
    pub zone: Tz,
}

impl Default for StandardizeOptions {
    /// UTC: the only zone in which every naive time exists exactly once.
    fn default() -> Self {
        Self { zone: Tz::UTC }
    }
}

impl StandardizeOptions {
    /// Options reading naive times in the IANA zone `name` (`Europe/Paris`, `UTC`...).
    pub fn with_zone_name(name: &str) -> Result<Self, UnknownTimeZone> {
        parse_time_zone(name).map(|zone| Self { zone })
    }
}

/// A zone name that is not in the IANA database; kept so the message can name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}: expected an IANA zone name such as \"UTC\" or \"Europe/Paris\" (case-sensitive)")]
pub struct UnknownTimeZone {
    pub name: String,
}

/// Parses an IANA zone name, ignoring surrounding whitespace (configuration files and
/// environment variables often carry some).
pub fn parse_time_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.trim().parse::<Tz>().map_err(|_| UnknownTimeZone {
        name: name.to_owned(),
    })
}

/// Class of a run failure, recognised from its error text; a bounded label for metrics
/// and alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Timeout,
    Authentication,
    RateLimit,
    Network,
    MissingField,
    /// Nothing recognisable, including an empty or generic description.
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Timeout,
        FailureKind::Authentication,
        FailureKind::RateLimit,
        FailureKind::Network,
        FailureKind::MissingField,
        FailureKind::Other,
    ];

    /// The serialized label (`timeout`, `rate_limit`...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Authentication => "authentication",
            FailureKind::RateLimit => "rate_limit",
            FailureKind::Network => "network",
            FailureKind::MissingField => "missing_field",
            FailureKind::Other => "other",
        }
    }

    /// Classifies an error text: the first kind in [`FAILURE_PATTERNS`] with a matching
    /// pattern, else [`FailureKind::Other`]. Matching ignores ASCII case and allocates
    /// nothing.
    pub fn classify(message: &str) -> FailureKind {
        FAILURE_PATTERNS
            .iter()
            .find(|(_, patterns)| patterns.iter().any(|p| p.matches(message)))
            .map_or(FailureKind::Other, |(kind, _)| *kind)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way an error text can reveal its class.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    /// Appears anywhere, ignoring ASCII case.
    Text(&'static str),
    /// An HTTP status code standing alone (`HTTP 401`, `status=429`): not inside a longer
    /// number such as an id or a port, nor a traceback's line number (`line 401`).
    Code(&'static str),
    /// The whole text is one quoted identifier (`'id'`): what Python prints for a
    /// `KeyError`, the connectors' usual way of reporting a missing field.
    QuotedIdentifier,
}

impl Pattern {
    fn matches(self, message: &str) -> bool {
        match self {
            Pattern::Text(needle) => contains_ignore_ascii_case(message, needle),
            Pattern::Code(code) => contains_code(message, code),
            Pattern::QuotedIdentifier => is_quoted_identifier(message.trim()),
        }
    }
}

/// Failure classes in priority order: a text matching several classes gets the first.
/// Timeouts come first because network libraries wrap them (`Max retries exceeded ...
/// Read timed out`), and rate limits before network for the same reason (`Max retries
/// exceeded ... too many 429 error responses`).
const FAILURE_PATTERNS: &[(FailureKind, &[Pattern])] = &[
    (
        FailureKind::Timeout,
        &[Pattern::Text("timed out"), Pattern::Text("timeout")],
    ),
    (
        FailureKind::Authentication,
        &[
            Pattern::Code("401"),
            Pattern::Code("403"),
            Pattern::Text("unauthorized"),
            Pattern::Text("forbidden"),
            Pattern::Text("invalid_token"),
            Pattern::Text("authentication"),
        ],
    ),
    (
        FailureKind::RateLimit,
        &[
            Pattern::Code("429"),
            Pattern::Text("too many requests"),
            Pattern::Text("rate limit"),
        ],
    ),
    (
        FailureKind::Network,
        &[
            Pattern::Text("connection reset"),
            Pattern::Text("connection refused"),
            Pattern::Text("connection aborted"),
            Pattern::Text("name resolution"),
            Pattern::Text("connectionerror"),
            Pattern::Text("max retries exceeded"),
        ],
    ),
    (
        FailureKind::MissingField,
        &[
            Pattern::QuotedIdentifier,
            Pattern::Text("keyerror"),
            Pattern::Text("missing field"),
        ],
    ),
];

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn contains_code(haystack: &str, code: &str) -> bool {
    const LINE: &[u8] = b"line ";
    let bytes = haystack.as_bytes();
    let is_digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    haystack.match_indices(code).any(|(start, _)| {
        let digit_before = start.checked_sub(1).is_some_and(is_digit_at);
        let line_number = start
            .checked_sub(LINE.len())
            .and_then(|from| bytes.get(from..start))
            .is_some_and(|before| before.eq_ignore_ascii_case(LINE));
        !digit_before && !line_number && !is_digit_at(start + code.len())
    })
}

fn is_quoted_identifier(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
    else {
        return false;
    };
    let mut chars = inner.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A data-quality problem: the record is kept and processed, but its numbers are not
/// to be trusted blindly. Serialized in snake_case (`negative_memory`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// `memory_used (bytes)` is below zero: seen in the field, meaningless as an amount.
    NegativeMemory,
    /// `Duree secondes` differs from `Fin − Debut` by more than 1 s *and* more than 1 %
    /// of `Fin − Debut`: both, so rounding on short runs and clock jitter on long runs
    /// are not flagged.
    DurationMismatch,
    /// `cpu_time (sec)` is above `Duree secondes`.
    CpuAboveWallTime,
}

impl QualityFlag {
    pub const ALL: [QualityFlag; 3] = [
        QualityFlag::NegativeMemory,
        QualityFlag::DurationMismatch,
        QualityFlag::CpuAboveWallTime,
    ];

    /// The serialized label, also a bounded metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityFlag::NegativeMemory => "negative_memory",
            QualityFlag::DurationMismatch => "duration_mismatch",
            QualityFlag::CpuAboveWallTime => "cpu_above_wall_time",
        }
    }
}

impl fmt::Display for QualityFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of one object, standardized. What `standardized-logs` carries, as JSON.
///
/// `Parametres` is not carried: the connectors only ever write a placeholder there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StandardizedRecord {
    /// `{company}:{sequence_id}:{object_id}`: this run, for de-duplication and tracing.
    pub record_id: String,
    /// `{company}:{source}:{object_id}`: the Kafka key; all runs of one object.
    pub series_key: String,
    /// [`STANDARDIZED_SCHEMA_VERSION`], so a reader can refuse a layout it does not know.
    pub schema_version: String,
    pub sequence_id: String,
    /// Start of the scheduling sequence (`Date_Sequence` + `Heure_Sequence` +
    /// `Minute_Sequence`), read in the configured zone.
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub sequence_time: DateTime<Utc>,
    pub company: String,
    /// The connectors' data-lake zone (`1-Raw`...), *not* a time zone.
    pub zone: String,
    /// Lower-case slug of `Source` (`EasyProjects` → `easyprojects`).
    pub source: String,
    pub object_id: i64,
    pub object_type: String,
    pub transformation: String,
    pub status: Status,
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub start_time: DateTime<Utc>,
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub end_time: DateTime<Utc>,
    /// As reported by the connector (`Duree secondes`); see
    /// [`QualityFlag::DurationMismatch`] for how far it is trusted.
    pub duration_seconds: f64,
    pub cpu_time_seconds: f64,
    pub memory_used_bytes: i64,
    pub description: String,
    /// FAILED runs only: the description, or [`UNKNOWN_ERROR`] when it is blank or the
    /// generic success phrase.
    pub error_message: Option<String>,
    /// FAILED runs only: the class of `error_message`.
    pub error_kind: Option<FailureKind>,
    /// Data-quality problems, each at most once, in [`QualityFlag::ALL`] order; empty
    /// (and allocation-free) for a clean record. A list rather than one bool per flag so
    /// a new flag is a new value, not a new field every reader must know.
    #[serde(default)]
    #[schema(required = true)]
    pub quality: Vec<QualityFlag>,
}

/// Parses, validates and standardizes one raw record from its bytes: the hot path of
/// the standardization service.
pub fn standardize_bytes(
    bytes: &[u8],
    options: &StandardizeOptions,
) -> Result<StandardizedRecord, RecordError> {
    let raw = RawRecord::parse(bytes)?;
    let derived = derive(&raw, options)?;
    // The parsed record is ours: its strings are moved, not copied.
    Ok(assemble(raw, derived))
}

/// Standardizes a validated raw record. It relies on what validation guarantees (keys
/// without `:`, a slug-able source); it still refuses non-finite or negative numbers,
/// which a hand-built record could carry and JSON could not.
pub fn standardize(
    raw: &RawRecord,
    options: &StandardizeOptions,
) -> Result<StandardizedRecord, RecordError> {
    let derived = derive(raw, options)?;
    Ok(assemble(raw.clone(), derived))
}

/// Everything computed from the raw record, as opposed to moved from it.
struct Derived {
    sequence_time: DateTime<Utc>,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    quality: Vec<QualityFlag>,
    failure: Option<(String, FailureKind)>,
}

fn derive(raw: &RawRecord, options: &StandardizeOptions) -> Result<Derived, RecordError> {
    let zone = options.zone;
    // Each check runs even after a failure, so one answer lists every problem.
    let mut errors = Vec::new();
    let sequence_time = NaiveTime::from_hms_opt(raw.sequence_hour, raw.sequence_minute, 0)
        .map(|time| raw.sequence_date.and_time(time))
        .ok_or_else(|| {
            FieldError::new(
                Field::SequenceHour.wire_name(),
                ErrorKind::OutOfRange,
                format!(
                    "expected hour 0-23 and minute 0-59, got {:02}:{:02}",
                    raw.sequence_hour, raw.sequence_minute
                ),
            )
        })
        .and_then(|naive| to_utc(naive, zone, Field::SequenceHour));
    let start_time = to_utc(raw.start, zone, Field::Start);
    let end_time = to_utc(raw.end, zone, Field::End);
    check_seconds(raw.duration_seconds, Field::Duration, &mut errors);
    check_seconds(raw.cpu_time_seconds, Field::CpuTime, &mut errors);

    let (sequence_time, start_time, end_time) = match (sequence_time, start_time, end_time) {
        (Ok(sequence), Ok(start), Ok(end)) if errors.is_empty() => (sequence, start, end),
        (sequence, start, end) => {
            // Wire order, as validation reports them.
            let time_errors = [sequence.err(), start.err(), end.err()];
            errors.splice(0..0, time_errors.into_iter().flatten());
            return Err(RecordError::Invalid(errors));
        }
    };

    Ok(Derived {
        sequence_time,
        start_time,
        end_time,
        quality: quality_flags(raw, end_time - start_time),
        failure: (raw.status == Status::Failed).then(|| failure(&raw.description)),
    })
}

/// Reads a naive time in `zone`. A time skipped or repeated by a clock change (daylight
/// saving, or a zone changing its offset) is refused: picking a reading would silently
/// shift the run.
fn to_utc(naive: NaiveDateTime, zone: Tz, field: Field) -> Result<DateTime<Utc>, FieldError> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(time) => Ok(time.with_timezone(&Utc)),
        LocalResult::None => Err(FieldError::new(
            field.wire_name(),
            ErrorKind::InvalidTimestamp,
            format!(
                "local time {} does not exist in {} (skipped when the clocks went forward); not guessing",
                format_connector_time(&naive),
                zone.name()
            ),
        )),
        LocalResult::Ambiguous(first, second) => Err(FieldError::new(
            field.wire_name(),
            ErrorKind::InvalidTimestamp,
            format!(
                "local time {} is ambiguous in {} (it occurs twice, at {} and {}, as the clocks went back); not guessing",
                format_connector_time(&naive),
                zone.name(),
                first.with_timezone(&Utc).to_rfc3339(),
                second.with_timezone(&Utc).to_rfc3339()
            ),
        )),
    }
}

fn check_seconds(value: f64, field: Field, errors: &mut Vec<FieldError>) {
    if !(value.is_finite() && value >= 0.0) {
        errors.push(FieldError::new(
            field.wire_name(),
            ErrorKind::OutOfRange,
            format!("expected a finite number >= 0, got {value}"),
        ));
    }
}

/// `wall` is `Fin − Debut` between UTC instants, so a run across a daylight-saving
/// change is measured by the time that really elapsed.
fn quality_flags(raw: &RawRecord, wall: chrono::TimeDelta) -> Vec<QualityFlag> {
    let wall = wall.as_seconds_f64();
    let gap = (raw.duration_seconds - wall).abs();
    QualityFlag::ALL
        .into_iter()
        .filter(|flag| match flag {
            QualityFlag::NegativeMemory => raw.memory_used_bytes < 0,
            QualityFlag::DurationMismatch => gap > 1.0 && gap > 0.01 * wall.abs(),
            QualityFlag::CpuAboveWallTime => raw.cpu_time_seconds > raw.duration_seconds,
        })
        .collect()
}

fn failure(description: &str) -> (String, FailureKind) {
    let text = description.trim();
    if text.is_empty() || text.eq_ignore_ascii_case(GENERIC_SUCCESS_PHRASE) {
        (UNKNOWN_ERROR.to_owned(), FailureKind::Other)
    } else {
        (text.to_owned(), FailureKind::classify(text))
    }
}

fn assemble(raw: RawRecord, derived: Derived) -> StandardizedRecord {
    let source = keys::source_slug(&raw.source);
    let (error_message, error_kind) = derived.failure.unzip();
    StandardizedRecord {
        record_id: keys::record_id(&raw.company, &raw.sequence_id, raw.object_id),
        series_key: keys::series_key(&raw.company, &source, raw.object_id),
        schema_version: STANDARDIZED_SCHEMA_VERSION.to_owned(),
        sequence_id: raw.sequence_id,
        sequence_time: derived.sequence_time,
        company: raw.company,
        zone: raw.zone,
        source,
        object_id: raw.object_id,
        object_type: raw.object_type,
        transformation: raw.transformation,
        status: raw.status,
        start_time: derived.start_time,
        end_time: derived.end_time,
        duration_seconds: raw.duration_seconds,
        cpu_time_seconds: raw.cpu_time_seconds,
        memory_used_bytes: raw.memory_used_bytes,
        description: raw.description,
        error_message,
        error_kind,
        quality: derived.quality,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_stand_alone() {
        assert!(contains_code("HTTP 401 Unauthorized", "401"));
        assert!(contains_code("status=429", "429"));
        assert!(contains_code("401", "401"));
        assert!(!contains_code("object 14010 not found", "401"));
        assert!(!contains_code("port=4290", "429"));
        assert!(!contains_code("File \"etl.py\", Line 403, in run", "403"));
        assert!(contains_code("line 12: got 403", "403"));
    }

    #[test]
    fn quoted_identifiers() {
        assert!(is_quoted_identifier("'id'"));
        assert!(is_quoted_identifier("'_created_at2'"));
        assert!(!is_quoted_identifier("''"));
        assert!(!is_quoted_identifier("'"));
        assert!(!is_quoted_identifier("'two words'"));
        assert!(!is_quoted_identifier("'1st'"));
    }
}
