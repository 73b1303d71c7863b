#![warn(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    obs_service::telemetry::init_tracing();
    let config = match obs_service::load_config::<processing::ProcessingConfig>(processing::SERVICE)
    {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    match processing::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "processing stopped");
            ExitCode::FAILURE
        }
    }
}
