//! What a Kafka record of the trace's topics says of its run, read at the least cost:
//! the hops before it by its `position` headers (the stages carry them: `raw-logs` and
//! `standardized-logs` are never read), dead letters by their `dead-letter-*` headers,
//! processed records by the fields the views read of them ([`ProcessedFields`]).

use super::index::{Hop, Refusal, RuleSet, Scores, Sighting};
use crate::processed::ProcessedFields;
use chrono::DateTime;
use obs_kafka::dead_letter;
use obs_kafka::headers::{Position, INGESTED_AT, RECORD_ID};
use obs_kafka::TopicsConfig;
use rdkafka::message::Headers;
use rdkafka::Message;

/// Longest text kept of a dead letter's reason, stage or error type (cut at a character
/// boundary): part of the index's memory bound.
pub const MAX_REFUSAL_TEXT_BYTES: usize = 256;

/// A record the trace cannot read; the reader counts and skips it.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableRecord {
    #[error("no {RECORD_ID} header in UTF-8")]
    NoRecordId,
    #[error("no timestamp")]
    NoTimestamp,
}

/// The topics the trace follows, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceTopics {
    pub raw_logs: String,
    pub standardized_logs: String,
    pub dead_letters: String,
    pub processed_metrics: String,
}

impl TraceTopics {
    pub fn of(topics: &TopicsConfig) -> TraceTopics {
        TraceTopics {
            raw_logs: topics.raw_logs.name.clone(),
            standardized_logs: topics.standardized_logs.name.clone(),
            dead_letters: topics.dead_letters.name.clone(),
            processed_metrics: topics.processed_metrics.name.clone(),
        }
    }

    /// The topics the trace reads: where records leave the pipeline. The hops before are
    /// read from their `position` headers.
    pub fn names(&self) -> Vec<String> {
        vec![self.processed_metrics.clone(), self.dead_letters.clone()]
    }

    /// The record id of the processed record `message`, whose `fields` were read, and
    /// every stage it says that record went through.
    pub fn processed<'m, M: Message>(
        &self,
        message: &'m M,
        fields: &ProcessedFields<'_>,
    ) -> Result<(&'m str, Vec<Sighting>), UnreadableRecord> {
        let (record_id, here) = here(message)?;
        let mut sightings = self.earlier_hops(message);
        sightings.push(Sighting::Processed(here, scores(fields)));
        Ok((record_id, sightings))
    }

    /// The record id of the dead letter `message` and every stage it says that record
    /// went through; `None` for a dead letter the trace does not follow: of a record that
    /// is not a run (an application log event, an incident signal).
    pub fn dead_lettered<'m, M: Message>(
        &self,
        message: &'m M,
    ) -> Result<Option<(&'m str, Vec<Sighting>)>, UnreadableRecord> {
        let header = |name: &str| header(message, name);
        let source = header(dead_letter::SOURCE_TOPIC);
        let of_a_run = [&self.raw_logs, &self.standardized_logs]
            .iter()
            .any(|name| source == Some(name.as_bytes()));
        if !of_a_run {
            return Ok(None);
        }
        let (record_id, here) = here(message)?;
        let text = |name: &str| bounded(header(name).unwrap_or_default());
        let refusal = Refusal {
            stage_of_failure: text(dead_letter::STAGE),
            reason: text(dead_letter::REASON),
            error_type: text(dead_letter::ERROR_KIND),
        };
        let mut sightings = self.earlier_hops(message);
        sightings.push(Sighting::DeadLettered(here, refusal));
        Ok(Some((record_id, sightings)))
    }

    /// The hops before `message`'s, from its `position` headers: accepted by ingestion
    /// (at its `ingested-at`, else the raw record's timestamp) and standardized.
    fn earlier_hops<M: Message>(&self, message: &M) -> Vec<Sighting> {
        let ingested_at = header(message, INGESTED_AT)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|at| at.timestamp_millis());
        let mut hops = Vec::with_capacity(3);
        let Some(headers) = message.headers() else {
            return hops;
        };
        for position in Position::all_in(headers) {
            let hop = |at_ms: Option<i64>| {
                at_ms.map(|at_ms| Hop {
                    at_ms,
                    offset: position.offset,
                    partition: position.partition,
                })
            };
            if position.topic == self.raw_logs {
                hops.extend(hop(ingested_at.or(position.timestamp_ms)).map(Sighting::Ingested));
            } else if position.topic == self.standardized_logs {
                hops.extend(hop(position.timestamp_ms).map(Sighting::Standardized));
            }
        }
        hops
    }
}

/// The record id of `message` and where it is: its partition, offset and timestamp.
fn here<M: Message>(message: &M) -> Result<(&str, Hop), UnreadableRecord> {
    let record_id = header(message, RECORD_ID)
        .and_then(|v| std::str::from_utf8(v).ok())
        .ok_or(UnreadableRecord::NoRecordId)?;
    let hop = Hop {
        at_ms: message
            .timestamp()
            .to_millis()
            .ok_or(UnreadableRecord::NoTimestamp)?,
        offset: message.offset(),
        partition: message.partition(),
    };
    Ok((record_id, hop))
}

