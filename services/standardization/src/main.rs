#![warn(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    obs_service::service_main::<standardization::StandardizationConfig, _, _>(
        standardization::SERVICE,
        obs_service::Heap::GlibcTrimmedAfterBursts,
        standardization::run,
    )
    .await
}
