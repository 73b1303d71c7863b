//! `POST /dead-letters/replay`: a stage service's dead letters back to its own inputs after
//! a fix, exactly once ([`obs_kafka::replay`]). Standardization and processing each mount
//! it for their stages; the `dead-letter-replay` command does the same for any stage.

use crate::auth::{Auth, Scope};
use crate::http::read_body;
use crate::openapi::{routes, ErrorBody, OpenApiRouter, RequireScope};
use crate::{ApiError, ApplicationJson, ContentType, Metrics};
use axum::body::Body;
use axum::extract::State;
use axum::Json;
use obs_kafka::replay::{replay, ReplayReport, ReplayTopics, Selection};
use obs_kafka::KafkaConfig;
use prometheus::IntCounter;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// What a client waits before asking again when the broker failed the replay.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What the endpoint needs: where to read and write, the stages it answers for, and its
/// counter.
pub struct ReplayApi {
    client: &'static str,
    kafka: KafkaConfig,
    topics: ReplayTopics,
    /// The service's stages: only their dead letters are taken.
    stages: &'static [&'static str],
    max_body_bytes: usize,
    /// Held by the replay running, so replays here run one at a time (a second one would
    /// fence the first).
    lock: tokio::sync::Mutex<()>,
    /// `{service}_dead_letters_replayed_total`.
    replayed: IntCounter,
}

impl ReplayApi {
    /// The endpoint of `service`'s `stages`: it takes their dead letters from
    /// `topics.dead_letters` and writes only to `topics.targets` (the service's inputs).
    pub fn new(
        service: &'static str,
        kafka: &KafkaConfig,
        topics: ReplayTopics,
        stages: &'static [&'static str],
        max_body_bytes: usize,
        registry: &Metrics,
    ) -> Result<Arc<ReplayApi>, prometheus::Error> {
        let replayed = registry.register(IntCounter::new(
            format!("{service}_dead_letters_replayed_total"),
            "Dead letters re-published to their stage's input by POST /dead-letters/replay",
        )?)?;
        Ok(Arc::new(ReplayApi {
            client: service,
            kafka: kafka.clone(),
            topics,
            stages,
            max_body_bytes,
            lock: tokio::sync::Mutex::new(()),
            replayed,
        }))
    }
}

/// `POST /dead-letters/replay`, for `operate` keys (it writes).
pub fn router<S: Clone + Send + Sync + 'static>(
    api: Arc<ReplayApi>,
    auth: &Arc<Auth>,
) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(replay_dead_letters))
        .require_scope(auth, Scope::Operate)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(api)
}

/// The body: a [`Selection`] (`kinds`, `stages`, `since`, `until`, `ids`, `limit`) and
/// `dry_run` (list, write nothing). Only the dead letters of this service's stages are
/// taken, and only into its inputs.
#[utoipa::path(
    post, path = "/dead-letters/replay", tag = "dead letters",
    request_body(content = Object, content_type = "application/json",
        description = "which dead letters: at least one of `kinds`, `stages`, `since`, `until` (RFC 3339, on `dead-letter-failed-at`), `ids` (`{topic}/{partition}/{offset}`), with `limit` and `dry_run`",
        example = json!({"kinds": ["invalid_timestamp"], "since": "2025-09-05T00:00:00Z", "dry_run": true})),
    responses(
        (status = 200, description = "selected, replayed, already replayed, unreplayable and left, with a `message` and the dead letters", body = ReplayAnswer),
        (status = 422, description = "the selection is not valid; `details` names the field", body = ErrorBody),
        (status = 503, description = "the broker failed the replay; nothing was committed", body = ErrorBody),
    )
)]
async fn replay_dead_letters(
    State(api): State<Arc<ReplayApi>>,
    _: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Json<ReplayAnswer>, ApiError> {
    let bytes = read_body(body, api.max_body_bytes).await?;
    let (selection, dry_run) = request(&bytes, api.stages)?;
    let _one_at_a_time = api.lock.lock().await;
    let report = tokio::task::spawn_blocking({
        let api = api.clone();
        move || replay(&api.kafka, api.client, &api.topics, &selection, dry_run)
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("the replay stopped: {e}"), RETRY_AFTER))?
    .map_err(|e| ApiError::unavailable(format!("the replay failed: {e}"), RETRY_AFTER))?;
    if !dry_run {
        api.replayed.inc_by(report.tally.replayed);
    }
    tracing::info!(
        dry_run,
        selected = report.tally.selected,
        replayed = report.tally.replayed,
        already_replayed = report.tally.already_replayed,
        "dead letters replayed"
    );
    Ok(Json(ReplayAnswer {
        message: report.summary(),
        report,
    }))
}

/// The answer: the report, with a sentence saying what happened.
#[derive(Serialize, ToSchema)]
pub struct ReplayAnswer {
    #[serde(flatten)]
    report: ReplayReport,
    /// What happened, in a sentence.
    message: String,
}

/// The selection and `dry_run` of a request body, restricted to the service's `own` stages.
fn request(bytes: &[u8], own: &[&str]) -> Result<(Selection, bool), ApiError> {
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let dry_run = match value.as_object_mut().and_then(|o| o.remove("dry_run")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(dry_run)) => dry_run,
        Some(_) => return Err(invalid("field `dry_run` must be true or false")),
    };
    let mut selection: Selection =
        serde_json::from_value(value).map_err(|e| invalid(&e.to_string()))?;
    if let Some(other) = selection.stages.iter().find(|s| !own.contains(&s.as_str())) {
        return Err(invalid(&format!(
            "stage {other:?} is not one of this service's ({}): its own service replays its \
             dead letters",
            own.join(", ")
        )));
    }
    // Validated before the service's stages are filled in: they are not the operator's
    // filter, and a selection needs one.
    selection.validate().map_err(|e| invalid(&e.to_string()))?;
    if selection.stages.is_empty() {
        selection.stages = own.iter().map(|s| (*s).to_owned()).collect();
    }
    Ok((selection, dry_run))
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_selection",
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    const OWN: &[&str] = &["standardization", "standardization-app-logs"];

    #[test]
    fn the_body_is_a_selection_with_dry_run_kept_to_this_services_stages() {
        let (selection, dry_run) =
            request(br#"{"kinds": ["malformed_json"], "dry_run": true}"#, OWN).unwrap();
        assert!(dry_run);
        assert_eq!(selection.kinds, ["malformed_json"]);
        assert_eq!(selection.stages, OWN);
        let (selection, dry_run) = request(br#"{"stages": ["standardization"]}"#, OWN).unwrap();
        assert!(!dry_run);
        assert_eq!(selection.stages, ["standardization"]);
    }

    #[test]
    fn a_body_without_a_filter_or_for_another_stage_is_refused() {
        for body in [
            &br#"{}"#[..],
            br#"{"dry_run": true}"#,
            br#"{"stages": ["processing"]}"#,
            br#"{"kinds": "malformed_json"}"#,
            br#"{"colour": "red"}"#,
            br#"{"ids": ["nope"]}"#,
        ] {
            let error = request(body, OWN).unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            request(b"{", OWN).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
