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
