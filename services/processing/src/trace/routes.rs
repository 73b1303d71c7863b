//! `GET /trace/{record_id}`: where one run has been, from the trace index.
//!
//! 200: the stages that saw the record in the pipeline's order (ingested, standardized,
//! dead-lettered, processed), the milliseconds between them and whether it went as far as
//! it will (`complete`: processed or dead-lettered); 404 `unknown_record` when the index
//! holds no trace of it, saying which records it holds; 400 for an id longer than any the
//! index keeps. Until the reader has caught up, answers say they may be partial
//! (`view_caught_up`, `x-view-caught-up`).

use super::index::{Durations, Hop, RecordTrace, Refusal, Scores, TraceStats, MAX_RECORD_ID_BYTES};
use super::sighting::TraceTopics;
use super::view::TraceView;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use obs_detector::{RuleKind, Severity};
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter};
use obs_service::{ApiError, PathParams, StrictQuery, ViewAnswer};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;

/// What the endpoint reads.
pub struct TraceApi {
    pub view: Arc<TraceView>,
    /// Named in the answer, each stage with its topic.
    pub topics: TraceTopics,
}

pub fn router(api: Arc<TraceApi>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(trace)).with_state(api)
}

/// `GET /trace/{record_id}`.
#[derive(Serialize, ToSchema)]
struct TraceAnswer<'a> {
    record_id: String,
    /// In the pipeline's order.
    stages: Vec<StageAnswer<'a>>,
    durations_ms: Durations,
    /// The record went as far as it will: processed or dead-lettered.
    complete: bool,
}

/// One stage that saw the record, named by `stage`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "stage", rename_all = "snake_case")]
enum StageAnswer<'a> {
    Ingested(Seen<'a>),
    Standardized(Seen<'a>),
    DeadLettered {
        #[serde(flatten)]
        seen: Seen<'a>,
        /// The stage that refused it: `standardization` or `processing`.
        stage_of_failure: &'a str,
        reason: &'a str,
        error_type: &'a str,
    },
    Processed {
        #[serde(flatten)]
        seen: Seen<'a>,
        anomalous: bool,
        /// Of the rules.
        severity: Option<Severity>,
        efficiency_score: f64,
        rule_hits: Vec<RuleKind>,
        /// The detectors' score; `null` when they did not score the run.
        detector: Option<f64>,
        /// Alerts the run raised.
        alerts: u8,
    },
}

/// Where and when a stage saw the record.
#[derive(Serialize, ToSchema)]
#[schema(as = TraceHop)]
struct Seen<'a> {
    /// `ingested`: the `ingested-at` header; the others: the Kafka record's timestamp.
    at: Option<DateTime<Utc>>,
    topic: &'a str,
    partition: i32,
    offset: i64,
}

impl<'a> Seen<'a> {
    fn new(hop: &Hop, topic: &'a str) -> Self {
        Seen {
            at: hop.at(),
            topic,
            partition: hop.partition,
            offset: hop.offset,
        }
    }
}

impl<'a> StageAnswer<'a> {
    fn dead_lettered(hop: &Hop, refusal: &'a Refusal, topic: &'a str) -> Self {
        StageAnswer::DeadLettered {
            seen: Seen::new(hop, topic),
            stage_of_failure: &refusal.stage_of_failure,
            reason: &refusal.reason,
            error_type: &refusal.error_type,
        }
    }

    fn processed(hop: &Hop, scores: &Scores, topic: &'a str) -> Self {
        StageAnswer::Processed {
            seen: Seen::new(hop, topic),
            anomalous: scores.anomalous,
            severity: scores.severity,
            efficiency_score: scores.efficiency_score,
            rule_hits: scores.rule_hits.rules().collect(),
            detector: scores.detector_score,
            alerts: scores.alerts,
        }
    }
}

