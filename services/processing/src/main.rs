#![warn(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    obs_service::service_main::<processing::ProcessingConfig, _, _>(
        processing::SERVICE,
        processing::run,
    )
    .await
}
