//! The OpenAPI document of processing matches its router: every route served is in it,
//! every operation it lists is served.

mod route_sources;

use processing::{AppState, ProcessingConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_served() {
    let topics = obs_testkit::unique_topics();
    let config = ProcessingConfig {
        kafka: obs_testkit::kafka(),
        topics: topics.clone(),
        auth: obs_testkit::auth(),
        ..ProcessingConfig::default()
    };
    let router = processing::router(AppState::new(config).unwrap());
    obs_testkit::check_document(&router, &route_sources::ROUTE_SOURCES).await;
    let document = obs_testkit::served_document(&router).await;
    let resolve = &document["paths"]["/incidents/{id}/resolve"]["post"];
    assert_eq!(resolve["security"][0]["bearer"][0], "operate");
    assert_eq!(
        resolve["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Command"
    );
    assert!(document["paths"]["/console/"]["get"]["security"].is_null());
    // The detail answers are reached from the lists by links (Schemathesis follows them).
    let listed = &document["paths"]["/incidents"]["get"]["responses"]["200"];
    assert_eq!(listed["links"]["show"]["operationId"], "show");
    assert_eq!(
        listed["links"]["show"]["parameters"]["id"],
        "$response.body#/incidents/0/id"
    );
    let recent = &document["paths"]["/analytics/recent"]["get"]["responses"]["200"];
    assert_eq!(recent["links"]["trace"]["operationId"], "trace");
}
