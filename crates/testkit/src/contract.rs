//! The OpenAPI document of a service against its router: the document is served at
//! `/openapi.json` without a key, names every route the service's source declares outside
//! its documented table (and the shared ones), every operation it lists is served (a real
//! request is neither the router's `not_found` fallback nor a 405), each protected one names
//! its scope, every error answer is the `ApiError` shape, every success answer's schema
//! describes its fields ([`answer_schema_problems`]), and every link an answer gives names
//! an operation of the document and parameters it takes.

use crate::answer_schemas::answer_schema_problems;
use crate::keys::bearer;
use crate::router::{call_router, declared_routes, SHARED_ROUTES};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use std::collections::BTreeSet;

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document `router` serves at `GET /openapi.json` (asked without a key).
pub async fn served_document(router: &Router) -> Value {
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let (status, headers, document) = call_router(router, request).await;
    assert_eq!(status, StatusCode::OK, "/openapi.json: {document}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    document
}

/// Every `(method, path)` of `document`, the method in upper case.
pub fn documented_operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    operations
}

/// The scope an operation's security names, `None` for an open one.
pub fn documented_scope(operation: &Value) -> Option<String> {
    let security = operation.get("security")?.as_array()?;
    let scopes = security.first()?.get("bearer")?.as_array()?;
    scopes.first()?.as_str().map(str::to_owned)
}

/// Checks `router` (configured with [`crate::auth`]) against the document it serves;
/// `sources` are the service's files declaring routes with `.route("…"`.
pub async fn check_document(router: &Router, sources: &[&str]) {
    let document = served_document(router).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let problems = answer_schema_problems(&document);
    assert!(
        problems.is_empty(),
        "success answers whose schema does not describe them:\n{}",
        problems.join("\n")
    );
    let operations = documented_operations(&document);
    check_links(&operations);
    let paths: BTreeSet<&str> = operations.iter().map(|(_, p, _)| p.as_str()).collect();
    let declared: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| declared_routes(s))
        .chain(SHARED_ROUTES.map(String::from))
        .collect();
    let undocumented: Vec<_> = declared
        .iter()
        .filter(|route| !paths.contains(route.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes served but not in the document: {undocumented:?}"
    );
    for (method, path, operation) in &operations {
        let what = format!("{method} {path}");
        let uri = fill_parameters(path);
        let mut request = Request::builder().method(method.as_str()).uri(&uri);
        if documented_scope(operation).is_some() {
            request = request.header(header::AUTHORIZATION, bearer());
        }
        let request = request.body(Body::empty()).unwrap();
        let (status, _, body) = call_router(router, request).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{what} is not served: {body}"
        );
        assert_ne!(body["error"]["code"], "not_found", "{what} is not served");
        assert!(
            !operation["responses"]
                .as_object()
                .expect("responses")
                .is_empty(),
            "{what} documents no answer"
        );
        for (code, answer) in operation["responses"].as_object().expect("responses") {
            if code.starts_with('4') || code.starts_with('5') {
                let body = &answer["content"]["application/json"]["schema"]["$ref"];
                let is_health = path.starts_with("/health");
                assert!(
                    is_health || body == "#/components/schemas/ApiError",
                    "{what} answers {code} outside the ApiError shape: {answer}"
                );
            }
        }
        if let Some(scope) = documented_scope(operation) {
            for code in ["401", "403", "429"] {
                assert!(
                    operation["responses"].get(code).is_some(),
                    "{what} needs scope {scope} but documents no {code}"
                );
            }
        }
    }
}

/// Each link of each answer names a documented operation by `operationId` (as OpenAPI
/// spells it) and only parameters that operation takes.
fn check_links(operations: &[(String, String, &Value)]) {
    for (method, path, operation) in operations {
        for (code, answer) in operation["responses"].as_object().expect("responses") {
            for (name, link) in answer["links"].as_object().into_iter().flatten() {
                let what = format!("{method} {path} {code} link {name}");
                let target = link["operationId"].as_str().unwrap_or_else(|| {
                    panic!("{what} names no operationId: {link}");
                });
                let (_, _, target) = operations
                    .iter()
                    .find(|(_, _, o)| o["operationId"] == target)
                    .unwrap_or_else(|| panic!("{what}: no operation {target}"));
                let taken: Vec<&Value> = target["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| &p["name"])
                    .collect();
                for parameter in link["parameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(p, _)| p)
                {
                    assert!(
                        taken.iter().any(|t| *t == parameter),
                        "{what}: {target} takes no parameter {parameter}",
                        target = target["operationId"]
                    );
                }
            }
        }
    }
}

/// `path` with each `{parameter}` filled in.
fn fill_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "contract-probe"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
