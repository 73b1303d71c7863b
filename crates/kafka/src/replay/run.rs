//! A replay on the broker: read the markers, read the dead letters, re-publish the chosen
//! ones with their markers in one transaction.

use super::selection::{DeadLetterId, DeadLetterInfo, Decision, Selection, Tally};
use crate::config::KafkaConfig;
use crate::consumer::ConsumerSettings;
use crate::dead_letter;
use crate::error::KafkaError;
use crate::headers::{Position, POSITION};
use crate::topics::{partitions_of, TopicSpec, TopicsConfig};
use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The header naming the dead letter a replayed record comes from ([`DeadLetterId`]).
pub const REPLAYED_FROM: &str = "replayed-from";

/// Longest wait for each transactional call and for each topic read to its end.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The topics of a replay.
#[derive(Debug, Clone)]
pub struct ReplayTopics {
    pub dead_letters: String,
    /// The compacted topic of the markers.
    pub replays: String,
    /// The topics a replay may write to (a service's own inputs); empty: any source topic.
    pub targets: Vec<String>,
}

impl ReplayTopics {
    /// The dead letters and markers of `topics`, re-published only to the topics named by
    /// `targets` (empty: to any source topic).
    pub fn new(topics: &TopicsConfig, targets: &[&TopicSpec]) -> Self {
        ReplayTopics {
            dead_letters: topics.dead_letters.name.clone(),
            replays: topics.dead_letter_replays.name.clone(),
            targets: targets.iter().map(|t| t.name.clone()).collect(),
        }
    }

    /// The transactional id of every replay of these dead letters, whoever runs it (the
    /// command or a service's endpoint): a second replay fences the first, so two replays
    /// at once never both commit.
    pub fn transactional_id(&self) -> String {
        format!("{}-replay", self.dead_letters)
    }
}

/// One dead letter of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ListedDeadLetter)]
pub struct Listed {
    #[serde(flatten)]
    pub dead_letter: DeadLetterInfo,
    /// `replay`, `already_replayed`, `unreplayable` (no source topic, or one the replay
    /// may not write to) or `left` (past the limit).
    pub outcome: Decision,
}

/// What a replay did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub dry_run: bool,
    #[serde(flatten)]
    pub tally: Tally,
    /// The selected dead letters in the order of the topic, up to the limit.
    pub dead_letters: Vec<Listed>,
}

impl ReplayReport {
    /// What happened, in a sentence (a second replay of the same selection says
    /// "replayed 0").
    pub fn summary(&self) -> String {
        let t = &self.tally;
        format!(
            "{} {} of {} selected dead letters; {} already replayed, {} without a source \
             topic, {} left for a next replay (limit)",
            if self.dry_run {
                "would replay"
            } else {
                "replayed"
            },
            t.replayed,
            t.selected,
            t.already_replayed,
            t.unreplayable,
            t.left
        )
    }
}

/// Replays the dead letters of `topics.dead_letters` that `selection` chooses (validated
/// by the caller) and that no marker says were replayed: each goes back to its
/// `dead-letter-source-topic` with its key, bytes and headers (the `dead-letter-*` ones and
/// its own position aside) plus [`REPLAYED_FROM`], and its marker goes to
/// `topics.replays`, all in one transaction. `dry_run` reads and answers, writing nothing.
/// Blocking.
pub fn replay(
    kafka: &KafkaConfig,
    client: &str,
    topics: &ReplayTopics,
    selection: &Selection,
    dry_run: bool,
) -> Result<ReplayReport, KafkaError> {
    // Fence any replay still running before reading the markers: its commit then fails,
    // or it committed and its markers are read below.
    let producer = if dry_run {
        None
    } else {
        let producer: BaseProducer = kafka
            .client_config(client)
            .set("transactional.id", topics.transactional_id())
            .set("enable.idempotence", "true")
            .create()?;
        producer.init_transactions(TIMEOUT)?;
        Some(producer)
    };
    let mut replayed = HashSet::new();
    read_to_end(kafka, client, &topics.replays, |message| {
        if let Some(key) = message.key() {
            replayed.insert(String::from_utf8_lossy(key).into_owned());
        }
    })?;
    let limit = selection.limit();
    let mut tally = Tally::default();
    let mut listed = Vec::new();
    let mut chosen = Vec::new();
    read_to_end(kafka, client, &topics.dead_letters, |message| {
        let info = info_of(message);
        if !selection.matches(&info) {
            return;
        }
        let already = replayed.contains(&info.id);
        let replayable = info
            .source_topic
            .as_ref()
            .is_some_and(|t| topics.targets.is_empty() || topics.targets.contains(t));
        let decision = tally.decide(already, replayable, limit);
        if decision == Decision::Replay && !dry_run {
            chosen.push(Replayed::of(message, &info));
        }
        if tally.list(limit) {
            listed.push(Listed {
                dead_letter: info,
                outcome: decision,
            });
        }
    })?;
    if let Some(producer) = producer {
        if !chosen.is_empty() {
            publish(&producer, &topics.replays, &chosen)?;
        }
    }
    Ok(ReplayReport {
        dry_run,
        tally,
        dead_letters: listed,
    })
}

