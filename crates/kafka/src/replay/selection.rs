//! Which dead letters a replay takes, and its tally: the pure part of [`super`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Most dead letters one replay re-publishes (and lists) unless the selection says less:
/// their bytes are held until the transaction commits.
pub const DEFAULT_LIMIT: usize = 10_000;
/// The largest `limit` a selection may ask for.
pub const MAX_LIMIT: usize = 100_000;

/// Where a dead letter lies: `{topic}/{partition}/{offset}` in the dead-letter topic. The
/// key of its replay marker, and what `ids` of a [`Selection`] name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeadLetterId {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl fmt::Display for DeadLetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

impl FromStr for DeadLetterId {
    type Err = SelectionError;

    fn from_str(s: &str) -> Result<Self, SelectionError> {
        let bad = || SelectionError::BadId(s.to_owned());
        let mut parts = s.rsplitn(3, '/');
        let offset = parts.next().and_then(|o| o.parse().ok()).ok_or_else(bad)?;
        let partition = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let topic = parts.next().filter(|t| !t.is_empty()).ok_or_else(bad)?;
        Ok(DeadLetterId {
            topic: topic.to_owned(),
            partition,
            offset,
        })
    }
}

/// What a replay needs to know of one dead letter, read from its `dead-letter-*` headers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeadLetterInfo {
    pub id: String,
    pub stage: Option<String>,
    pub kind: Option<String>,
    pub reason: Option<String>,
    /// Where it is re-published: the stage's input it was read from.
    pub source_topic: Option<String>,
    /// `dead-letter-failed-at`, else the record's timestamp.
    pub failed_at: Option<DateTime<Utc>>,
}

/// The dead letters to replay. Every filter given must match (an empty list is no
/// filter); at least one is required, so a replay of everything is never an accident.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Selection {
    /// `dead-letter-error-kind` values.
    pub kinds: Vec<String>,
    /// `dead-letter-stage` values.
    pub stages: Vec<String>,
    /// Failed at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Failed before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Dead letters by [`DeadLetterId`].
    pub ids: Vec<String>,
    /// Re-publish (and list) at most this many; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<usize>,
}

/// A selection that cannot be run; the message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectionError {
    #[error("say which dead letters to replay: give kinds, stages, since, until or ids")]
    Empty,
    #[error("{0:?} is not a dead letter id ({{topic}}/{{partition}}/{{offset}})")]
    BadId(String),
    #[error("since must be before until")]
    EmptyRange,
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    BadLimit,
}

impl Selection {
    /// Checks the selection can be run: at least one filter, ids that parse, a range that
    /// is not empty, a limit within bounds.
    pub fn validate(&self) -> Result<(), SelectionError> {
        if self.kinds.is_empty()
            && self.stages.is_empty()
            && self.since.is_none()
            && self.until.is_none()
            && self.ids.is_empty()
        {
            return Err(SelectionError::Empty);
        }
        for id in &self.ids {
            id.parse::<DeadLetterId>()?;
        }
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                return Err(SelectionError::EmptyRange);
            }
        }
        match self.limit {
            Some(limit) if limit == 0 || limit > MAX_LIMIT => Err(SelectionError::BadLimit),
            _ => Ok(()),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// Whether `dead_letter` is selected. A time filter does not select a dead letter
    /// without a time.
    pub fn matches(&self, dead_letter: &DeadLetterInfo) -> bool {
        let listed = |values: &[String], value: &Option<String>| {
            values.is_empty() || value.as_ref().is_some_and(|v| values.contains(v))
        };
        let after_since = self
            .since
            .is_none_or(|since| dead_letter.failed_at.is_some_and(|at| at >= since));
        let before_until = self
            .until
            .is_none_or(|until| dead_letter.failed_at.is_some_and(|at| at < until));
        listed(&self.kinds, &dead_letter.kind)
            && listed(&self.stages, &dead_letter.stage)
            && (self.ids.is_empty() || self.ids.contains(&dead_letter.id))
            && after_since
            && before_until
    }
}

/// What to do with one selected dead letter; also its `outcome` in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Re-publish it (and list it).
    Replay,
    /// A marker says it was replayed; list it (within the limit) and leave it.
    AlreadyReplayed,
    /// No `dead-letter-source-topic`, or one the replay may not write to.
    Unreplayable,
    /// Past the limit: left for the next replay.
    Left,
}

/// The counts of a replay, as the selected dead letters are met in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub selected: u64,
    /// Re-published by this replay (or, in a dry run, that it would re-publish).
    pub replayed: u64,
    pub already_replayed: u64,
    pub unreplayable: u64,
    /// Selected, not yet replayed, past the limit: a next replay takes them.
    pub left: u64,
    /// Dead letters listed in the answer.
    #[serde(skip)]
    listed: usize,
}

