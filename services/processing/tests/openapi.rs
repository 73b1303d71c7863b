//! The OpenAPI document of processing matches its router: every route served is in it,
//! every operation it lists is served.

mod route_sources;

use processing::{AppState, ProcessingConfig, Role};
use std::collections::BTreeSet;

fn router_of(role: Role) -> axum::Router {
    let config = ProcessingConfig {
        role,
        kafka: obs_testkit::kafka(),
        topics: obs_testkit::unique_topics().clone(),
        auth: obs_testkit::auth(),
        ..ProcessingConfig::default()
    };
    processing::router(AppState::new(config).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_served() {
    let router = router_of(Role::All);
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

/// The documented paths of an instance of `role`.
async fn paths(role: Role) -> BTreeSet<String> {
    let document = obs_testkit::served_document(&router_of(role)).await;
    document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_roles_split_the_routes_and_each_documents_its_own() {
    for role in [Role::Stages, Role::Views] {
        obs_testkit::check_document(&router_of(role), &[]).await;
    }
    let (all, stages, views) = (
        paths(Role::All).await,
        paths(Role::Stages).await,
        paths(Role::Views).await,
    );
    assert_eq!(&stages | &views, all);
    let both: Vec<&String> = stages.intersection(&views).collect();
    assert!(both.contains(&&"/status".to_owned()), "{both:?}");
    for path in both {
        assert!(
            ![
                "/analytics",
                "/incidents",
                "/logs",
                "/trace",
                "/console",
                "/detector",
                "/dead-letters"
            ]
            .iter()
            .any(|prefix| path.starts_with(prefix)),
            "served by both roles: {path}"
        );
    }
    assert!(stages.contains("/detector/retrain") && !views.contains("/detector/retrain"));
    assert!(views.contains("/analytics/summary") && !stages.contains("/analytics/summary"));
}
