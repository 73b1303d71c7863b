//! `sample-gen`: writes a generated sample as NDJSON records plus JSON Lines labels.
//!
//! With no arguments it regenerates the committed `sample-data/` files (run it from the
//! workspace root).

use anyhow::{bail, Context, Result};
use obs_samplegen::{generate, write_labels, write_records, GeneratorConfig, Summary};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
Usage: sample-gen [--seed N] [--hours H] [--companies C] [--output PATH] [--labels PATH]

Generates realistic connector job-execution records (NDJSON) and their ground-truth
labels (JSON Lines, one per record, same order). Same arguments, same bytes.

Options:
  --seed N         random seed (default: the committed sample's)
  --hours H        hourly sequences per company (default: 48)
  --companies C    number of companies, at least 1; the first is akonovia (default: 4)
  --output PATH    records file (default: sample-data/logs.json)
  --labels PATH    labels file (default: sample-data/labels.json)
  -h, --help       print this help";

struct Args {
    config: GeneratorConfig,
    output: PathBuf,
    labels: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse_args(&args).and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sample-gen: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        config: GeneratorConfig::default(),
        output: PathBuf::from("sample-data/logs.json"),
        labels: PathBuf::from("sample-data/labels.json"),
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else {
            bail!("{flag:?} needs a value or is unknown\n\n{USAGE}");
        };
        match flag.as_str() {
            "--seed" => parsed.config.seed = number(flag, value)?,
            "--hours" => parsed.config.hours = number(flag, value)?,
            "--companies" => {
                parsed.config.companies = number(flag, value)?;
                if parsed.config.companies == 0 {
                    bail!("--companies must be at least 1");
                }
            }
            "--output" => parsed.output = PathBuf::from(value),
            "--labels" => parsed.labels = PathBuf::from(value),
            _ => bail!("unknown option {flag:?}\n\n{USAGE}"),
        }
    }
    Ok(parsed)
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| anyhow::anyhow!("{flag} expects a non-negative integer, got {value:?}"))
}

fn run(args: &Args) -> Result<()> {
    let samples = generate(&args.config);
    write_file(&args.output, |file| write_records(file, &samples))?;
    write_file(&args.labels, |file| write_labels(file, &samples))?;
    let summary = Summary::of(&samples);
    eprintln!(
        "sample-gen: {} records, {} failed, {} anomalous -> {}, {}",
        summary.records,
        summary.failed,
        summary.anomalous,
        args.output.display(),
        args.labels.display()
    );
    Ok(())
}

fn write_file(
    path: &Path,
    write: impl FnOnce(BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    write(BufWriter::new(file)).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_write_the_committed_files() {
        let parsed = parse_args(&[]).unwrap();
        assert_eq!(parsed.config, GeneratorConfig::default());
        assert_eq!(parsed.output, PathBuf::from("sample-data/logs.json"));
        assert_eq!(parsed.labels, PathBuf::from("sample-data/labels.json"));
    }

    #[test]
    fn options_are_read() {
        let parsed = parse_args(&args(&[
            "--seed",
            "7",
            "--hours",
            "2",
            "--companies",
            "3",
            "--output",
            "a",
            "--labels",
            "b",
        ]))
        .unwrap();
        assert_eq!(parsed.config.seed, 7);
        assert_eq!(parsed.config.hours, 2);
        assert_eq!(parsed.config.companies, 3);
        assert_eq!(parsed.output, PathBuf::from("a"));
        assert_eq!(parsed.labels, PathBuf::from("b"));
    }

    #[test]
    fn bad_arguments_are_refused_clearly() {
        for (bad, expected) in [
            (vec!["--seed", "x"], "--seed expects a non-negative integer"),
            (
                vec!["--hours", "-1"],
                "--hours expects a non-negative integer",
            ),
            (vec!["--companies", "0"], "at least 1"),
            (vec!["--frobnicate", "1"], "unknown option"),
            (vec!["--seed"], "needs a value"),
        ] {
            let error = parse_args(&args(&bad)).err().unwrap().to_string();
            assert!(error.contains(expected), "{bad:?}: {error}");
        }
    }
}
