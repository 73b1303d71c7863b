//! The processing service: `standardized-logs` → `processed-metrics` + `alerts` +
//! `incident-signals`, exactly once; `incident-signals` → `incidents`, exactly once; and
//! the global views (analytics, incidents, log events).
//!
//! The scoring is [`obs_detector`] and the incident rules [`obs_incidents`]; this crate
//! wires them into the shared transactional loop ([`obs_kafka::stage`]). The views read
//! every partition of what the stages published (outside their groups), so their answers
//! are global with several replicas and are rebuilt after a restart.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod alertmanager;
pub mod analytics;
pub mod checkpoint;
pub mod config;
pub mod console;
pub mod incidents;
pub mod logs;
pub mod processed;
mod recovery;
mod retrain;
mod role;
mod status;
pub mod trace;
mod transform;
pub mod views;
pub mod writers;

use analytics::{AnalyticsSink, AnalyticsView};
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
pub use config::ProcessingConfig;
use incidents::{IncidentMetrics, IncidentTransform, IncidentView, IncidentsApi, INCIDENT_STAGE};
use obs_detector::DetectorBank;
use obs_incidents::IncidentBook;
use obs_kafka::consumer::follower::FollowerHandle;
use obs_kafka::replay::ReplayTopics;
use obs_kafka::sync::lock;
use obs_kafka::{spawn_stage, AckedProducer, BrokerProbe, StageHandle, StageMetrics};
use obs_service::auth::{self, Auth};
use obs_service::dead_letter_replay::{self, ReplayApi};
use obs_service::openapi::{routes, ErrorBody, OpenApiRouter, RequireScope};
use obs_service::{ApiError, FromQuery, HealthReport, Metrics, QueryParams, Running, StrictQuery};
use recovery::RecoveryTracker;
use retrain::{Retrainer, Scope};
pub use role::Role;
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use transform::{ProcessTransform, ProcessingMetrics, STAGE};
use writers::Writers;

pub const SERVICE: &str = "processing";
/// Series whose recovery the run stage follows at most (see [`recovery`]).
const RECOVERY_MAX_SERIES: usize = 100_000;

