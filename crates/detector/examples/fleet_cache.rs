//! The fleet case of the detector's benchmark as a fixed amount of work, for a cache
//! simulator: on a shared machine the fleet's throughput drifts with the neighbours'
//! use of the last-level cache, whereas cachegrind's counts of instructions and misses are
//! the same in every run, so two builds can be compared exactly. It prints a checksum of
//! every verdict, which two builds of a change meant to keep them give alike.
//!
//! ```text
//! cargo build --release -p obs-detector --example fleet_cache
//! valgrind --tool=cachegrind --cache-sim=yes --LL=1048576,16,64 \
//!     target/release/examples/fleet_cache [passes]
//! ```

use chrono::{DateTime, TimeDelta, Utc};
use fleet::fleet;
use obs_detector::anomaly::{DetectorBank, DetectorConfig};
use std::fmt::Write;

#[path = "../benches/support/fleet.rs"]
mod fleet;

/// Points per series in a pass: the bench's 17,000 points over its 170 series.
const PER_SERIES: usize = 100;

fn main() {
    let passes: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 6,
        Some(Ok(passes)) => passes,
        Some(Err(error)) => {
            eprintln!("passes: {error}");
            std::process::exit(2);
        }
    };
    let (names, streams) = fleet(fleet::METRICS.len(), PER_SERIES);
    let mut bank = match DetectorBank::new(DetectorConfig::default()) {
        Ok(bank) => bank,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    let mut time = DateTime::<Utc>::UNIX_EPOCH;
    // FNV-1a over the verdicts' debug text.
    let mut checksum: u64 = 0xcbf2_9ce4_8422_2325;
    let mut text = String::new();
    for _ in 0..passes {
        for i in 0..PER_SERIES {
            time += TimeDelta::seconds(60);
            for (series, points) in names.iter().zip(&streams) {
                let verdict = bank.observe(series, time, &points[i]);
                text.clear();
                let _ = write!(text, "{verdict:?}");
                for byte in text.bytes() {
                    checksum = (checksum ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
    }
    println!(
        "{} points, verdicts checksum {checksum:016x}",
        passes * PER_SERIES * names.len()
    );
}
