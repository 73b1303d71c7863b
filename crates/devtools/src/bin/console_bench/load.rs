//! `console-bench load`: N requests per endpoint of the console's API, from a few
//! concurrent clients, one endpoint at a time; p50 / p99 / max of each, measured from
//! sending the request to the end of its body.

use anyhow::{bail, Context};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LoadArgs {
    pub url: String,
    pub requests: usize,
    pub concurrency: usize,
    pub ids: Option<String>,
}

/// Record ids asked once before the clock starts, to keep those the trace index holds.
const PROBED_IDS: usize = 5_000;

/// One endpoint: its name and the paths its requests ask, taken in turn.
struct Endpoint {
    name: &'static str,
    paths: Vec<String>,
}

pub async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let client = obs_devtools::api_client::api_client()?;
    let base = args.url.trim_end_matches('/').to_owned();
    let incidents: serde_json::Value = client
        .get(format!("{base}/incidents?limit=500"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let incident_ids: Vec<String> = incidents["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|incident| incident["id"].as_str().map(str::to_owned))
        .collect();
    println!(
        "incidents: {} in all, {} ids drawn from",
        incidents["total_matched"],
        incident_ids.len()
    );
    let record_ids: Vec<String> = match &args.ids {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {path}"))?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    // The ids the trace index holds, of those written last: a record whose processing
    // came long after its ingestion (the fill outruns processing) was evicted and seen
    // again with its later stages only, so not every id written last is still held.
    let mut held = Vec::new();
    let probed = record_ids.len().min(PROBED_IDS);
    for _ in 0..probed {
        let id = &record_ids[random.below(record_ids.len())];
        let response = client.get(format!("{base}/trace/{id}")).send().await?;
        if response.status().is_success() {
            held.push(id.clone());
        }
    }
    println!(
        "trace: {} of {probed} ids drawn from the last {} written are held",
        held.len(),
        record_ids.len()
    );
    let record_ids = held;
    if incident_ids.is_empty() || record_ids.is_empty() {
        bail!("no incident or no record id to ask for: is processing filled and caught up?");
    }
    let mut draw = |ids: &[String], prefix: &str| -> Vec<String> {
        (0..args.requests)
            .map(|_| format!("{prefix}{}", ids[random.below(ids.len())]))
            .collect()
    };
    let unknown_records: Vec<String> = (0..args.requests)
        .map(|n| format!("/trace/no-such-company:2000-01-01-00-00:{n}"))
        .collect();
    let endpoints = [
        Endpoint {
            name: "GET /console/api/fleet",
            paths: vec!["/console/api/fleet".into()],
        },
        Endpoint {
            name: "GET /incidents",
            paths: vec!["/incidents".into()],
        },
        Endpoint {
            name: "GET /incidents/{id} (existing)",
            paths: draw(&incident_ids, "/incidents/"),
        },
        Endpoint {
            name: "GET /incidents/{id} (unknown)",
            paths: (0..args.requests)
                .map(|n| format!("/incidents/inc-ffff{n:012x}"))
                .collect(),
        },
        Endpoint {
            name: "GET /trace/{id} (existing)",
            paths: draw(&record_ids, "/trace/"),
        },
        Endpoint {
            name: "GET /trace/{id} (unknown)",
            paths: unknown_records,
        },
    ];
    println!(
        "{} requests per endpoint, {} concurrent clients",
        args.requests, args.concurrency
    );
    for endpoint in endpoints {
        let report = run(&client, &base, &endpoint, args.requests, args.concurrency).await?;
        println!("{:<32} {report}", endpoint.name);
    }
    Ok(())
}

/// What one endpoint's requests took.
struct Report {
    times: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, usize>,
    bytes: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |q: f64| {
            let at = ((self.times.len() as f64 * q).ceil() as usize).clamp(1, self.times.len());
            self.times[at - 1].as_secs_f64() * 1000.0
        };
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect();
        write!(
            f,
            "p50 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms  ({}; {:.0} bytes each on average)",
            ms(0.5),
            ms(0.99),
            ms(1.0),
            statuses.join(", "),
            self.bytes as f64 / self.times.len().max(1) as f64
        )
    }
}

async fn run(
    client: &reqwest::Client,
    base: &str,
    endpoint: &Endpoint,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Report> {
    let next = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(endpoint.paths.clone());
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (client, base, next, paths) =
            (client.clone(), base.to_owned(), next.clone(), paths.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return anyhow::Ok(seen);
                }
                let url = format!("{base}{}", paths[n % paths.len()]);
                let started = Instant::now();
                let response = client.get(&url).send().await?;
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                seen.push((started.elapsed(), status, body.len()));
            }
        }));
    }
    let mut report = Report {
        times: Vec::with_capacity(requests),
        statuses: Default::default(),
        bytes: 0,
    };
    for client in clients {
        for (time, status, bytes) in client.await?? {
            report.times.push(time);
            *report.statuses.entry(status).or_default() += 1;
            report.bytes += bytes;
        }
    }
    report.times.sort_unstable();
    Ok(report)
}

/// A xorshift generator: which ids are asked need not be unpredictable, only spread.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