/// Everything the handlers share.
pub struct AppState {
    pub config: ProcessingConfig,
    pub view: Arc<AnalyticsView>,
    detectors: Arc<Mutex<DetectorBank>>,
    /// Retrains the detectors' forests on demand, off the stage's path.
    retrainer: Retrainer,
    probe: BrokerProbe,
    registry: Metrics,
    metrics: ProcessingMetrics,
    stage: Running<StageHandle>,
    /// The views' follower: the analytics view and the trace index.
    reader: Running<FollowerHandle>,
    notifier: Running<alertmanager::NotifierHandle>,
    logs: logs::Logs,
    /// The incidents API's view, the log index and the commands producer.
    pub incidents: Arc<IncidentsApi>,
    incident_metrics: IncidentMetrics,
    incident_stage: Running<StageHandle>,
    incident_reader: Running<FollowerHandle>,
    /// The trace index behind `GET /trace/{record_id}`, and its reader.
    trace: trace::Traces,
    /// The API keys every route group checks.
    auth: Arc<Auth>,
    /// `POST /dead-letters/replay`.
    replay: Arc<ReplayApi>,
    /// `processing_view_records_ignored_total{view}`: what the views ignored.
    views_ignored: prometheus::IntCounterVec,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    /// Validates the config and prepares metrics, the view and the broker probe (needs a
    /// Tokio runtime); the loops start with [`AppState::start`].
    pub fn new(config: ProcessingConfig) -> anyhow::Result<Arc<AppState>> {
        config
            .analytics
            .validate()
            .context("invalid configuration of analytics")?;
        config
            .alertmanager
            .validate()
            .context("invalid configuration of alertmanager")?;
        config
            .console
            .validate()
            .context("invalid configuration of console")?;
        config
            .checkpoint
            .validate(&config.topics)
            .context("invalid configuration of checkpoint")?;
        if config.role == Role::Views && config.console.processing_url.is_none() {
            tracing::warn!(
                "role = views without console.processing_url: the console's pipeline page \
                 shows this instance, which runs no stage"
            );
        }
        let registry = Metrics::new();
        let metrics = ProcessingMetrics::register(&registry).context("registering metrics")?;
        let probe = BrokerProbe::start(&config.kafka, SERVICE)?;
        let view = Arc::new(AnalyticsView::new(config.analytics.clone()));
        let detectors = Arc::new(Mutex::new(
            DetectorBank::new(config.detector.clone())
                .context("invalid configuration of detector")?,
        ));
        let retrainer =
            Retrainer::start(detectors.clone()).context("starting the retraining thread")?;
        let logs = logs::Logs::new(config.logs.clone(), config.detector.clone(), &registry)?;
        config
            .incidents
            .rules
            .validate()
            .context("invalid configuration of incidents.rules")?;
        let incident_metrics =
            IncidentMetrics::register(&registry).context("registering incident metrics")?;
        let incidents = Arc::new(IncidentsApi {
            view: Arc::new(IncidentView::new(config.incidents.view_max_resolved)),
            logs: logs.view().clone(),
            producer: AckedProducer::new(
                &config.kafka,
                SERVICE,
                &config.incidents.commands_producer,
            )
            .context("creating the incident commands producer")?,
            signals_topic: config.topics.incident_signals.name.clone(),
            evidence: config.incidents.evidence.clone(),
        });
        let trace = trace::Traces::new(config.trace.clone(), &config.topics, &registry)?;
        let views_ignored =
            writers::ignored_counter(&registry).context("registering the views' metrics")?;
        let auth = Arc::new(Auth::new(&config.auth).context("invalid configuration of auth")?);
        let t = &config.topics;
        let replay = ReplayApi::new(
            SERVICE,
            &config.kafka,
            ReplayTopics::new(
                t,
                &[
                    &t.standardized_logs,
                    &t.standardized_app_logs,
                    &t.incident_signals,
                ],
            ),
            &[STAGE, logs::ERROR_RATE_STAGE, INCIDENT_STAGE],
            config.http.max_body_bytes,
            &registry,
        )
        .context("registering metrics")?;
        Ok(Arc::new(AppState {
            auth,
            replay,
            config,
            view,
            detectors,
            retrainer,
            probe,
            registry,
            metrics,
            stage: Running::default(),
            reader: Running::default(),
            notifier: Running::default(),
            logs,
            incidents,
            incident_metrics,
            incident_stage: Running::default(),
            incident_reader: Running::default(),
            trace,
            views_ignored,
            started_at: chrono::Utc::now(),
        }))
    }

    /// Starts what the instance's role runs: the stages, the views' followers, or both.
    pub fn start(&self) -> anyhow::Result<()> {
        let role = self.config.role;
        tracing::info!(?role, "starting processing's loops");
        if role.runs_stages() {
            self.start_stages()?;
        }
        if role.serves_views() {
            self.start_views()?;
        }
        Ok(())
    }

    /// The run stage with its checkpoints, the incident stage and the error-rate stage.
    fn start_stages(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let checkpoints = checkpoint::Checkpoints::start(
            &c.checkpoint,
            &c.kafka,
            &c.topics,
            checkpoint::RunState::new(&c.detector, &c.rules, transform::read_run),
            &self.registry,
        )?;
        let transform = ProcessTransform::new(
            c.rules.clone(),
            self.detectors.clone(),
            &c.topics,
            self.metrics.clone(),
            RecoveryTracker::new(
                c.incidents.rules.resolve_after_normal_runs,
                RECOVERY_MAX_SERIES,
            ),
            checkpoints,
        );
        let stage_metrics =
            StageMetrics::register(self.registry.registry(), self.registry.errors(), "runs")
                .context("registering stage metrics")?;
        self.stage.set(spawn_stage(
            &c.kafka,
            STAGE,
            &c.topics.standardized_logs.name,
            &c.stage,
            transform,
            stage_metrics,
        )?);
        self.incident_stage.set(spawn_stage(
            &c.kafka,
            INCIDENT_STAGE,
            &c.topics.incident_signals.name,
            &c.incident_stage(),
            IncidentTransform::new(
                IncidentBook::new(c.incidents.rules.clone()),
                &c.kafka,
                &c.topics,
                self.incident_metrics.clone(),
                self.registry.errors().clone(),
            ),
            StageMetrics::register(
                self.registry.registry(),
                self.registry.errors(),
                "incident_signals",
            )
            .context("registering the incident stage's metrics")?,
        )?);
        self.logs
            .start_stage(&c.kafka, &c.topics, &c.stage, &c.checkpoint, &self.registry)
    }

