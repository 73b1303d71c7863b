//! Backtesting: the streaming detector over one file or a tree of files.

use crate::series_csv;
use anyhow::{bail, Context, Result};
use obs_detector::anomaly::{DetectorBank, DetectorConfig, DetectorError, Verdict};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The metric name of the single value of a `timestamp,value` series.
const METRIC: &str = "value";

pub struct Options {
    pub config: DetectorConfig,
    pub explain: bool,
}

/// Scores `input` (a file, or every `*.csv` under a directory) into `output`, mirroring the
/// tree; progress of a tree goes to stderr.
pub fn backtest(input: &Path, output: &Path, options: &Options) -> Result<()> {
    let metadata =
        fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
    if !metadata.is_dir() {
        let name = input
            .file_name()
            .with_context(|| format!("{} has no file name", input.display()))?;
        let summary = run_file(input, &output.join(name), options)?;
        eprintln!("{}: {summary}", input.display());
        return Ok(());
    }
    let mut files = Vec::new();
    collect_csv(input, Path::new(""), &mut files)?;
    if files.is_empty() {
        bail!("no *.csv file under {}", input.display());
    }
    files.sort();
    for (done, relative) in files.iter().enumerate() {
        let summary = run_file(&input.join(relative), &output.join(relative), options)?;
        eprintln!(
            "[{}/{}] {}: {summary}",
            done + 1,
            files.len(),
            relative.display()
        );
    }
    Ok(())
}

/// Relative paths of the `*.csv` files under `root/relative`.
fn collect_csv(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(relative);
    let entries = fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect_csv(root, &path, files)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Scores one series file; the output is written only once the whole file has been scored.
fn run_file(input: &Path, output: &Path, options: &Options) -> Result<String> {
    let started = Instant::now();
    let text =
        fs::read_to_string(input).with_context(|| format!("cannot read {}", input.display()))?;
    let rows = series_csv::parse(&text).with_context(|| input.display().to_string())?;
    let mut bank = DetectorBank::new(options.config.clone())?;
    let mut out = String::with_capacity(text.len() * 2);
    out.push_str("timestamp,value,anomaly_score,is_anomaly");
    if options.explain {
        out.push_str(
            ",surprise,zscore,step,ewma,forest,novelty,seasonal,outage_probability,predictive_alert,explanation",
        );
    }
    out.push('\n');
    let (mut flagged, mut late) = (0, 0);
    for row in &rows {
        let verdict = match bank.observe(METRIC, row.timestamp, &[(METRIC, row.value)]) {
            Ok(verdict) => Some(verdict),
            // Real series have the odd row that steps back in time; the detector refuses to
            // judge it with later data, and its output row stays unscored.
            Err(err @ DetectorError::OutOfOrder { .. }) => {
                eprintln!(
                    "warning: {}: line {}: not scored: {err}",
                    input.display(),
                    row.line
                );
                late += 1;
                None
            }
            Err(err) => {
                return Err(err).with_context(|| format!("{}: line {}", input.display(), row.line))
            }
        };
        let score = verdict.as_ref().and_then(Verdict::score).unwrap_or(0.0);
        let anomaly = verdict
            .as_ref()
            .and_then(Verdict::assessment)
            .is_some_and(|a| a.severity.is_some());
        flagged += usize::from(anomaly);
        write!(
            out,
            "{},{},{score},{}",
            row.timestamp_text,
            row.value_text,
            u8::from(anomaly)
        )?;
        if options.explain {
            explain(&mut out, verdict.as_ref())?;
        }
        out.push('\n');
    }
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(output, out).with_context(|| format!("cannot write {}", output.display()))?;
    let late = if late > 0 {
        format!(", {late} out of order (not scored)")
    } else {
        String::new()
    };
    Ok(format!(
        "{} rows, {flagged} at or above the warning level{late}, {} ms",
        rows.len(),
        started.elapsed().as_millis()
    ))
}

fn explain(out: &mut String, verdict: Option<&Verdict>) -> std::fmt::Result {
    let Some(verdict) = verdict else {
        return out.write_str(",,,,,,,,,,out of order");
    };
    let Some(a) = verdict.assessment() else {
        return out.write_str(",,,,,,,,,,insufficient history");
    };
    let opt = |s: Option<f64>| s.map(|s| s.to_string()).unwrap_or_default();
    let e = &a.explanation;
    write!(
        out,
        ",{},{},{},{},{},{},{},{},{},{:?} {} {} vs {} (z {:.2})",
        a.surprise,
        opt(a.detectors.zscore),
        opt(a.detectors.step),
        opt(a.detectors.ewma),
        opt(a.detectors.forest),
        opt(a.detectors.novelty),
        opt(a.detectors.seasonal),
        a.outage_probability,
        u8::from(a.predictive_alert),
        e.detector,
        e.metric,
        e.value,
        e.baseline,
        e.z
    )
}
