//! Who wrote the records the views follow. A view counts only what the stack's stages
//! wrote — their `produced-by` header, set by each stage's commit thread — so a record put
//! on `processed-metrics` or `alerts` by anyone else (a tool, a replayed dump, a client with
//! write access) is not counted as a run; it is counted as ignored instead
//! (`processing_view_records_ignored_total{view}`).
//!
//! A header proves nothing against someone who forges it: the guard against writers is
//! the broker's authentication and ACLs; this one keeps honest mistakes out of the figures.

use obs_kafka::headers::produced_by;
use prometheus::{IntCounter, IntCounterVec, Opts};
use rdkafka::Message;

/// The writers each followed topic accepts, and the count of what was refused.
pub struct Writers {
    accepted: Vec<(String, &'static [&'static str])>,
    ignored: IntCounter,
}

impl Writers {
    /// `accepted`: per topic, the stage names it takes records from; an empty list takes
    /// any stage (any `produced-by`). A topic not listed takes everything.
    pub fn new(accepted: Vec<(String, &'static [&'static str])>, ignored: IntCounter) -> Self {
        Writers { accepted, ignored }
    }

    /// Whether `message` of `topic` was written by a stage it accepts; counts it when not.
    pub fn admits<M: Message>(&self, topic: &str, message: &M) -> bool {
        let Some((_, stages)) = self.accepted.iter().find(|(t, _)| t == topic) else {
            return true;
        };
        let admitted = match produced_by(message.headers()) {
            Some(writer) => stages.is_empty() || stages.iter().any(|s| s.as_bytes() == writer),
            None => false,
        };
        if !admitted {
            self.ignored.inc();
        }
        admitted
    }
}

/// `processing_view_records_ignored_total{view}`, registered once for every view.
pub fn ignored_counter(metrics: &obs_service::Metrics) -> Result<IntCounterVec, prometheus::Error> {
    metrics.register(IntCounterVec::new(
        Opts::new(
            "processing_view_records_ignored_total",
            "Records of a followed topic that a view ignored: not written by a stage of the stack (no or another produced-by header).",
        ),
        &["view"],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use obs_kafka::headers::PRODUCED_BY;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    fn message(writer: Option<&str>) -> OwnedMessage {
        let headers = writer.map(|w| {
            OwnedHeaders::new().insert(Header {
                key: PRODUCED_BY,
                value: Some(w),
            })
        });
        OwnedMessage::new(
            None,
            None,
            "t".into(),
            Timestamp::NotAvailable,
            0,
            0,
            headers,
        )
    }

    #[test]
    fn only_the_accepted_stages_are_admitted_and_the_others_counted() {
        let ignored = IntCounter::new("ignored", "test").unwrap();
        let writers = Writers::new(
            vec![
                ("processed".into(), &["processing"][..]),
                ("dead".into(), &[][..]),
            ],
            ignored.clone(),
        );
        assert!(writers.admits("processed", &message(Some("processing"))));
        assert!(!writers.admits("processed", &message(Some("someone"))));
        assert!(!writers.admits("processed", &message(None)));
        assert!(writers.admits("dead", &message(Some("standardization"))));
        assert!(!writers.admits("dead", &message(None)));
        assert!(
            writers.admits("elsewhere", &message(None)),
            "not followed here"
        );
        assert_eq!(ignored.get(), 3);
    }
}