    /// The followers of what the stages wrote: the analytics view and the trace index, the
    /// incident view and its notifier, the log index.
    fn start_views(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let analytics = AnalyticsSink::new(
            &c.topics,
            self.view.clone(),
            Writers::new(
                vec![
                    (c.topics.processed_metrics.name.clone(), &[STAGE]),
                    (
                        c.topics.alerts.name.clone(),
                        &[STAGE, logs::ERROR_RATE_STAGE],
                    ),
                ],
                self.views_ignored.with_label_values(&["analytics"]),
            ),
        );
        let trace = self.trace.sink(Writers::new(
            vec![
                (c.topics.processed_metrics.name.clone(), &[STAGE]),
                // Every stage writes dead letters.
                (c.topics.dead_letters.name.clone(), &[]),
            ],
            self.views_ignored.with_label_values(&["trace"]),
        ));
        self.reader.set(views::spawn_views_reader(
            &c.kafka,
            analytics,
            trace,
            Duration::from_millis(c.analytics.partition_check_ms).min(self.trace.partition_check()),
            self.registry.errors(),
        )?);
        if let Some(notifier) = alertmanager::spawn_notifier(
            &c.alertmanager,
            self.incidents.view.clone(),
            &self.registry,
            &tokio::runtime::Handle::try_current()
                .context("the incident notifier needs a Tokio runtime")?,
        )? {
            self.notifier.set(notifier);
        }
        self.incident_reader.set(incidents::spawn_incident_reader(
            &c.kafka,
            &c.topics.incidents.name,
            self.incidents.view.clone(),
            self.incident_metrics.clone(),
            self.registry.errors(),
        )?);
        self.logs.start_reader(&c.kafka, &c.topics, &self.registry)
    }

    /// Stops the stages after they committed their batches in flight, and the readers
    /// (blocking).
    pub fn stop(&self) -> anyhow::Result<()> {
        for stage in [self.stage.take(), self.incident_stage.take()]
            .into_iter()
            .flatten()
        {
            stage.stop();
            stage.join()?;
        }
        if let Some(reader) = self.incident_reader.take() {
            reader.stop();
            reader.join()?;
        }
        if let Some(reader) = self.reader.take() {
            reader.stop();
            reader.join()?;
        }
        if let Some(notifier) = self.notifier.take() {
            notifier.stop();
        }
        self.logs.stop()?;
        Ok(())
    }

    /// Input records whose outputs this instance committed.
    pub fn stage_consumed(&self) -> u64 {
        self.stage.map(|s| s.status().records_consumed).unwrap_or(0)
    }
}