fn stages<'a>(trace: &'a RecordTrace, topics: &'a TraceTopics) -> Vec<StageAnswer<'a>> {
    let mut stages = Vec::with_capacity(4);
    if let Some(hop) = &trace.ingested {
        stages.push(StageAnswer::Ingested(Seen::new(hop, &topics.raw_logs)));
    }
    if let Some(hop) = &trace.standardized {
        stages.push(StageAnswer::Standardized(Seen::new(
            hop,
            &topics.standardized_logs,
        )));
    }
    if let Some((hop, refusal)) = trace.dead_lettered.as_deref() {
        stages.push(StageAnswer::dead_lettered(
            hop,
            refusal,
            &topics.dead_letters,
        ));
    }
    if let Some((hop, scores)) = &trace.processed {
        stages.push(StageAnswer::processed(
            hop,
            scores,
            &topics.processed_metrics,
        ));
    }
    stages
}

#[utoipa::path(
    get, path = "/trace/{record_id}", tag = "trace",
    params(("record_id" = String, Path, description = "the record's id (its `record_id` header)",
        min_length = 1, max_length = 256)),
    responses(
        (status = 200, description = "each stage the record went through, with the times between them", body = ViewAnswer<TraceAnswer>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial"))),
        (status = 404, description = "the trace index holds no such record", body = ErrorBody),
    )
)]
async fn trace(
    State(api): State<Arc<TraceApi>>,
    PathParams(record_id): PathParams<String>,
    _: StrictQuery<()>,
) -> Result<Response, ApiError> {
    if record_id.is_empty() || record_id.len() > MAX_RECORD_ID_BYTES {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "path parameter `record_id` must be 1 to {MAX_RECORD_ID_BYTES} bytes, got {}",
                record_id.len()
            ),
        )
        .with_details(json!({
            "parameter": "record_id",
            "problem": "length",
            "max_bytes": MAX_RECORD_ID_BYTES,
        })));
    }
    let caught_up = api.view.is_caught_up();
    let trace = api
        .view
        .trace(&record_id)
        .map_err(|stats| unknown(&record_id, &stats, caught_up))?;
    // The answer borrows from the trace: it is serialized here.
    let answer = TraceAnswer {
        stages: stages(&trace, &api.topics),
        durations_ms: trace.durations(),
        complete: trace.complete(),
        record_id,
    };
    Ok(ViewAnswer::new(caught_up, answer).into_response())
}

