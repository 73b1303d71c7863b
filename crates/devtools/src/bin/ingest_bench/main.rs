//! Ingestion throughput against a running service and a real broker.
//!
//! `ingest-bench [--url URL] [--batches N] [--batch-size N] [--concurrency N] [--seed N]
//! [--companies N] [--skip N] [--rate RECORDS_PER_S] [--log-events-per-run K]
//! [--log-events-only]` posts NDJSON batches (generated records of a fleet of `companies`
//! companies, after the first `skip` of the seed's stream, prepared before the clock
//! starts) to `/ingest/batch` from `concurrency` concurrent clients and reports records/s
//! (each batch counted only once Kafka acknowledged it, i.e. on its 202) and request
//! latency. With `--rate`, batches are paced to that many records per second.
//! With `--log-events-per-run K`, each batch of runs is followed by a batch of K
//! application log events about those runs for `/log` (see [`log_events`]), paced with it,
//! and events/s are reported too; `--log-events-only` posts the events alone.
//! Its first line, `posting from unix time T`, says when the clock started, for timings
//! that end downstream (`scripts/bench-e2e.sh`).

mod log_events;

use anyhow::{bail, Context};
use log_events::LogEventWriter;
use std::time::{Duration, Instant, SystemTime};

struct Args {
    url: String,
    batches: usize,
    batch_size: usize,
    concurrency: usize,
    seed: u64,
    /// Companies of the generated fleet (the default fleet's 4 run 92 series).
    companies: usize,
    /// Records of the seed's stream left out before the first posted one: another part of
    /// the same fleet's history.
    skip: usize,
    rate: Option<f64>,
    log_events_per_run: usize,
    /// The runs are generated for the events' content but not posted.
    log_events_only: bool,
}

const USAGE: &str = "usage: ingest-bench [--url URL] [--batches N] [--batch-size N] [--concurrency N] [--seed N] [--companies N] [--skip N] [--rate RECORDS_PER_S] [--log-events-per-run K] [--log-events-only]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: "http://127.0.0.1:8001".into(),
        batches: 200,
        batch_size: 1000,
        concurrency: 4,
        seed: 42,
        companies: 4,
        skip: 0,
        rate: None,
        log_events_per_run: 0,
        log_events_only: false,
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
            "--companies" => args.companies = value()?.parse().context("--companies")?,
            "--skip" => args.skip = value()?.parse().context("--skip")?,
            "--rate" => args.rate = Some(value()?.parse().context("--rate")?),
            "--log-events-per-run" => {
                args.log_events_per_run = value()?.parse().context("--log-events-per-run")?
            }
            "--log-events-only" => args.log_events_only = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if args.batches == 0 || args.batch_size == 0 || args.concurrency == 0 || args.companies == 0 {
        bail!("--batches, --batch-size, --concurrency and --companies must be > 0");
    }
    if args.log_events_only && args.log_events_per_run == 0 {
        bail!("--log-events-only needs --log-events-per-run > 0");
    }
    Ok(args)
}

/// What a request posts: runs to `/ingest/batch` or log events to `/log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Runs,
    LogEvents,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Runs => "/ingest/batch",
            Kind::LogEvents => "/log",
        }
    }

    /// What the report counts, and its rate's unit.
    fn noun_and_unit(self) -> (&'static str, &'static str) {
        match self {
            Kind::Runs => ("records", "records/s"),
            Kind::LogEvents => ("log events", "events/s"),
        }
    }
}

/// One request's NDJSON body, and when it may start (with `--rate`).
/// How often one batch answered 503 is sent again before the bench gives up.
const MAX_RETRIES: u32 = 30;

struct Batch {
    slot: usize,
    kind: Kind,
    items: usize,
    body: Vec<u8>,
}

