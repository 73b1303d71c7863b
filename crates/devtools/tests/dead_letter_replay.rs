//! The `dead-letter-replay` command against a real Kafka broker (`make kafka-up`): a dry
//! run writes nothing, a replay re-publishes each chosen dead letter to its source topic
//! once, a second replay re-publishes nothing.

use obs_kafka::dead_letter;
use obs_kafka::replay::REPLAYED_FROM;
use obs_testkit::{produce, read_topic, unique_topics, TestMessage};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::Message;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn dead_letter(kind: &str, source_topic: &str, payload: &str) -> TestMessage {
    let mut headers = OwnedHeaders::new();
    for (name, value) in [
        (dead_letter::STAGE, "standardization"),
        (dead_letter::ERROR_KIND, kind),
        (dead_letter::SOURCE_TOPIC, source_topic),
        (dead_letter::FAILED_AT, "2026-01-01T10:00:00.000Z"),
    ] {
        headers = headers.insert(Header {
            key: name,
            value: Some(value),
        });
    }
    (
        Some(b"the-key".to_vec()),
        payload.as_bytes().to_vec(),
        headers,
    )
}

/// `OBS_TOPICS__<TOPIC>__NAME` for every topic of `topics`: the command creates what is
/// missing, and only the test's own topics.
fn topic_env(topics: &obs_testkit::TestTopics) -> Vec<(String, String)> {
    let value = serde_json::to_value(&**topics).unwrap();
    value
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(field, spec)| {
            let name = spec.get("name")?.as_str()?;
            Some((
                format!("OBS_TOPICS__{}__NAME", field.to_uppercase()),
                name.to_owned(),
            ))
        })
        .collect()
}

/// Runs the command on `topics`; its JSON report and its sentence.
fn run(topics: &obs_testkit::TestTopics, args: &[&str]) -> (Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dead-letter-replay"))
        .args(args)
        .env(
            "KAFKA_BOOTSTRAP_SERVERS",
            obs_testkit::kafka().bootstrap_servers,
        )
        .env("OBS_TOPICS__REPLICATION_FACTOR", "1")
        .envs(topic_env(topics))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (serde_json::from_slice(&output.stdout).unwrap(), stderr)
}

fn counts(report: &Value) -> [u64; 3] {
    ["selected", "replayed", "already_replayed"].map(|k| report[k].as_u64().unwrap())
}

#[test]
fn the_command_replays_each_chosen_dead_letter_once() {
    let topics = unique_topics();
    let kafka = obs_testkit::kafka();
    // Topics first (the dry run creates them), then the dead letters.
    let (empty, _) = run(&topics, &["--kind", "unknown_status", "--dry-run"]);
    assert_eq!(counts(&empty), [0, 0, 0]);
    produce(
        &kafka,
        &topics.dead_letters.name,
        vec![
            dead_letter("unknown_status", &topics.raw_logs.name, "{\"a\": 1}"),
            dead_letter("unknown_status", &topics.raw_logs.name, "{\"a\": 2}"),
            dead_letter("missing_field", &topics.raw_logs.name, "{\"a\": 3}"),
        ],
    );
    let settle = Duration::from_secs(2);
    let timeout = Duration::from_secs(60);

    let (dry, sentence) = run(&topics, &["--kind", "unknown_status", "--dry-run"]);
    assert_eq!(counts(&dry), [2, 2, 0], "{dry}");
    assert!(sentence.starts_with("would replay 2 of 2"), "{sentence}");
    assert!(read_topic(&kafka, &topics.raw_logs.name, 0, settle, timeout).is_empty());

    let (first, _) = run(&topics, &["--kind", "unknown_status"]);
    assert_eq!(counts(&first), [2, 2, 0], "{first}");
    let raw = read_topic(&kafka, &topics.raw_logs.name, 2, settle, timeout);
    let mut payloads: Vec<&[u8]> = raw.iter().map(|m| m.payload().unwrap()).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, [&b"{\"a\": 1}"[..], b"{\"a\": 2}"]);
    for message in &raw {
        assert_eq!(message.key(), Some(&b"the-key"[..]));
        let headers = message.headers().unwrap();
        let from = headers.iter().find(|h| h.key == REPLAYED_FROM).unwrap();
        let from = std::str::from_utf8(from.value.unwrap()).unwrap();
        assert!(
            from.starts_with(&format!("{}/0/", topics.dead_letters.name)),
            "{from}"
        );
        assert!(headers.iter().all(|h| !h.key.starts_with("dead-letter-")));
    }

    let (second, sentence) = run(&topics, &["--kind", "unknown_status"]);
    assert_eq!(counts(&second), [2, 0, 2], "{second}");
    assert!(sentence.starts_with("replayed 0 of 2"), "{sentence}");
    assert_eq!(
        read_topic(&kafka, &topics.raw_logs.name, 2, settle, timeout).len(),
        2
    );
}
