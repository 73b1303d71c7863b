//! One consumed record, as a transform sees it.

use crate::headers::Position;
use rdkafka::message::{BorrowedHeaders, Headers};

/// One consumed record, borrowed from the consumer.
pub struct InputRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Option<&'a BorrowedHeaders>,
    /// Its Kafka timestamp, when it has one.
    pub timestamp_ms: Option<i64>,
}

impl InputRecord<'_> {
    /// The text of header `name`, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers?
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Where it was read.
    pub fn position(&self) -> Position<'_> {
        Position {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
        }
    }
}
