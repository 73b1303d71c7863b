//! The fleet: which company runs which objects, when, and how each object normally
//! behaves. Drawn once per seed so every hour of a sample shares the same baselines —
//! anomalies are only meaningful against an object's own history.

use crate::catalog::{self, Source, SOURCES};
use crate::config::GeneratorConfig;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Share of objects that fail far more often than the rest (like the field's list whose
/// items sometimes lack an `id`), and how much more.
const FLAKY_SHARE: f64 = 0.08;
const FLAKY_WEIGHT: f64 = 6.0;

/// Bounds of an object's median duration, in seconds. The upper bound keeps a ×10 slow
/// run under [`crate::sequence::MAX_RUN_SECONDS`].
const MIN_MEDIAN_SECONDS: f64 = 0.4;
const MAX_MEDIAN_SECONDS: f64 = 900.0;

/// Upper bound of an object's median memory delta: the field's largest is ~180 MB.
const MAX_MEDIAN_MEMORY: f64 = 200.0 * 1024.0 * 1024.0;

/// How one object normally runs, and how it fails.
pub(crate) struct ObjectProfile {
    pub company: String,
    pub source: &'static Source,
    pub name: String,
    pub id: i64,
    /// Median duration in seconds, before the time-of-day load factor.
    pub duration_median: f64,
    /// Log-space spread of durations around the median.
    pub duration_sigma: f64,
    /// Median memory delta in bytes.
    pub memory_median: f64,
    pub memory_sigma: f64,
    /// CPU seconds per wall-clock second; the connectors mostly wait on HTTP.
    pub cpu_ratio: f64,
    /// Multiplier of the configured failure rate for this object; averages 1.
    pub failure_weight: f64,
    /// The error a flaky object keeps failing with, as Python prints it.
    pub signature_error: Option<String>,
}

/// Objects of one source, run one after another within a sequence.
pub(crate) struct Chain {
    pub objects: Vec<ObjectProfile>,
}

/// One company's hourly schedule.
pub(crate) struct Company {
    /// Minute past the hour at which its sequence starts (45 for the field company).
    pub minute: u32,
    /// One chain per source it uses; chains start together and run in parallel.
    pub chains: Vec<Chain>,
}

pub(crate) struct Fleet {
    pub companies: Vec<Company>,
}

impl Fleet {
    /// Draws the fleet from `rng`; depends only on the seed, the company count and
    /// `objects_per_source`, not on the number of hours.
    pub fn draw(config: &GeneratorConfig, rng: &mut ChaCha8Rng) -> Fleet {
        let normal_weight = (1.0 - FLAKY_SHARE * FLAKY_WEIGHT) / (1.0 - FLAKY_SHARE);
        let mut next_id: i64 = 1001;
        let mut companies = Vec::with_capacity(config.companies);
        for index in 0..config.companies {
            let company = catalog::company_name(index);
            let minute = if index == 0 {
                45
            } else {
                5 * rng.random_range(0..12u32)
            };
            let used = used_sources(index, rng);
            let mut chains = Vec::new();
            for (source, _) in SOURCES.iter().zip(used).filter(|(_, used)| *used) {
                let available = source.objects.len().min(config.objects_per_source);
                let count = if index == 0 {
                    available
                } else {
                    rng.random_range(1..=available.max(1)).min(available)
                };
                let chosen = rand::seq::index::sample(rng, source.objects.len(), count);
                let mut positions = chosen.into_vec();
                positions.sort_unstable();
                // Ids come from one configuration table: mostly consecutive, with the
                // gaps left by objects deleted or added later.
                next_id += rng.random_range(1..=40);
                let objects = positions
                    .into_iter()
                    .map(|position| {
                        next_id += if rng.random::<f64>() < 0.85 {
                            1
                        } else {
                            rng.random_range(2..=25)
                        };
                        let flaky = rng.random::<f64>() < FLAKY_SHARE;
                        profile(
                            &company,
                            source,
                            source.objects[position],
                            next_id,
                            if flaky { FLAKY_WEIGHT } else { normal_weight },
                            flaky,
                            rng,
                        )
                    })
                    .collect();
                chains.push(Chain { objects });
            }
            companies.push(Company { minute, chains });
        }
        Fleet { companies }
    }

    /// `true` when no company runs any object: nothing can ever be generated.
    pub fn is_empty(&self) -> bool {
        self.companies
            .iter()
            .flat_map(|company| &company.chains)
            .all(|chain| chain.objects.is_empty())
    }
}

/// Which sources a company uses: all six for the field company, a random non-empty
/// subset otherwise.
fn used_sources(index: usize, rng: &mut ChaCha8Rng) -> [bool; 6] {
    if index == 0 {
        return [true; 6];
    }
    let mut used = [false; 6];
    for flag in &mut used {
        *flag = rng.random::<f64>() < 0.6;
    }
    if !used.contains(&true) {
        used[rng.random_range(0..used.len())] = true;
    }
    used
}

fn profile(
    company: &str,
    source: &'static Source,
    template: &str,
    id: i64,
    failure_weight: f64,
    flaky: bool,
    rng: &mut ChaCha8Rng,
) -> ObjectProfile {
    // Heavy-tailed across objects: most take a few seconds, a few take minutes (the
    // field's time-log export runs ~13 minutes every hour).
    let mut duration_median = 3.5 * (0.9 * normal(rng)).exp();
    if rng.random::<f64>() < 0.03 {
        duration_median *= rng.random_range(10.0..60.0);
    }
    let duration_median = duration_median.clamp(MIN_MEDIAN_SECONDS, MAX_MEDIAN_SECONDS);
    // Memory grows with the amount of data, hence with duration, but loosely. Small
    // reference tables fit in memory already allocated: their delta is a few pages or
    // zero, as in the field.
    let memory_median = if rng.random::<f64>() < 0.12 {
        rng.random_range(256f64.ln()..65_536f64.ln()).exp()
    } else {
        (2.5e6 * (duration_median / 3.5) * (1.5 * normal(rng)).exp()).min(MAX_MEDIAN_MEMORY)
    };
    let signature_error = flaky.then(|| signature_error(source, rng));
    ObjectProfile {
        company: company.to_string(),
        source,
        name: catalog::object_name(template, company),
        id,
        duration_median,
        duration_sigma: rng.random_range(0.08..0.35),
        memory_median,
        memory_sigma: rng.random_range(0.15..0.7),
        cpu_ratio: (rng.random_range(0.02f64.ln()..0.35f64.ln())).exp(),
        failure_weight,
        signature_error,
    }
}

/// The error a flaky object repeats: mostly a `KeyError` on a response key (the field
/// shows `'id'`), sometimes its pandas or `None` cousins.
fn signature_error(source: &Source, rng: &mut ChaCha8Rng) -> String {
    let roll = rng.random::<f64>();
    if roll < 0.5 {
        "'id'".to_string()
    } else if roll < 0.8 {
        let key = source.response_keys[rng.random_range(0..source.response_keys.len())];
        format!("'{key}'")
    } else if roll < 0.9 {
        "\"['id'] not in index\"".to_string()
    } else {
        "'NoneType' object is not subscriptable".to_string()
    }
}

/// One draw of a standard normal variable.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}
