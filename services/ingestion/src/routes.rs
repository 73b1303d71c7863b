//! HTTP handlers of the ingestion service, and the request paths every endpoint shares:
//! one record as the body, or a framed batch.

use crate::idempotency::idempotent;
use crate::kinds::{RecordKind, Runs};
use crate::pipeline::{Ingest, IngestReport, Positions};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{Stream, StreamExt};
use obs_kafka::TraceParent;
use obs_records::framing::{for_each_frame, BodyFormat, Framer};
use obs_service::http::read_body;
use obs_service::openapi::ErrorBody;
use obs_service::{
    ApiError, ApplicationJson, ContentType, FromQuery, HealthReport, MediaTypes, QueryParams,
    StrictQuery,
};
use serde_json::json;
use std::fmt::Display;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

pub(crate) type Answer = Result<(StatusCode, Json<IngestReport>), ApiError>;

pub(crate) const JSON: &str = "application/json";
const NDJSON: [&str; 3] = [
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
];
const MULTIPART: &str = "multipart/form-data";

/// `/ingest/batch` and `/log`: JSON (an array; one object too on `/log`), or NDJSON under
/// any of its names.
pub struct JsonOrNdjson;

impl MediaTypes for JsonOrNdjson {
    const ACCEPTED: &'static [&'static str] = &[JSON, NDJSON[0], NDJSON[1], NDJSON[2]];
}

/// `/ingest/file`: a multipart upload, or the file as the body (JSON array or NDJSON).
pub struct Upload;

impl MediaTypes for Upload {
    const ACCEPTED: &'static [&'static str] = &[MULTIPART, JSON, NDJSON[0], NDJSON[1], NDJSON[2]];
}

