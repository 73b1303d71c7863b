//! The points the detector's benchmarks feed: seasonal random series with occasional
//! spikes, fixed by a seed. Shared by the criterion bench and the cache probe example.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const METRICS: [&str; 4] = [
    "duration_seconds",
    "memory_bytes",
    "cpu_seconds",
    "cpu_ratio",
];

/// Series of the fleet case, each with its forest, interleaved as the processing service
/// sees them.
pub const SERIES: usize = 170;

/// One point: each metric's name and value.
pub type Point = Vec<(&'static str, f64)>;

/// `points` points of a daily season shifted by `phase` (radians), with noise and
/// spikes drawn from `seed`.
pub fn stream(metrics: usize, points: usize, seed: u64, phase: f64) -> Vec<Point> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..points)
        .map(|i| {
            let season = (i as f64 / 24.0 * std::f64::consts::TAU + phase).sin();
            METRICS[..metrics]
                .iter()
                .enumerate()
                .map(|(m, name)| {
                    let spike = if rng.random_range(0..500) == 0 {
                        10.0
                    } else {
                        1.0
                    };
                    let base = 10f64.powi(m as i32 + 1);
                    (
                        *name,
                        base * (2.0 + season + rng.random_range(-0.3..0.3)) * spike,
                    )
                })
                .collect()
        })
        .collect()
}

/// The fleet's streams, one per series, of `points` points each, and the series' names.
pub fn fleet(metrics: usize, points: usize) -> (Vec<String>, Vec<Vec<Point>>) {
    let names = (0..SERIES).map(|s| format!("job-{s}")).collect();
    let streams = (0..SERIES)
        .map(|s| stream(metrics, points, 42 + s as u64, s as f64))
        .collect();
    (names, streams)
}
