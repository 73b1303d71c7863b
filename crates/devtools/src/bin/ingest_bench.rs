//! Ingestion throughput against a running service and a real broker.
//!
//! `ingest-bench [--url URL] [--batches N] [--batch-size N] [--concurrency N] [--seed N]
//! [--skip N] [--rate RECORDS_PER_S]` posts NDJSON batches (generated records, after the
//! first `skip` of the seed's stream, prepared before the clock starts) to `/ingest/batch`
//! from `concurrency` concurrent clients and reports records/s (each batch counted only
//! once Kafka acknowledged it, i.e. on its 202) and request latency. With `--rate`, batches are paced to that many records per second.
//! Its first line, `posting from unix time T`, says when the clock started, for timings
//! that end downstream (`scripts/bench-e2e.sh`).

use anyhow::{bail, Context};
use std::time::{Duration, Instant, SystemTime};

struct Args {
    url: String,
    batches: usize,
    batch_size: usize,
    concurrency: usize,
    seed: u64,
    /// Records of the seed's stream left out before the first posted one: another part of
    /// the same fleet's history.
    skip: usize,
    rate: Option<f64>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: "http://127.0.0.1:8001".into(),
        batches: 200,
        batch_size: 1000,
        concurrency: 4,
        seed: 42,
        skip: 0,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--batches" => args.batches = value()?.parse().context("--batches")?,
            "--batch-size" => args.batch_size = value()?.parse().context("--batch-size")?,
            "--concurrency" => args.concurrency = value()?.parse().context("--concurrency")?,
            "--seed" => args.seed = value()?.parse().context("--seed")?,
            "--skip" => args.skip = value()?.parse().context("--skip")?,
            "--rate" => args.rate = Some(value()?.parse().context("--rate")?),
            "--help" | "-h" => {
                println!("usage: ingest-bench [--url URL] [--batches N] [--batch-size N] [--concurrency N] [--seed N] [--skip N] [--rate RECORDS_PER_S]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if args.batches == 0 || args.batch_size == 0 || args.concurrency == 0 {
        bail!("--batches, --batch-size and --concurrency must be > 0");
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // Distinct records for every batch, so record ids never repeat within a run.
    let records: Vec<_> =
        obs_samplegen::records(args.seed, args.skip + args.batches * args.batch_size)
            .skip(args.skip)
            .collect();
    let bodies: Vec<Vec<u8>> = records
        .chunks(args.batch_size)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|r| {
                    let mut line = r.to_json_bytes();
                    line.push(b'\n');
                    line
                })
                .collect()
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let client = reqwest::Client::new();
    let url = format!("{}/ingest/batch", args.url.trim_end_matches('/'));

    let started = Instant::now();
    let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
    println!("posting from unix time {:.3}", since_epoch.as_secs_f64());
    // Batch i may start at i × batch_size / rate seconds.
    let pace = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.batch_size as f64 / rate));
    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        bodies.into_iter().enumerate().rev().collect::<Vec<_>>(),
    ));
    let workers = (0..args.concurrency).map(|_| {
        let (client, url, queue) = (client.clone(), url.clone(), queue.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.pop(),
                    Err(_) => None,
                };
                let Some((index, body)) = next else { break };
                if let Some(pace) = pace {
                    tokio::time::sleep_until((started + pace * index as u32).into()).await;
                }
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await?;
                if status.as_u16() != 202 {
                    bail!("batch answered {status}: {text}");
                }
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.context("bench worker panicked")??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let total = args.batches * args.batch_size;
    println!(
        "{total} records in {} batches of {} ({:.1} MB NDJSON), concurrency {}: {:.2} s, {:.0} records/s, batch latency p50 {:.1} ms p99 {:.1} ms",
        args.batches,
        args.batch_size,
        bytes as f64 / 1e6,
        args.concurrency,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
