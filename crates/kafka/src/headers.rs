//! Headers carried by every record, from ingestion to the alerts.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use std::fmt;

pub const RECORD_ID: &str = "record-id";
pub const SCHEMA_VERSION: &str = "schema-version";
pub const CONTENT_TYPE: &str = "content-type";
pub const INGESTED_AT: &str = "ingested-at";
pub const TRACEPARENT: &str = "traceparent";
/// Where a record's input was read, one header per hop, oldest first: each stage's
/// outputs (and dead letters) carry the positions of the records they came from, so a
/// reader of the last topic knows the whole path without reading the topics before it.
pub const POSITION: &str = "position";
/// The stage that wrote the record (its name), set by the stage's commit thread on every
/// record of its transactions and never carried over to the next hop: the views count
/// only what the stage they follow wrote, not what anyone else put on its topic.
pub const PRODUCED_BY: &str = "produced-by";

/// The last `produced-by` header of `headers`, if any.
pub fn produced_by<H: Headers>(headers: Option<&H>) -> Option<&[u8]> {
    headers?
        .iter()
        .filter(|h| h.key == PRODUCED_BY)
        .last()
        .and_then(|h| h.value)
}

/// The headers of the guide: `record-id`, `schema-version`, `content-type`, `ingested-at`
/// (RFC 3339 UTC, milliseconds) and a W3C `traceparent`, so one run can be followed across
/// services and the end-to-end latency measured from its arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordHeaders {
    pub record_id: String,
    pub schema_version: String,
    pub content_type: String,
    pub ingested_at: DateTime<Utc>,
    pub traceparent: TraceParent,
}

impl RecordHeaders {
    pub fn to_kafka(&self) -> OwnedHeaders {
        let ingested_at = self
            .ingested_at
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let traceparent = self.traceparent.encode();
        OwnedHeaders::new_with_capacity(5)
            .insert(header(RECORD_ID, &self.record_id))
            .insert(header(SCHEMA_VERSION, &self.schema_version))
            .insert(header(CONTENT_TYPE, &self.content_type))
            .insert(header(INGESTED_AT, &ingested_at))
            .insert(Header {
                key: TRACEPARENT,
                value: Some(&traceparent[..]),
            })
    }

    /// Reads the headers back; `None` names the first header that is missing or unreadable.
    pub fn from_kafka<H: Headers>(headers: &H) -> Result<RecordHeaders, &'static str> {
        let text = |name: &'static str| -> Result<String, &'static str> {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
                .ok_or(name)
        };
        Ok(RecordHeaders {
            record_id: text(RECORD_ID)?,
            schema_version: text(SCHEMA_VERSION)?,
            content_type: text(CONTENT_TYPE)?,
            ingested_at: DateTime::parse_from_rfc3339(&text(INGESTED_AT)?)
                .map_err(|_| INGESTED_AT)?
                .with_timezone(&Utc),
            traceparent: text(TRACEPARENT)?.parse().map_err(|_| TRACEPARENT)?,
        })
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// A record's place in Kafka: `{topic}/{partition}/{offset}/{timestamp ms}` as a
/// [`POSITION`] header (topic names cannot hold a `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// The record's Kafka timestamp, when it had one.
    pub timestamp_ms: Option<i64>,
}

impl<'a> Position<'a> {
    pub fn encode(&self) -> String {
        let Position {
            topic,
            partition,
            offset,
            timestamp_ms,
        } = self;
        match timestamp_ms {
            Some(at) => format!("{topic}/{partition}/{offset}/{at}"),
            None => format!("{topic}/{partition}/{offset}/"),
        }
    }

    /// Reads a [`POSITION`] header's value; `None` when it is not one.
    pub fn parse(value: &'a [u8]) -> Option<Position<'a>> {
        let text = std::str::from_utf8(value).ok()?;
        let mut parts = text.rsplitn(4, '/');
        let timestamp = parts.next()?;
        let offset = parts.next()?.parse().ok()?;
        let partition = parts.next()?.parse().ok()?;
        let topic = parts.next().filter(|t| !t.is_empty() && !t.contains('/'))?;
        let timestamp_ms = match timestamp {
            "" => None,
            t => Some(t.parse().ok()?),
        };
        Some(Position {
            topic,
            partition,
            offset,
            timestamp_ms,
        })
    }

    /// Every [`POSITION`] header of `headers` that reads, oldest hop first.
    pub fn all_in<H: Headers>(headers: &'a H) -> impl Iterator<Item = Position<'a>> + 'a {
        headers
            .iter()
            .filter(|h| h.key == POSITION)
            .filter_map(|h| h.value.and_then(Position::parse))
    }
}

/// W3C trace context `traceparent`: `00-{trace id}-{parent span id}-{flags}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl TraceParent {
    /// A new trace (one run = one trace when the client sent none).
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        TraceParent {
            trace_id: u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()).max(1),
            span_id: rng.next_u64().max(1),
            sampled: true,
        }
    }

    /// A new span in the same trace (the next hop of the record).
    pub fn child(&self) -> Self {
        TraceParent {
            span_id: rand::rng().next_u64().max(1),
            ..*self
        }
    }
}

