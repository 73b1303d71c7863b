//! One consumed record, as a transform sees it.

use rdkafka::message::{BorrowedHeaders, Headers};

/// One consumed record, borrowed from the consumer.
pub struct InputRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Option<&'a BorrowedHeaders>,
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
}
