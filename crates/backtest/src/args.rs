//! Command line, parsed by hand: a few flags do not justify a parser dependency.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: backtest --input PATH --output DIR [--config FILE.json] [--explain]
       backtest --print-config [--config FILE.json]
       backtest --odds FILE [--odds FILE]... [--seed N] [--repeat K] [--trees T] [--subsample S]
       backtest --labelled [--hours H] [--seed N] [--config FILE.json]

Runs the streaming detector of the processing service, one series per file, over a
`timestamp,value` CSV or every *.csv under a directory, and writes per input file
DIR/<same relative path> with `timestamp,value,anomaly_score,is_anomaly` (one row per
input row, in order; the score is 0 while the series is too young to judge; is_anomaly is
1 from the warning level of the configuration). `--explain` adds the per-detector scores,
the outage probability and the predictive alert. The output is what nab_score.py reads.
--config takes a JSON DetectorConfig (fields left out keep their defaults);
--print-config prints the configuration in effect.

--odds batch-trains an Isolation Forest (T trees, S-point subsamples; the paper's 100 and
256 by default) on an ODDS data set, as Liu et al. do, and prints its ROC-AUC; --repeat K
runs K seeds from --seed.

--labelled generates H hours (default 400) of labelled records with the sample
generator (seed N, default the generator's), scores each one with the rules and the
detectors as the processing service does, and prints the TP, FP, FN, precision, recall
and F1 of the rules alerts, the detector alerts and any alert against the labels, and
their recall per labelled kind.";

pub enum Command {
    Backtest {
        input: PathBuf,
        output: PathBuf,
        config: Option<PathBuf>,
        explain: bool,
    },
    PrintConfig {
        config: Option<PathBuf>,
    },
    Odds {
        files: Vec<PathBuf>,
        seed: Option<u64>,
        repeat: u64,
        trees: usize,
        subsample: usize,
    },
    Labelled {
        hours: usize,
        seed: Option<u64>,
        config: Option<PathBuf>,
    },
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter();
    let (mut input, mut output, mut config, mut explain) = (None, None, None, false);
    let mut print_config = false;
    let (mut odds, mut seed, mut repeat) = (Vec::new(), None, 1);
    let (mut trees, mut subsample) = (None, None);
    let (mut labelled, mut hours) = (false, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(value()?)),
            "--output" => output = Some(PathBuf::from(value()?)),
            "--config" => config = Some(PathBuf::from(value()?)),
            "--explain" => explain = true,
            "--print-config" => print_config = true,
            "--odds" => odds.push(PathBuf::from(value()?)),
            "--seed" => seed = Some(value()?.parse().context("--seed needs an integer")?),
            "--repeat" => {
                repeat = value()?.parse().context("--repeat needs an integer")?;
                if repeat == 0 {
                    bail!("--repeat needs at least 1");
                }
            }
            "--trees" => trees = Some(positive(&flag, &value()?)?),
            "--subsample" => subsample = Some(positive(&flag, &value()?)?),
            "--labelled" => labelled = true,
            "--hours" => {
                let h: usize = value()?.parse().context("--hours needs an integer")?;
                if h == 0 {
                    bail!("--hours needs at least 1");
                }
                hours = Some(h);
            }
            "-h" | "--help" => return Ok(Command::Help),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if odds.is_empty() && (trees.is_some() || subsample.is_some()) {
        bail!("--trees and --subsample go with --odds\n\n{USAGE}");
    }
    if labelled {
        if input.is_some() || output.is_some() || !odds.is_empty() || print_config || explain {
            bail!("--labelled goes with --hours, --seed and --config only\n\n{USAGE}");
        }
        return Ok(Command::Labelled {
            hours: hours.unwrap_or(crate::labelled::DEFAULT_HOURS),
            seed,
            config,
        });
    }
    if hours.is_some() {
        bail!("--hours goes with --labelled\n\n{USAGE}");
    }
    if print_config {
        if input.is_some() || output.is_some() || !odds.is_empty() {
            bail!("--print-config goes with --config only\n\n{USAGE}");
        }
        return Ok(Command::PrintConfig { config });
    }
    if !odds.is_empty() {
        if input.is_some() || output.is_some() {
            bail!("--odds does not go with --input/--output\n\n{USAGE}");
        }
        return Ok(Command::Odds {
            files: odds,
            seed,
            repeat,
            trees: trees.unwrap_or(crate::odds::PAPER_TREES),
            subsample: subsample.unwrap_or(crate::odds::PAPER_SUBSAMPLE),
        });
    }
    match (input, output) {
        (Some(input), Some(output)) => Ok(Command::Backtest {
            input,
            output,
            config,
            explain,
        }),
        _ => bail!("--input and --output are required\n\n{USAGE}"),
    }
}

/// `value` of `flag` as an integer of at least 1.
fn positive(flag: &str, value: &str) -> Result<usize> {
    match value.parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("{flag} needs an integer of at least 1"),
    }
}
