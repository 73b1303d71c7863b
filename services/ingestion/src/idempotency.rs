//! `Idempotency-Key` on `/ingest/single`, `/ingest/batch` and `/log`: a retried request
//! with the same key, from the same key holder, gets the first answer (status and body)
//! and produces nothing again.
//!
//! * Scope: the key is kept per API key (a digest of the bearer token), so two clients
//!   cannot see each other's answers; with `auth.disabled` every caller shares one scope.
//! * A key reused for another request (another endpoint or body: SHA-256 of both) is
//!   `422 idempotency_key_reused`; a duplicate while the first is still running is
//!   `409 idempotency_key_in_flight` with `Retry-After`, never a wait holding a
//!   connection.
//! * Kept: answers below 500. A 503 (Kafka unavailable, part of a body maybe published)
//!   is not kept, so the retry it asks for is done; what it publishes twice, the
//!   standardization stage drops as duplicates.
//! * Per instance, in memory ([`obs_dedup::Answers`], bounded by `idempotency.*`): a retry
//!   that reaches another replica, or comes after a restart, is done again, and
//!   standardization's de-duplication is what counts its records once.

use crate::config::IdempotencyConfig;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use obs_dedup::{Answers, AnswersConfig, Claim, Ticket};
use obs_kafka::sync::lock;
use obs_service::ApiError;
use prometheus::{IntCounter, IntGauge};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LENGTH: usize = 255;

/// A kept answer.
#[derive(Clone)]
pub(crate) struct Stored {
    status: StatusCode,
    body: Bytes,
}

/// The answers of one instance and their metrics.
pub(crate) struct Idempotency {
    answers: Mutex<Answers<Stored>>,
    replays: IntCounter,
    keys: IntGauge,
}

impl Idempotency {
    pub(crate) fn new(
        config: &IdempotencyConfig,
        metrics: &obs_service::Metrics,
    ) -> Result<Self, prometheus::Error> {
        Ok(Idempotency {
            answers: Mutex::new(Answers::new(AnswersConfig {
                max_entries: config.max_keys,
                max_bytes: config.max_bytes,
                ttl_ms: i64::try_from(config.ttl_seconds.saturating_mul(1000))
                    .unwrap_or(i64::MAX),
            })),
            replays: metrics.register(IntCounter::new(
                "ingestion_idempotent_replays_total",
                "Requests answered with the kept answer of an earlier request with the same Idempotency-Key (nothing produced).",
            )?)?,
            keys: metrics.register(IntGauge::new(
                "ingestion_idempotency_keys",
                "Idempotency keys held (answered or in flight), at most idempotency.max_keys.",
            )?)?,
        })
    }

    /// `(keys held, bytes of their answers)`, for `/status`.
    pub(crate) fn held(&self) -> (usize, usize) {
        let answers = lock(&self.answers);
        (answers.len(), answers.bytes())
    }
}

/// Runs `handle` (the request sent to `route` with `body`) once per `Idempotency-Key`:
/// without the header, just runs it.
pub(crate) async fn idempotent<F, A>(
    idempotency: &Idempotency,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    handle: F,
) -> Response
where
    F: Future<Output = A>,
    A: IntoResponse,
{
    let Some(value) = headers.get(HEADER) else {
        return handle.await.into_response();
    };
    let key = match key_of(value) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let scoped = format!("{}:{key}", holder(headers));
    let now_ms = chrono::Utc::now().timestamp_millis();
    let claim = lock(&idempotency.answers).claim(&scoped, fingerprint(route, body), now_ms);
    let ticket = match claim {
        Claim::New(ticket) => ticket,
        Claim::Replay(stored) => {
            idempotency.replays.inc();
            return replay(stored);
        }
        Claim::InFlight => {
            let mut error = ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still running; retry once it has been answered",
            )
            .with_details(json!({ "header": "Idempotency-Key" }));
            error.retry_after = Some(Duration::from_secs(1));
            return error.into_response();
        }
        Claim::Mismatch => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request (another endpoint or body); use a new key",
            )
            .with_details(json!({ "header": "Idempotency-Key" }))
            .into_response();
        }
    };
    // Dropped unanswered (the client went away mid-request): the claim is given up.
    let mut claim = Claimed {
        idempotency,
        ticket: Some(ticket),
    };
    let response = handle.await.into_response();
    if response.status().is_server_error() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("could not read the answer: {error}"),
            )
            .into_response()
        }
    };
    if let Some(ticket) = claim.ticket.take() {
        let stored = Stored {
            status: parts.status,
            body: bytes.clone(),
        };
        let mut answers = lock(&idempotency.answers);
        answers.complete(&ticket, stored, bytes.len());
        idempotency.keys.set(answers.len() as i64);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A claim whose answer is not kept yet.
struct Claimed<'a> {
    idempotency: &'a Idempotency,
    ticket: Option<Ticket>,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let mut answers = lock(&self.idempotency.answers);
            answers.abandon(&ticket);
            self.idempotency.keys.set(answers.len() as i64);
        }
    }
}

fn replay(stored: Stored) -> Response {
    let mut response = (stored.status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The key: 1 to 255 visible ASCII characters.
fn key_of(value: &HeaderValue) -> Result<&str, ApiError> {
    value
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty()
                && key.len() <= MAX_KEY_LENGTH
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID, say)"
                ),
            )
            .with_details(json!({ "header": "Idempotency-Key" }))
        })
}

/// Who holds the key: a digest of the bearer token (never the token), or `-` without one.
fn holder(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map_or_else(
            || "-".to_owned(),
            |token| {
                let digest = Sha256::digest(token.trim().as_bytes());
                digest[..16].iter().map(|b| format!("{b:02x}")).collect()
            },
        )
}

/// What makes two requests the same: the endpoint and the body.
fn fingerprint(route: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((route.len() as u64).to_le_bytes());
    hasher.update(route.as_bytes());
    hasher.update(body);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(
            key_of(&HeaderValue::from_static("retry-7f3a")).ok(),
            Some("retry-7f3a")
        );
        for bad in ["", "two words", &"k".repeat(256)] {
            let error = key_of(&HeaderValue::from_str(bad).unwrap()).unwrap_err();
            assert_eq!(error.code, "invalid_idempotency_key");
        }
    }

    #[test]
    fn the_holder_is_a_digest_of_the_token_never_the_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(holder(&headers), "-");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token"),
        );
        let scope = holder(&headers);
        assert_eq!(scope.len(), 32);
        assert!(!scope.contains("secret"));
    }

    #[test]
    fn the_endpoint_is_part_of_the_request() {
        assert_ne!(
            fingerprint("/log", b"{}"),
            fingerprint("/ingest/single", b"{}")
        );
        assert_eq!(fingerprint("/log", b"{}"), fingerprint("/log", b"{}"));
    }
}
