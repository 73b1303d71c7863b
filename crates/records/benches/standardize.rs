//! Throughput of the standardization hot path (`standardize_bytes`: parse, validate,
//! standardize) on the field seed records, in records per second; and of its two halves
//! apart, so a regression can be placed. `parse_via_value` is the validating path alone
//! (the `Value` tree then `RawRecord::from_json`), which `RawRecord::parse` falls back to
//! for anything its fast path declines, so the gain of the fast path stays visible.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use obs_records::{standardize, standardize_bytes, RawRecord, StandardizeOptions};
use std::hint::black_box;

/// The 72 field records, one per NDJSON line; read in place, never copied into the project.
const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
));

fn seed_lines() -> Vec<&'static [u8]> {
    SEED.lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::as_bytes)
        .collect()
}

fn bench_standardize(c: &mut Criterion) {
    let lines = seed_lines();
    let mut group = c.benchmark_group("standardize_bytes");
    group.throughput(Throughput::Elements(lines.len() as u64));
    for (name, options) in [
        ("seed/utc", StandardizeOptions::default()),
        (
            "seed/europe_paris",
            StandardizeOptions {
                zone: chrono_tz::Europe::Paris,
            },
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for line in &lines {
                    // A failure would show as an error count in the tests, not here; the
                    // result is consumed so the work is not optimised away.
                    let _ = black_box(standardize_bytes(black_box(line), &options));
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("halves");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse_and_validate", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(RawRecord::parse(black_box(line)));
            }
        })
    });
    group.bench_function("parse_via_value", |b| {
        b.iter(|| {
            for line in &lines {
                let value = serde_json::from_slice::<serde_json::Value>(black_box(line));
                let _ = black_box(value.map(|v| RawRecord::from_json(&v)));
            }
        })
    });
    let parsed: Vec<RawRecord> = lines
        .iter()
        .filter_map(|line| RawRecord::parse(line).ok())
        .collect();
    let options = StandardizeOptions::default();
    group.bench_function("standardize_parsed", |b| {
        b.iter(|| {
            for raw in &parsed {
                let _ = black_box(standardize(black_box(raw), &options));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_standardize);
criterion_main!(benches);
