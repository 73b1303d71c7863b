#![warn(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    obs_service::service_main::<ingestion::IngestionConfig, _, _>(
        ingestion::SERVICE,
        obs_service::Heap::GlibcTrimmedAfterBursts,
        ingestion::run,
    )
    .await
}
