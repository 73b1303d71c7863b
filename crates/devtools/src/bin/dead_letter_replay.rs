//! `dead-letter-replay`: re-publishes chosen dead letters to their stage's input after a
//! fix, exactly once (the same transaction as the services' `POST /dead-letters/replay`;
//! see the README's procedure). Config as the services': `KAFKA_BOOTSTRAP_SERVERS`,
//! `OBS_TOPICS__DEAD_LETTERS__NAME`, `OBS_TOPICS__DEAD_LETTER_REPLAYS__NAME`… Prints the
//! report as JSON on stdout and a sentence on stderr.

use anyhow::Context;
use obs_devtools::replay_args;
use obs_kafka::replay::{replay, ReplayTopics};
use obs_kafka::{KafkaConfig, TopicsConfig};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

const CLIENT: &str = "dead-letter-replay";

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct ReplayConfig {
    kafka: KafkaConfig,
    topics: TopicsConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (selection, dry_run) = match replay_args::parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(2));
        }
    };
    let config: ReplayConfig = obs_service::load_config(CLIENT)?;
    obs_kafka::topics::ensure_topics(&config.kafka, CLIENT, &config.topics).await?;
    let topics = ReplayTopics::new(&config.topics, &[]);
    let report = tokio::task::spawn_blocking(move || {
        replay(&config.kafka, CLIENT, &topics, &selection, dry_run)
    })
    .await
    .context("the replay thread")??;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("{}", report.summary());
    Ok(ExitCode::SUCCESS)
}
