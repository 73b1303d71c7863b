//! The one check of a request's `Content-Type`: an extractor that accepts a set of media
//! types and answers any other, or none, with a 415 naming the accepted ones.

use crate::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use std::marker::PhantomData;

/// A set of media types an endpoint takes.
pub trait MediaTypes {
    /// Lower-case, without parameters (`charset`, `boundary`...), as a 415 lists them.
    const ACCEPTED: &'static [&'static str];
}

/// `application/json` alone.
#[derive(Debug)]
pub struct ApplicationJson;

impl MediaTypes for ApplicationJson {
    const ACCEPTED: &'static [&'static str] = &["application/json"];
}

/// The request's media type, one of `M::ACCEPTED`; a request with another one, or none,
/// is answered `415 unsupported_media_type` before the handler runs.
#[derive(Debug)]
pub struct ContentType<M> {
    media_type: &'static str,
    accepted: PhantomData<fn() -> M>,
}

impl<M> ContentType<M> {
    /// The accepted media type the request declared.
    pub fn media_type(&self) -> &'static str {
        self.media_type
    }
}

impl<M: MediaTypes, S: Send + Sync> FromRequestParts<S> for ContentType<M> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let found = declared(&parts.headers);
        M::ACCEPTED
            .iter()
            .find(|accepted| found.as_deref() == Some(**accepted))
            .map(|media_type| ContentType {
                media_type,
                accepted: PhantomData,
            })
            .ok_or_else(|| ApiError::unsupported_media_type(found.as_deref(), M::ACCEPTED))
    }
}

/// The declared media type, without parameters, lower-cased.
fn declared(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::Router;
    use serde_json::Value;
    use tower::ServiceExt;

    struct JsonOrCsv;

    impl MediaTypes for JsonOrCsv {
        const ACCEPTED: &'static [&'static str] = &["application/json", "text/csv"];
    }

    async fn matched(content_type: ContentType<JsonOrCsv>) -> &'static str {
        content_type.media_type()
    }

    /// The status and the body of `POST /` with `content_type`, if any.
    async fn post_with(content_type: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::post("/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = Router::new()
            .route("/", post(matched))
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_accepted_type_is_matched_ignoring_case_and_parameters() {
        assert_eq!(
            post_with(Some("Text/CSV; charset=utf-8")).await,
            (StatusCode::OK, "text/csv".to_owned())
        );
        assert_eq!(
            post_with(Some("application/json")).await,
            (StatusCode::OK, "application/json".to_owned())
        );
    }

    #[tokio::test]
    async fn another_type_or_none_is_a_415_naming_the_accepted_ones() {
        for (content_type, found) in [
            (Some("text/plain"), Value::from("text/plain")),
            (None, Value::Null),
        ] {
            let (status, body) = post_with(content_type).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            let error = &body["error"];
            assert_eq!(error["code"], "unsupported_media_type");
            assert_eq!(
                error["details"]["expected"],
                serde_json::json!(["application/json", "text/csv"])
            );
            assert_eq!(error["details"]["found"], found);
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains("application/json, text/csv"), "{message}");
        }
    }
}
