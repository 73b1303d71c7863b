//! `chaos`: records through standardization and processing on a broker of the harness's
//! own while it SIGKILLs each stage at seeded random moments and restarts the broker
//! (SIGTERM once, SIGKILL once, same data); then a `read_committed` reader's verdict:
//! every record in `processed-metrics` exactly once, the analytics total equal, and the
//! time to recover per kill. `scripts/chaos.sh` (`make chaos`) starts the broker and runs
//! it; the README says how to read its report.
//!
//! The records go straight into `raw-logs` with the bench tools' bulk producer (keys and
//! headers as ingestion writes them), paced at `CHAOS_RATE` per second, and never more
//! than the next blow's share before that blow: so a blow never finds the records all
//! sent, and the records sent after a kill can only come out of the restarted stage.
//!
//! Environment: `CHAOS_RECORDS`, `CHAOS_RATE`, `CHAOS_SEED` (printed; the same seed, the
//! same schedule), `CHAOS_KILLS_PER_STAGE`, `CHAOS_BIN_DIR` (the services' binaries),
//! `CHAOS_LOG_DIR`, `CHAOS_RUST_LOG` (the stages' log filter, `warn`),
//! `CHAOS_KAFKA_SCRIPT`, `KAFKA_BOOTSTRAP_SERVERS`.

mod diagnosis;
mod services;
mod watch;

use anyhow::{bail, Context};
use obs_devtools::bulk_producer::{bulk_producer, send};
use obs_devtools::chaos::{schedule, Event, Planned, Recovery, RecoveryStats, Target};
use obs_kafka::{KafkaConfig, RecordHeaders, TopicsConfig, TraceParent};
use rdkafka::producer::Producer;
use services::{broker, Stage};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use watch::Watch;

/// A stage's recovery after its SIGKILL at or over this fails the run.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// How long the harness waits for a stage's first output after a blow before calling it
/// unrecovered (which fails the run, a broker restart's too).
const RECOVERY_WAIT: Duration = Duration::from_secs(180);
/// No new record in `processed-metrics` for this long: the run has stalled.
const STALL: Duration = Duration::from_secs(180);
/// The generator's seed of the records (the schedule's seed is `CHAOS_SEED`).
const RECORDS_SEED: u64 = 1818;

struct Settings {
    records: u64,
    rate: u64,
    seed: u64,
    kills_per_stage: usize,
    bin_dir: PathBuf,
    log_dir: PathBuf,
    kafka_script: PathBuf,
    kafka: KafkaConfig,
}

fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .replace([',', '_'], "")
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={value:?} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let path = |name: &str, default: &str| {
            PathBuf::from(std::env::var(name).unwrap_or_else(|_| default.to_owned()))
        };
        Ok(Settings {
            records: var("CHAOS_RECORDS", 1_000_000)?,
            rate: var("CHAOS_RATE", 5_000)?.max(1),
            seed: var("CHAOS_SEED", now.as_secs() ^ u64::from(now.subsec_nanos()))?,
            kills_per_stage: var("CHAOS_KILLS_PER_STAGE", 3)?,
            bin_dir: path("CHAOS_BIN_DIR", "target/release"),
            log_dir: path("CHAOS_LOG_DIR", ".kafka-chaos/logs"),
            kafka_script: path("CHAOS_KAFKA_SCRIPT", "scripts/kafka.sh"),
            kafka: KafkaConfig {
                bootstrap_servers: std::env::var("KAFKA_BOOTSTRAP_SERVERS")
                    .context("KAFKA_BOOTSTRAP_SERVERS: the harness's own broker")?,
                ..KafkaConfig::default()
            },
        })
    }
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let s = Settings::from_env()?;
    let plan = schedule(s.seed, s.kills_per_stage);
    println!(
        "chaos: {} records at {}/s into raw-logs, schedule seed {} (CHAOS_SEED={} repeats it)",
        s.records, s.rate, s.seed, s.seed
    );
    for p in &plan {
        println!("  at {:>4.1} % sent: {}", p.at_fraction * 100.0, p.event);
    }
    std::fs::create_dir_all(&s.log_dir)?;
    let topics = TopicsConfig::default();
    obs_kafka::topics::ensure_topics(&s.kafka, "chaos", &topics).await?;

    let token = format!("chaos-{}-{}", s.seed, std::process::id());
    let digest = obs_service::auth::digest_hex(&token);
    let env: Vec<(String, String)> = vec![
        (
            "KAFKA_BOOTSTRAP_SERVERS".into(),
            s.kafka.bootstrap_servers.clone(),
        ),
        ("OBS_AUTH__READ_KEY_HASHES".into(), digest),
        (
            "RUST_LOG".into(),
            std::env::var("CHAOS_RUST_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    ];
    // A restarted processing replays each partition since its last checkpoint. The default
    // interval (40,000 offsets a partition) is a small share of a full run but most of a
    // 50,000-record one, whose kills would mostly replay from the start: the interval
    // scales with the run, so that each size kills at the same point of the cycle.
    let mut processing_env = env.clone();
    processing_env.push((
        "OBS_CHECKPOINT__INTERVAL_RECORDS".into(),
        checkpoint_interval(s.records).to_string(),
    ));
    let mut stages = [
        Stage::start(Target::Standardization, &s.bin_dir, &s.log_dir, &env)?,
        Stage::start(Target::Processing, &s.bin_dir, &s.log_dir, &processing_env)?,
    ];
    let outcome = run(&s, &plan, &topics, &mut stages, &token).await;
    for stage in &mut stages {
        stage.stop(Duration::from_secs(20));
    }
    match outcome {
        Ok(code) => Ok(code),
        // The feeder may be waiting for a blow that will not come: leave without it.
        Err(e) => {
            eprintln!("chaos: error: {e:#}");
            std::process::exit(2)
        }
    }
}

async fn run(
    s: &Settings,
    plan: &[Planned],
    topics: &TopicsConfig,
    stages: &mut [Stage; 2],
    token: &str,
) -> anyhow::Result<ExitCode> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    for stage in stages.iter() {
        ready(&http, stage).await?;
    }
    println!("chaos: both stages ready");
    let watch = Arc::new(Watch::start(
        &s.kafka,
        &topics.processed_metrics.name,
        &topics.standardized_logs.name,
    )?);
    let due = |p: &Planned| (p.at_fraction * s.records as f64) as u64;
    let allowed = Arc::new(AtomicU64::new(plan.first().map_or(s.records, due)));
    let sent = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (kafka, topic) = (s.kafka.clone(), topics.raw_logs.name.clone());
        let (watch, allowed, sent) = (watch.clone(), allowed.clone(), sent.clone());
        let (records, rate) = (s.records, s.rate);
        tokio::task::spawn_blocking(move || {
            feed(&kafka, &topic, records, rate, &watch, &allowed, &sent)
        })
    };

    let mut recoveries = Vec::new();
    // Each blow not recovered from: its line and its diagnosis.
    let mut unrecovered: Vec<(String, Vec<String>)> = Vec::new();
    for (k, planned) in plan.iter().enumerate() {
        while sent.load(Ordering::Relaxed) < due(planned) {
            supervise(stages)?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Records keep coming during the blow: at least a second's worth.
        let next = plan.get(k + 1).map_or(s.records, due);
        allowed.store(
            next.max(due(planned) + s.rate).min(s.records),
            Ordering::Relaxed,
        );
        let (recovery, diagnosis) = blow(s, planned, topics, stages, &watch, &http, token).await?;
        match (recovery.recovered_in, recovery.broker_down_for) {
            (Some(t), down) => println!(
                "chaos: {} at {:.1} %: output again {:.2} s after{}",
                planned.event,
                planned.at_fraction * 100.0,
                t.as_secs_f64(),
                down.map_or(" the kill".into(), |d| format!(
                    " the broker answered (down {:.1} s)",
                    d.as_secs_f64()
                ))
            ),
            (None, _) => {
                let line = format!(
                    "chaos: {} at {:.1} %: no output within {} s",
                    planned.event,
                    planned.at_fraction * 100.0,
                    RECOVERY_WAIT.as_secs()
                );
                println!("{line}");
                for d in &diagnosis {
                    println!("  {d}");
                }
                unrecovered.push((line, diagnosis));
            }
        }
        recoveries.push(recovery);
    }
    allowed.store(s.records, Ordering::Relaxed);
    feeder.await??;
    println!(
        "chaos: all {} records acknowledged by the broker",
        s.records
    );

    // Everything through, or stalled.
    let mut last = (0, Instant::now());
    loop {
        supervise(stages)?;
        let (unique, _) = watch.progress();
        if unique >= s.records {
            break;
        }
        if unique != last.0 {
            last = (unique, Instant::now());
        } else if last.1.elapsed() > STALL {
            println!("chaos: stalled at {unique} of {} records", s.records);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A late copy would come after the originals: read on a little.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let verdict = watch.verdict();
    let analytics = analytics_total(&http, &stages[1], token, s.records).await;

    if let Some(error) = watch.error() {
        println!("chaos: the reader's last error (librdkafka reconnects): {error}");
    }
    let (kills, restarts): (Vec<Recovery>, Vec<Recovery>) = recoveries
        .into_iter()
        .partition(|r| matches!(r.event, Event::Kill(_)));
    let stats = RecoveryStats::of(&kills, RECOVERY_BOUND);
    let broker = RecoveryStats::of(&restarts, RECOVERY_WAIT);
    let secs = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64()));
    println!("chaos: seed {}", s.seed);
    println!(
        "chaos: records sent {} (acknowledged), read in processed-metrics {} ({} distinct)",
        verdict.sent,
        verdict.read,
        verdict.read - verdict.duplicated - verdict.unexpected
    );
    println!(
        "chaos: lost {}, duplicated {}, unknown ids {}",
        verdict.lost, verdict.duplicated, verdict.unexpected
    );
    println!(
        "chaos: analytics total_logs_processed {}",
        analytics
            .as_ref()
            .map_or_else(|e| format!("unavailable: {e}"), |n| n.to_string())
    );
    println!(
        "chaos: {} stage kills, recovery (kill to the stage's first new output) max {}, \
         median {}, {} at or over {} s",
        stats.events,
        secs(stats.max),
        secs(stats.median),
        stats.too_slow,
        RECOVERY_BOUND.as_secs()
    );
    for r in &restarts {
        println!(
            "chaos: {}: broker down {}, processing's first new output {} after it answered",
            r.event,
            secs(r.broker_down_for),
            secs(r.recovered_in)
        );
    }
    // Again here, beside the verdict, where the tail of a CI log shows it.
    if let Some((line, diagnosis)) = unrecovered.first() {
        println!("{line} (the first of {}):", unrecovered.len());
        for d in diagnosis {
            println!("  {d}");
        }
    }
    let analytics_ok = matches!(analytics, Ok(n) if n == s.records);
    let ok = verdict.lost == 0
        && verdict.duplicated == 0
        && verdict.unexpected == 0
        && verdict.sent == s.records
        && analytics_ok
        && stats.too_slow == 0
        && broker.too_slow == 0;
    println!("chaos: {}", if ok { "PASS" } else { "FAIL" });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A stage that exited by itself (a service whose loop died ends, so that its supervisor
/// starts it again) is started again, as compose's restart policy would, and said.
fn supervise(stages: &mut [Stage; 2]) -> anyhow::Result<()> {
    for stage in stages.iter_mut() {
        if let Some(why) = stage.exited() {
            println!("chaos: {why}; started again, as its supervisor would (see its log)");
            stage.restart()?;
        }
    }
    Ok(())
}

/// One blow and the time until its stage's output came back; when it did not, what both
/// stages say of themselves then.
async fn blow(
    s: &Settings,
    planned: &Planned,
    topics: &TopicsConfig,
    stages: &mut [Stage; 2],
    watch: &Watch,
    http: &reqwest::Client,
    token: &str,
) -> anyhow::Result<(Recovery, Vec<String>)> {
    let output = |target: Target| match target {
        Target::Standardization => topics.standardized_logs.name.clone(),
        Target::Processing => topics.processed_metrics.name.clone(),
    };
    let log_from: Vec<u64> = stages.iter().map(Stage::log_len).collect();
    let (wait, from, broker_down_for) = match planned.event {
        Event::Kill(target) => {
            let stage = stages
                .iter_mut()
                .find(|st| st.target == target)
                .context("no such stage")?;
            let at = (Instant::now(), epoch_ms());
            stage.kill()?;
            let wait = watch.wait_for(&output(target), at.1);
            stage.restart()?;
            (wait, at.0, None)
        }
        Event::BrokerTerm | Event::BrokerKill => {
            let signal = if planned.event == Event::BrokerTerm {
                "TERM"
            } else {
                "KILL"
            };
            let stopped = (Instant::now(), epoch_ms());
            let script = s.kafka_script.clone();
            tokio::task::spawn_blocking(move || {
                broker(&script, &["stop", signal])?;
                broker(&script, &["restart"])
            })
            .await??;
            let answered = Instant::now();
            let wait = watch.wait_for(&output(Target::Processing), stopped.1);
            (wait, answered, Some(answered - stopped.0))
        }
    };
    let deadline = Instant::now() + RECOVERY_WAIT;
    let recovered_in = loop {
        if let Some(seen) = watch.seen_at(wait) {
            break Some(seen.saturating_duration_since(from));
        }
        if Instant::now() > deadline {
            break None;
        }
        supervise(stages)?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Both stages: processing's output also waits on standardization's, which feeds it.
    let mut diagnosis = Vec::new();
    if recovered_in.is_none() {
        for (stage, from) in stages.iter().zip(log_from) {
            let output = output(stage.target);
            diagnosis.extend(diagnosis::diagnose(http, stage, token, from, watch, &output).await);
        }
    }
    let recovery = Recovery {
        event: planned.event,
        at_fraction: planned.at_fraction,
        recovered_in,
        broker_down_for,
    };
    Ok((recovery, diagnosis))
}

/// Sends `records` generated records to `topic` at `rate` per second, never past
/// `allowed`; each id goes into the ledger before it is sent.
fn feed(
    kafka: &KafkaConfig,
    topic: &str,
    records: u64,
    rate: u64,
    watch: &Watch,
    allowed: &AtomicU64,
    sent: &AtomicU64,
) -> anyhow::Result<()> {
    let producer = bulk_producer(kafka, "chaos-feeder")?;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut next = Instant::now();
    for (i, record) in obs_samplegen::records(RECORDS_SEED, records as usize).enumerate() {
        let i = i as u64;
        while i >= allowed.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The pace goes on from now after a wait, without a burst.
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next = next.max(now) + interval;
        let id = record.record_id();
        let headers = RecordHeaders {
            record_id: id.clone(),
            schema_version: obs_records::RAW_SCHEMA_VERSION.into(),
            content_type: "application/json".into(),
            ingested_at: chrono::Utc::now(),
            traceparent: TraceParent::new_root(),
        }
        .to_kafka();
        watch.sent(id.as_bytes());
        send(
            &producer,
            topic,
            &record.series_key(),
            &record.to_json_bytes(),
            headers,
        );
        sent.store(i + 1, Ordering::Relaxed);
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(())
}

/// Processing's checkpoint interval for a run of `records`: the default 40,000 for the
/// full 1,000,000, in proportion below it (1,000 at least).
fn checkpoint_interval(records: u64) -> u64 {
    (records / 25).clamp(1_000, 40_000)
}

/// Waits until `stage` says it is ready.
async fn ready(http: &reqwest::Client, stage: &Stage) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(stage.url("/health/ready")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{} not ready after 180 s", stage.target.name())
}

/// Processing's `total_logs_processed` once its view has caught up and counted
/// `expected` (or what it says when the wait ends).
async fn analytics_total(
    http: &reqwest::Client,
    processing: &Stage,
    token: &str,
    expected: u64,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = processing.read(http, "/analytics/summary", token).await?;
        let total = answer["total_logs_processed"]
            .as_u64()
            .context("no total_logs_processed in the summary")?;
        let caught_up = answer["view_caught_up"].as_bool().unwrap_or(false);
        if (caught_up && total >= expected) || Instant::now() > deadline {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
