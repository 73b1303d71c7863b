//! The metrics of a connector run, as the bank scores them.

/// Wall time of the run.
pub const DURATION_SECONDS: &str = "duration_seconds";
/// Memory used (negative values are a data-quality problem the rules flag; they are still
/// scored, on the signed log scale).
pub const MEMORY_BYTES: &str = "memory_bytes";
/// CPU time of the run.
pub const CPU_SECONDS: &str = "cpu_seconds";
/// CPU time over wall time: a job that suddenly waits (or spins) shows here first.
pub const CPU_RATIO: &str = "cpu_ratio";

/// The features of one run, for [`DetectorBank::observe`](super::DetectorBank::observe).
/// The ratio is 0 for a run of zero duration.
pub fn run_features(
    duration_seconds: f64,
    cpu_seconds: f64,
    memory_bytes: f64,
) -> [(&'static str, f64); 4] {
    let ratio = if duration_seconds > 0.0 {
        cpu_seconds / duration_seconds
    } else {
        0.0
    };
    [
        (DURATION_SECONDS, duration_seconds),
        (MEMORY_BYTES, memory_bytes),
        (CPU_SECONDS, cpu_seconds),
        (CPU_RATIO, ratio),
    ]
}
