//! `backtest`: the streaming detector of the processing service over `timestamp,value`
//! CSV files, for evaluation (NAB) and for trying a configuration on past data. See
//! [`args::USAGE`].

mod args;
mod labelled;
mod odds;
mod run;
mod series_csv;

use anyhow::{Context, Result};
use obs_detector::anomaly::DetectorConfig;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("backtest: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    match args::parse(std::env::args().skip(1))? {
        args::Command::Help => println!("{}", args::USAGE),
        args::Command::PrintConfig { config } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&load_config(config.as_deref())?)?
            );
        }
        args::Command::Odds {
            files,
            seed,
            repeat,
            trees,
            subsample,
        } => odds::run(&files, seed, repeat, trees, subsample)?,
        args::Command::Labelled {
            hours,
            seed,
            config,
        } => {
            let config = load_config(config.as_deref())?;
            print!(
                "{}",
                labelled::report(&labelled::evaluate(hours, seed, &config)?)
            );
        }
        args::Command::Backtest {
            input,
            output,
            config,
            explain,
        } => {
            let config = load_config(config.as_deref())?;
            run::backtest(&input, &output, &run::Options { config, explain })?;
        }
    }
    Ok(())
}

/// The defaults, or the JSON file's configuration over them; checked.
fn load_config(path: Option<&Path>) -> Result<DetectorConfig> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str::<DetectorConfig>(&text)
                .with_context(|| format!("{}: invalid detector configuration", path.display()))?
        }
        None => DetectorConfig::default(),
    };
    config.validate()?;
    Ok(config)
}
