//! Deterministic generator of realistic raw job-execution records, with ground truth.
//!
//! The stack is tested, benchmarked and demonstrated on data that must look like the
//! connectors' logs yet be reproducible and labelled: which runs failed, which were
//! made slow or memory-hungry on purpose. Everything here is a pure function of a
//! [`GeneratorConfig`] — one seed gives byte-identical output (for the locked versions of
//! `rand_chacha` and `rand_distr`) — so the committed sample (`sample-data/`) is checked
//! against the generator by a test.
//!
//! The model, drawn from one hourly run of the field:
//! * a **fleet** of companies (`akonovia` plus invented ones), each running a subset of
//!   the six sources (`sharepoint_graph`, `Efficy`, `zohobooks`, `EasyProjects`,
//!   `PowerBI`, `zohoprojects`, spelled as the connectors spell them) every hour at its
//!   own minute;
//! * per object, a **baseline**: log-normal duration and memory around medians that are
//!   themselves heavy-tailed across objects, and a CPU share of the wall time;
//! * per run, **incidents**: isolated failures with real Python/HTTP error texts, whole
//!   sources failing together (expired token, outage), negative memory deltas (an RSS
//!   measurement artifact seen in the field), and injected anomalies — slow runs
//!   (×10–50 the object's median), memory spikes (above 100 MB), CPU spikes.

mod catalog;
mod config;
mod failure;
mod fleet;
mod sample;
mod sequence;

pub use config::GeneratorConfig;
use fleet::Fleet;
use obs_records::RawRecord;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
pub use sample::{AnomalyKind, Label, Sample};
use sequence::Backlog;
use std::io::{self, Write};

/// Counts printed by `sample-gen` and documented with the committed sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub records: usize,
    pub failed: usize,
    pub anomalous: usize,
}

impl Summary {
    pub fn of(samples: &[Sample]) -> Summary {
        samples
            .iter()
            .fold(Summary::default(), |mut summary, sample| {
                summary.records += 1;
                summary.failed += usize::from(sample.label.kinds.contains(&AnomalyKind::Failure));
                summary.anomalous += usize::from(sample.label.anomalous);
                summary
            })
    }
}

/// Every sample of `config`, in emission order: hour by hour, company by schedule,
/// run by end time.
pub fn generate(config: &GeneratorConfig) -> Vec<Sample> {
    samples(config).collect()
}

/// The samples of `config`, generated lazily one hour at a time.
pub fn samples(config: &GeneratorConfig) -> Samples {
    Samples::new(config.clone(), Some(config.hours))
}

/// `n` valid records of the default fleet with seed `seed`, for tests and benchmarks
/// that need volume: as many hours as it takes, the first ones identical to
/// [`generate`] with the same seed.
pub fn records(seed: u64, n: usize) -> impl Iterator<Item = RawRecord> {
    records_of_fleet(seed, GeneratorConfig::default().companies, n)
}

/// [`records`] of a fleet of `companies` companies (the default has 4): a larger fleet
/// has more series, each running as often.
pub fn records_of_fleet(seed: u64, companies: usize, n: usize) -> impl Iterator<Item = RawRecord> {
    let config = GeneratorConfig {
        seed,
        companies,
        ..GeneratorConfig::default()
    };
    Samples::new(config, None)
        .map(|sample| sample.record)
        .take(n)
}

/// Iterator over generated samples; see [`samples`] and [`records`].
pub struct Samples {
    config: GeneratorConfig,
    fleet: Fleet,
    backlog: Backlog,
    next_hour: usize,
    /// `None`: until the calendar runs out.
    hours: Option<usize>,
    pending: std::vec::IntoIter<Sample>,
}

impl Samples {
    fn new(config: GeneratorConfig, hours: Option<usize>) -> Samples {
        // Stream 0 draws the fleet and stream h + 1 draws hour h, so neither depends on
        // how many hours are generated: a longer sample extends a shorter one.
        let fleet = Fleet::draw(&config, &mut ChaCha8Rng::seed_from_u64(config.seed));
        Samples {
            backlog: Backlog::new(&fleet),
            config,
            fleet,
            next_hour: 0,
            hours,
            pending: Vec::new().into_iter(),
        }
    }
}

impl Iterator for Samples {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        loop {
            if let Some(sample) = self.pending.next() {
                return Some(sample);
            }
            if self.fleet.is_empty() || self.hours.is_some_and(|h| self.next_hour >= h) {
                return None;
            }
            let start = sequence::hour_start(&self.config, self.next_hour)?;
            let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
            rng.set_stream(u64::try_from(self.next_hour).ok()?.checked_add(1)?);
            self.pending = sequence::hour_samples(
                &self.fleet,
                &self.config,
                start,
                &mut self.backlog,
                &mut rng,
            )
            .into_iter();
            self.next_hour += 1;
        }
    }
}

/// Writes the records as NDJSON, one compact wire-format record per line.
pub fn write_records<W: Write>(mut out: W, samples: &[Sample]) -> io::Result<()> {
    for sample in samples {
        out.write_all(&sample.record.to_json_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes the labels as JSON Lines, in the same order as [`write_records`].
pub fn write_labels<W: Write>(mut out: W, samples: &[Sample]) -> io::Result<()> {
    for sample in samples {
        serde_json::to_writer(&mut out, &sample.label)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