impl TraceParent {
    /// Length of the header text.
    pub const LEN: usize = 55;

    /// The header text, written without the formatting machinery: every record gets a new
    /// one at every hop.
    pub fn encode(&self) -> [u8; Self::LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; Self::LEN];
        text[..2].copy_from_slice(b"00");
        for (i, digit) in text[3..35].iter_mut().enumerate() {
            *digit = HEX[(self.trace_id >> (124 - 4 * i) & 0xf) as usize];
        }
        for (i, digit) in text[36..52].iter_mut().enumerate() {
            *digit = HEX[(self.span_id >> (60 - 4 * i) & 0xf) as usize];
        }
        text[53] = b'0';
        text[54] = if self.sampled { b'1' } else { b'0' };
        text
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.encode();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// A `traceparent` that does not follow the W3C format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent (expected 00-<32 hex>-<16 hex>-<2 hex>)")]
pub struct InvalidTraceParent;

impl std::str::FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().as_bytes();
        if text.len() != Self::LEN || &text[..3] != b"00-" || text[35] != b'-' || text[52] != b'-' {
            return Err(InvalidTraceParent);
        }
        let trace_id = hex(&text[3..35]).ok_or(InvalidTraceParent)?;
        let span_id = hex(&text[36..52]).ok_or(InvalidTraceParent)? as u64;
        let flags = hex(&text[53..55]).ok_or(InvalidTraceParent)?;
        if trace_id == 0 || span_id == 0 {
            return Err(InvalidTraceParent);
        }
        Ok(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

/// The value of at most 32 hex digits; `None` if any is not one.
fn hex(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |value, &digit| {
        Some(value << 4 | u128::from(char::from(digit).to_digit(16)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn positions_round_trip_and_bad_ones_are_refused() {
        let at = Position {
            topic: "raw-logs.v1_x",
            partition: 3,
            offset: 1234,
            timestamp_ms: Some(1_757_090_727_500),
        };
        assert_eq!(at.encode(), "raw-logs.v1_x/3/1234/1757090727500");
        assert_eq!(Position::parse(at.encode().as_bytes()), Some(at));
        let untimed = Position {
            timestamp_ms: None,
            ..at
        };
        assert_eq!(Position::parse(untimed.encode().as_bytes()), Some(untimed));
        for bad in [
            "",
            "t/1/2",
            "/1/2/3",
            "t/x/2/3",
            "t/1/x/3",
            "t/1/2/x",
            "a/b/1/2/3",
        ] {
            assert_eq!(Position::parse(bad.as_bytes()), None, "{bad}");
        }
        let all = OwnedHeaders::new()
            .insert(header(POSITION, "raw/0/5/10"))
            .insert(header(RECORD_ID, "r"))
            .insert(header(POSITION, "garbage"))
            .insert(header(POSITION, "std/1/7/"));
        let read: Vec<_> = Position::all_in(&all).map(|p| p.encode()).collect();
        assert_eq!(read, ["raw/0/5/10", "std/1/7/"]);
    }

    proptest! {
        #[test]
        fn any_position_round_trips(
            topic in "[a-zA-Z0-9._-]{1,40}",
            partition in 0..i32::MAX,
            offset in 0..i64::MAX,
            timestamp_ms in proptest::option::of(any::<i64>()),
        ) {
            let at = Position { topic: &topic, partition, offset, timestamp_ms };
            let text = at.encode();
            prop_assert_eq!(Position::parse(text.as_bytes()), Some(at));
        }
    }

    #[test]
    fn traceparent_round_trips_and_children_keep_the_trace() {
        let root = TraceParent::new_root();
        let text = root.to_string();
        assert_eq!(text.len(), 55);
        assert_eq!(text.parse::<TraceParent>().unwrap(), root);
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
    }

    #[test]
    fn rejects_malformed_traceparents() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01",
            "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad}");
        }
        let ok: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap();
        assert!(ok.sampled);
        assert_eq!(ok.trace_id, 0x0af7651916cd43dd8448eb211c80319c);
        assert_eq!(ok.span_id, 0xb7ad6b7169203331);
        assert_eq!(
            ok.to_string(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        let unsampled = TraceParent {
            sampled: false,
            ..ok
        };
        assert!(unsampled.to_string().ends_with("-00"));
    }

    #[test]
    fn headers_round_trip_through_kafka_headers() {
        let headers = RecordHeaders {
            record_id: "akonovia:2025-09-05-16-45:1995".into(),
            schema_version: "raw-v1".into(),
            content_type: "application/json".into(),
            ingested_at: DateTime::parse_from_rfc3339("2026-11-21T07:43:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            traceparent: TraceParent::new_root(),
        };
        let kafka = headers.to_kafka();
        assert_eq!(kafka.count(), 5);
        assert_eq!(RecordHeaders::from_kafka(&kafka).unwrap(), headers);
        let partial = OwnedHeaders::new().insert(header(RECORD_ID, "x"));
        assert_eq!(RecordHeaders::from_kafka(&partial), Err(SCHEMA_VERSION));
    }
}