/// The routes of the instance's role, with the shared layers: `/status` always; the
/// detector's and dead-letter replay's with the stages; the analytics, log, incident and
/// trace APIs and the console with the views. Each group declares the scope of its keys
/// (the health probes, `/metrics` and the console's pages are open).
pub fn router(state: Arc<AppState>) -> Router {
    let keys = &state.auth;
    let role = state.config.role;
    let local = OpenApiRouter::new()
        .routes(routes!(status))
        .require_scope(keys, auth::Scope::Read);
    let local = if role.runs_stages() {
        local.merge(
            OpenApiRouter::new()
                .routes(routes!(retrain))
                .require_scope(keys, auth::Scope::Operate),
        )
    } else {
        local
    };
    let mut api = local.with_state(state.clone());
    if role.runs_stages() {
        api = api.merge(dead_letter_replay::router(state.replay.clone(), keys));
    }
    if role.serves_views() {
        api = api
            .merge(analytics::router(state.view.clone()).require_scope(keys, auth::Scope::Read))
            .merge(state.logs.router().require_scope(keys, auth::Scope::Read))
            .merge(incidents::router(state.incidents.clone(), keys))
            .merge(state.trace.router().require_scope(keys, auth::Scope::Read))
            .merge(console::router(
                console::ConsoleApi {
                    config: state.config.console.clone(),
                    analytics: state.view.clone(),
                    incidents: state.incidents.view.clone(),
                    local: state.clone(),
                    metrics: state.registry.clone(),
                },
                keys,
            ));
    }
    let (routes, document) = api.split_for_parts();
    let routes = routes.merge(obs_service::health_routes(health).with_state(state.clone()));
    obs_service::openapi::finish(SERVICE, routes, document, &state.registry)
}

/// Live while the loops of its role run; ready once the stages have their partitions and
/// the analytics and incident views have caught up with what was published before start.
fn health(state: &AppState) -> HealthReport {
    let role = state.config.role;
    let report = state
        .logs
        .health(HealthReport::new(SERVICE, state.probe.status()), role);
    let report = if role.runs_stages() {
        report
            .with_stage("stage_loop", "stage_partitions", &state.stage)
            .with_standby_stage(
                "incident_stage_loop",
                "incident_stage_partitions",
                &state.incident_stage,
            )
    } else {
        report
    };
    if role.serves_views() {
        views_health(state, report)
    } else {
        report
    }
}

/// `report` with the views' followers and notifier, and whether the views caught up.
fn views_health(state: &AppState, report: HealthReport) -> HealthReport {
    let reader = state.reader.map(FollowerHandle::status);
    let view = match &reader {
        Some(status) if status.caught_up => Ok(()),
        Some(status) => Err(format!(
            "the analytics view is {} ({} records and {} alerts read so far)",
            status.consumer.phase.replace('_', " "),
            status.applied(&state.config.topics.processed_metrics.name),
            status.applied(&state.config.topics.alerts.name)
        )),
        None => Err("the analytics reader has not started".into()),
    };
    let report = report
        .with_check("views_reader", state.reader.is(FollowerHandle::is_running))
        .with_readiness("analytics_view", view)
        .with_check(
            "incident_reader",
            state.incident_reader.is(FollowerHandle::is_running),
        )
        .with_readiness(
            "incident_view",
            if state.incidents.view.caught_up() {
                Ok(())
            } else {
                Err("the incident view is still reading the incidents topic".into())
            },
        );
    if state.config.alertmanager.url.is_some() {
        report.with_check(
            "incident_notifier",
            state.notifier.is(alertmanager::NotifierHandle::is_running),
        )
    } else {
        report
    }
}

/// `GET /status`: the loop (partitions, lag, counts), the detectors, the analytics view and
/// the incidents and their notifier (`null` when not configured), each consumer with its
/// last error.
#[utoipa::path(
    get, path = "/status", tag = "status",
    responses((status = 200, description = "the loops, readers and views of the service", body = status::Status))
)]
async fn status(State(state): State<Arc<AppState>>) -> Json<status::Status> {
    Json(status_report(&state))
}

impl console::LocalStatus for AppState {
    fn status(&self) -> serde_json::Value {
        serde_json::to_value(status_report(self)).unwrap_or_default()
    }
}

