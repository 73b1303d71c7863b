//! The OpenAPI 3.1 document of a service, made from the same table as its router.
//!
//! A service registers its handlers with [`OpenApiRouter`] and [`routes!`]: each handler's
//! `#[utoipa::path]` says its path, parameters, body and answers, and the one call adds
//! both the route and its entry in the document, so neither can exist without the other.
//! [`RequireScope::require_scope`] puts a route group behind a key scope and writes that
//! scope (and the 401/403/429 answers it brings) into the group's operations. [`finish`]
//! adds what every service serves (health probes, `/metrics`, `/openapi.json`), the
//! answers every route shares, and the shared layers of [`crate::http::finish_router`].

use crate::auth::{Auth, Scope};
use crate::health::HealthReport;
pub use crate::http::{ErrorBody, ErrorDetail};
use crate::telemetry::Metrics;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use utoipa::openapi::path::{Operation, OperationBuilder, PathItem, Paths};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HttpMethod, InfoBuilder, OpenApi, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
pub use utoipa_axum::router::OpenApiRouter;
pub use utoipa_axum::routes;

/// A job-execution record as the connectors send it: the example of every route that
/// takes one (ingestion, standardization's dry run).
pub fn job_record_example() -> serde_json::Value {
    serde_json::json!({"No_Sequence": "2025-09-03-17-20", "Date_Sequence": "2025-09-03",
        "Heure_Sequence": "17", "Minute_Sequence": "20", "Entreprise": "quartzel",
        "Zone": "1-Raw", "Source": "EasyProjects", "Objet_Id": 1621, "Objet": "Projects",
        "Transformation": "EasyProjects_API_get_data", "Parametres": "", "Etat": "SUCCESS",
        "Debut": "03-09-2025 17:20:15.120357", "Fin": "03-09-2025 17:20:15.819185",
        "Duree secondes": 0.698828, "Description": "ok", "cpu_time (sec)": "0.03",
        "memory_used (bytes)": 401408})
}

/// [`job_record_example`] in a JSON array, as `/ingest/batch` takes records.
pub fn job_records_example() -> serde_json::Value {
    serde_json::Value::Array(vec![job_record_example()])
}

/// The name of the bearer security scheme in every document.
pub const BEARER: &str = "bearer";

/// Puts a route group behind a key scope, in the router and in the document alike.
pub trait RequireScope {
    /// The routes registered so far answer only keys granting `scope`.
    fn require_scope(self, auth: &Arc<Auth>, scope: Scope) -> Self;
}

impl<S: Clone + Send + Sync + 'static> RequireScope for OpenApiRouter<S> {
    fn require_scope(mut self, auth: &Arc<Auth>, scope: Scope) -> Self {
        for operation in operations(&mut self.get_openapi_mut().paths) {
            operation.security = Some(vec![SecurityRequirement::new(BEARER, [scope.name()])]);
            let needs = format!("a key of scope `{}`", scope.name());
            add(
                operation,
                "401",
                error(&format!(
                    "no key, an unknown key, or no key configured for the scope: needs {needs}"
                ))
                .header("WWW-Authenticate", text_header("`Bearer`")),
            );
            add(
                operation,
                "403",
                error(&format!("the key does not grant this: needs {needs}")),
            );
            add(
                operation,
                "429",
                error("the key made more requests than its rate allows")
                    .header("Retry-After", integer_header("seconds to wait"))
                    .header("x-ratelimit-limit", integer_header("requests per second"))
                    .header("x-ratelimit-remaining", integer_header("requests left")),
            );
        }
        self.route_layer(auth.require(scope))
    }
}

/// The router of `service`: its documented `routes`, the health probes and `/metrics`
/// (in `routes` already or added by [`crate::http::finish_router`]) written into its
/// `document`, served at `GET /openapi.json` (open, like the probes: it is the contract,
/// not data).
pub fn finish(service: &str, routes: Router, mut document: OpenApi, metrics: &Metrics) -> Router {
    complete(service, &mut document);
    let mut json = serde_json::to_value(&document).unwrap_or_default();
    require_nullable_properties(&mut json);
    name_link_fields(&mut json);
    if let Some(schema) =
        json.pointer_mut("/paths/~1openapi.json/get/responses/200/content/application~1json/schema")
    {
        *schema = document_schema();
    }
    let json = json.to_string();
    let routes = routes.route(
        "/openapi.json",
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json).into_response() }
        }),
    );
    crate::http::finish_router(routes, metrics)
}

