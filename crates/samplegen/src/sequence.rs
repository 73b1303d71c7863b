//! One hourly sequence of every company: the runs, their timing, and what goes wrong.
//!
//! Within a sequence each source's objects run one after another and the sources run
//! side by side, all starting at the same instant, as in the field. Records are emitted
//! when a run ends, so a sequence's records are ordered by `Fin`.

use crate::config::GeneratorConfig;
use crate::failure::{self, Failure};
use crate::fleet::{normal, Fleet, ObjectProfile};
use crate::sample::{AnomalyKind, Label, Sample};
use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike, Weekday};
use obs_records::{RawRecord, Status};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Longest run the generator writes (4 h), so a slow run of a slow object stays sane.
pub(crate) const MAX_RUN_SECONDS: f64 = 4.0 * 3600.0;

/// `Description` of every successful run.
const SUCCESS_TEXT: &str = "Tout roule, pas de stress!";

/// `Parametres` of every run: the connectors only print list or DataFrame parameters.
const PARAMETERS: &str = "non affiché car différent de list ou dataframe";

/// `Zone` of every run: they all land raw data.
const ZONE: &str = "1-Raw";

/// Memory is measured as an RSS delta, hence in whole pages.
const PAGE: f64 = 4096.0;

/// Floor of an injected memory spike: above 100 MB whatever the object's baseline.
const MIN_MEMORY_SPIKE: f64 = 110.0 * 1024.0 * 1024.0;
const MAX_MEMORY: f64 = 3.0 * 1024.0 * 1024.0 * 1024.0;

/// Start of hour `hour` of the sample, or `None` past the calendar's end: the margin
/// keeps every timestamp of that hour's runs representable, so no addition below panics.
pub(crate) fn hour_start(config: &GeneratorConfig, hour: usize) -> Option<NaiveDateTime> {
    let first_hour = config
        .start
        .with_minute(0)?
        .with_second(0)?
        .with_nanosecond(0)?;
    let start = first_hour.checked_add_signed(TimeDelta::try_hours(i64::try_from(hour).ok()?)?)?;
    start.checked_add_signed(TimeDelta::try_days(365)?)?;
    Some(start)
}

/// When each chain (`[company][chain]`, as in the fleet) finished its last run.
///
/// A connector runs one sequence at a time: when a chain overruns the hour, the next
/// sequence's chain starts late rather than overlapping it, so every object's runs
/// stay in order.
pub(crate) struct Backlog(Vec<Vec<NaiveDateTime>>);

impl Backlog {
    pub fn new(fleet: &Fleet) -> Backlog {
        Backlog(
            fleet
                .companies
                .iter()
                .map(|company| vec![NaiveDateTime::MIN; company.chains.len()])
                .collect(),
        )
    }
}

/// All samples of the sequences starting in the hour from `hour_start`, ordered by
/// company schedule then by end time.
pub(crate) fn hour_samples(
    fleet: &Fleet,
    config: &GeneratorConfig,
    hour_start: NaiveDateTime,
    backlog: &mut Backlog,
    rng: &mut ChaCha8Rng,
) -> Vec<Sample> {
    let mut companies: Vec<(u32, Vec<Sample>)> = fleet
        .companies
        .iter()
        .zip(&mut backlog.0)
        .map(|(company, busy_until)| {
            let sequence_start = hour_start + TimeDelta::minutes(i64::from(company.minute));
            let mut samples = Vec::new();
            // Interpreter start-up, imports and configuration reads before the first call.
            let launch =
                sequence_start + TimeDelta::microseconds(rng.random_range(12_000_000..40_000_000));
            for (chain, busy_until) in company.chains.iter().zip(busy_until.iter_mut()) {
                let outage =
                    (rng.random::<f64>() < config.outage_rate).then(|| failure::outage(rng));
                let mut debut = launch.max(*busy_until + gap(rng));
                for object in &chain.objects {
                    let sample = run(object, config, sequence_start, debut, outage, rng);
                    *busy_until = sample.record.end;
                    debut = sample.record.end + gap(rng);
                    samples.push(sample);
                }
            }
            samples.sort_by(|a, b| {
                (a.record.end, a.record.object_id).cmp(&(b.record.end, b.record.object_id))
            });
            (company.minute, samples)
        })
        .collect();
    companies.sort_by_key(|(minute, _)| *minute);
    companies.into_iter().flat_map(|(_, s)| s).collect()
}

/// Pause between two runs of a chain: often none at the log's resolution, a few
/// milliseconds otherwise.
fn gap(rng: &mut ChaCha8Rng) -> TimeDelta {
    let roll = rng.random::<f64>();
    let micros = if roll < 0.3 {
        0
    } else if roll < 0.95 {
        rng.random_range(300..3_000)
    } else {
        rng.random_range(5_000..15_000)
    };
    TimeDelta::microseconds(micros)
}

/// Business hours on weekdays move more data; weekends less.
fn load_factor(at: NaiveDateTime) -> f64 {
    let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
    match (weekend, at.hour()) {
        (true, _) => 0.9,
        (false, 8..=17) => 1.15,
        (false, _) => 1.0,
    }
}

/// What a run measured before rounding to the log's resolution.
struct Measures {
    duration: f64,
    cpu: f64,
    memory: f64,
}