/// Every batch to post, in posting order: each batch of runs, then its log events.
fn prepare(args: &Args) -> anyhow::Result<Vec<Batch>> {
    // Distinct records for every batch, so record ids never repeat within a run.
    let mut records = obs_samplegen::records_of_fleet(
        args.seed,
        args.companies,
        args.skip + args.batches * args.batch_size,
    )
    .skip(args.skip);
    let mut events = LogEventWriter::new(args.log_events_per_run);
    let mut batches = Vec::new();
    for slot in 0..args.batches {
        let chunk: Vec<_> = records.by_ref().take(args.batch_size).collect();
        if !args.log_events_only {
            let body = chunk
                .iter()
                .flat_map(|r| {
                    let mut line = r.to_json_bytes();
                    line.push(b'\n');
                    line
                })
                .collect();
            batches.push(Batch {
                slot,
                kind: Kind::Runs,
                items: chunk.len(),
                body,
            });
        }
        if args.log_events_per_run > 0 {
            let mut body = Vec::new();
            for record in &chunk {
                events.write(record, &mut body)?;
            }
            batches.push(Batch {
                slot,
                kind: Kind::LogEvents,
                items: chunk.len() * args.log_events_per_run,
                body,
            });
        }
    }
    Ok(batches)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let batches = prepare(&args)?;
    let summaries: Vec<Summary> = [Kind::Runs, Kind::LogEvents]
        .into_iter()
        .map(|kind| Summary::of(kind, &batches))
        .filter(|summary| summary.batches > 0)
        .collect();
    let client = obs_devtools::api_client::api_client()?;
    let base = args.url.trim_end_matches('/').to_owned();

    let started = Instant::now();
    let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
    println!("posting from unix time {:.3}", since_epoch.as_secs_f64());
    // Batch slot i may start at i × batch_size / rate seconds.
    let pace = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.batch_size as f64 / rate));
    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        batches.into_iter().rev().collect::<Vec<_>>(),
    ));
    let workers = (0..args.concurrency).map(|_| {
        let (client, base, queue) = (client.clone(), base.clone(), queue.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.pop(),
                    Err(_) => None,
                };
                let Some(batch) = next else { break };
                if let Some(pace) = pace {
                    tokio::time::sleep_until((started + pace * batch.slot as u32).into()).await;
                }
                let sent = Instant::now();
                let mut retries = 0;
                loop {
                    let response = client
                        .post(format!("{base}{}", batch.kind.path()))
                        .header("content-type", "application/x-ndjson")
                        .body(batch.body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    let text = response.text().await?;
                    if status.as_u16() == 202 {
                        break;
                    }
                    // A 503 that took nothing of the batch (Kafka briefly away): sent again
                    // after Retry-After, as a client should; counted and reported.
                    let took_nothing = serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|v| v["error"]["details"]["accepted_before_failure"] == 0);
                    if status.as_u16() != 503 || !took_nothing || retries >= MAX_RETRIES {
                        bail!("{} answered {status}: {text}", batch.kind.path());
                    }
                    retries += 1;
                    eprintln!(
                        "{} answered 503, retry {retries} in {}s: {text}",
                        batch.kind.path(),
                        retry_after.unwrap_or(1)
                    );
                    tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
                }
                latencies.push((batch.kind, sent.elapsed()));
            }
            anyhow::Ok(latencies)
        })
    });
    let mut latencies: Vec<(Kind, Duration)> = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.context("bench worker panicked")??);
    }
    let elapsed = started.elapsed();
    for summary in summaries {
        let mut of_kind: Vec<Duration> = latencies
            .iter()
            .filter(|(kind, _)| *kind == summary.kind)
            .map(|(_, latency)| *latency)
            .collect();
        of_kind.sort();
        let pct = |p: f64| of_kind[((of_kind.len() - 1) as f64 * p).round() as usize];
        let (noun, unit) = summary.kind.noun_and_unit();
        println!(
            "{} {noun} in {} batches of {} ({:.1} MB NDJSON), concurrency {}: {:.2} s, {:.0} {unit}, batch latency p50 {:.1} ms p99 {:.1} ms",
            summary.items,
            summary.batches,
            summary.items / summary.batches,
            summary.bytes as f64 / 1e6,
            args.concurrency,
            elapsed.as_secs_f64(),
            summary.items as f64 / elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

/// What was prepared of one kind.
struct Summary {
    kind: Kind,
    batches: usize,
    items: usize,
    bytes: usize,
}

impl Summary {
    fn of(kind: Kind, batches: &[Batch]) -> Summary {
        let of_kind = batches.iter().filter(|b| b.kind == kind);
        Summary {
            kind,
            batches: of_kind.clone().count(),
            items: of_kind.clone().map(|b| b.items).sum(),
            bytes: of_kind.map(|b| b.body.len()).sum(),
        }
    }
}