/// Adds to `document` its title, the shared endpoints, components and answers.
pub fn complete(service: &str, document: &mut OpenApi) {
    document.info = InfoBuilder::new()
        .title(format!("obs {service}"))
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(format!(
            "The HTTP API of the {service} service. Protected operations take \
             `Authorization: Bearer <token>` with a key of the scope their security names; \
             every error answer is the `ApiError` shape."
        )))
        .build();
    for (path, summary) in [
        (
            "/health",
            "Summary of the service's health: 200 when ready, 503 with the reasons otherwise",
        ),
        (
            "/health/live",
            "Liveness: 200 while every component runs, 503 when one died",
        ),
        (
            "/health/ready",
            "Readiness: 200 when the service does its job, 503 with the reasons otherwise",
        ),
    ] {
        let report = ResponseBuilder::new()
            .description("the health report")
            .content(
                "application/json",
                json_content(RefOr::Ref(Ref::from_schema_name(HealthReport::name()))),
            )
            .build();
        let operation = OperationBuilder::new()
            .tag("health")
            .summary(Some(summary))
            .response("200", report.clone())
            .response("503", report)
            .build();
        document
            .paths
            .paths
            .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
    }
    let metrics = OperationBuilder::new()
        .tag("health")
        .summary(Some(
            "Prometheus metrics of the process, in the text exposition format",
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("the metrics")
                .content("text/plain", json_content(String::schema()))
                .build(),
        )
        .build();
    document.paths.paths.insert(
        "/metrics".to_owned(),
        PathItem::new(HttpMethod::Get, metrics),
    );
    let contract = OperationBuilder::new()
        .tag("health")
        .summary(Some("This document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("the OpenAPI document of the service")
                .content(
                    "application/json",
                    json_content(Object::with_type(Type::Object).into()),
                )
                .build(),
        )
        .build();
    document.paths.paths.insert(
        "/openapi.json".to_owned(),
        PathItem::new(HttpMethod::Get, contract),
    );
    for (path, item) in document.paths.paths.iter_mut() {
        let shed = !path.starts_with("/health") && path != "/metrics";
        let probe = path.starts_with("/health");
        for operation in item_operations(item) {
            if !probe {
                add(
                    operation,
                    "429",
                    error("over a rate limit: the key's, or without a key, the client address's")
                        .header("Retry-After", integer_header("seconds to wait")),
                );
            }
            if shed {
                add(
                    operation,
                    "503",
                    error("too many requests or connections in flight, or a dependency is away")
                        .header("Retry-After", integer_header("seconds to wait")),
                );
            }
            let reads_input = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if reads_input {
                add(
                    operation,
                    "400",
                    error("the request is malformed; `code` says how"),
                );
            }
            if operation.request_body.is_some() {
                add(operation, "408", error("the request body stalled"));
                add(
                    operation,
                    "413",
                    error("the request body is over its limit"),
                );
                add(
                    operation,
                    "415",
                    error("the content type is not one this endpoint reads"),
                );
            }
        }
    }
    let components = document.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    HealthReport::schemas(&mut schemas);
    schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
    schemas.push((HealthReport::name().into_owned(), HealthReport::schema()));
    for (name, schema) in schemas {
        components.schemas.insert(name, schema);
    }
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key: the token whose SHA-256 digest the operator configured for a \
                     scope (`ingest`, `read` or `operate`; an `operate` key also grants `read`).",
                ))
                .build(),
        ),
    );
}

/// What `/openapi.json` answers: an OpenAPI 3.1 document, its top level described
/// (written into the JSON: utoipa's types would not carry the free-form parts).
fn document_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "required": ["openapi", "info", "paths", "components"],
        "properties": {
            "openapi": {"type": "string", "enum": ["3.1.0"]},
            "info": {
                "type": "object",
                "required": ["title", "version"],
                "properties": {
                    "title": {"type": "string"},
                    "version": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
            "paths": {
                "type": "object",
                "description": "each path with its operations, by method",
                "additionalProperties": {"type": "object", "additionalProperties": {}},
            },
            "components": {
                "type": "object",
                "required": ["schemas", "securitySchemes"],
                "properties": {
                    "schemas": {"type": "object", "additionalProperties": {}},
                    "securitySchemes": {"type": "object", "additionalProperties": {}},
                },
            },
        },
    })
}

