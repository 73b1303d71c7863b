//! The outputs of a batch, written into one buffer that the loop reuses batch after batch.
//!
//! A record's key, headers and payload are ranges of that buffer, not allocations of their
//! own: an owned key, payload and librdkafka header list per record cost a handful of
//! allocations in the loop, each freed later by the commit thread (about a tenth of a
//! stage's CPU). The commit thread builds librdkafka's headers from the buffer as it sends,
//! while the loop works on the next batch.

use super::input::InputRecord;
use crate::headers::TraceParent;
use crate::headers::{POSITION, PRODUCED_BY, SCHEMA_VERSION, TRACEPARENT};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use std::ops::Range;
use std::sync::Arc;

/// The outputs of one batch, in the order they were written.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Keys, encoded headers and payloads, one record after the other.
    bytes: Vec<u8>,
    records: Vec<Span>,
}

/// Where one record lies in [`Outputs::bytes`].
#[derive(Debug)]
struct Span {
    topic: Arc<str>,
    partition: Option<i32>,
    key: Option<Range<usize>>,
    /// Encoded as `key length (u16 LE), key, value length (u32 LE, u32::MAX: no value),
    /// value`, header after header.
    headers: Range<usize>,
    payload: Range<usize>,
}

const NO_VALUE: u32 = u32::MAX;

impl Outputs {
    /// Starts a record to `topic`: add its headers, then finish it with its payload.
    pub fn record(&mut self, topic: &Arc<str>, key: Option<&[u8]>) -> OutputWriter<'_> {
        let key = key.map(|key| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(key);
            start..self.bytes.len()
        });
        OutputWriter {
            headers_start: self.bytes.len(),
            topic: topic.clone(),
            partition: None,
            key,
            outputs: self,
        }
    }

    /// Forgets the records, keeping the buffers for the next batch.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = Output<'_>> {
        self.records.iter().map(|span| Output {
            topic: &span.topic,
            partition: span.partition,
            key: span.key.clone().map(|key| &self.bytes[key]),
            headers: &self.bytes[span.headers.clone()],
            payload: &self.bytes[span.payload.clone()],
        })
    }
}

/// One record of [`Outputs`], being written; nothing is kept until its payload is given.
#[must_use = "a record is only kept once its payload is given"]
pub struct OutputWriter<'a> {
    outputs: &'a mut Outputs,
    topic: Arc<str>,
    partition: Option<i32>,
    key: Option<Range<usize>>,
    headers_start: usize,
}

impl OutputWriter<'_> {
    /// Sends the record to `partition` rather than to the partitioner's choice: state kept
    /// per input partition goes to the same-numbered partition of its topic.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header.
    pub fn header(self, key: &str, value: Option<&[u8]>) -> Self {
        let bytes = &mut self.outputs.bytes;
        // Header names are short constants; a longer one is cut rather than mis-encoded.
        let key = &key.as_bytes()[..key.len().min(usize::from(u16::MAX))];
        bytes.extend_from_slice(&(key.len() as u16).to_le_bytes());
        bytes.extend_from_slice(key);
        match value {
            Some(value) => {
                let value = &value[..value.len().min(NO_VALUE as usize - 1)];
                bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
                bytes.extend_from_slice(value);
            }
            None => bytes.extend_from_slice(&NO_VALUE.to_le_bytes()),
        }
        self
    }

    /// Every header of `input`, as they are, but `produced-by` (the commit thread sets
    /// this stage's own).
    pub fn input_headers(mut self, input: &InputRecord<'_>) -> Self {
        if let Some(headers) = input.headers {
            for header in headers.iter().filter(|h| h.key != PRODUCED_BY) {
                self = self.header(header.key, header.value);
            }
        }
        self
    }

    /// A [`POSITION`] header saying where `input` was read.
    pub fn position_of(self, input: &InputRecord<'_>) -> Self {
        let position = input.position().encode();
        self.header(POSITION, Some(position.as_bytes()))
    }

    /// The headers of `input`'s output at the next hop: its headers (`record-id`,
    /// `ingested-at`, `content-type`, the positions of earlier hops... carry over) with
    /// `schema-version` set to `schema_version`, the next span of its trace (a new trace
    /// when it had none) and `input`'s own position.
    pub fn next_hop_headers(mut self, input: &InputRecord<'_>, schema_version: &str) -> Self {
        let trace = input
            .header(TRACEPARENT)
            .and_then(|t| t.parse::<TraceParent>().ok())
            .map_or_else(TraceParent::new_root, |t| t.child())
            .encode();
        if let Some(headers) = input.headers {
            for header in headers.iter() {
                if ![SCHEMA_VERSION, TRACEPARENT, PRODUCED_BY].contains(&header.key) {
                    self = self.header(header.key, header.value);
                }
            }
        }
        self.header(SCHEMA_VERSION, Some(schema_version.as_bytes()))
            .header(TRACEPARENT, Some(&trace))
            .position_of(input)
    }

    /// Keeps the record with `value` as its JSON payload. Serializing strings, numbers and
    /// timestamps cannot fail; a value that does yields an empty payload.
    pub fn json<T: serde::Serialize>(self, value: &T) {
        let payload_start = self.outputs.bytes.len();
        if serde_json::to_writer(&mut self.outputs.bytes, value).is_err() {
            self.outputs.bytes.truncate(payload_start);
        }
        self.finish(payload_start);
    }

    /// Keeps the record with `payload` as it is.
    pub fn payload(self, payload: &[u8]) {
        let payload_start = self.outputs.bytes.len();
        self.outputs.bytes.extend_from_slice(payload);
        self.finish(payload_start);
    }

    fn finish(self, payload_start: usize) {
        let outputs = self.outputs;
        outputs.records.push(Span {
            topic: self.topic,
            partition: self.partition,
            key: self.key,
            headers: self.headers_start..payload_start,
            payload: payload_start..outputs.bytes.len(),
        });
    }
}