/// The scores the trace shows of a processed record.
fn scores(fields: &ProcessedFields<'_>) -> Scores {
    let mut rule_hits = RuleSet::default();
    for hit in &fields.rule_hits {
        rule_hits.insert(hit.rule);
    }
    Scores {
        efficiency_score: fields.efficiency_score,
        detector_score: fields.detector.as_ref().and_then(|d| d.score),
        rule_hits,
        severity: fields.severity,
        anomalous: fields.anomalous,
        alerts: fields.alerts(),
    }
}

/// The value of the first header `name` of `message`.
fn header<'m, M: Message>(message: &'m M, name: &str) -> Option<&'m [u8]> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
}

/// `text` as UTF-8 (invalid sequences replaced), at most [`MAX_REFUSAL_TEXT_BYTES`].
fn bounded(text: &[u8]) -> Box<str> {
    let text = String::from_utf8_lossy(text);
    let mut end = text.len().min(MAX_REFUSAL_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use obs_detector::anomaly::{Assessment, DetectorKind, DetectorScores, Explanation};
    use obs_detector::{ProcessedRecord, RuleKind, RulesConfig, Severity, Verdict};
    use obs_kafka::headers::POSITION;
    use obs_records::standardize::{standardize_bytes, StandardizeOptions};
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    const SEED: &str = include_str!("../../../../tests/fixtures/seed-logs.json");

    fn topics() -> TraceTopics {
        TraceTopics::of(&TopicsConfig::default())
    }

    fn message(topic: &str, headers: &[(&str, &str)], payload: &[u8]) -> OwnedMessage {
        let headers = headers
            .iter()
            .fold(OwnedHeaders::new(), |all, (key, value)| {
                all.insert(Header {
                    key,
                    value: Some(*value),
                })
            });
        OwnedMessage::new(
            Some(payload.to_vec()),
            None,
            topic.into(),
            Timestamp::CreateTime(1_757_090_727_500),
            2,
            41,
            Some(headers),
        )
    }

    /// The sightings of a processed record, its fields read as the views' follower does.
    fn read_processed(
        t: &TraceTopics,
        m: &OwnedMessage,
    ) -> Result<(String, Vec<Sighting>), UnreadableRecord> {
        let fields = ProcessedFields::read(m.payload().unwrap()).unwrap();
        t.processed(m, &fields)
            .map(|(id, sightings)| (id.to_string(), sightings))
    }

    fn hop(at_ms: i64) -> Hop {
        Hop {
            at_ms,
            offset: 41,
            partition: 2,
        }
    }

    fn position(topic: &str, partition: i32, offset: i64, at: Option<i64>) -> String {
        Position {
            topic,
            partition,
            offset,
            timestamp_ms: at,
        }
        .encode()
    }

    #[test]
    fn the_hops_before_are_read_from_the_position_headers() {
        let t = topics();
        let raw = position(&t.raw_logs, 5, 900, Some(1_757_090_727_200));
        let standardized = position(&t.standardized_logs, 1, 70, Some(1_757_090_727_300));
        let elsewhere = position("some-other-topic", 0, 1, Some(1));
        let payload = serde_json::to_vec(&processed("SUCCESS", 5_517_312, None)).unwrap();
        let headers = [
            (RECORD_ID, "akonovia:2025-09-05-16-45:1995"),
            (INGESTED_AT, "2025-09-05T16:45:27.123Z"),
            (POSITION, raw.as_str()),
            (POSITION, elsewhere.as_str()),
            (POSITION, standardized.as_str()),
        ];
        let m = message(&t.processed_metrics, &headers, &payload);
        let (id, sightings) = read_processed(&t, &m).unwrap();
        assert_eq!(id, "akonovia:2025-09-05-16-45:1995");
        let [Sighting::Ingested(ingested), Sighting::Standardized(standardized), Sighting::Processed(processed, _)] =
            &sightings[..]
        else {
            panic!("three hops: {sightings:?}");
        };
        let at = |at_ms, partition, offset| Hop {
            at_ms,
            partition,
            offset,
        };
        assert_eq!(*ingested, at(1_757_090_727_123, 5, 900), "at ingested-at");
        assert_eq!(*standardized, at(1_757_090_727_300, 1, 70));
        assert_eq!(*processed, hop(1_757_090_727_500), "the Kafka timestamp");

        let unreadable_time = [
            (RECORD_ID, "a"),
            (INGESTED_AT, "noon"),
            (POSITION, raw.as_str()),
        ];
        let m = message(&t.processed_metrics, &unreadable_time, &payload);
        let (_, sightings) = read_processed(&t, &m).unwrap();
        assert_eq!(
            sightings[0],
            Sighting::Ingested(at(1_757_090_727_200, 5, 900)),
            "the raw record's timestamp"
        );
        let anonymous = message(&t.processed_metrics, &[(POSITION, raw.as_str())], &payload);
        assert!(matches!(
            read_processed(&t, &anonymous),
            Err(UnreadableRecord::NoRecordId)
        ));
    }

    #[test]
    fn dead_letters_of_runs_say_why_and_others_are_not_followed() {
        let t = topics();
        let long_reason = "é".repeat(MAX_REFUSAL_TEXT_BYTES);
        let dead = message(
            &t.dead_letters,
            &[
                (RECORD_ID, "a:1"),
                (dead_letter::STAGE, "standardization"),
                (dead_letter::ERROR_KIND, "missing_field"),
                (dead_letter::REASON, &long_reason),
                (dead_letter::SOURCE_TOPIC, &t.raw_logs),
            ],
            b"{\"Entreprise\": \"akonovia\"}",
        );
        let Some(("a:1", sightings)) = t.dead_lettered(&dead).unwrap() else {
            panic!("a dead letter of a run");
        };
        let [Sighting::DeadLettered(at, refusal)] = &sightings[..] else {
            panic!("no hop before: {sightings:?}");
        };
        let at = *at;
        assert_eq!(at, hop(1_757_090_727_500));
        assert_eq!(&*refusal.stage_of_failure, "standardization");
        assert_eq!(&*refusal.error_type, "missing_field");
        assert_eq!(
            refusal.reason.len(),
            MAX_REFUSAL_TEXT_BYTES,
            "cut between characters"
        );
        assert!(long_reason.starts_with(&*refusal.reason));
        let of_an_event = message(
            &t.dead_letters,
            &[
                (RECORD_ID, "5f0e3c2a9b1d4e6f"),
                (dead_letter::SOURCE_TOPIC, "app-logs"),
            ],
            b"",
        );
        assert_eq!(t.dead_lettered(&of_an_event).unwrap(), None);
    }

    fn processed(status: &str, memory: i64, verdict: Option<Verdict>) -> ProcessedRecord {
        let mut run: serde_json::Value =
            serde_json::from_str(SEED.lines().next().unwrap()).unwrap();
        run["Etat"] = status.into();
        run["memory_used (bytes)"] = memory.into();
        let record =
            standardize_bytes(run.to_string().as_bytes(), &StandardizeOptions::default()).unwrap();
        let processed = ProcessedRecord::score(record, &RulesConfig::default(), chrono::Utc::now());
        match verdict {
            Some(verdict) => processed.with_detector(Ok(verdict)),
            None => processed,
        }
    }

    fn scored(score: f64, severity: Option<Severity>, predictive_alert: bool) -> Verdict {
        Verdict::Scored(Assessment {
            score,
            surprise: score * 3.5,
            severity,
            detectors: DetectorScores::default(),
            explanation: Explanation {
                detector: DetectorKind::ZScore,
                metric: "duration_seconds".into(),
                value: 1.0,
                baseline: 0.5,
                z: 4.0,
                surprise: 3.0,
            },
            outage_probability: 0.1,
            predictive_alert,
        })
    }

    #[test]
    fn processed_records_give_their_scores_and_as_many_alerts_as_they_raised() {
        let t = topics();
        let cases = [
            processed("SUCCESS", 5_517_312, None),
            processed("FAILED", -1, None),
            processed(
                "SUCCESS",
                5_517_312,
                Some(Verdict::InsufficientHistory {
                    seen: 3,
                    required: 100,
                }),
            ),
            processed("SUCCESS", 5_517_312, Some(scored(0.2, None, false))),
            processed("SUCCESS", 5_517_312, Some(scored(0.3, None, true))),
            processed(
                "FAILED",
                5_517_312,
                Some(scored(0.9, Some(Severity::Critical), false)),
            ),
        ];
        for record in cases {
            let payload = serde_json::to_vec(&record).unwrap();
            let m = message(&t.processed_metrics, &[(RECORD_ID, "a:1")], &payload);
            let (_, mut sightings) = read_processed(&t, &m).unwrap();
            let Some(Sighting::Processed(at, scores)) = sightings.pop() else {
                panic!("a processed record");
            };
            assert_eq!(at, hop(1_757_090_727_500));
            assert_eq!(
                usize::from(scores.alerts),
                record.alerts().len(),
                "{record:?}"
            );
            assert_eq!(scores.anomalous, record.anomalous);
            assert_eq!(scores.severity, record.severity);
            assert_eq!(scores.efficiency_score, record.metrics.efficiency_score);
            assert_eq!(
                scores.detector_score,
                record.detector.as_ref().and_then(Verdict::score)
            );
            let mut rules: Vec<RuleKind> = record.rule_hits.iter().map(|h| h.rule).collect();
            rules.sort();
            assert_eq!(scores.rule_hits.rules().collect::<Vec<_>>(), rules);
        }
    }
}