fn run(
    object: &ObjectProfile,
    config: &GeneratorConfig,
    sequence_start: NaiveDateTime,
    debut: NaiveDateTime,
    outage: Option<Failure>,
    rng: &mut ChaCha8Rng,
) -> Sample {
    let load = load_factor(sequence_start);
    let expected = object.duration_median * load;
    let mut kinds = Vec::new();
    let failure = outage.or_else(|| {
        (rng.random::<f64>() < config.failure_rate * object.failure_weight)
            .then(|| failure::isolated(object, rng))
    });
    let (status, description, measures) = match failure {
        Some(failure) => {
            kinds.push(AnomalyKind::Failure);
            let duration = failure::failed_duration(failure.cause, expected, rng);
            // Memory and CPU follow the share of the work done before failing; waiting
            // on a timeout costs no CPU.
            let done = (duration / expected).min(1.0);
            let measures = Measures {
                duration,
                cpu: expected.min(duration) * object.cpu_ratio * jitter(0.25, rng),
                memory: object.memory_median * load * done * jitter(object.memory_sigma, rng),
            };
            let text = failure::description(failure, object);
            (Status::Failed, text, measures)
        }
        None => {
            let measures = successful_measures(object, expected, load, config, &mut kinds, rng);
            (Status::Success, SUCCESS_TEXT.to_string(), measures)
        }
    };

    let micros = (measures.duration.min(MAX_RUN_SECONDS) * 1e6)
        .round()
        .max(1.0);
    let duration_micros = micros as i64;
    let cpu_cents = (measures.cpu * 100.0)
        .round()
        .min((micros / 1e4).floor())
        .max(0.0);
    let mut memory = (measures.memory.clamp(0.0, MAX_MEMORY) / PAGE).floor() * PAGE;
    if !kinds.contains(&AnomalyKind::MemorySpike)
        && rng.random::<f64>() < config.negative_memory_rate
    {
        // The RSS delta goes negative when the allocator returns pages during the run.
        let released =
            (rng.random_range((256.0 * 1024.0f64).ln()..(8.0 * 1024.0 * 1024.0f64).ln())).exp();
        memory = -(released / PAGE).floor().max(1.0) * PAGE;
        kinds.push(AnomalyKind::NegativeMemory);
    }

    let record = RawRecord {
        sequence_id: sequence_start.format("%Y-%m-%d-%H-%M").to_string(),
        sequence_date: sequence_start.date(),
        sequence_hour: sequence_start.hour(),
        sequence_minute: sequence_start.minute(),
        company: object.company.clone(),
        zone: ZONE.to_string(),
        source: object.source.name.to_string(),
        object_id: object.id,
        object_type: object.name.clone(),
        transformation: object.source.transformation.to_string(),
        parameters: PARAMETERS.to_string(),
        status,
        start: debut,
        end: debut + TimeDelta::microseconds(duration_micros),
        duration_seconds: micros / 1e6,
        description,
        cpu_time_seconds: cpu_cents / 100.0,
        memory_used_bytes: memory as i64,
    };
    let label = Label {
        record_id: record.record_id(),
        series_key: record.series_key(),
        anomalous: !kinds.is_empty(),
        kinds,
    };
    Sample { record, label }
}

/// Measures of a run that succeeded, with any injected anomaly recorded in `kinds`.
fn successful_measures(
    object: &ObjectProfile,
    expected: f64,
    load: f64,
    config: &GeneratorConfig,
    kinds: &mut Vec<AnomalyKind>,
    rng: &mut ChaCha8Rng,
) -> Measures {
    let mut duration = expected * jitter(object.duration_sigma, rng);
    let mut cpu = duration * object.cpu_ratio * jitter(0.25, rng);
    let mut memory = object.memory_median * load * jitter(object.memory_sigma, rng);
    if rng.random::<f64>() >= config.anomaly_rate {
        return Measures {
            duration,
            cpu,
            memory,
        };
    }
    let roll = rng.random::<f64>();
    if roll < 0.5 {
        // Slow API: the run waits, so CPU barely moves while wall time explodes.
        kinds.push(AnomalyKind::SlowRun);
        duration = (object.duration_median * rng.random_range(10.0..50.0)).min(MAX_RUN_SECONDS);
        cpu *= rng.random_range(1.0..2.5);
        if rng.random::<f64>() < 0.25 {
            // A slow run is often a big payload, which also costs memory.
            kinds.push(AnomalyKind::MemorySpike);
            memory = memory_spike(object, rng);
        }
    } else if roll < 0.8 {
        kinds.push(AnomalyKind::MemorySpike);
        memory = memory_spike(object, rng);
    } else {
        // CPU-bound processing: CPU ×10–40, and wall time stretches (at most ×3) when
        // the CPU would otherwise exceed it — one Python thread cannot beat the clock.
        kinds.push(AnomalyKind::CpuSpike);
        let target = cpu * rng.random_range(10.0..40.0);
        duration = duration.max((target / 0.95).min(3.0 * duration));
        cpu = target.min(0.95 * duration);
    }
    Measures {
        duration,
        cpu,
        memory,
    }
}

/// Memory of a spike: ×8–30 the object's median, and above 100 MB in any case.
fn memory_spike(object: &ObjectProfile, rng: &mut ChaCha8Rng) -> f64 {
    (object.memory_median * rng.random_range(8.0..30.0))
        .max(rng.random_range(MIN_MEMORY_SPIKE..4.0 * MIN_MEMORY_SPIKE))
}

/// Multiplicative log-normal noise of median 1.
fn jitter(sigma: f64, rng: &mut ChaCha8Rng) -> f64 {
    (sigma * normal(rng)).exp()
}
