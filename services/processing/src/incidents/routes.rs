//! The incidents API: `GET /incidents`, `GET /incidents/{id}` (with its evidence),
//! `POST /incidents/{id}/acknowledge` and `POST /incidents/{id}/resolve`.
//!
//! Commands are checked against the view (404 unknown, 409 impossible), then written to
//! `incident-signals` under the incident's scope, so the incident stage applies them in
//! order with the alerts; the answer waits (a few seconds at most) until the view shows the
//! change, so the caller and every other viewer see the same state.

use super::evidence::{evidence, Evidence, EvidenceConfig};
use super::view::{IncidentQuery, IncidentView};
use crate::logs::LogView;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use obs_detector::Severity;
use obs_incidents::{
    check_command, scope_key, Action, Command, Incident, IncidentError, IncidentStatus, Mark,
    Resolution, Scope, Signal, TimelineEntry, SIGNAL_SCHEMA_VERSION,
};
use obs_kafka::{AckedProducer, KafkaError, OutgoingRecord, RecordHeaders, TraceParent};
use obs_service::auth::{Auth, Scope as KeyScope};
use obs_service::http::read_body;
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter, RequireScope};
use obs_service::{
    ApiError, ApplicationJson, ContentType, FromQuery, PathParams, QueryParams, StrictQuery,
    ViewAnswer,
};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// `limit` of `GET /incidents` when none is given.
pub const INCIDENTS_DEFAULT_LIMIT: usize = 50;
/// Largest `limit` of `GET /incidents`.
pub const INCIDENTS_MAX_LIMIT: usize = 500;
const MAX_BY_CHARS: usize = 200;
const MAX_NOTE_CHARS: usize = 2000;
/// Largest body of a command: room for every valid one, even with each character written
/// as an escaped surrogate pair (`\ud83d\ude00`, 12 bytes), and the fields' names.
const COMMAND_MAX_BYTES: usize = (MAX_BY_CHARS + MAX_NOTE_CHARS) * 12 + 1024;
/// How long a command's answer waits for the view to show it.
const COMMAND_WAIT: Duration = Duration::from_secs(5);
const COMMAND_POLL: Duration = Duration::from_millis(20);

/// What the incidents endpoints share.
pub struct IncidentsApi {
    pub view: Arc<IncidentView>,
    pub logs: Arc<LogView>,
    pub producer: AckedProducer,
    pub signals_topic: String,
    pub evidence: EvidenceConfig,
}

pub fn router(api: Arc<IncidentsApi>, auth: &Arc<Auth>) -> OpenApiRouter {
    let read = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .require_scope(auth, KeyScope::Read);
    let operate = OpenApiRouter::new()
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .require_scope(auth, KeyScope::Operate);
    read.merge(operate).with_state(api)
}

type Api = State<Arc<IncidentsApi>>;

impl FromQuery for IncidentQuery {
    const PARAMETERS: &'static [&'static str] =
        &["status", "severity", "source", "company", "limit"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        let text = |name: &str| {
            params.parse(name, "a non-empty name", |value| {
                (!value.is_empty()).then(|| value.to_owned())
            })
        };
        Ok(IncidentQuery {
            status: params.parse("status", "open, acknowledged or resolved", |value| {
                IncidentStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str().eq_ignore_ascii_case(value))
            })?,
            severity: params.parse("severity", "warning or critical", |value| {
                value.to_ascii_lowercase().parse::<Severity>().ok()
            })?,
            source: text("source")?,
            company: text("company")?,
            limit: params.limit(INCIDENTS_DEFAULT_LIMIT, INCIDENTS_MAX_LIMIT)?,
        })
    }
}

/// An incident as a list shows it: every field but its alerts, runs, timeline, series and
/// command ids (its evidence is in `GET /incidents/{id}`), borrowed, so that a
/// list neither copies nor serializes the evidence it leaves out.
#[derive(Serialize, ToSchema)]
#[schema(as = IncidentSummary)]
struct Listed<'a> {
    id: &'a str,
    schema_version: &'a str,
    status: IncidentStatus,
    scope: &'a Scope,
    severity: Severity,
    title: &'a str,
    summary: &'a str,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    opened_at: DateTime<Utc>,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    first_run_at: DateTime<Utc>,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    active_since: DateTime<Utc>,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    last_alert_at: DateTime<Utc>,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    updated_at: DateTime<Utc>,
    #[serde(serialize_with = "obs_records::time::rfc3339")]
    stream_time: DateTime<Utc>,
    acknowledged: &'a Option<Mark>,
    resolved: &'a Option<Resolution>,
    reopened: u32,
    alerts_total: u64,
    objects: &'a [i64],
    merged_into: &'a Option<String>,
    version: u64,
}

