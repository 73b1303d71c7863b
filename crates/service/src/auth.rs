//! API keys with scopes, and a rate limit per key.
//!
//! A client sends `Authorization: Bearer <token>`; the config holds only the SHA-256 hex
//! digests of the tokens, several per scope so a key can be rotated (add the new one,
//! hand it out, remove the old one). The digest of the token sent is compared with every
//! configured digest in constant time. Each route group declares its scope once, with
//! `.route_layer(auth.require(Scope::Read))`.
//!
//! Secure by default: a scope with no key configured refuses every call (401, the message
//! says which config key to set); `auth.disabled = true` opens everything, with a warning
//! at start. An `operate` key also grants `read`: whoever may acknowledge an incident
//! must see it. Neither a token nor a digest is ever logged or put in an answer.

use crate::http::ApiError;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultDirectRateLimiter, Quota};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The `/ingest/*` writes and `POST /log`.
    Ingest,
    /// Analytics, incidents, logs, traces, `/status`, the console's API.
    Read,
    /// Acknowledging and resolving incidents, retraining the detectors.
    Operate,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Operate];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Operate => "operate",
        }
    }

    /// The config key listing this scope's digests.
    pub fn config_key(self) -> &'static str {
        match self {
            Scope::Ingest => "auth.ingest_key_hashes",
            Scope::Read => "auth.read_key_hashes",
            Scope::Operate => "auth.operate_key_hashes",
        }
    }

    /// The environment variable of [`Scope::config_key`] (digests separated by commas).
    pub fn env_var(self) -> &'static str {
        match self {
            Scope::Ingest => "OBS_AUTH__INGEST_KEY_HASHES",
            Scope::Read => "OBS_AUTH__READ_KEY_HASHES",
            Scope::Operate => "OBS_AUTH__OPERATE_KEY_HASHES",
        }
    }

    /// Whether a key of scope `self` may call an endpoint needing `needed`.
    pub fn grants(self, needed: Scope) -> bool {
        self == needed || (self == Scope::Operate && needed == Scope::Read)
    }
}

/// The `auth` section of every service's config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Opens every endpoint to anyone: for a closed network only.
    pub disabled: bool,
    /// SHA-256 hex digests of the `ingest` tokens.
    pub ingest_key_hashes: Vec<String>,
    /// SHA-256 hex digests of the `read` tokens.
    pub read_key_hashes: Vec<String>,
    /// SHA-256 hex digests of the `operate` tokens.
    pub operate_key_hashes: Vec<String>,
    /// Requests per second each key may make, sustained.
    pub rate_per_second: u32,
    /// Requests each key may make at once above the sustained rate.
    pub burst: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            disabled: false,
            ingest_key_hashes: Vec::new(),
            read_key_hashes: Vec::new(),
            operate_key_hashes: Vec::new(),
            rate_per_second: 1_000,
            burst: 2_000,
        }
    }
}

impl AuthConfig {
    fn hashes(&self, scope: Scope) -> &[String] {
        match scope {
            Scope::Ingest => &self.ingest_key_hashes,
            Scope::Read => &self.read_key_hashes,
            Scope::Operate => &self.operate_key_hashes,
        }
    }
}

/// An `auth` section that cannot be used; the message names the key, never its value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    #[error("{key}[{index}] is not a SHA-256 digest in hex (64 hex digits)")]
    NotADigest { key: &'static str, index: usize },
    #[error("auth.rate_per_second and auth.burst must be at least 1")]
    ZeroRate,
}

/// The SHA-256 digest of `token`, in hex: what goes into the config.
pub fn digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

type Limiter = DefaultDirectRateLimiter<StateInformationMiddleware>;

/// One configured key: its scope, its digest and its own token bucket.
struct Key {
    scope: Scope,
    digest: [u8; 32],
    limiter: Limiter,
}

/// The keys of a service, checked on every protected request.
pub struct Auth {
    disabled: bool,
    keys: Vec<Key>,
    rate_per_second: u32,
}

/// Why a request was let through: the headers telling the client its remaining budget.
#[derive(Debug, Default)]
pub struct Admitted {
    rate_limit: Option<(u32, u32)>,
}

impl Auth {
    /// The keys of `config`; a digest that is not 64 hex digits is an error.
    pub fn new(config: &AuthConfig) -> Result<Auth, AuthError> {
        let rate = NonZeroU32::new(config.rate_per_second).ok_or(AuthError::ZeroRate)?;
        let burst = NonZeroU32::new(config.burst).ok_or(AuthError::ZeroRate)?;
        let quota = Quota::per_second(rate).allow_burst(burst);
        let mut keys = Vec::new();
        for scope in Scope::ALL {
            for (index, hash) in config.hashes(scope).iter().enumerate() {
                let hash = hash.trim();
                // An empty item is what an empty environment variable gives: no key.
                if hash.is_empty() {
                    continue;
                }
                let digest = parse_digest(hash).ok_or(AuthError::NotADigest {
                    key: scope.config_key(),
                    index,
                })?;
                keys.push(Key {
                    scope,
                    digest,
                    limiter: governor::RateLimiter::direct(quota).with_middleware(),
                });
            }
        }
        Ok(Auth {
            disabled: config.disabled,
            keys,
            rate_per_second: config.rate_per_second,
        })
    }

