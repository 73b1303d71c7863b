//! `POST /dead-letters/replay`: standardization's dead letters back to its inputs after a
//! fix, exactly once ([`obs_kafka::replay`]).

use crate::{AppState, LOG_EVENTS_STAGE, SERVICE, STAGE};
use axum::body::Body;
use axum::extract::State;
use axum::Json;
use obs_kafka::replay::{replay, ReplayReport, ReplayTopics, Selection};
use obs_service::http::read_body;
use obs_service::{ApiError, ApplicationJson, ContentType};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What a client waits before asking again when the broker failed the replay.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The body: a [`Selection`] (`kinds`, `stages`, `since`, `until`, `ids`, `limit`) and
/// `dry_run` (list, write nothing). Only the dead letters of this service's two stages are
/// taken, and only into its two inputs.
pub(crate) async fn replay_dead_letters(
    State(state): State<Arc<AppState>>,
    _: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = read_body(body, state.config.http.max_body_bytes).await?;
    let (selection, dry_run) = request(&bytes)?;
    // One replay at a time here: a second one would fence the first.
    let _one_at_a_time = state.replay_lock.lock().await;
    let kafka = state.config.kafka.clone();
    let topics = ReplayTopics {
        dead_letters: state.config.topics.dead_letters.name.clone(),
        replays: state.config.topics.dead_letter_replays.name.clone(),
        targets: vec![
            state.config.topics.raw_logs.name.clone(),
            state.config.topics.app_logs.name.clone(),
        ],
    };
    let report =
        tokio::task::spawn_blocking(move || replay(&kafka, SERVICE, &topics, &selection, dry_run))
            .await
            .map_err(|e| ApiError::unavailable(format!("the replay stopped: {e}"), RETRY_AFTER))?
            .map_err(|e| ApiError::unavailable(format!("the replay failed: {e}"), RETRY_AFTER))?;
    if !dry_run {
        state.replayed.inc_by(report.tally.replayed);
    }
    tracing::info!(
        dry_run,
        selected = report.tally.selected,
        replayed = report.tally.replayed,
        already_replayed = report.tally.already_replayed,
        "dead letters replayed"
    );
    Ok(Json(answer(&report)))
}

/// The report with a sentence saying what happened.
fn answer(report: &ReplayReport) -> Value {
    let mut value = json!(report);
    value["message"] = json!(report.summary());
    value
}

/// The selection and `dry_run` of a request body, restricted to this service's stages.
fn request(bytes: &[u8]) -> Result<(Selection, bool), ApiError> {
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let dry_run = match value.as_object_mut().and_then(|o| o.remove("dry_run")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(dry_run)) => dry_run,
        Some(_) => return Err(invalid("field `dry_run` must be true or false")),
    };
    let mut selection: Selection =
        serde_json::from_value(value).map_err(|e| invalid(&e.to_string()))?;
    let own = [STAGE, LOG_EVENTS_STAGE];
    if let Some(other) = selection.stages.iter().find(|s| !own.contains(&s.as_str())) {
        return Err(invalid(&format!(
            "stage {other:?} is not one of this service's ({STAGE}, {LOG_EVENTS_STAGE}): \
             its own service replays its dead letters"
        )));
    }
    let filtered = !selection.stages.is_empty();
    if !filtered {
        selection.stages = own.map(str::to_owned).to_vec();
    }
    // The stages filter added here does not count as the operator's choice.
    let chosen = Selection {
        stages: if filtered {
            selection.stages.clone()
        } else {
            Vec::new()
        },
        ..selection.clone()
    };
    chosen.validate().map_err(|e| invalid(&e.to_string()))?;
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

    #[test]
    fn the_body_is_a_selection_with_dry_run_kept_to_this_services_stages() {
        let (selection, dry_run) =
            request(br#"{"kinds": ["malformed_json"], "dry_run": true}"#).unwrap();
        assert!(dry_run);
        assert_eq!(selection.kinds, ["malformed_json"]);
        assert_eq!(selection.stages, [STAGE, LOG_EVENTS_STAGE]);
        let (selection, dry_run) = request(br#"{"stages": ["standardization"]}"#).unwrap();
        assert!(!dry_run);
        assert_eq!(selection.stages, [STAGE]);
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
            let error = request(body).unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(request(b"{").unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
