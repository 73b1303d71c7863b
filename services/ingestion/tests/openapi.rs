//! The OpenAPI document of ingestion matches its router: every route served is in it,
//! every operation it lists is served.

mod route_sources;

use ingestion::{AppState, IngestionConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_served() {
    // Nothing is published: the probes of the document send no record.
    let topics = obs_testkit::unique_topics();
    let config = IngestionConfig {
        kafka: obs_testkit::kafka(),
        topics: topics.clone(),
        auth: obs_testkit::auth(),
        ..IngestionConfig::default()
    };
    let router = ingestion::router(AppState::new(config).unwrap());
    obs_testkit::check_document(&router, &route_sources::ROUTE_SOURCES).await;
    let document = obs_testkit::served_document(&router).await;
    let single = &document["paths"]["/ingest/single"]["post"];
    assert_eq!(single["security"][0]["bearer"][0], "ingest");
    assert_eq!(
        single["responses"]["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IngestReport"
    );
}