impl Tally {
    /// Counts one selected dead letter and says what to do with it; at most `limit` are
    /// replayed and at most `limit` listed.
    pub fn decide(&mut self, already: bool, replayable: bool, limit: usize) -> Decision {
        self.selected += 1;
        if already {
            self.already_replayed += 1;
            Decision::AlreadyReplayed
        } else if !replayable {
            self.unreplayable += 1;
            Decision::Unreplayable
        } else if (self.replayed as usize) < limit {
            self.replayed += 1;
            Decision::Replay
        } else {
            self.left += 1;
            Decision::Left
        }
    }

    /// Whether to list one more dead letter in the answer (at most `limit`).
    pub fn list(&mut self, limit: usize) -> bool {
        let room = self.listed < limit;
        if room {
            self.listed += 1;
        }
        room
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn letter(id: &str, kind: &str, failed_at: Option<&str>) -> DeadLetterInfo {
        DeadLetterInfo {
            id: id.into(),
            stage: Some("standardization".into()),
            kind: Some(kind.into()),
            reason: None,
            source_topic: Some("raw-logs".into()),
            failed_at: failed_at.map(at),
        }
    }

    #[test]
    fn ids_read_back_what_they_print_and_topics_may_hold_dots_and_dashes() {
        let id: DeadLetterId = "dead-letters.v2/0/1234".parse().unwrap();
        assert_eq!(id.topic, "dead-letters.v2");
        assert_eq!((id.partition, id.offset), (0, 1234));
        assert_eq!(id.to_string(), "dead-letters.v2/0/1234");
        for bad in [
            "",
            "dead-letters",
            "dead-letters/0",
            "/0/1",
            "t/x/1",
            "t/0/y",
        ] {
            assert!(bad.parse::<DeadLetterId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_selection_needs_a_filter_sound_ids_a_range_and_a_limit() {
        assert_eq!(Selection::default().validate(), Err(SelectionError::Empty));
        let kinds = Selection {
            kinds: vec!["malformed_json".into()],
            ..Selection::default()
        };
        assert_eq!(kinds.validate(), Ok(()));
        let bad_id = Selection {
            ids: vec!["dead-letters/0".into()],
            ..Selection::default()
        };
        assert!(matches!(bad_id.validate(), Err(SelectionError::BadId(_))));
        let backwards = Selection {
            since: Some(at("2026-01-02T00:00:00Z")),
            until: Some(at("2026-01-01T00:00:00Z")),
            ..Selection::default()
        };
        assert_eq!(backwards.validate(), Err(SelectionError::EmptyRange));
        for limit in [0, MAX_LIMIT + 1] {
            let selection = Selection {
                limit: Some(limit),
                ..kinds.clone()
            };
            assert_eq!(selection.validate(), Err(SelectionError::BadLimit));
        }
    }

    #[test]
    fn every_filter_given_must_match() {
        let a = letter("dl/0/1", "malformed_json", Some("2026-01-01T10:00:00Z"));
        let b = letter("dl/0/2", "unknown_status", Some("2026-01-01T12:00:00Z"));
        let timeless = letter("dl/0/3", "malformed_json", None);
        let pick = |selection: Selection| -> Vec<String> {
            [&a, &b, &timeless]
                .into_iter()
                .filter(|d| selection.matches(d))
                .map(|d| d.id.clone())
                .collect()
        };
        let kinds = Selection {
            kinds: vec!["malformed_json".into()],
            ..Selection::default()
        };
        assert_eq!(pick(kinds.clone()), ["dl/0/1", "dl/0/3"]);
        let since = Selection {
            since: Some(at("2026-01-01T11:00:00Z")),
            ..Selection::default()
        };
        assert_eq!(pick(since), ["dl/0/2"]);
        let until = Selection {
            until: Some(at("2026-01-01T12:00:00Z")),
            ..Selection::default()
        };
        assert_eq!(pick(until), ["dl/0/1"], "until is exclusive");
        let kind_and_range = Selection {
            since: Some(at("2026-01-01T11:00:00Z")),
            ..kinds
        };
        assert!(pick(kind_and_range).is_empty());
        let ids = Selection {
            ids: vec!["dl/0/2".into(), "dl/0/3".into()],
            ..Selection::default()
        };
        assert_eq!(pick(ids), ["dl/0/2", "dl/0/3"]);
        let stage = Selection {
            stages: vec!["processing".into()],
            ..Selection::default()
        };
        assert!(pick(stage).is_empty());
    }

    #[test]
    fn the_tally_replays_up_to_the_limit_and_counts_the_rest() {
        let mut tally = Tally::default();
        let decisions: Vec<Decision> = [
            (false, true),
            (true, true),
            (false, false),
            (false, true),
            (false, true),
        ]
        .into_iter()
        .map(|(already, replayable)| tally.decide(already, replayable, 2))
        .collect();
        assert_eq!(
            decisions,
            [
                Decision::Replay,
                Decision::AlreadyReplayed,
                Decision::Unreplayable,
                Decision::Replay,
                Decision::Left,
            ]
        );
        assert_eq!(
            (
                tally.selected,
                tally.replayed,
                tally.already_replayed,
                tally.unreplayable,
                tally.left
            ),
            (5, 2, 1, 1, 1)
        );
        assert!(tally.list(2) && tally.list(2) && !tally.list(2));
    }
}
