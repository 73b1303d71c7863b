//! `console-bench fill`: a fleet of the asked size, its runs written to `raw-logs` and
//! `standardized-logs` as ingestion and standardization write them.

use anyhow::Context;
use obs_devtools::bulk_producer::{bulk_producer, send};
use obs_kafka::{KafkaConfig, RecordHeaders, TopicsConfig, TraceParent};
use obs_records::{
    standardize, RawRecord, StandardizeOptions, RAW_SCHEMA_VERSION, STANDARDIZED_SCHEMA_VERSION,
};
use obs_samplegen::GeneratorConfig;
use rdkafka::producer::Producer;
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

pub struct FillArgs {
    /// NDJSON raw records to write instead of a generated fleet (the field sample).
    pub file: Option<String>,
    pub series: usize,
    pub records: usize,
    pub seed: u64,
    pub ids: Option<String>,
    pub ids_from: usize,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct BenchConfig {
    kafka: KafkaConfig,
    topics: TopicsConfig,
}

pub async fn fill(args: FillArgs) -> anyhow::Result<()> {
    let config: BenchConfig = obs_service::load_config("console-bench")?;
    obs_kafka::topics::ensure_topics(&config.kafka, "console-bench", &config.topics).await?;
    let records: Box<dyn Iterator<Item = RawRecord>> = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            let records = text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| RawRecord::parse(line.as_bytes()))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading the records of {path}"))?;
            Box::new(records.into_iter())
        }
        None => {
            let (companies, series) = fleet_of(args.seed, args.series);
            let hours = args.records.div_ceil(series.max(1)) + 1;
            println!("fleet: {companies} companies, {series} series; {hours} hourly sequences");
            Box::new(
                obs_samplegen::samples(&generator(args.seed, companies, hours))
                    .map(|sample| sample.record)
                    .take(args.records),
            )
        }
    };
    let producer = bulk_producer(&config.kafka, "console-bench")?;
    let raw_topic = &config.topics.raw_logs.name;
    let standardized_topic = &config.topics.standardized_logs.name;
    let options = StandardizeOptions::default();
    let mut last_ids = VecDeque::with_capacity(args.ids_from);
    let started = Instant::now();
    let mut written = 0;
    for record in records {
        let root = TraceParent::new_root();
        let mut headers = RecordHeaders {
            record_id: record.record_id(),
            schema_version: RAW_SCHEMA_VERSION.into(),
            content_type: "application/json".into(),
            ingested_at: chrono::Utc::now(),
            traceparent: root,
        };
        let key = record.series_key();
        send(
            &producer,
            raw_topic,
            &key,
            &record.to_json_bytes(),
            headers.to_kafka(),
        );
        let standardized = standardize(&record, &options)
            .with_context(|| format!("standardizing {}", headers.record_id))?;
        headers.schema_version = STANDARDIZED_SCHEMA_VERSION.into();
        headers.traceparent = root.child();
        send(
            &producer,
            standardized_topic,
            &key,
            &serde_json::to_vec(&standardized)?,
            headers.to_kafka(),
        );
        if last_ids.len() == args.ids_from {
            last_ids.pop_front();
        }
        last_ids.push_back(headers.record_id);
        written += 1;
    }
    producer.flush(Duration::from_secs(300))?;
    println!(
        "wrote {written} runs to {raw_topic} and {standardized_topic} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = args.ids {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {path}"))?,
        );
        for id in &last_ids {
            writeln!(out, "{id}")?;
        }
        out.flush()?;
    }
    Ok(())
}

fn generator(seed: u64, companies: usize, hours: usize) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        companies,
        hours,
        ..GeneratorConfig::default()
    }
}

/// The fewest companies whose fleet has at least `series` objects, and that count: the
/// distinct series of two hours of runs (every object runs each hour), by bisection.
fn fleet_of(seed: u64, series: usize) -> (usize, usize) {
    let count = |companies: usize| {
        obs_samplegen::samples(&generator(seed, companies, 2))
            .map(|sample| sample.label.series_key)
            .collect::<HashSet<_>>()
            .len()
    };
    let mut high = 1;
    while count(high) < series {
        high *= 2;
    }
    let mut low = high / 2;
    while high - low > 1 {
        let middle = (low + high) / 2;
        if count(middle) < series {
            low = middle;
        } else {
            high = middle;
        }
    }
    (high, count(high))
}
