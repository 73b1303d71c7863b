//! `severity-eval`: trains the severity classifier on the corpus without its held-out part
//! and prints how it does on that part, and how long training takes (`make eval`).

use obs_severity::{evaluate, Corpus, SeverityModel, HELD_OUT_EVERY};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("severity-eval: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), obs_severity::SeverityError> {
    let corpus = Corpus::shipped()?;
    let (training, held_out) = corpus.split();
    let started = Instant::now();
    let model = SeverityModel::train(&training)?;
    let trained_in = started.elapsed();
    println!(
        "severity classifier: {} examples, every {HELD_OUT_EVERY}th held out: {} to train on, trained in {:.1} ms",
        corpus.examples.len(),
        training.len(),
        trained_in.as_secs_f64() * 1000.0
    );
    print!("{}", evaluate(&model, &held_out));
    let started = Instant::now();
    SeverityModel::train(&corpus.examples)?;
    println!(
        "the services' model (every example): trained in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
