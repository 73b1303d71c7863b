//! ROC-AUC of the Isolation Forest on ODDS data sets, trained in batch as in the paper, by
//! default with the paper's settings (the streaming forest's defaults are its own).

use anyhow::{Context, Result};
use obs_detector::anomaly::{roc_auc, DetectorConfig, IsolationForest, LabelledPoints};
use std::path::PathBuf;
use std::time::Instant;

/// Trees of the paper's forest (Liu, Ting & Zhou 2008).
pub const PAPER_TREES: usize = 100;
/// Points per tree of the paper's forest.
pub const PAPER_SUBSAMPLE: usize = 256;

pub fn run(
    files: &[PathBuf],
    seed: Option<u64>,
    repeat: u64,
    trees: usize,
    subsample: usize,
) -> Result<()> {
    let first_seed = seed.unwrap_or(DetectorConfig::default().seed);
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let points =
            LabelledPoints::parse_odds(&text).with_context(|| file.display().to_string())?;
        let outliers = points.outlier.iter().filter(|o| **o).count();
        println!(
            "{}: {} points of {} features, {outliers} outliers; {trees} trees, ψ = {subsample}",
            file.display(),
            points.outlier.len(),
            points.dims
        );
        let mut aucs = Vec::new();
        for seed in (0..repeat).map(|k| first_seed.wrapping_add(k)) {
            let started = Instant::now();
            let forest = IsolationForest::fit(&points.rows, points.dims, trees, subsample, seed)?;
            let trained = started.elapsed();
            let scores = points
                .rows
                .chunks(points.dims)
                .map(|p| forest.score(p))
                .collect::<Result<Vec<f64>, _>>()?;
            let auc = roc_auc(&scores, &points.outlier)
                .context("ROC-AUC needs both outliers and inliers")?;
            println!(
                "  seed {seed}: ROC-AUC {auc:.4} (training {:.1} ms, scoring {:.1} ms)",
                trained.as_secs_f64() * 1e3,
                (started.elapsed() - trained).as_secs_f64() * 1e3
            );
            aucs.push(auc);
        }
        if aucs.len() > 1 {
            let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
            let (min, max) = aucs
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), a| (lo.min(*a), hi.max(*a)));
            println!(
                "  over {} seeds: min {min:.4}, mean {mean:.4}, max {max:.4}",
                aucs.len()
            );
        }
    }
    Ok(())
}