    /// Says at start what is open: one warning when auth is disabled, one per scope of
    /// `scopes` (those the service's endpoints need) that has no key, naming the config
    /// key to set.
    pub fn log_warnings(&self, service: &str, scopes: &[Scope]) {
        if self.disabled {
            tracing::warn!(
                service,
                "AUTHENTICATION IS DISABLED (auth.disabled = true): anyone who reaches this \
                 service may ingest, read and operate it"
            );
            return;
        }
        for &scope in scopes {
            if !self.keys.iter().any(|k| k.scope.grants(scope)) {
                tracing::warn!(
                    service,
                    scope = scope.name(),
                    "no key configured for scope {}: its endpoints refuse every call; set {} \
                     (env {}) to SHA-256 digests of tokens, e.g. with scripts/gen-keys.sh",
                    scope.name(),
                    scope.config_key(),
                    scope.env_var()
                );
            }
        }
    }

    /// The layer refusing the requests of a route group that lack a key of `scope`.
    pub fn require(self: &Arc<Self>, scope: Scope) -> RequireLayer {
        RequireLayer {
            auth: self.clone(),
            scope,
        }
    }

    /// Lets a request through, or says why not (401, 403 or 429).
    pub fn admit(&self, headers: &HeaderMap, scope: Scope) -> Result<Admitted, Refused> {
        if self.disabled {
            return Ok(Admitted::default());
        }
        if !self.keys.iter().any(|k| k.scope.grants(scope)) {
            return Err(Refused::from(unauthorized(format!(
                "no key is configured for scope {0}: the operator sets {1} (env {2}) to the \
                 SHA-256 digests of the {0} tokens",
                scope.name(),
                scope.config_key(),
                scope.env_var()
            ))));
        }
        let token = bearer(headers).ok_or_else(|| {
            unauthorized(format!(
                "this endpoint needs a key of scope {}: send Authorization: Bearer <token>",
                scope.name()
            ))
        })?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut known = false;
        let mut granted = None;
        // Every key is compared, so the time taken does not tell which one matched.
        for key in &self.keys {
            let matches: bool = key.digest.ct_eq(&digest).into();
            known |= matches;
            if matches && granted.is_none() && key.scope.grants(scope) {
                granted = Some(key);
            }
        }
        let Some(key) = granted else {
            return Err(if known {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("this endpoint needs a key of scope {}", scope.name()),
                )
                .with_details(json!({ "scope": scope.name() }))
            } else {
                unauthorized("unknown key".to_owned())
            }
            .into());
        };
        match key.limiter.check() {
            Ok(snapshot) => Ok(Admitted {
                rate_limit: Some((self.rate_per_second, snapshot.remaining_burst_capacity())),
            }),
            Err(not_until) => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "this key made more than {} requests per second; retry later",
                        self.rate_per_second
                    ),
                );
                error.retry_after = Some(not_until.wait_time_from(DefaultClock::default().now()));
                Err(Refused {
                    error,
                    rate_limit: Some((self.rate_per_second, 0)),
                })
            }
        }
    }
}

/// A request refused: the error, and the rate-limit headers when the key was known.
#[derive(Debug)]
pub struct Refused {
    pub error: ApiError,
    rate_limit: Option<(u32, u32)>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused {
            error,
            rate_limit: None,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let challenge = self.error.status == StatusCode::UNAUTHORIZED;
        let mut response = self.error.into_response();
        if challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some((limit, remaining)) = self.rate_limit {
            set_rate_headers(response.headers_mut(), limit, remaining);
        }
        response
    }
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn set_rate_headers(headers: &mut HeaderMap, limit: u32, remaining: u32) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn parse_digest(hash: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hash.to_ascii_lowercase(), &mut digest).ok()?;
    Some(digest)
}

/// The layer of [`Auth::require`].
#[derive(Clone)]
pub struct RequireLayer {
    auth: Arc<Auth>,
    scope: Scope,
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            auth: self.auth.clone(),
            scope: self.scope,
        }
    }
}

/// The service of [`RequireLayer`].
#[derive(Clone)]
pub struct Require<S> {
    inner: S,
    auth: Arc<Auth>,
    scope: Scope,
}