/// One record of a batch, borrowed from its [`Outputs`].
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    pub topic: &'a Arc<str>,
    /// Set when the record goes to a partition of the writer's choice.
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    headers: &'a [u8],
}

impl<'a> Output<'a> {
    /// The headers, in the order they were added.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> {
        let mut rest = self.headers;
        std::iter::from_fn(move || {
            let (key, after) = take(rest, read_u16(rest)?.into(), 2)?;
            let length = read_u32(after)?;
            let (value, after) = if length == NO_VALUE {
                (None, after.get(4..)?)
            } else {
                let (value, after) = take(after, length as usize, 4)?;
                (Some(value), after)
            };
            rest = after;
            // Written from a `&str`: always UTF-8.
            Some((std::str::from_utf8(key).ok()?, value))
        })
    }

    /// The headers for librdkafka.
    /// The record's headers for librdkafka, with `produced-by: stage` last.
    pub fn kafka_headers(&self, stage: &str) -> OwnedHeaders {
        self.headers()
            .fold(
                OwnedHeaders::new_with_capacity(8),
                |headers, (key, value)| headers.insert(Header { key, value }),
            )
            .insert(Header {
                key: PRODUCED_BY,
                value: Some(stage),
            })
    }
}

fn read_u16(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// The `length` bytes after a `prefix`-byte length field, and what follows them.
fn take(bytes: &[u8], length: usize, prefix: usize) -> Option<(&[u8], &[u8])> {
    let end = prefix.checked_add(length)?;
    Some((bytes.get(prefix..end)?, bytes.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::INGESTED_AT;
    use proptest::prelude::*;
    use rdkafka::message::{BorrowedHeaders, OwnedMessage, Timestamp};
    use rdkafka::Message;

    fn message_with(headers: OwnedHeaders) -> OwnedMessage {
        OwnedMessage::new(
            Some(b"{}".to_vec()),
            Some(b"k".to_vec()),
            "in".into(),
            Timestamp::NotAvailable,
            0,
            7,
            Some(headers),
        )
    }

    fn input<'a>(
        message: &'a OwnedMessage,
        headers: Option<&'a BorrowedHeaders>,
    ) -> InputRecord<'a> {
        InputRecord {
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key(),
            payload: message.payload(),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        }
    }

    proptest! {
        #[test]
        fn records_read_back_as_written(
            records in prop::collection::vec((
                prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
                prop::collection::vec(("[a-z-]{0,12}", prop::option::of(prop::collection::vec(any::<u8>(), 0..40))), 0..6),
                prop::collection::vec(any::<u8>(), 0..200),
                any::<bool>(),
            ), 0..20)
        ) {
            let topics: [Arc<str>; 2] = ["a".into(), "b".into()];
            let mut outputs = Outputs::default();
            // Twice: a cleared buffer is reused as new.
            for _ in 0..2 {
                outputs.clear();
                for (key, headers, payload, second) in &records {
                    let mut writer = outputs.record(&topics[usize::from(*second)], key.as_deref());
                    for (name, value) in headers {
                        writer = writer.header(name, value.as_deref());
                    }
                    writer.payload(payload);
                }
                prop_assert_eq!(outputs.iter().count(), records.len());
                for (output, (key, headers, payload, second)) in outputs.iter().zip(&records) {
                    prop_assert_eq!(&**output.topic, &*topics[usize::from(*second)]);
                    prop_assert_eq!(output.key, key.as_deref());
                    prop_assert_eq!(output.payload, &payload[..]);
                    let read: Vec<(String, Option<Vec<u8>>)> = output
                        .headers()
                        .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                        .collect();
                    prop_assert_eq!(&read, headers);
                    let kafka = output.kafka_headers("stage");
                    prop_assert_eq!(kafka.count(), headers.len() + 1);
                    prop_assert_eq!(
                        crate::headers::produced_by(Some(&kafka)),
                        Some(&b"stage"[..])
                    );
                }
            }
        }
    }

    #[test]
    fn next_hop_headers_carry_over_and_continue_the_trace() {
        let parent = TraceParent::new_root();
        let message = message_with(
            OwnedHeaders::new()
                .insert(Header {
                    key: INGESTED_AT,
                    value: Some("2026-11-21T10:00:00.000Z"),
                })
                .insert(Header {
                    key: SCHEMA_VERSION,
                    value: Some("raw-v1"),
                })
                .insert(Header {
                    key: TRACEPARENT,
                    value: Some(&parent.encode()[..]),
                })
                .insert(Header {
                    key: PRODUCED_BY,
                    value: Some("the-stage-before"),
                }),
        );
        let mut outputs = Outputs::default();
        let topic: Arc<str> = "out".into();
        outputs
            .record(&topic, Some(b"key"))
            .next_hop_headers(
                &input(&message, message.headers().map(OwnedHeaders::as_borrowed)),
                "next-v1",
            )
            .json(&serde_json::json!({"a": 1}));
        let output = outputs.iter().next().expect("one record");
        let headers: Vec<(&str, Option<&[u8]>)> = output.headers().collect();
        assert_eq!(headers.len(), 4, "produced-by is not carried over");
        assert_eq!(
            headers[3],
            (POSITION, Some(&b"in/0/7/"[..])),
            "where the input was read"
        );
        assert_eq!(
            headers[0],
            (INGESTED_AT, Some(&b"2026-11-21T10:00:00.000Z"[..]))
        );
        assert_eq!(headers[1], (SCHEMA_VERSION, Some(&b"next-v1"[..])));
        let trace: TraceParent = std::str::from_utf8(headers[2].1.expect("a traceparent"))
            .expect("text")
            .parse()
            .expect("a valid traceparent");
        assert_eq!(trace.trace_id, parent.trace_id);
        assert_ne!(trace.span_id, parent.span_id);
        assert_eq!(output.payload, br#"{"a":1}"#);
        assert_eq!(output.key, Some(&b"key"[..]));
    }

    #[test]
    fn a_record_without_headers_starts_a_trace() {
        let message = message_with(OwnedHeaders::new());
        let mut outputs = Outputs::default();
        let topic: Arc<str> = "out".into();
        outputs
            .record(&topic, None)
            .next_hop_headers(&input(&message, None), "v1")
            .payload(b"x");
        let output = outputs.iter().next().expect("one record");
        let names: Vec<&str> = output.headers().map(|(k, _)| k).collect();
        assert_eq!(names, [SCHEMA_VERSION, TRACEPARENT, POSITION]);
        assert_eq!(output.key, None);
    }

    #[test]
    fn a_value_that_cannot_be_serialized_leaves_an_empty_payload() {
        struct Refuses;
        impl serde::Serialize for Refuses {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let mut outputs = Outputs::default();
        let topic: Arc<str> = "out".into();
        outputs
            .record(&topic, None)
            .header("h", Some(b"v"))
            .json(&Refuses);
        outputs.record(&topic, None).payload(b"next");
        let records: Vec<Output<'_>> = outputs.iter().collect();
        assert_eq!(records[0].payload, b"");
        assert_eq!(records[0].headers().count(), 1);
        assert_eq!(records[1].payload, b"next");
    }
}
