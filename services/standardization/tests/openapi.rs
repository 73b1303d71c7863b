//! The OpenAPI document of standardization matches its router: every route served is in
//! it, every operation it lists is served.

mod route_sources;

use standardization::{AppState, StandardizationConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_served() {
    let config = StandardizationConfig {
        kafka: obs_testkit::kafka(),
        auth: obs_testkit::auth(),
        ..StandardizationConfig::default()
    };
    let router = standardization::router(AppState::new(config).unwrap());
    obs_testkit::check_document(&router, &route_sources::ROUTE_SOURCES).await;
    let document = obs_testkit::served_document(&router).await;
    let dry_run = &document["paths"]["/standardize/single"]["post"];
    assert_eq!(dry_run["security"][0]["bearer"][0], "read");
    assert!(dry_run["responses"]["422"].is_object());
    let health = &document["paths"]["/health"]["get"]["responses"]["503"];
    assert_eq!(
        health["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/HealthReport"
    );
    assert!(document["components"]["schemas"]["HealthCheck"].is_object());
}
