//! Service bench of a stage on the real broker.
//!
//! * `stage-bench produce N`: creates the topics named by the environment (`OBS_TOPICS__…`,
//!   the services' own config loader) and preloads N generated raw records into `raw-logs`,
//!   keyed and with headers as ingestion writes them.
//! * `stage-bench watch STATUS_URL N`: polls a stage's `/status` and reports its throughput
//!   from its first committed batch until N inputs are committed.
//! * `stage-bench latency METRICS_URL STAGE [SINCE_FILE]`: p50/p99 of the stage's
//!   end-to-end latency (`ingested-at` → commit), interpolated within the histogram's
//!   buckets; with SINCE_FILE, a copy of the same `/metrics` taken earlier (after a
//!   warm-up), of the records committed since.

use anyhow::{bail, Context};
use obs_devtools::bulk_producer::{bulk_producer, send};
use obs_kafka::{KafkaConfig, RecordHeaders, TopicsConfig, TraceParent};
use rdkafka::producer::Producer;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct BenchConfig {
    kafka: KafkaConfig,
    topics: TopicsConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["produce", n] => produce(n.parse().context("N")?).await,
        ["watch", url, n] => watch(url, n.parse().context("N")?).await,
        ["latency", url, stage] => latency(url, stage, None).await,
        ["latency", url, stage, since] => latency(url, stage, Some(since)).await,
        _ => bail!(
            "usage: stage-bench produce N | stage-bench watch STATUS_URL N | stage-bench latency METRICS_URL STAGE [SINCE_FILE]"
        ),
    }
}

async fn produce(n: usize) -> anyhow::Result<()> {
    let config: BenchConfig = obs_service::load_config("stage-bench")?;
    obs_kafka::topics::ensure_topics(&config.kafka, "stage-bench", &config.topics).await?;
    let producer = bulk_producer(&config.kafka, "stage-bench")?;
    let topic = &config.topics.raw_logs.name;
    let started = Instant::now();
    for record in obs_samplegen::records(4242, n) {
        let headers = RecordHeaders {
            record_id: record.record_id(),
            schema_version: obs_records::RAW_SCHEMA_VERSION.into(),
            content_type: "application/json".into(),
            ingested_at: chrono::Utc::now(),
            traceparent: TraceParent::new_root(),
        }
        .to_kafka();
        let key = record.series_key();
        let payload = record.to_json_bytes();
        send(&producer, topic, &key, &payload, headers);
    }
    producer.flush(Duration::from_secs(120))?;
    println!(
        "preloaded {n} raw records into {topic} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn watch(url: &str, n: u64) -> anyhow::Result<()> {
    let client = obs_devtools::api_client::api_client()?;
    let consumed = || async {
        let status: serde_json::Value = client.get(url).send().await?.json().await?;
        anyhow::Ok(status["stage"]["records_consumed"].as_u64().unwrap_or(0))
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut first, mut at_first) = (None, 0);
    loop {
        let count = consumed().await.unwrap_or(0);
        if first.is_none() && count > 0 {
            first = Some(Instant::now());
            at_first = count;
        }
        if count >= n {
            let Some(first) = first else {
                bail!("no progress observed")
            };
            let seconds = first.elapsed().as_secs_f64();
            println!(
                "{} records committed in {seconds:.2} s after the first batch: {:.0} records/s",
                count - at_first,
                (count - at_first) as f64 / seconds
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {count} of {n} records committed after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn latency(url: &str, stage: &str, since: Option<&str>) -> anyhow::Result<()> {
    let text = reqwest::get(url).await?.text().await?;
    let mut buckets = latency_buckets(&text)?;
    if let Some(path) = since {
        let earlier = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let earlier = latency_buckets(&earlier)?;
        if earlier.len() != buckets.len() {
            bail!("{path} has other latency buckets than {url}");
        }
        for (bucket, (_, before)) in buckets.iter_mut().zip(earlier) {
            bucket.1 -= before;
        }
    }
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    if total == 0.0 {
        bail!("no latency observed for stage {stage}");
    }
    let quantile = |q: f64| {
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(bound, count) in &buckets {
            if count >= rank {
                if bound.is_infinite() {
                    return lower.0;
                }
                let share = (rank - lower.1) / (count - lower.1).max(1.0);
                return lower.0 + (bound - lower.0) * share;
            }
            lower = (bound, count);
        }
        lower.0
    };
    println!(
        "{stage}: {total} records, end-to-end latency p50 {:.0} ms, p99 {:.0} ms (interpolated within histogram buckets)",
        quantile(0.5) * 1e3,
        quantile(0.99) * 1e3
    );
    Ok(())
}

/// The latency histogram of the runs' loop in a stage's `/metrics` (one service, one stage)
/// in Prometheus text: (upper bound, cumulative count), in order.
fn latency_buckets(text: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let prefix = "stage_end_to_end_latency_seconds_bucket{";
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(prefix) else {
            continue;
        };
        if !rest.contains("input=\"runs\"") {
            continue;
        }
        let le = rest
            .split("le=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .context("bucket without le")?;
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        let count: f64 = line
            .rsplit(' ')
            .next()
            .context("bucket without value")?
            .parse()?;
        buckets.push((bound, count));
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::latency_buckets;

    #[test]
    fn reads_the_latency_buckets_in_order() {
        let text = "\
# TYPE stage_end_to_end_latency_seconds histogram
stage_end_to_end_latency_seconds_bucket{input=\"runs\",le=\"0.05\"} 10
stage_end_to_end_latency_seconds_bucket{input=\"runs\",le=\"0.1\"} 90
stage_end_to_end_latency_seconds_bucket{input=\"runs\",le=\"+Inf\"} 100
stage_end_to_end_latency_seconds_bucket{input=\"log_events\",le=\"0.05\"} 3
stage_end_to_end_latency_seconds_sum{input=\"runs\"} 6.5
stage_transaction_duration_seconds_bucket{le=\"0.05\"} 7
";
        let buckets = latency_buckets(text).unwrap();
        assert_eq!(buckets, [(0.05, 10.0), (0.1, 90.0), (f64::INFINITY, 100.0)]);
        assert!(latency_buckets("").unwrap().is_empty());
    }
}