/// The `dead-letter-*` headers and place of `message`.
fn info_of(message: &BorrowedMessage<'_>) -> DeadLetterInfo {
    let id = DeadLetterId {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
    };
    let text = |name: &str| header(message, name).map(|v| String::from_utf8_lossy(v).into_owned());
    let failed_at = text(dead_letter::FAILED_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            message
                .timestamp()
                .to_millis()
                .and_then(DateTime::from_timestamp_millis)
        });
    DeadLetterInfo {
        id: id.to_string(),
        stage: text(dead_letter::STAGE),
        kind: text(dead_letter::ERROR_KIND),
        reason: text(dead_letter::REASON),
        source_topic: text(dead_letter::SOURCE_TOPIC),
        failed_at,
    }
}

fn header<'a>(message: &'a BorrowedMessage<'_>, name: &str) -> Option<&'a [u8]> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
}

/// A dead letter about to be re-published: what goes back to its source topic.
struct Replayed {
    id: String,
    topic: String,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: OwnedHeaders,
    marker: Vec<u8>,
}

#[derive(Serialize)]
struct Marker<'a> {
    dead_letter: &'a str,
    replayed_to: &'a str,
    replayed_at: String,
    stage: Option<&'a str>,
    error_kind: Option<&'a str>,
}

impl Replayed {
    fn of(message: &BorrowedMessage<'_>, info: &DeadLetterInfo) -> Replayed {
        let topic = info.source_topic.clone().unwrap_or_default();
        // The position the stage added when it dead-lettered the record: the record read
        // again gets its new one.
        let own = format!(
            "{}/{}/{}/",
            topic,
            text_of(header(message, dead_letter::SOURCE_PARTITION)),
            text_of(header(message, dead_letter::SOURCE_OFFSET)),
        );
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for h in original.iter() {
                let own_position = h.key == POSITION
                    && h.value
                        .and_then(Position::parse)
                        .is_some_and(|p| p.encode().starts_with(&own));
                if !h.key.starts_with("dead-letter-") && !own_position {
                    headers = headers.insert(Header {
                        key: h.key,
                        value: h.value,
                    });
                }
            }
        }
        headers = headers.insert(Header {
            key: REPLAYED_FROM,
            value: Some(info.id.as_bytes()),
        });
        let marker = Marker {
            dead_letter: &info.id,
            replayed_to: &topic,
            replayed_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            stage: info.stage.as_deref(),
            error_kind: info.kind.as_deref(),
        };
        Replayed {
            id: info.id.clone(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
            marker: serde_json::to_vec(&marker).unwrap_or_default(),
            topic,
        }
    }
}

fn text_of(value: Option<&[u8]>) -> String {
    value
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// Re-publishes `chosen` and writes their markers in one transaction; aborts it on error.
fn publish(producer: &BaseProducer, replays: &str, chosen: &[Replayed]) -> Result<(), KafkaError> {
    producer.begin_transaction()?;
    let sent = chosen.iter().try_for_each(|r| {
        let mut record = BaseRecord::to(&r.topic)
            .payload(&r.payload)
            .headers(r.headers.clone());
        if let Some(key) = &r.key {
            record = record.key(key);
        }
        send(producer, record)?;
        send(
            producer,
            BaseRecord::to(replays).key(&r.id).payload(&r.marker),
        )
    });
    match sent.and_then(|()| Ok(producer.commit_transaction(TIMEOUT)?)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = producer.abort_transaction(TIMEOUT);
            Err(e)
        }
    }
}

/// Sends one record, waiting while the producer's queue is full.
fn send<K, P>(producer: &BaseProducer, mut record: BaseRecord<'_, K, P>) -> Result<(), KafkaError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(Duration::from_millis(100));
                record = back;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Reads every partition of `topic` from its start to its end (`read_committed`),
/// handing each record to `each`.
fn read_to_end(
    kafka: &KafkaConfig,
    client: &str,
    topic: &str,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), KafkaError> {
    let consumer: BaseConsumer = ConsumerSettings::assigned(client)
        .client_config(kafka)
        .set("enable.partition.eof", "true")
        .create()?;
    let partitions = partitions_of(&consumer, topic, TIMEOUT)?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| KafkaError::Admin {
            topic: topic.to_owned(),
            reason: "the topic does not exist".into(),
        })?;
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut at_end = HashSet::new();
    let deadline = Instant::now() + TIMEOUT;
    while at_end.len() < partitions.len() {
        if Instant::now() > deadline {
            return Err(KafkaError::NotReadToEnd {
                topic: topic.to_owned(),
                after: TIMEOUT,
            });
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => each(&message),
            Some(Err(RdKafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(())
}