fn status_report(state: &AppState) -> status::Status {
    let topics = &state.config.topics;
    status::Status {
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        role: state.config.role,
        started_at: state.started_at,
        kafka: status::KafkaStatus {
            bootstrap_servers: state.config.kafka.bootstrap_servers.clone(),
            broker: state.probe.status(),
            input: topics.standardized_logs.name.clone(),
            outputs: vec![
                topics.processed_metrics.name.clone(),
                topics.alerts.name.clone(),
            ],
        },
        stage: state.stage.map(StageHandle::status),
        detector: lock(&state.detectors).snapshot(),
        retrain: state.retrainer.status(),
        analytics: status::AnalyticsStatus {
            reader: state.reader.map(FollowerHandle::status),
            view: state.view.stats(),
        },
        logs: state.logs.status(),
        incident_notifier: state.notifier.map(alertmanager::NotifierHandle::status),
        incidents: status::IncidentsStatus {
            stage: state.incident_stage.map(StageHandle::status),
            reader: state.incident_reader.map(FollowerHandle::status),
            view: state.incidents.view.counts().report(),
        },
        trace: state.trace.status(state.reader.map(FollowerHandle::status)),
    }
}

/// `?series=KEY` of `/detector/retrain`.
struct RetrainQuery {
    series: Option<String>,
}

impl FromQuery for RetrainQuery {
    const PARAMETERS: &'static [&'static str] = &["series"];

    fn from_query(params: &QueryParams) -> Result<Self, ApiError> {
        Ok(RetrainQuery {
            series: params.get("series").map(str::to_owned),
        })
    }
}

/// `POST /detector/retrain[?series=KEY]`: retrains the forest of one series, or of all,
/// on their current windows, out of schedule.
/// Schedules a retraining (202): of one series (404 if the bank has no state for it), or of
/// every series; folded into one already waiting if there is one.
#[utoipa::path(
    post, path = "/detector/retrain", tag = "detector",
    params(("series" = Option<String>, Query, description = "the series to retrain (every series when absent)")),
    responses(
        (status = 202, description = "the retraining is scheduled (folded into one already waiting if there is one)", body = Retraining),
        (status = 404, description = "the bank has no state for this series", body = ErrorBody),
    )
)]
async fn retrain(
    State(state): State<Arc<AppState>>,
    StrictQuery(query): StrictQuery<RetrainQuery>,
) -> Result<(StatusCode, Json<Retraining>), ApiError> {
    let scope = match &query.series {
        Some(key) if !lock(&state.detectors).contains(key) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_series",
                format!("no detector state for series {key:?}"),
            ))
        }
        Some(key) => Scope::Series(key.clone()),
        None => Scope::All,
    };
    let coalesced = state.retrainer.schedule(scope);
    let scheduled = if query.series.is_some() {
        Scheduled::Series
    } else {
        Scheduled::All
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(Retraining {
            scheduled,
            series: query.series,
            coalesced,
        }),
    ))
}

/// The answer of `POST /detector/retrain`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Retraining {
    scheduled: Scheduled,
    /// The series asked for; `null` for every series.
    series: Option<String>,
    /// Folded into a retraining already waiting.
    coalesced: bool,
}

/// What a retraining covers.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum Scheduled {
    /// One series.
    Series,
    /// Every series.
    All,
}

/// Runs the service until SIGTERM: topics, the loops, HTTP; at shutdown the loop commits
/// its batch in flight before the process exits.
pub async fn run(config: ProcessingConfig) -> anyhow::Result<()> {
    let (http, kafka, topics) = (
        config.http.clone(),
        config.kafka.clone(),
        config.topics.clone(),
    );
    let state = AppState::new(config)?;
    state
        .auth
        .log_warnings(SERVICE, &[auth::Scope::Read, auth::Scope::Operate]);
    obs_service::serve::serve_stage(SERVICE, state.clone(), router(state), &http, kafka, topics)
        .await
}

impl obs_service::serve::StageLoops for AppState {
    fn start_loops(&self) -> anyhow::Result<()> {
        self.start()
    }

    fn stop_loops(&self) -> anyhow::Result<()> {
        self.stop()
    }

    fn health(&self) -> HealthReport {
        health(self)
    }
}