impl<S> Service<Request> for Require<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let admitted = match self.auth.admit(request.headers(), self.scope) {
            Ok(admitted) => admitted,
            Err(refused) => {
                let response = refused.into_response();
                return Box::pin(async move { Ok(response) });
            }
        };
        // The clone is the one made ready by `poll_ready`; the original stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if let Some((limit, remaining)) = admitted.rate_limit {
                set_rate_headers(response.headers_mut(), limit, remaining);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    const INGEST: &str = "ingest-token";
    const READ: &str = "read-token";
    const OPERATE: &str = "operate-token";

    fn config() -> AuthConfig {
        AuthConfig {
            ingest_key_hashes: vec![digest_hex(INGEST), digest_hex("rotated-out")],
            read_key_hashes: vec![digest_hex(READ).to_uppercase()],
            operate_key_hashes: vec![digest_hex(OPERATE)],
            ..AuthConfig::default()
        }
    }

    fn headers(token: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    fn status(auth: &Auth, token: Option<&str>, scope: Scope) -> StatusCode {
        match auth.admit(&headers(token), scope) {
            Ok(_) => StatusCode::OK,
            Err(refused) => refused.error.status,
        }
    }

    #[test]
    fn scopes_decide_between_401_403_and_through() {
        let auth = Auth::new(&config()).unwrap();
        let cases = [
            (None, Scope::Ingest, StatusCode::UNAUTHORIZED),
            (Some("guess"), Scope::Read, StatusCode::UNAUTHORIZED),
            (Some(INGEST), Scope::Ingest, StatusCode::OK),
            (Some("rotated-out"), Scope::Ingest, StatusCode::OK),
            (Some(INGEST), Scope::Read, StatusCode::FORBIDDEN),
            (Some(READ), Scope::Read, StatusCode::OK),
            (Some(READ), Scope::Operate, StatusCode::FORBIDDEN),
            (Some(READ), Scope::Ingest, StatusCode::FORBIDDEN),
            (Some(OPERATE), Scope::Operate, StatusCode::OK),
            (Some(OPERATE), Scope::Read, StatusCode::OK),
            (Some(OPERATE), Scope::Ingest, StatusCode::FORBIDDEN),
        ];
        for (token, scope, expected) in cases {
            assert_eq!(status(&auth, token, scope), expected, "{token:?} {scope:?}");
        }
    }

    #[test]
    fn only_the_bearer_scheme_is_read() {
        assert_eq!(bearer(&headers(Some(READ))), Some(READ));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&basic), None);
        assert_eq!(bearer(&headers(Some(""))), None);
    }

    #[test]
    fn a_scope_without_keys_refuses_and_says_how_to_configure_one() {
        let auth = Auth::new(&AuthConfig::default()).unwrap();
        for scope in Scope::ALL {
            let refused = auth.admit(&headers(Some(READ)), scope).unwrap_err();
            assert_eq!(refused.error.status, StatusCode::UNAUTHORIZED);
            assert!(refused.error.message.contains(scope.env_var()), "{scope:?}");
        }
        let only_operate = AuthConfig {
            operate_key_hashes: vec![digest_hex(OPERATE)],
            ..AuthConfig::default()
        };
        let auth = Auth::new(&only_operate).unwrap();
        assert_eq!(status(&auth, Some(OPERATE), Scope::Read), StatusCode::OK);
    }

    #[test]
    fn disabled_opens_everything() {
        let auth = Auth::new(&AuthConfig {
            disabled: true,
            ..AuthConfig::default()
        })
        .unwrap();
        for scope in Scope::ALL {
            assert_eq!(status(&auth, None, scope), StatusCode::OK);
        }
    }

    #[test]
    fn a_digest_that_is_not_64_hex_digits_is_refused_by_key_and_index() {
        let mut bad = config();
        bad.read_key_hashes.push("not-hex".into());
        assert_eq!(
            Auth::new(&bad).err(),
            Some(AuthError::NotADigest {
                key: "auth.read_key_hashes",
                index: 1
            })
        );
        let mut empty = config();
        empty.read_key_hashes.push(" ".into());
        assert!(Auth::new(&empty).is_ok());
    }

    #[test]
    fn a_burst_above_the_limit_is_a_429_with_retry_after() {
        let auth = Auth::new(&AuthConfig {
            rate_per_second: 1,
            burst: 3,
            ..config()
        })
        .unwrap();
        for remaining in (0..3).rev() {
            let admitted = auth.admit(&headers(Some(READ)), Scope::Read).unwrap();
            assert_eq!(admitted.rate_limit, Some((1, remaining)));
        }
        let refused = auth.admit(&headers(Some(READ)), Scope::Read).unwrap_err();
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
        // Each key has a bucket of its own.
        assert_eq!(status(&auth, Some(OPERATE), Scope::Read), StatusCode::OK);
    }

    async fn call(
        router: &Router,
        token: Option<&str>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let mut request = Request::get("/guarded").body(Body::empty()).unwrap();
        *request.headers_mut() = headers(token);
        let response = router.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn the_layer_answers_in_the_json_shape_with_its_headers() {
        let auth = Arc::new(Auth::new(&config()).unwrap());
        let router = Router::new()
            .route("/guarded", get(|| async { "ok" }))
            .route_layer(auth.require(Scope::Operate));
        let (status, headers, body) = call(&router, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _, body) = call(&router, Some(READ)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "forbidden");
        assert_eq!(body["error"]["details"]["scope"], "operate");
        let (status, headers, _) = call(&router, Some(OPERATE)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-ratelimit-limit"], "1000");
        assert_eq!(headers["x-ratelimit-remaining"], "1999");
    }
}