pub(crate) fn trace_of(headers: &HeaderMap) -> Option<TraceParent> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// `POST /ingest/single`: one JSON record (once per `Idempotency-Key`).
#[utoipa::path(
    post, path = "/ingest/single", tag = "ingest",
    params(
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context: the records join that trace (a new one per record otherwise)"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "a retry with the same key (and API key) gets the first answer and produces nothing")
    ),
    request_body(content = Object, content_type = "application/json",
        description = "one job-execution record", example = obs_service::openapi::job_record_example),
    responses(
        (status = 202, description = "every record accepted was acknowledged by Kafka; `rejected` lists the others", body = IngestReport),
        (status = 400, description = "the Idempotency-Key header is not a valid key", body = ErrorBody),
        (status = 409, description = "a request with the same Idempotency-Key is still in flight; retry after `Retry-After`", body = ErrorBody),
        (status = 422, description = "no record of the body is valid; `details` lists the errors", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge in time, or the producer is full", body = ErrorBody),
    )
)]
pub async fn ingest_single(
    State(state): State<Arc<AppState>>,
    _: ContentType<ApplicationJson>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(body, state.config.http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let handle = ingest_one::<Runs>(&state, &headers, &bytes);
    idempotent(
        &state.idempotency,
        &headers,
        "/ingest/single",
        &bytes,
        handle,
    )
    .await
}

/// One record of kind `K` that is the whole (already read) body.
pub(crate) async fn ingest_one<K: RecordKind>(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Answer {
    if bytes.len() > state.config.ingest.max_record_bytes {
        return Err(ApiError::payload_too_large(
            state.config.ingest.max_record_bytes,
        ));
    }
    let mut ingest = Ingest::<K>::new(state, Positions::Index, trace_of(headers));
    ingest.add_single(bytes.trim_ascii())?;
    ingest.publish().await?;
    let (status, report) = ingest.finish()?;
    Ok((status, Json(report)))
}

/// `POST /ingest/batch`: a JSON array, or NDJSON with an NDJSON content type (once per
/// `Idempotency-Key`).
#[utoipa::path(
    post, path = "/ingest/batch", tag = "ingest",
    params(
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context: the records join that trace (a new one per record otherwise)"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "a retry with the same key (and API key) gets the first answer and produces nothing")
    ),
    request_body(description = "job-execution records: a JSON array, or NDJSON (one per line)",
        content((Vec<Object> = "application/json", example = obs_service::openapi::job_records_example),
            (String = "application/x-ndjson"), (String = "application/ndjson"),
            (String = "application/jsonl"))),
    responses(
        (status = 202, description = "every record accepted was acknowledged by Kafka; `rejected` lists the others", body = IngestReport),
        (status = 400, description = "the Idempotency-Key header is not a valid key", body = ErrorBody),
        (status = 409, description = "a request with the same Idempotency-Key is still in flight; retry after `Retry-After`", body = ErrorBody),
        (status = 422, description = "no record of the body is valid; `details` lists the errors", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge in time, or the producer is full", body = ErrorBody),
    )
)]
pub async fn ingest_batch(
    State(state): State<Arc<AppState>>,
    content_type: ContentType<JsonOrNdjson>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = if content_type.media_type() == JSON {
        BodyFormat::JsonArray
    } else {
        BodyFormat::Ndjson
    };
    let bytes = match read_body(body, state.config.http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let handle = ingest_batch_of::<Runs>(&state, &headers, format, &bytes);
    idempotent(
        &state.idempotency,
        &headers,
        "/ingest/batch",
        &bytes,
        handle,
    )
    .await
}

/// A batch of records of kind `K`: a JSON array or NDJSON (already read).
pub(crate) async fn ingest_batch_of<K: RecordKind>(
    state: &AppState,
    headers: &HeaderMap,
    format: BodyFormat,
    bytes: &[u8],
) -> Answer {
    let positions = if format == BodyFormat::JsonArray {
        Positions::Index
    } else {
        Positions::Line
    };
    let mut ingest = Ingest::<K>::new(state, positions, trace_of(headers));
    // Nothing is published before the whole body has been framed: a malformed one is
    // refused whole.
    for_each_frame(
        format,
        bytes,
        state.config.ingest.max_record_bytes,
        |frame| ingest.add(frame),
    )
    .map_err(|error| ApiError::bad_request("malformed_json", format!("malformed body: {error}")))?;
    ingest.publish().await?;
    let (status, report) = ingest.finish()?;
    Ok((status, Json(report)))
}

/// `POST /ingest/file`: an upload, as `multipart/form-data` (field `file`) or as the raw
/// body; NDJSON or a JSON array, detected from the first byte whatever the declared type.
/// Streamed: records are published in chunks as they arrive.
#[utoipa::path(
    post, path = "/ingest/file", tag = "ingest",
    params(
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context: the records join that trace (a new one per record otherwise)")
    ),
    request_body(description = "a file of job-execution records (NDJSON or a JSON array), as \
        the body or as the `file` field of a multipart upload",
        content((Object = "multipart/form-data"), (Vec<Object> = "application/json"),
            (String = "application/x-ndjson"), (String = "application/ndjson"),
            (String = "application/jsonl"))),
    responses(
        (status = 202, description = "every record accepted was acknowledged by Kafka; `rejected` lists the others", body = IngestReport),
        (status = 422, description = "no record of the body is valid; `details` lists the errors", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge in time, or the producer is full", body = ErrorBody),
    )
)]
pub async fn ingest_file(
    State(state): State<Arc<AppState>>,
    content_type: ContentType<Upload>,
    request: Request,
) -> Answer {
    let headers = request.headers().clone();
    let limit = state.config.ingest.max_file_bytes;
    if declared_length(&headers).is_some_and(|length| length > limit) {
        return Err(ApiError::payload_too_large(
            usize::try_from(limit).unwrap_or(usize::MAX),
        ));
    }
    let trace = trace_of(&headers);
    if content_type.media_type() == MULTIPART {
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
        loop {
            let field = multipart
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
            let Some(field) = field else {
                return Err(ApiError::bad_request(
                    "missing_file",
                    "the multipart body has no field named \"file\"",
                ));
            };
            if field.name() == Some("file") {
                return ingest_stream(&state, field, trace).await;
            }
        }
    }
    ingest_stream(&state, request.into_body().into_data_stream(), trace).await
}

/// `?file=NAME` of `/ingest/trigger`.
pub struct TriggerQuery {
    file: Option<String>,
}

impl FromQuery for TriggerQuery {
    const PARAMETERS: &'static [&'static str] = &["file"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(TriggerQuery {
            file: params.get("file").map(str::to_owned),
        })
    }
}

