//! `POST /log`: application log events, one or many, through the same paths, limits and
//! answers as the job-execution records.

use crate::idempotency::idempotent;
use crate::kinds::LogEvents;
use crate::pipeline::IngestReport;
use crate::routes::{ingest_batch_of, ingest_one, Answer, JsonOrNdjson, JSON};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use obs_records::framing::BodyFormat;
use obs_service::http::read_body;
use obs_service::openapi::ErrorBody;
use obs_service::ContentType;
use std::sync::Arc;

/// `POST /log`: one event (a JSON object, answered as `/ingest/single`), or many (a JSON
/// array, or NDJSON with an NDJSON content type, answered as `/ingest/batch`); once per
/// `Idempotency-Key`.
#[utoipa::path(
    post, path = "/log", tag = "ingest",
    params(
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context: the records join that trace (a new one per record otherwise)"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "a retry with the same key (and API key) gets the first answer and produces nothing")
    ),
    request_body(description = "application log events: one JSON object, a JSON array, or NDJSON",
        content((Object = "application/json",
            example = json!({"service": "billing", "level": "info", "message": "invoice issued"})),
            (String = "application/x-ndjson"),
            (String = "application/ndjson"), (String = "application/jsonl"))),
    responses(
        (status = 202, description = "every record accepted was acknowledged by Kafka; `rejected` lists the others", body = IngestReport),
        (status = 400, description = "the Idempotency-Key header is not a valid key", body = ErrorBody),
        (status = 409, description = "a request with the same Idempotency-Key is still in flight; retry after `Retry-After`", body = ErrorBody),
        (status = 422, description = "no record of the body is valid; `details` lists the errors", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge in time, or the producer is full", body = ErrorBody),
    )
)]
pub async fn ingest_log(
    State(state): State<Arc<AppState>>,
    content_type: ContentType<JsonOrNdjson>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(body, state.config.http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let handle = route(&state, &headers, content_type.media_type() == JSON, &bytes);
    idempotent(&state.idempotency, &headers, "/log", &bytes, handle).await
}

/// One event or many, by the content type and the first byte.
async fn route(state: &AppState, headers: &HeaderMap, json: bool, bytes: &[u8]) -> Answer {
    if !json {
        return ingest_batch_of::<LogEvents>(state, headers, BodyFormat::Ndjson, bytes).await;
    }
    // `read_body` refused a blank body, so there is a first byte.
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        ingest_batch_of::<LogEvents>(state, headers, BodyFormat::JsonArray, bytes).await
    } else {
        ingest_one::<LogEvents>(state, headers, bytes).await
    }
}
