//! The one way an endpoint reads its query string: strictly. An unknown or repeated
//! parameter, or a value that does not parse, is a 400 naming the parameter, never
//! silently ignored, so a typo such as `?serverity=critical` does not return unfiltered
//! results that look filtered.

use crate::http::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde_json::json;

/// What an endpoint reads from its query string.
pub trait FromQuery: Sized {
    /// The parameters the endpoint takes; any other is refused.
    const PARAMETERS: &'static [&'static str];

    /// Builds the value from parameters already known to be among [`Self::PARAMETERS`]
    /// and given at most once each.
    fn from_query(params: &QueryParams) -> Result<Self, ApiError>;
}

/// An endpoint that takes no query parameter.
impl FromQuery for () {
    const PARAMETERS: &'static [&'static str] = &[];

    fn from_query(_: &QueryParams) -> Result<Self, ApiError> {
        Ok(())
    }
}

/// The query of a request, read by `T`; a request whose query `T` refuses is answered
/// 400 in the JSON error shape before the handler runs.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<T: FromQuery, S: Send + Sync> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|rejection| {
                ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "the query string cannot be decoded: {}",
                        rejection.body_text()
                    ),
                )
            })?;
        let params = QueryParams::checked(pairs, T::PARAMETERS)?;
        T::from_query(&params).map(StrictQuery)
    }
}

/// The decoded parameters of one request: known names, each at most once.
#[derive(Debug)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn checked(pairs: Vec<(String, String)>, allowed: &[&str]) -> Result<Self, ApiError> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let message = if allowed.is_empty() {
                    format!("unknown query parameter `{name}`: this endpoint takes none")
                } else {
                    format!(
                        "unknown query parameter `{name}`: expected {}",
                        allowed.join(", ")
                    )
                };
                return Err(ApiError::bad_request("unknown_parameter", message)
                    .with_details(json!({ "parameter": name, "allowed": allowed })));
            }
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("query parameter `{name}` is given more than once"),
                )
                .with_details(json!({ "parameter": name, "problem": "repeated" })));
            }
        }
        Ok(QueryParams(pairs))
    }

    /// The value of `name`, as given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` read by `parse`; when `parse` refuses it, a 400
    /// `invalid_parameter` naming the parameter, the value and `expected` (what it must be,
    /// e.g. "an integer from 1 to 1000").
    pub fn parse<V>(
        &self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<V>,
    ) -> Result<Option<V>, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        parse(value).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("query parameter `{name}` must be {expected}, got {value:?}"),
            )
            .with_details(json!({ "parameter": name, "value": value, "expected": expected }))
        })
    }

    /// `limit`: an integer from 1 to `max`, `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        self.count("limit", default, max)
    }

    /// Parameter `name`: an integer from 1 to `max`, `default` when absent.
    pub fn count(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        let expected = format!("an integer from 1 to {max}");
        let count = self.parse(name, &expected, |value| {
            value
                .parse::<usize>()
                .ok()
                .filter(|count| (1..=max).contains(count))
        })?;
        Ok(count.unwrap_or(default))
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

    /// `?limit=N&name=TEXT`: `limit` from 1 to 10 (default 5).
    struct Listing {
        limit: usize,
        name: Option<String>,
    }

    impl FromQuery for Listing {
        const PARAMETERS: &'static [&'static str] = &["limit", "name"];

        fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
            Ok(Listing {
                limit: params
                    .parse("limit", "an integer from 1 to 10", |v| {
                        v.parse().ok().filter(|limit| (1..=10).contains(limit))
                    })?
                    .unwrap_or(5),
                name: params.get("name").map(str::to_owned),
            })
        }
    }

    async fn listing(StrictQuery(query): StrictQuery<Listing>) -> String {
        format!("{} {}", query.limit, query.name.unwrap_or_default())
    }

    async fn nothing(StrictQuery(()): StrictQuery<()>) -> &'static str {
        "ok"
    }

    async fn get_uri(uri: &str) -> (StatusCode, String) {
        let response = Router::new()
            .route("/listing", get(listing))
            .route("/nothing", get(nothing))
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The `error` of a JSON 400 answer to `uri`.
    async fn bad_request(uri: &str) -> Value {
        let (status, body) = get_uri(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["error"].clone()
    }

    #[tokio::test]
    async fn known_parameters_are_read_with_their_defaults() {
        assert_eq!(get_uri("/listing").await, (StatusCode::OK, "5 ".to_owned()));
        assert_eq!(
            get_uri("/listing?name=a%20b&limit=10").await,
            (StatusCode::OK, "10 a b".to_owned())
        );
        assert_eq!(get_uri("/nothing").await, (StatusCode::OK, "ok".to_owned()));
    }

    #[tokio::test]
    async fn an_unknown_parameter_is_a_400_naming_it_and_the_allowed_ones() {
        let error = bad_request("/listing?limit=2&nmae=x").await;
        assert_eq!(error["code"], "unknown_parameter");
        assert_eq!(error["details"]["parameter"], "nmae");
        assert_eq!(
            error["details"]["allowed"],
            serde_json::json!(["limit", "name"])
        );
        assert_eq!(
            error["message"],
            "unknown query parameter `nmae`: expected limit, name"
        );
        let error = bad_request("/nothing?verbose=1").await;
        assert_eq!(error["code"], "unknown_parameter");
        assert_eq!(
            error["message"],
            "unknown query parameter `verbose`: this endpoint takes none"
        );
    }

    #[tokio::test]
    async fn a_wrong_value_is_a_400_naming_the_parameter_value_and_expectation() {
        for (uri, value) in [
            ("/listing?limit=ten", "ten"),
            ("/listing?limit=11", "11"),
            ("/listing?limit=", ""),
        ] {
            let error = bad_request(uri).await;
            assert_eq!(error["code"], "invalid_parameter", "{uri}");
            assert_eq!(error["details"]["parameter"], "limit", "{uri}");
            assert_eq!(error["details"]["value"], value, "{uri}");
            assert_eq!(error["details"]["expected"], "an integer from 1 to 10");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("query parameter `limit` must be"),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn a_repeated_parameter_is_a_400_naming_it() {
        let error = bad_request("/listing?name=a&name=b").await;
        assert_eq!(error["code"], "invalid_parameter");
        assert_eq!(error["details"]["parameter"], "name");
        assert_eq!(error["details"]["problem"], "repeated");
    }
}
