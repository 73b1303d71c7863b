//! The one way an endpoint reads its path parameters: axum's `Path`, its refusals (a
//! segment that is not UTF-8 once percent-decoded, a value that does not parse) answered
//! 400 `invalid_path` in the JSON error shape rather than axum's plain text.

use crate::http::ApiError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The path parameters of a request, read as `T`.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_path",
                format!("the path cannot be read: {}", rejection.body_text()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use serde_json::Value;
    use tower::ServiceExt;

    async fn get_uri(uri: &str) -> (StatusCode, String, Value) {
        let router = Router::new().route(
            "/items/{id}",
            get(|PathParams(id): PathParams<String>| async move { id }),
        );
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            status,
            text.clone(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn a_segment_that_is_not_utf8_is_a_json_400() {
        let (status, _, body) = get_uri("/items/%FF").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_path");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_readable_segment_is_decoded() {
        let (status, text, _) = get_uri("/items/a%20b").await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "a b"));
    }
}
