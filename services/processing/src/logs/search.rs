//! The two queries over the [`LogIndex`]: an operator's search (`GET /logs`) and the events
//! correlated with an incident's scope (its evidence). Both newest first.

use super::index::{keys_between, EventKey, LogIndex};
use chrono::{DateTime, Utc};
use obs_records::{source_slug, LogSeverity, StandardizedLogEvent};
use serde::Serialize;
use std::iter::Peekable;

/// `GET /logs`: every filter given must match.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// Events of this service, compared by slug (case and punctuation aside, as sources
    /// are).
    pub service: Option<String>,
    /// This severity or a more severe one.
    pub min_severity: Option<LogSeverity>,
    /// Text the message contains, case-insensitively.
    pub text: Option<String>,
    /// Event time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Event time, inclusive.
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// The answer to a [`LogQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LogMatches {
    /// The newest `limit` matching events, newest first.
    pub events: Vec<StandardizedLogEvent>,
    /// Every matching event held, beyond `limit` too.
    pub total_matched: usize,
}

/// The scope of an incident: the events of its company and source, of its objects, in
/// its time window.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub company: String,
    /// The connector's source; compared by slug.
    pub source: String,
    /// The objects involved; empty: any object of the source.
    pub object_ids: Vec<i64>,
    /// Event time, inclusive.
    pub from: DateTime<Utc>,
    /// Event time, inclusive.
    pub to: DateTime<Utc>,
}