fn unknown(record_id: &str, stats: &TraceStats, caught_up: bool) -> ApiError {
    let held = match stats.oldest {
        Some(oldest) => format!(
            "the trace index holds the last {} records (oldest from {})",
            stats.held,
            oldest.to_rfc3339_opts(SecondsFormat::Millis, true)
        ),
        None => "the trace index holds no record yet".to_owned(),
    };
    let reading = if caught_up {
        ""
    } else {
        "; it is still reading what was published before the service started"
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_record",
        format!(
            "no trace of record {record_id:?} (a run shows once processed or dead-lettered): \
             {held}{reading}"
        ),
    )
    .with_details(json!({
        "record_id": record_id,
        "held": stats.held,
        "capacity": stats.capacity,
        "oldest": stats.oldest,
        "view_caught_up": caught_up,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::index::{RuleSet, Sighting};
    use axum::body::Body;
    use axum::http::Request;
    use obs_kafka::TopicsConfig;
    use serde_json::Value;
    use tower::ServiceExt;

    fn hop(at_ms: i64, offset: i64) -> Hop {
        Hop {
            at_ms,
            offset,
            partition: 1,
        }
    }

    /// 2025-09-05T16:45:27Z
    const T: i64 = 1_757_090_727_000;

    fn api() -> Arc<TraceApi> {
        let view = Arc::new(TraceView::new(100));
        view.see("good", Sighting::Ingested(hop(T, 10)));
        view.see("good", Sighting::Standardized(hop(T + 40, 11)));
        let mut rule_hits = RuleSet::default();
        rule_hits.insert(RuleKind::LowEfficiency);
        let scores = Scores {
            efficiency_score: 31.5,
            detector_score: Some(0.25),
            rule_hits,
            severity: Some(Severity::Warning),
            anomalous: true,
            alerts: 1,
        };
        view.see("good", Sighting::Processed(hop(T + 100, 12), scores));
        view.see("bad", Sighting::Ingested(hop(T + 1_000, 20)));
        let refusal = Refusal {
            stage_of_failure: "standardization".into(),
            reason: "missing field `Etat`".into(),
            error_type: "missing_field".into(),
        };
        view.see("bad", Sighting::DeadLettered(hop(T + 1_020, 3), refusal));
        view.see("pending", Sighting::Ingested(hop(T + 2_000, 30)));
        Arc::new(TraceApi {
            view,
            topics: TraceTopics::of(&TopicsConfig::default()),
        })
    }

    async fn get(api: &Arc<TraceApi>, uri: &str) -> (StatusCode, Option<String>, Value) {
        let response = axum::Router::from(router(api.clone()))
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let header = response
            .headers()
            .get(obs_service::view_answer::VIEW_CAUGHT_UP)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, header, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_processed_record_shows_each_stage_and_the_times_between_them() {
        let api = api();
        let (status, header, body) = get(&api, "/trace/good").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(header.as_deref(), Some("false"));
        assert_eq!(
            body,
            json!({
                "record_id": "good",
                "stages": [
                    {"stage": "ingested", "at": "2025-09-05T16:45:27Z", "topic": "raw-logs",
                     "partition": 1, "offset": 10},
                    {"stage": "standardized", "at": "2025-09-05T16:45:27.040Z",
                     "topic": "standardized-logs", "partition": 1, "offset": 11},
                    {"stage": "processed", "at": "2025-09-05T16:45:27.100Z",
                     "topic": "processed-metrics", "partition": 1, "offset": 12,
                     "anomalous": true, "severity": "warning", "efficiency_score": 31.5,
                     "rule_hits": ["low_efficiency"], "detector": 0.25, "alerts": 1},
                ],
                "durations_ms": {"ingested_to_standardized": 40,
                                 "standardized_to_processed": 60,
                                 "ingested_to_processed": 100},
                "complete": true,
                "view_caught_up": false,
            })
        );
        api.view.mark_caught_up();
        let (_, header, body) = get(&api, "/trace/pending").await;
        assert_eq!(header.as_deref(), Some("true"));
        assert_eq!(body["view_caught_up"], true);
        assert_eq!(body["complete"], false);
        assert_eq!(body["stages"].as_array().unwrap().len(), 1);
        assert_eq!(
            body["durations_ms"],
            json!({"ingested_to_standardized": null, "standardized_to_processed": null,
                   "ingested_to_processed": null})
        );
    }

    #[tokio::test]
    async fn a_dead_lettered_record_says_why() {
        let (status, _, body) = get(&api(), "/trace/bad").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["complete"], true);
        assert_eq!(
            body["stages"][1],
            json!({"stage": "dead_lettered", "at": "2025-09-05T16:45:28.020Z",
                   "topic": "dead-letters", "partition": 1, "offset": 3,
                   "stage_of_failure": "standardization", "reason": "missing field `Etat`",
                   "error_type": "missing_field"})
        );
    }

    #[tokio::test]
    async fn an_unknown_record_is_a_404_saying_what_the_index_holds() {
        let api = api();
        let (status, header, body) = get(&api, "/trace/akonovia:2025-09-05-16-45:1995").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(header, None);
        let error = &body["error"];
        assert_eq!(error["code"], "unknown_record");
        assert_eq!(
            error["message"],
            "no trace of record \"akonovia:2025-09-05-16-45:1995\" (a run shows once processed \
             or dead-lettered): the trace index holds the last 3 records (oldest from 2025-09-05T16:45:27.000Z); it is still reading what \
             was published before the service started"
        );
        assert_eq!(error["details"]["held"], 3);
        assert_eq!(error["details"]["capacity"], 100);
        let empty = Arc::new(TraceApi {
            view: Arc::new(TraceView::new(100)),
            topics: api.topics.clone(),
        });
        empty.view.mark_caught_up();
        let (_, _, body) = get(&empty, "/trace/x").await;
        assert_eq!(
            body["error"]["message"],
            "no trace of record \"x\" (a run shows once processed or dead-lettered): the trace \
             index holds no record yet"
        );
    }

    #[tokio::test]
    async fn a_record_id_past_the_bound_or_a_query_is_a_400_naming_it() {
        let api = api();
        let long = "x".repeat(MAX_RECORD_ID_BYTES + 1);
        let (status, _, body) = get(&api, &format!("/trace/{long}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"]["parameter"], "record_id");
        let (status, _, body) = get(&api, "/trace/good?verbose=1").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"]["parameter"], "verbose");
    }
}
