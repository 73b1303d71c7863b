//! The table of a service's routes and the keys each one takes: every protected route
//! answers 401 without a key, 403 with a key of another scope and its usual answer with
//! its own; the open ones answer without a key. The table must name every route the
//! service's source declares, so a route added without a row fails the test.

use crate::contract::{documented_operations, documented_scope, served_document};
use crate::router::{call_router, declared_routes, SHARED_ROUTES};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use obs_service::auth::{digest_hex, AuthConfig, Scope};
use std::collections::BTreeSet;

/// A token per scope, each granted that scope only.
pub fn scoped_token(scope: Scope) -> &'static str {
    match scope {
        Scope::Ingest => "obs-test-ingest-token",
        Scope::Read => "obs-test-read-token",
        Scope::Operate => "obs-test-operate-token",
    }
}

/// An `auth` section with one key per scope ([`scoped_token`]).
pub fn scoped_auth() -> AuthConfig {
    let digest = |scope| vec![digest_hex(scoped_token(scope))];
    AuthConfig {
        ingest_key_hashes: digest(Scope::Ingest),
        read_key_hashes: digest(Scope::Read),
        operate_key_hashes: digest(Scope::Operate),
        ..AuthConfig::default()
    }
}

/// One row: a request to a route, the scope it needs and its usual answer, or an open
/// route (answered without a key, whatever its state says).
pub struct Route {
    /// The route as the source declares it (`/incidents/{id}`).
    pub pattern: &'static str,
    pub method: &'static str,
    /// The request's URI, the pattern filled in.
    pub uri: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub scope: Option<(Scope, StatusCode)>,
}

impl Route {
    pub fn new(
        method: &'static str,
        pattern: &'static str,
        scope: Scope,
        expected: StatusCode,
    ) -> Self {
        Route {
            scope: Some((scope, expected)),
            ..Route::open(method, pattern)
        }
    }

    pub fn open(method: &'static str, pattern: &'static str) -> Self {
        Route {
            pattern,
            method,
            uri: pattern.to_owned(),
            content_type: None,
            body: Vec::new(),
            scope: None,
        }
    }

    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    pub fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }

    fn request(&self, token: Option<&str>) -> Request<Body> {
        let mut request = Request::builder().method(self.method).uri(&self.uri);
        if let Some(content_type) = self.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::from(self.body.clone())).unwrap()
    }
}

/// Checks every row against `router` (configured with [`scoped_auth`]), and that the
/// rows name every route of `sources` (`.route("…"` in the service's source files), of
/// the service's OpenAPI document and of the shared ones (health probes, `/metrics`,
/// `/openapi.json`), each with the scope the document gives it.
pub async fn check_routes(router: &Router, routes: &[Route], sources: &[&str]) {
    let mut declared: BTreeSet<String> = sources.iter().flat_map(|s| declared_routes(s)).collect();
    declared.extend(SHARED_ROUTES.map(String::from));
    let document = served_document(router).await;
    let documented = documented_operations(&document);
    declared.extend(documented.iter().map(|(_, path, _)| path.clone()));
    for route in routes {
        let operation = documented
            .iter()
            .find(|(method, path, _)| method == route.method && path == route.pattern);
        let Some((_, _, operation)) = operation else {
            panic!("{} {} is not in the document", route.method, route.pattern);
        };
        assert_eq!(
            documented_scope(operation).as_deref(),
            route.scope.map(|(scope, _)| scope.name()),
            "the scope the document gives {} {}",
            route.method,
            route.pattern
        );
    }
    let tabled: BTreeSet<String> = routes.iter().map(|r| r.pattern.to_owned()).collect();
    let missing: Vec<_> = declared.difference(&tabled).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the table: {missing:?}"
    );
    for route in routes {
        let what = format!("{} {}", route.method, route.uri);
        let Some((scope, expected)) = route.scope else {
            let (status, _, body) = call_router(router, route.request(None)).await;
            let refused = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
            assert!(!refused.contains(&status), "{what} (open): {status} {body}");
            continue;
        };
        let (status, headers, body) = call_router(router, route.request(None)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} without a key: {body}"
        );
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer", "{what}");
        let (status, _, body) = call_router(router, route.request(Some("not-a-key"))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what} with an unknown key: {body}"
        );
        for other in Scope::ALL.into_iter().filter(|s| !s.grants(scope)) {
            let (status, _, body) =
                call_router(router, route.request(Some(scoped_token(other)))).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{what} with a {other:?} key: {body}"
            );
            assert_eq!(body["error"]["code"], "forbidden", "{what}");
            assert_eq!(body["error"]["details"]["scope"], scope.name(), "{what}");
        }
        let (status, headers, body) =
            call_router(router, route.request(Some(scoped_token(scope)))).await;
        assert_eq!(status, expected, "{what} with its key: {body}");
        assert!(headers.contains_key("x-ratelimit-remaining"), "{what}");
    }
}

/// Checks that `router`, configured with [`scoped_auth`] at one request per second and a
/// burst of two, answers a burst of `request`s made with a key of `scope`: the first two
/// with the limit headers, the third 429 `rate_limited` with `Retry-After`.
pub async fn check_burst_is_429(
    router: &Router,
    scope: Scope,
    request: impl Fn() -> Request<Body>,
) {
    let with_key = || {
        let mut request = request();
        let value = format!("Bearer {}", scoped_token(scope));
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, value.parse().unwrap());
        request
    };
    for remaining in ["1", "0"] {
        let (status, headers, body) = call_router(router, with_key()).await;
        assert!(status.is_success(), "{status} {body}");
        assert_eq!(headers["x-ratelimit-limit"], "1");
        assert_eq!(headers["x-ratelimit-remaining"], remaining);
    }
    let (status, headers, body) = call_router(router, with_key()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry_after: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    assert_eq!(headers["x-ratelimit-limit"], "1");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
}

/// [`scoped_auth`] at one request per second with a burst of two.
pub fn slow_scoped_auth() -> AuthConfig {
    AuthConfig {
        rate_per_second: 1,
        burst: 2,
        ..scoped_auth()
    }
}
