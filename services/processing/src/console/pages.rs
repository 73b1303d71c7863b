//! The console's pages and assets, embedded in the binary: one HTML shell (navigation and a
//! `<main>` the page's script fills), a script per page, a shared script and a stylesheet.
//! Every page takes its filters from its URL, so any view is a link.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter};
use obs_service::{ApiError, PathParams};

const SHELL: &str = include_str!("../../console/shell.html");

/// Only this origin's scripts, styles and requests: no inline code, nothing from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// `(name, content type, body)` of each file under `/console/assets/`.
const ASSETS: [(&str, &str, &str); 8] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/common.js"),
    ),
    (
        "fleet.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/fleet.js"),
    ),
    (
        "incidents.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/incidents.js"),
    ),
    (
        "incident.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/incident.js"),
    ),
    (
        "trace.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/trace.js"),
    ),
    (
        "pipeline.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/pipeline.js"),
    ),
    (
        "logs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/logs.js"),
    ),
];

/// A page: its `<title>` and its script (`{script}.js`).
#[derive(Debug, Clone, Copy)]
struct Page {
    title: &'static str,
    script: &'static str,
}

const FLEET: Page = Page {
    title: "Fleet",
    script: "fleet",
};
const INCIDENTS: Page = Page {
    title: "Incidents",
    script: "incidents",
};
const INCIDENT: Page = Page {
    title: "Incident",
    script: "incident",
};
const TRACE: Page = Page {
    title: "Record trace",
    script: "trace",
};
const PIPELINE: Page = Page {
    title: "Pipeline",
    script: "pipeline",
};
const LOGS: Page = Page {
    title: "Logs",
    script: "logs",
};

/// `/` (redirected to `/console/`) and the pages and assets under `/console/`.
pub fn page_router() -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(console))
        .routes(routes!(fleet_page))
        .routes(routes!(incidents_page))
        .routes(routes!(incident_page))
        .routes(routes!(trace_search_page))
        .routes(routes!(trace_page))
        .routes(routes!(pipeline_page))
        .routes(routes!(logs_page))
        .routes(routes!(asset))
}

#[utoipa::path(
    get, path = "/", tag = "console",
    responses((status = 307, description = "to the console, `/console/`"))
)]
async fn root() -> Redirect {
    Redirect::temporary("/console/")
}

#[utoipa::path(
    get, path = "/console", tag = "console",
    responses((status = 307, description = "to `/console/`"))
)]
async fn console() -> Redirect {
    Redirect::temporary("/console/")
}

#[utoipa::path(
    get, path = "/console/", tag = "console",
    responses((status = 200, description = "the fleet page", content_type = "text/html", body = String))
)]
async fn fleet_page() -> Response {
    page(FLEET).await
}

#[utoipa::path(
    get, path = "/console/incidents", tag = "console",
    responses((status = 200, description = "the incidents page", content_type = "text/html", body = String))
)]
async fn incidents_page() -> Response {
    page(INCIDENTS).await
}

#[utoipa::path(
    get, path = "/console/incidents/{id}", tag = "console",
    params(("id" = String, Path, description = "read by the page's script")),
    responses((status = 200, description = "the page of one incident", content_type = "text/html", body = String))
)]
async fn incident_page() -> Response {
    page(INCIDENT).await
}

#[utoipa::path(
    get, path = "/console/trace", tag = "console",
    responses((status = 200, description = "the trace page", content_type = "text/html", body = String))
)]
async fn trace_search_page() -> Response {
    page(TRACE).await
}

#[utoipa::path(
    get, path = "/console/trace/{record_id}", tag = "console",
    params(("record_id" = String, Path, description = "read by the page's script")),
    responses((status = 200, description = "the trace page of one record", content_type = "text/html", body = String))
)]
async fn trace_page() -> Response {
    page(TRACE).await
}

#[utoipa::path(
    get, path = "/console/pipeline", tag = "console",
    responses((status = 200, description = "the pipeline page", content_type = "text/html", body = String))
)]
async fn pipeline_page() -> Response {
    page(PIPELINE).await
}

#[utoipa::path(
    get, path = "/console/logs", tag = "console",
    responses((status = 200, description = "the log events page", content_type = "text/html", body = String))
)]
async fn logs_page() -> Response {
    page(LOGS).await
}

async fn page(page: Page) -> Response {
    let html = SHELL
        .replace("{{title}}", page.title)
        .replace("{{script}}", page.script);
    let response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    with_console_headers(response)
}

#[utoipa::path(
    get, path = "/console/assets/{name}", tag = "console",
    params(("name" = String, Path, description = "the file: a script or the stylesheet")),
    responses(
        (status = 200, description = "the file", content(
            (String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "no such asset", body = ErrorBody),
    )
)]
async fn asset(PathParams(name): PathParams<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => {
            with_console_headers(([(header::CONTENT_TYPE, *content_type)], *body).into_response())
        }
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_asset",
            format!("no console asset {name:?}"),
        )
        .into_response(),
    }
}

/// Revalidated on every load (a new binary serves new assets at the same names), and
/// confined by the content security policy.
fn with_console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(uri: &str) -> Response {
        axum::Router::from(page_router())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_root_redirects_to_the_console() {
        for uri in ["/", "/console"] {
            let response = get(uri).await;
            assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{uri}");
            assert_eq!(response.headers()[header::LOCATION], "/console/");
        }
    }

    #[tokio::test]
    async fn each_page_is_the_shell_with_its_script() {
        for (uri, script, title) in [
            ("/console/", "fleet", "Fleet"),
            ("/console/incidents?status=open", "incidents", "Incidents"),
            ("/console/incidents/inc-0123", "incident", "Incident"),
            ("/console/trace", "trace", "Record trace"),
            ("/console/trace/akonovia:1:2", "trace", "Record trace"),
            ("/console/pipeline", "pipeline", "Pipeline"),
            ("/console/logs?q=timeout", "logs", "Logs"),
        ] {
            let response = get(uri).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            assert!(response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
            let html = text(response).await;
            assert!(
                html.contains(&format!("src=\"/console/assets/{script}.js\"")),
                "{uri}"
            );
            assert!(html.contains(&format!("<title>{title} ·")), "{uri}");
            assert!(!html.contains("{{"), "{uri}: a placeholder left");
        }
    }

    #[tokio::test]
    async fn every_script_the_shell_names_is_served_and_unknown_assets_are_404() {
        for (name, content_type, _) in ASSETS {
            let response = get(&format!("/console/assets/{name}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
        }
        for page in [FLEET, INCIDENTS, INCIDENT, TRACE, PIPELINE, LOGS] {
            let file = format!("{}.js", page.script);
            assert!(ASSETS.iter().any(|(name, _, _)| *name == file), "{file}");
        }
        let response = get("/console/assets/../lib.rs").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = get("/console/assets/nope.js").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