impl<'a> From<&'a Incident> for Listed<'a> {
    fn from(i: &'a Incident) -> Self {
        Listed {
            id: &i.id,
            schema_version: &i.schema_version,
            status: i.status,
            scope: &i.scope,
            severity: i.severity,
            title: &i.title,
            summary: &i.summary,
            opened_at: i.opened_at,
            first_run_at: i.first_run_at,
            active_since: i.active_since,
            last_alert_at: i.last_alert_at,
            updated_at: i.updated_at,
            stream_time: i.stream_time,
            acknowledged: &i.acknowledged,
            resolved: &i.resolved,
            reopened: i.reopened,
            alerts_total: i.alerts_total,
            objects: &i.objects,
            merged_into: &i.merged_into,
            version: i.version,
        }
    }
}

/// `GET /incidents`.
#[derive(Serialize, ToSchema)]
#[schema(as = IncidentList)]
struct Listing {
    /// Each without its evidence, timeline and series (in `GET /incidents/{id}`).
    #[schema(value_type = Vec<Listed>)]
    incidents: Vec<Box<RawValue>>,
    /// Every incident matching, beyond `limit` too.
    total_matched: usize,
}

/// `GET /incidents/{id}`.
#[derive(Serialize, ToSchema)]
#[schema(as = IncidentAnswer)]
struct Shown<'a> {
    incident: Detailed<'a>,
}

/// An incident as `GET /incidents/{id}` shows it: as in a list, with its timeline and its
/// evidence.
#[derive(Serialize, ToSchema)]
#[schema(as = IncidentDetail)]
struct Detailed<'a> {
    #[serde(flatten)]
    listed: Listed<'a>,
    timeline: &'a [TimelineEntry],
    evidence: Evidence,
}

/// A command applied: the incident as it is now (as in a list), and the command's id.
#[derive(Serialize, ToSchema)]
struct Applied<'a> {
    incident: Listed<'a>,
    command_id: String,
}

/// A command published but not applied yet.
#[derive(Serialize, ToSchema)]
struct Accepted {
    command_id: String,
    incident_id: String,
    action: Action,
    message: &'static str,
}

#[utoipa::path(
    get, path = "/incidents", tag = "incidents",
    params(
        ("status" = Option<String>, Query, description = "only incidents of this status: open, acknowledged or resolved (any case)"),
        ("severity" = Option<String>, Query, description = "only incidents of this severity: warning or critical (any case)"),
        ("source" = Option<String>, Query, description = "only incidents of this source", min_length = 1),
        ("company" = Option<String>, Query, description = "only incidents of this company", min_length = 1),
        ("limit" = Option<u32>, Query, description = "how many incidents (default 50)", minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "the matching incidents (without their evidence) and how many matched", body = ViewAnswer<Listing>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial")),
            links(
                ("show" = (operation_id = "show", parameters(("id" = "$response.body#/incidents/0/id")),
                    description = "the first incident listed, with its evidence")),
                ("acknowledge" = (operation_id = "acknowledge", parameters(("id" = "$response.body#/incidents/0/id")))),
                ("resolve" = (operation_id = "resolve", parameters(("id" = "$response.body#/incidents/0/id")))),
            )),
    )
)]
async fn list(
    State(api): Api,
    StrictQuery(query): StrictQuery<IncidentQuery>,
) -> ViewAnswer<Listing> {
    let caught_up = api.view.caught_up();
    // Serialized under the view's lock: nothing of an incident is copied but its JSON.
    let (incidents, total_matched) = api.view.list(&query, |i| {
        serde_json::value::to_raw_value(&Listed::from(i)).ok()
    });
    let incidents = incidents.into_iter().flatten().collect();
    ViewAnswer::new(
        caught_up,
        Listing {
            incidents,
            total_matched,
        },
    )
}

fn unknown(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_incident",
        format!("no incident {id:?}"),
    )
}

