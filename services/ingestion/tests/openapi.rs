//! The OpenAPI document of ingestion matches its router: every route served is in it,
//! every operation it lists is served.

use support::{config, service};

// Shared by every test of the service; this one uses part of it.
#[allow(dead_code)]
mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_served() {
    let (config, _topics) = config();
    let router = service(config).await;
    let sources = [
        include_str!("../src/lib.rs"),
        include_str!("../src/routes.rs"),
        include_str!("../src/log_events.rs"),
    ];
    obs_testkit::check_document(&router, &sources).await;
    let document = obs_testkit::served_document(&router).await;
    let single = &document["paths"]["/ingest/single"]["post"];
    assert_eq!(single["security"][0]["bearer"][0], "ingest");
    assert_eq!(
        single["responses"]["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IngestReport"
    );
}