/// Adds to `required` every property that may be `null`, in the schemas of the answers
/// (those a request body alone uses are left alone: there `null` means "not given").
/// The stack writes `null` for an empty `Option` (the fields it leaves out instead say
/// `nullable = false`), where utoipa counts every `Option` as optional.
fn require_nullable_properties(document: &mut Value) {
    let mut reached = BTreeSet::new();
    let mut pending = Vec::new();
    for answer in answers_mut(document) {
        let contents = answer.get_mut("content").and_then(Value::as_object_mut);
        for content in contents.into_iter().flat_map(|c| c.values_mut()) {
            if let Some(schema) = content.get_mut("schema") {
                require_nullable(schema);
                references(schema, &mut pending);
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    while let Some(name) = pending.pop() {
        if reached.insert(name.clone()) {
            if let Some(schema) = schemas.get(&name) {
                references(schema, &mut pending);
            }
        }
    }
    for name in reached {
        if let Some(schema) = schemas.get_mut(&name) {
            require_nullable(schema);
        }
    }
}

/// Writes the fields of the answers' links as OpenAPI names them (`operationId`...):
/// utoipa 5.5 serializes its `Link` with the Rust names (`operation_id`), which clients
/// (Schemathesis) refuse.
fn name_link_fields(document: &mut Value) {
    for answer in answers_mut(document) {
        let links = answer.get_mut("links").and_then(Value::as_object_mut);
        for link in links.into_iter().flat_map(|l| l.values_mut()) {
            let Some(link) = link.as_object_mut() else {
                continue;
            };
            for (rust, openapi) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(rust) {
                    link.insert(openapi.to_owned(), value);
                }
            }
        }
    }
}

/// Every answer of every operation of `document`'s paths.
fn answers_mut(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(Value::as_object_mut)
        .flat_map(|answers| answers.values_mut())
}

/// The component names `schema` refers to, anywhere within it.
fn references(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Object(fields) => {
            if let Some(name) = fields
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                names.push(name.to_owned());
            }
            fields.values().for_each(|v| references(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, names)),
        _ => {}
    }
}

/// [`require_nullable_properties`] on one schema and the schemas within it.
fn require_nullable(schema: &mut Value) {
    let Some(fields) = schema.as_object_mut() else {
        return;
    };
    if let Some(properties) = fields.get("properties").and_then(Value::as_object) {
        let nullable: Vec<Value> = properties
            .iter()
            .filter(|(_, property)| may_be_null(property))
            .map(|(name, _)| Value::from(name.as_str()))
            .collect();
        if !nullable.is_empty() {
            let required = fields
                .entry("required")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(required) = required.as_array_mut() {
                for name in nullable {
                    if !required.contains(&name) {
                        required.push(name);
                    }
                }
            }
        }
    }
    for (key, child) in fields.iter_mut() {
        match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                properties.values_mut().for_each(require_nullable);
            }
            ("allOf" | "oneOf" | "anyOf", Value::Array(schemas)) => {
                schemas.iter_mut().for_each(require_nullable);
            }
            ("items" | "additionalProperties", child) => require_nullable(child),
            _ => {}
        }
    }
}

/// Whether a property's schema admits `null`.
fn may_be_null(schema: &Value) -> bool {
    let is_null = |s: &Value| s.get("type").and_then(Value::as_str) == Some("null");
    let listed = schema
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t == "null"));
    let alternative = ["oneOf", "anyOf"].iter().any(|key| {
        schema
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|schemas| schemas.iter().any(is_null))
    });
    listed || alternative
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// An error answer in the `ApiError` shape.
fn error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        json_content(RefOr::Ref(Ref::from_schema_name("ApiError"))),
    )
}

fn integer_header(description: &str) -> utoipa::openapi::Header {
    utoipa::openapi::HeaderBuilder::new()
        .schema(i64::schema())
        .description(Some(description))
        .build()
}

fn text_header(description: &str) -> utoipa::openapi::Header {
    utoipa::openapi::HeaderBuilder::new()
        .schema(String::schema())
        .description(Some(description))
        .build()
}

/// Adds an answer unless the operation documents that status already.
fn add(operation: &mut Operation, status: &str, response: impl Into<Response>) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(response.into()));
}

fn operations(paths: &mut Paths) -> impl Iterator<Item = &mut Operation> {
    paths.paths.values_mut().flat_map(item_operations)
}

fn item_operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Value {
        json!({
            "paths": {"/x": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}},
                "responses": {"200": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}},
                    "links": {"next": {"operation_id": "y", "request_body": 1, "parameters": {"id": "$response.body#/id"}}},
                }},
            }}},
            "components": {"schemas": {
                "Answer": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"},
                    "note": {"type": ["string", "null"]},
                    "inner": {"$ref": "#/components/schemas/Inner"},
                    "skipped": {"type": "string"},
                }},
                "Inner": {"allOf": [{"type": "object", "properties": {
                    "mark": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Body"}]},
                }}]},
                "Body": {"type": "object", "properties": {"by": {"type": ["string", "null"]}}},
            }},
        })
    }

    #[test]
    fn nullable_fields_of_answers_are_required_and_request_bodies_are_left_alone() {
        let mut document = document();
        // `Body` is reached from the answer too: make a request-only copy to compare.
        document["components"]["schemas"]["Request"] =
            document["components"]["schemas"]["Body"].clone();
        document["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"] = json!("#/components/schemas/Request");
        require_nullable_properties(&mut document);
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["Answer"]["required"], json!(["id", "note"]));
        assert_eq!(schemas["Inner"]["allOf"][0]["required"], json!(["mark"]));
        assert_eq!(schemas["Body"]["required"], json!(["by"]));
        assert!(schemas["Request"].get("required").is_none());
    }

    #[test]
    fn links_are_written_with_the_openapi_names() {
        let mut document = document();
        name_link_fields(&mut document);
        let link = &document["paths"]["/x"]["post"]["responses"]["200"]["links"]["next"];
        assert_eq!(
            *link,
            json!({"operationId": "y", "requestBody": 1, "parameters": {"id": "$response.body#/id"}})
        );
    }
}
