//! Throughput of the streaming detectors and cost of training a forest.
//!
//! `cargo bench -p obs-detector --bench anomaly`; the figures go in the report. Points are
//! seasonal random series with occasional spikes, fixed by a seed (`support/fleet.rs`).

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet::{fleet, stream, SERIES};
use obs_detector::anomaly::{DetectorBank, DetectorConfig, IsolationForest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

#[path = "support/fleet.rs"]
mod fleet;

const POINTS: usize = 17_000;

/// Feeds the stream to one series over and over, timestamps moving on.
fn bench_bank(c: &mut Criterion, name: &str, config: DetectorConfig, metrics: usize) {
    let points = stream(metrics, POINTS, 42, 0.0);
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function(BenchmarkId::new(name, format!("{metrics} metrics")), |b| {
        let mut bank = DetectorBank::new(config.clone()).unwrap();
        let mut time = DateTime::<Utc>::UNIX_EPOCH;
        b.iter(|| {
            for features in &points {
                time += TimeDelta::seconds(60);
                black_box(bank.observe("job", time, features).unwrap());
            }
        });
    });
    group.finish();
}

/// Feeds `SERIES` series one point each in turn, as the processing service sees a fleet:
/// every point is scored by a different series' forest, which is rarely still in cache.
/// The bank is warmed up once before the first measurement, so that every forest is
/// trained: one pass holds fewer points per series than the forest's first training needs.
fn bench_fleet(c: &mut Criterion, name: &str, config: DetectorConfig, metrics: usize) {
    let per_series = POINTS / SERIES;
    let (names, streams) = fleet(metrics, per_series);
    let mut bank = DetectorBank::new(config).unwrap();
    let mut time = DateTime::<Utc>::UNIX_EPOCH;
    let pass = || {
        for i in 0..per_series {
            time += TimeDelta::seconds(60);
            for (series, points) in names.iter().zip(&streams) {
                black_box(bank.observe(series, time, &points[i]).unwrap());
            }
        }
    };
    let id = BenchmarkId::new(name, format!("{metrics} metrics, {SERIES} series"));
    bench_passes(c, id, per_series * SERIES, pass);
}

/// Times `pass` (`points` points each time) after four passes of warm-up, so that every
/// series is past its warm-up and its forest trained.
fn bench_passes(c: &mut Criterion, id: BenchmarkId, points: usize, mut pass: impl FnMut()) {
    let mut warm = false;
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(points as u64));
    group.bench_function(id, |b| {
        if !warm {
            for _ in 0..4 {
                pass();
            }
            warm = true;
        }
        b.iter(&mut pass)
    });
    group.finish();
}

fn scoring(c: &mut Criterion) {
    let mut univariate = DetectorConfig::default();
    univariate.forest.enabled = false;
    bench_bank(c, "zscore+ewma+novelty+seasonal", univariate.clone(), 1);
    bench_bank(c, "zscore+ewma+novelty+seasonal", univariate, 4);
    bench_bank(
        c,
        "zscore+ewma+novelty+seasonal+forest",
        DetectorConfig::default(),
        4,
    );
    // What the seasonal surprise costs, measured in the same sitting.
    let mut no_seasonal = DetectorConfig::default();
    no_seasonal.seasonal.enabled = false;
    bench_bank(c, "zscore+ewma+novelty+forest", no_seasonal, 4);
    bench_fleet(
        c,
        "zscore+ewma+novelty+seasonal+forest",
        DetectorConfig::default(),
        4,
    );
    let mut forest_everywhere = DetectorConfig::default();
    forest_everywhere.forest.min_metrics = 1;
    bench_bank(
        c,
        "zscore+ewma+novelty+seasonal+forest",
        forest_everywhere,
        1,
    );
}

fn forest(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let dims = 8;
    let rows: Vec<f64> = (0..256 * dims)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut group = c.benchmark_group("forest");
    group.bench_function("train 256 points x 100 trees (8 dims)", |b| {
        b.iter(|| IsolationForest::fit(black_box(&rows), dims, 100, 256, 1).unwrap());
    });
    let forest = IsolationForest::fit(&rows, dims, 100, 256, 1).unwrap();
    group.throughput(Throughput::Elements(256));
    group.bench_function("score 256 points (100 trees)", |b| {
        b.iter(|| {
            for point in rows.chunks(dims) {
                black_box(forest.score(point).unwrap());
            }
        });
    });
    group.finish();
}

fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = short();
    targets = scoring, forest
}
criterion_main!(benches);