/// `POST /ingest/trigger[?file=NAME]`: ingests a file of the configured data directory.
#[utoipa::path(
    post, path = "/ingest/trigger", tag = "ingest",
    params(
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context: the records join that trace (a new one per record otherwise)"),
        ("file" = Option<String>, Query,
            description = "a file of the data directory (`ingest.trigger_file` when absent)")),
    responses(
        (status = 202, description = "every record accepted was acknowledged by Kafka; `rejected` lists the others", body = IngestReport),
        (status = 422, description = "no record of the body is valid; `details` lists the errors", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge in time, or the producer is full", body = ErrorBody),
        (status = 404, description = "no such file in the data directory", body = ErrorBody),
    )
)]
pub async fn ingest_trigger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    StrictQuery(query): StrictQuery<TriggerQuery>,
) -> Answer {
    let name = query
        .file
        .unwrap_or_else(|| state.config.ingest.trigger_file.clone());
    let path = confined_path(&state.config.ingest.data_dir, &name)?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "file_not_found",
            format!("cannot open {name:?} in the data directory: {e}"),
        )
    })?;
    tracing::info!(file = %path.display(), "ingesting file from the data directory");
    let chunks = futures::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    ingest_stream(&state, Box::pin(chunks), trace_of(&headers)).await
}

/// Resolves `name` inside `dir`, refusing anything that could leave it.
fn confined_path(dir: &Path, name: &str) -> Result<PathBuf, ApiError> {
    let forbidden = || {
        ApiError::bad_request(
            "invalid_file",
            format!("{name:?} is not a file name inside the data directory"),
        )
    };
    let relative = Path::new(name);
    if name.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(forbidden());
    }
    let not_found = |e: std::io::Error| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "file_not_found",
            format!("{name:?} is not in the data directory: {e}"),
        )
    };
    let base = dir.canonicalize().map_err(not_found)?;
    let path = base.join(relative).canonicalize().map_err(not_found)?;
    if !path.starts_with(&base) {
        return Err(forbidden());
    }
    Ok(path)
}

async fn ingest_stream<S, E>(state: &AppState, mut chunks: S, trace: Option<TraceParent>) -> Answer
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let config = &state.config.ingest;
    let mut framer = Framer::new(BodyFormat::Detect, config.max_record_bytes);
    let mut ingest = Ingest::<Runs>::new(state, Positions::Line, trace);
    let mut frames = Vec::new();
    let mut received: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("body_unreadable", format!("could not read the upload: {e}"))
        })?;
        received += chunk.len() as u64;
        if received > config.max_file_bytes {
            // Chunks published so far stay published; the answer says how many.
            return Err(ApiError::payload_too_large(
                usize::try_from(config.max_file_bytes).unwrap_or(usize::MAX),
            )
            .with_details(json!({
                "limit_bytes": config.max_file_bytes,
                "accepted_before_limit": ingest.finish().map(|(_, r)| r.accepted).unwrap_or(0),
            })));
        }
        framer.push(&chunk, &mut frames).map_err(|error| {
            ApiError::bad_request("malformed_json", format!("malformed upload: {error}"))
        })?;
        if framer.format() == BodyFormat::JsonArray {
            ingest.set_positions(Positions::Index);
        }
        for frame in frames.drain(..) {
            ingest.add(frame);
            if ingest.pending() >= config.file_chunk_records {
                ingest.publish().await?;
            }
        }
    }
    framer.finish(&mut frames).map_err(|error| {
        ApiError::bad_request("malformed_json", format!("malformed upload: {error}"))
    })?;
    for frame in frames {
        ingest.add(frame);
    }
    ingest.publish().await?;
    let (status, report) = ingest.finish()?;
    Ok((status, Json(report)))
}

/// `GET /health`.
/// Ready when Kafka is reachable: nothing else to wait for.
pub fn health(state: &AppState) -> HealthReport {
    HealthReport::new(crate::state::SERVICE, state.probe.status())
}
