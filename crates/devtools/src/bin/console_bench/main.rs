//! Bench of the operator console's API on a processing service filled through the real
//! path (`scripts/bench-console.sh`, `make bench-console`).
//!
//! * `console-bench fill [--file NDJSON | --series N --records N --seed N] [--ids FILE]
//!   [--ids-from N]`: creates the topics named by the environment (`OBS_TOPICS__…`, the
//!   services' own config loader) and writes the raw records of `file` (the field sample),
//!   or N generated runs of a fleet of at least `series` objects, as
//!   the pipeline would: each raw record to `raw-logs` as ingestion writes it, and its
//!   standardized record to `standardized-logs` as standardization writes it (the same
//!   function, the same keys and headers), so processing, its incident stage and its
//!   trace index see the real topics. With `--ids`, writes the record ids of the last
//!   `ids-from` runs, one a line: records the trace index still holds.
//! * `console-bench load --url URL [--requests N] [--concurrency N] [--ids FILE]`: fires
//!   N requests per endpoint at the console's API from `concurrency` clients and prints
//!   p50 / p99 / max per endpoint (see [`load`]).

mod fill;
mod load;

use anyhow::{bail, Context};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut flags = std::collections::HashMap::new();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        flags.insert(flag, value);
    }
    let number = |flag: &str, default: usize| -> anyhow::Result<usize> {
        flags
            .get(flag)
            .map_or(Ok(default), |v| v.parse().with_context(|| flag.to_owned()))
    };
    match command.as_str() {
        "fill" => {
            fill::fill(fill::FillArgs {
                file: flags.get("--file").cloned(),
                series: number("--series", 10_000)?,
                records: number("--records", 1_000_000)?,
                seed: number("--seed", 7)? as u64,
                ids: flags.get("--ids").cloned(),
                ids_from: number("--ids-from", 100_000)?,
            })
            .await
        }
        "load" => {
            load::load(load::LoadArgs {
                url: flags
                    .get("--url")
                    .cloned()
                    .unwrap_or_else(|| "http://127.0.0.1:8003".into()),
                requests: number("--requests", 2_000)?,
                concurrency: number("--concurrency", 4)?.max(1),
                ids: flags.get("--ids").cloned(),
            })
            .await
        }
        _ => bail!(
            "usage: console-bench fill [--file NDJSON] [--series N] [--records N] [--seed N] [--ids FILE] [--ids-from N] | console-bench load [--url URL] [--requests N] [--concurrency N] [--ids FILE]"
        ),
    }
}