impl LogIndex {
    /// The events matching `query`, newest first, and how many matched in all. Reads only
    /// the named service's events when the query names one.
    pub fn search(&self, query: &LogQuery) -> LogMatches {
        let range = keys_between(
            query.from.unwrap_or(DateTime::<Utc>::MIN_UTC),
            query.to.unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        let text = query.text.as_deref().map(Needle::new);
        let matches = |event: &&StandardizedLogEvent| {
            query.min_severity.is_none_or(|min| event.severity >= min)
                && text.as_ref().is_none_or(|t| t.is_in(&event.message))
        };
        let mut events = Vec::new();
        let mut total_matched = 0;
        let mut keep = |event: &StandardizedLogEvent| {
            total_matched += 1;
            if events.len() < query.limit {
                events.push(event.clone());
            }
        };
        match &query.service {
            Some(service) => self
                .service_keys(&source_slug(service), range)
                .rev()
                .filter_map(|key| self.event(key))
                .filter(matches)
                .for_each(&mut keep),
            None => self
                .events_in(range)
                .rev()
                .filter(matches)
                .for_each(&mut keep),
        }
        LogMatches {
            events,
            total_matched,
        }
    }

    /// The events in `[q.from, q.to]` of the incident's scope, newest first, at most
    /// `limit`: those whose `source` attribute is the incident's source, or, for events
    /// without one, whose `service` is (both by slug). An event that names a company
    /// must name the incident's (case aside), and one that names an object must name one
    /// of `q.object_ids` (unless that list is empty).
    pub fn correlated(&self, q: &Correlation, limit: usize) -> Vec<StandardizedLogEvent> {
        let source = source_slug(&q.source);
        let range = keys_between(q.from, q.to);
        let by_source = self.source_keys(&source, range.clone()).rev();
        let by_service = self
            .service_keys(&source, range)
            .rev()
            .filter(|key| self.event(key).is_some_and(|e| e.source.is_none()));
        NewestFirst {
            a: by_source.peekable(),
            b: by_service.peekable(),
        }
        .filter_map(|key| self.event(key))
        .filter(|event| in_scope(event, q))
        .take(limit)
        .cloned()
        .collect()
    }
}

/// Company and object of `event` against the incident's, where the event names them.
fn in_scope(event: &StandardizedLogEvent, q: &Correlation) -> bool {
    let company = event
        .company
        .as_deref()
        .is_none_or(|company| company.trim().eq_ignore_ascii_case(q.company.trim()));
    let object = q.object_ids.is_empty()
        || event.object_id.as_deref().is_none_or(|id| {
            id.trim()
                .parse::<i64>()
                .is_ok_and(|id| q.object_ids.contains(&id))
        });
    company && object
}

/// Two streams of keys, each newest first, merged newest first.
struct NewestFirst<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<'k, A, B> Iterator for NewestFirst<A, B>
where
    A: Iterator<Item = &'k EventKey>,
    B: Iterator<Item = &'k EventKey>,
{
    type Item = &'k EventKey;

    fn next(&mut self) -> Option<&'k EventKey> {
        match (self.a.peek(), self.b.peek()) {
            (Some(a), Some(b)) if b > a => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// Text searched for case-insensitively.
struct Needle {
    lower: String,
}

impl Needle {
    fn new(text: &str) -> Needle {
        Needle {
            lower: text.to_lowercase(),
        }
    }

    /// Whether `haystack` contains the text. An ASCII needle is compared byte by byte,
    /// ASCII case aside, without lower-casing the message (the common case, and the cost of
    /// a search over the whole index); any other is compared on both lower-cased.
    fn is_in(&self, haystack: &str) -> bool {
        let needle = self.lower.as_bytes();
        if self.lower.is_ascii() {
            needle.is_empty()
                || haystack
                    .as_bytes()
                    .windows(needle.len())
                    .any(|window| window.eq_ignore_ascii_case(needle))
        } else {
            haystack.to_lowercase().contains(&self.lower)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::{at, event};

    fn search(index: &LogIndex, change: impl FnOnce(&mut LogQuery)) -> Vec<String> {
        let mut query = LogQuery {
            service: None,
            min_severity: None,
            text: None,
            from: None,
            to: None,
            limit: 100,
        };
        change(&mut query);
        index
            .search(&query)
            .events
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    fn index() -> LogIndex {
        let mut index = LogIndex::new(100, usize::MAX);
        let events = [
            ("billing", 0, LogSeverity::Info, "Invoice sent"),
            ("billing", 1, LogSeverity::Error, "Échec de la facture"),
            ("Sync Worker", 2, LogSeverity::Warning, "slow INVOICE sync"),
            ("sync-worker", 3, LogSeverity::Critical, "database down"),
            ("billing", 4, LogSeverity::Debug, "tick"),
        ];
        for (service, minute, severity, message) in events {
            let mut e = event(service, minute, message);
            e.severity = severity;
            index.insert(e);
        }
        index
    }

    #[test]
    fn search_filters_newest_first() {
        let index = index();
        assert_eq!(search(&index, |_| {}).len(), 5);
        assert_eq!(search(&index, |_| {})[0], "tick", "newest first");
        assert_eq!(
            search(&index, |q| q.service = Some("SYNC-worker".into())),
            ["database down", "slow INVOICE sync"],
            "by slug: `Sync Worker` and `sync-worker` are one service"
        );
        assert_eq!(
            search(&index, |q| q.min_severity = Some(LogSeverity::Warning)),
            ["database down", "slow INVOICE sync", "Échec de la facture"]
        );
        assert_eq!(
            search(&index, |q| q.text = Some("invoice".into())),
            ["slow INVOICE sync", "Invoice sent"]
        );
        assert_eq!(
            search(&index, |q| q.text = Some("ÉCHEC".into())),
            ["Échec de la facture"]
        );
        assert_eq!(
            search(&index, |q| {
                q.from = Some(at(1));
                q.to = Some(at(3));
            }),
            ["database down", "slow INVOICE sync", "Échec de la facture"],
            "from and to are inclusive"
        );
        assert_eq!(
            search(&index, |q| {
                q.service = Some("billing".into());
                q.min_severity = Some(LogSeverity::Info);
                q.from = Some(at(1));
            }),
            ["Échec de la facture"]
        );
    }

    #[test]
    fn search_counts_every_match_beyond_the_limit() {
        let index = index();
        let matches = index.search(&LogQuery {
            service: Some("billing".into()),
            min_severity: None,
            text: None,
            from: None,
            to: None,
            limit: 2,
        });
        assert_eq!(matches.total_matched, 3);
        let messages: Vec<&str> = matches.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["tick", "Échec de la facture"]);
    }

    /// An event of `service` at `minute`, with the given attributes.
    fn attributed(
        service: &str,
        minute: i64,
        company: Option<&str>,
        source: Option<&str>,
        object_id: Option<&str>,
    ) -> StandardizedLogEvent {
        let mut e = event(service, minute, &format!("{service}@{minute}"));
        e.company = company.map(Into::into);
        e.source = source.map(Into::into);
        e.object_id = object_id.map(Into::into);
        e
    }

    fn correlated(index: &LogIndex, object_ids: Vec<i64>, limit: usize) -> Vec<String> {
        let q = Correlation {
            company: "Acme".into(),
            source: "PowerBI".into(),
            object_ids,
            from: at(10),
            to: at(20),
        };
        index
            .correlated(&q, limit)
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn correlation_matches_attributes_or_falls_back_to_the_service() {
        let mut index = LogIndex::new(100, usize::MAX);
        for e in [
            // In the window, by attributes.
            attributed("connector", 10, Some("acme"), Some("powerbi"), Some("7")),
            attributed("connector", 12, None, Some("powerbi"), None),
            // In the window, by the service (no source attribute).
            attributed("PowerBI", 15, None, None, None),
            attributed("powerbi", 20, Some("ACME"), None, Some("8")),
            // Outside the window.
            attributed("connector", 9, Some("acme"), Some("powerbi"), Some("7")),
            attributed("powerbi", 21, None, None, None),
            // Another source, another company, another object.
            attributed("connector", 13, Some("acme"), Some("zoho"), Some("7")),
            attributed("connector", 14, Some("globex"), Some("powerbi"), Some("7")),
            attributed("connector", 16, Some("acme"), Some("powerbi"), Some("99")),
            attributed(
                "connector",
                17,
                Some("acme"),
                Some("powerbi"),
                Some("seven"),
            ),
            // Named `powerbi`, but about another source.
            attributed("powerbi", 18, None, Some("zoho"), None),
        ] {
            index.insert(e);
        }
        assert_eq!(
            correlated(&index, vec![7, 8], 100),
            ["powerbi@20", "PowerBI@15", "connector@12", "connector@10"],
            "newest first, attribute and service matches merged"
        );
        assert_eq!(
            correlated(&index, vec![7, 8], 2),
            ["powerbi@20", "PowerBI@15"]
        );
        assert_eq!(
            correlated(&index, Vec::new(), 100),
            [
                "powerbi@20",
                "connector@17",
                "connector@16",
                "PowerBI@15",
                "connector@12",
                "connector@10"
            ],
            "no object ids: any object of the source"
        );
    }
}