#[utoipa::path(
    get, path = "/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "the incident's id")),
    responses(
        (status = 200, description = "the incident with its timeline and evidence", body = ViewAnswer<Shown>,
            headers(("x-view-caught-up" = String, description = "`false` while the view is still reading what was published before start: the answer is partial")),
            links(
                ("acknowledge" = (operation_id = "acknowledge", parameters(("id" = "$request.path.id")))),
                ("resolve" = (operation_id = "resolve", parameters(("id" = "$request.path.id")))),
            )),
        (status = 404, description = "no such incident", body = ErrorBody),
    )
)]
async fn show(
    State(api): Api,
    PathParams(id): PathParams<String>,
    _: StrictQuery<()>,
) -> Result<Response, ApiError> {
    let caught_up = api.view.caught_up();
    let incident = api.view.get(&id).ok_or_else(|| unknown(&id))?;
    let evidence = evidence(&incident, &api.logs, &api.evidence);
    let answer = Shown {
        incident: Detailed {
            listed: Listed::from(&incident),
            timeline: &incident.timeline,
            evidence,
        },
    };
    // The answer borrows from the incident: it is serialized here.
    Ok(ViewAnswer::new(caught_up, answer).into_response())
}

#[utoipa::path(
    post, path = "/incidents/{id}/acknowledge", tag = "incidents",
    params(("id" = String, Path, description = "the incident's id")),
    request_body(content = CommandBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the command was applied: the incident as it is now, and the command's id", body = Applied),
        (status = 202, description = "the command was published but not applied yet; GET the incident to see it", body = Accepted),
        (status = 404, description = "no such incident", body = ErrorBody),
        (status = 409, description = "the incident's status does not allow it", body = ErrorBody),
        (status = 422, description = "the body is not a command; `details` names the field", body = ErrorBody),
    )
)]
async fn acknowledge(
    api: Api,
    id: PathParams<String>,
    content_type: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Response, ApiError> {
    command(api, id, content_type, body, Action::Acknowledge).await
}

#[utoipa::path(
    post, path = "/incidents/{id}/resolve", tag = "incidents",
    params(("id" = String, Path, description = "the incident's id")),
    request_body(content = CommandBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the command was applied: the incident as it is now, and the command's id", body = Applied),
        (status = 202, description = "the command was published but not applied yet; GET the incident to see it", body = Accepted),
        (status = 404, description = "no such incident", body = ErrorBody),
        (status = 409, description = "the incident's status does not allow it", body = ErrorBody),
        (status = 422, description = "the body is not a command; `details` names the field", body = ErrorBody),
    )
)]
async fn resolve(
    api: Api,
    id: PathParams<String>,
    content_type: ContentType<ApplicationJson>,
    body: Body,
) -> Result<Response, ApiError> {
    command(api, id, content_type, body, Action::Resolve).await
}

/// `{"by": "...", "note": "..."}`: who, and why (optional).
#[derive(utoipa::ToSchema)]
#[schema(as = Command)]
struct CommandBody {
    /// Who acts on the incident.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    by: String,
    /// Why.
    #[schema(max_length = 2000)]
    note: Option<String>,
}

fn field_error(field: &str, problem: &str) -> ApiError {
    ApiError::unprocessable(
        format!("field `{field}` {problem}"),
        json!({ "field": field, "problem": problem }),
    )
}

fn command_body(bytes: &[u8]) -> Result<CommandBody, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(field_error(
            "body",
            "must be a JSON object {\"by\": ..., \"note\": ...}",
        ));
    };
    let by = match object.remove("by") {
        Some(Value::String(by)) if !by.trim().is_empty() && by.chars().count() <= MAX_BY_CHARS => {
            by
        }
        Some(Value::String(by)) if by.trim().is_empty() => {
            return Err(field_error("by", "must not be empty"))
        }
        Some(Value::String(_)) => {
            return Err(field_error(
                "by",
                &format!("must be at most {MAX_BY_CHARS} characters"),
            ))
        }
        Some(_) => return Err(field_error("by", "must be a string")),
        None => return Err(field_error("by", "is required (who acts on the incident)")),
    };
    let note = match object.remove("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(note)) if note.chars().count() <= MAX_NOTE_CHARS => Some(note),
        Some(Value::String(_)) => {
            return Err(field_error(
                "note",
                &format!("must be at most {MAX_NOTE_CHARS} characters"),
            ))
        }
        Some(_) => return Err(field_error("note", "must be a string")),
    };
    if let Some(field) = object.keys().next() {
        return Err(field_error(field, "is not a field of a command (by, note)"));
    }
    Ok(CommandBody { by, note })
}

async fn command(
    State(api): Api,
    PathParams(id): PathParams<String>,
    _: ContentType<ApplicationJson>,
    body: Body,
    action: Action,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, COMMAND_MAX_BYTES).await?;
    let CommandBody { by, note } = command_body(&bytes)?;
    let incident = api.view.get(&id).ok_or_else(|| unknown(&id))?;
    check_command(&incident, action).map_err(|error| conflict(&error, incident.status))?;
    let command = Command {
        command_id: uuid::Uuid::new_v4().to_string(),
        incident_id: id.clone(),
        action,
        by,
        note,
        at: Utc::now(),
    };
    let signal = Signal::Command(command.clone());
    let key = scope_key(&incident.scope.company, &incident.scope.source);
    let record = OutgoingRecord {
        payload: serde_json::to_vec(&signal).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?,
        headers: RecordHeaders {
            record_id: command.command_id.clone(),
            schema_version: SIGNAL_SCHEMA_VERSION.into(),
            content_type: "application/json".into(),
            ingested_at: command.at,
            traceparent: TraceParent::new_root(),
        },
        key,
    };
    api.producer
        .publish(&api.signals_topic, &[record])
        .await
        .map_err(|error| unavailable(&api.producer, &error))?;
    let waiting = Instant::now();
    while waiting.elapsed() < COMMAND_WAIT {
        if let Some(now) = api.view.get(&id) {
            if now.command_ids.contains(&command.command_id) {
                let applied = Applied {
                    incident: Listed::from(&now),
                    command_id: command.command_id,
                };
                return Ok((StatusCode::OK, Json(applied)).into_response());
            }
        }
        tokio::time::sleep(COMMAND_POLL).await;
    }
    let accepted = Accepted {
        command_id: command.command_id,
        incident_id: id,
        action,
        message: "accepted: the incident stage has not applied it yet; GET the incident to see it",
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

fn conflict(error: &IncidentError, status: IncidentStatus) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "impossible_transition",
        error.to_string(),
    )
    .with_details(json!({ "status": status.as_str() }))
}

fn unavailable(producer: &AckedProducer, error: &KafkaError) -> ApiError {
    let retry_after = match error {
        KafkaError::QueueFull { retry_after, .. } => *retry_after,
        _ => producer.retry_after(),
    };
    ApiError::unavailable(
        format!("the command could not be written to Kafka: {error}"),
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts of an incident a list leaves out.
    const HEAVY_FIELDS: [&str; 5] = ["alerts", "runs", "timeline", "series", "command_ids"];

    fn without_heavy_fields(mut value: Value) -> Value {
        if let Some(object) = value.as_object_mut() {
            for field in HEAVY_FIELDS {
                object.remove(field);
            }
        }
        value
    }

    /// A listed incident is the incident without its heavy fields, whatever fields it has.
    #[test]
    fn a_listed_incident_is_the_incident_without_its_heavy_fields() {
        let incident: Incident = serde_json::from_value(json!({
            "id": "inc-1", "schema_version": "incident-v1", "status": "acknowledged",
            "scope": {"kind": "series", "company": "acme", "source": "zoho",
                      "series_key": "acme:zoho:1", "object_id": 1, "object_type": "projects"},
            "severity": "critical", "title": "t", "summary": "s",
            "opened_at": "2025-09-05T16:00:00Z", "first_run_at": "2025-09-05T16:00:00Z",
            "active_since": "2025-09-05T16:00:00Z", "last_alert_at": "2025-09-05T16:00:00Z",
            "updated_at": "2025-09-05T16:00:00Z", "stream_time": "2025-09-05T16:00:00Z",
            "acknowledged": {"by": "alice", "note": "n", "at": "2025-09-05T16:05:00Z"},
            "resolved": null, "reopened": 2, "alerts_total": 3, "alerts": [], "runs": [],
            "objects": [1], "series": [], "timeline": [], "merged_into": "inc-2",
            "command_ids": ["c"], "version": 7,
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(Listed::from(&incident)).unwrap(),
            without_heavy_fields(serde_json::to_value(&incident).unwrap())
        );
    }

    #[tokio::test]
    async fn the_longest_valid_command_fits_its_body_limit_even_escaped() {
        let escaped = |chars: usize| "\\ud83d\\ude00".repeat(chars);
        let body = format!(
            r#"{{"by": "{}", "note": "{}"}}"#,
            escaped(MAX_BY_CHARS),
            escaped(MAX_NOTE_CHARS)
        );
        let bytes = read_body(Body::from(body), COMMAND_MAX_BYTES)
            .await
            .unwrap();
        let command = command_body(&bytes).unwrap();
        assert_eq!(command.by.chars().count(), MAX_BY_CHARS);
        assert_eq!(command.note.unwrap().chars().count(), MAX_NOTE_CHARS);
    }
}
