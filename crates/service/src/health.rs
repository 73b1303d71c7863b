//! Liveness and readiness: `GET /health/live`, `GET /health/ready` and the `GET /health`
//! summary, answered from one report per service.
//!
//! * **Live**: every component thread of the service runs. A dead loop does not come back
//!   by itself: the orchestrator should restart the process.
//! * **Ready**: live, Kafka reachable, and every readiness check passes (the stage loop has
//!   its partitions, the views have caught up): the service does its job now. A service that
//!   is live but not ready says why, and gets there by itself.

use crate::running::Running;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use obs_kafka::{BrokerStatus, StageHandle, StageStatus};
use serde::Serialize;
use std::sync::Arc;

/// Which probe a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// Failing means the process should be restarted (and is not ready either).
    Live,
    /// Failing means the service does not do its job yet; it will by itself.
    Ready,
}

/// The verdict of a health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Ready (and live).
    Ok,
    /// Live, not ready yet.
    NotReady,
    /// Not live.
    Down,
}

/// One check of a service beyond Kafka connectivity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthCheck {
    pub name: &'static str,
    pub ok: bool,
    pub probe: Probe,
    /// Why the check fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// The health of a service: the body of all three endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub live: bool,
    pub ready: bool,
    pub service: &'static str,
    pub version: &'static str,
    /// The broker as the last checks saw it.
    pub kafka: BrokerStatus,
    pub checks: Vec<HealthCheck>,
    /// Why the service is not ready; empty when it is.
    pub reasons: Vec<String>,
}

impl HealthReport {
    pub fn new(service: &'static str, kafka: BrokerStatus) -> Self {
        let mut report = HealthReport {
            status: HealthStatus::Ok,
            live: true,
            ready: true,
            service,
            version: env!("CARGO_PKG_VERSION"),
            kafka,
            checks: Vec::new(),
            reasons: Vec::new(),
        };
        report.settle();
        report
    }

    /// A component thread of the service (`running`: it still runs): a liveness check.
    pub fn with_check(self, name: &'static str, running: bool) -> Self {
        self.with(
            name,
            Probe::Live,
            running.then_some(()).ok_or("not running".into()),
        )
    }

    /// Whether the service does its job yet: `Err(reason)` when not.
    pub fn with_readiness(self, name: &'static str, ready: Result<(), String>) -> Self {
        self.with(name, Probe::Ready, ready)
    }

    /// A stage loop: live (`loop_check`) while it runs, ready (`partitions_check`) once it
    /// has initialized its transactions and been assigned its partitions.
    pub fn with_stage(
        self,
        loop_check: &'static str,
        partitions_check: &'static str,
        stage: &Running<StageHandle>,
    ) -> Self {
        self.with_stage_ready_when(loop_check, partitions_check, stage, StageStatus::readiness)
    }

    /// A stage loop that one replica may run alone: as [`Self::with_stage`], but a replica
    /// the group gave no partition stands by, ready ([`StageStatus::readiness_or_standby`]).
    pub fn with_standby_stage(
        self,
        loop_check: &'static str,
        partitions_check: &'static str,
        stage: &Running<StageHandle>,
    ) -> Self {
        self.with_stage_ready_when(
            loop_check,
            partitions_check,
            stage,
            StageStatus::readiness_or_standby,
        )
    }

    fn with_stage_ready_when(
        self,
        loop_check: &'static str,
        partitions_check: &'static str,
        stage: &Running<StageHandle>,
        ready_when: fn(&StageStatus) -> Result<(), String>,
    ) -> Self {
        let ready = stage.map(StageHandle::status).map_or_else(
            || Err("the loop has not started".into()),
            |s| ready_when(&s),
        );
        self.with_check(loop_check, stage.is(StageHandle::is_running))
            .with_readiness(partitions_check, ready)
    }

    fn with(mut self, name: &'static str, probe: Probe, result: Result<(), String>) -> Self {
        let (ok, reason) = match result {
            Ok(()) => (true, None),
            Err(reason) => (false, Some(reason)),
        };
        self.checks.push(HealthCheck {
            name,
            ok,
            probe,
            reason,
        });
        self.settle();
        self
    }

    fn settle(&mut self) {
        self.live = self.checks.iter().all(|c| c.ok || c.probe != Probe::Live);
        let mut reasons = Vec::new();
        if !self.kafka.reachable {
            let why = self.kafka.error.as_deref().unwrap_or("not checked yet");
            reasons.push(format!("kafka: unreachable ({why})"));
        }
        for check in self.checks.iter().filter(|c| !c.ok) {
            let why = check.reason.as_deref().unwrap_or("failing");
            reasons.push(format!("{}: {why}", check.name));
        }
        self.ready = reasons.is_empty();
        self.reasons = reasons;
        self.status = match (self.live, self.ready) {
            (_, true) => HealthStatus::Ok,
            (true, false) => HealthStatus::NotReady,
            (false, false) => HealthStatus::Down,
        };
    }

    /// The answer of a probe: 200 when it passes, 503 otherwise, the report as body.
    pub fn answer(self, probe: Probe) -> Response {
        let passes = match probe {
            Probe::Live => self.live,
            Probe::Ready => self.ready,
        };
        let status = if passes {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, Json(self)).into_response()
    }
}

/// `/health` (the summary: 200 when ready, else 503 with the reasons), `/health/live` and
/// `/health/ready`, all answered from `report`.
pub fn health_routes<S: Send + Sync + 'static>(report: fn(&S) -> HealthReport) -> Router<Arc<S>> {
    Router::new()
        .route(
            "/health",
            get(move |State(state): State<Arc<S>>| async move {
                report(&state).answer(Probe::Ready)
            }),
        )
        .route(
            "/health/live",
            get(move |State(state): State<Arc<S>>| async move {
                report(&state).answer(Probe::Live)
            }),
        )
        .route(
            "/health/ready",
            get(move |State(state): State<Arc<S>>| async move {
                report(&state).answer(Probe::Ready)
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn kafka(reachable: bool) -> BrokerStatus {
        BrokerStatus {
            reachable,
            brokers: usize::from(reachable),
            checked_at: Some(Utc::now()),
            error: (!reachable).then(|| "connection refused".to_owned()),
            consecutive_failures: u32::from(!reachable),
        }
    }

    #[test]
    fn live_ready_and_reasons() {
        let ready = HealthReport::new("s", kafka(true)).with_check("loop", true);
        assert_eq!(
            (ready.status, ready.live, ready.ready),
            (HealthStatus::Ok, true, true)
        );
        assert!(ready.reasons.is_empty());

        let joining = HealthReport::new("s", kafka(true))
            .with_check("loop", true)
            .with_readiness("partitions", Err("no partitions assigned yet".into()));
        assert_eq!(
            (joining.status, joining.live, joining.ready),
            (HealthStatus::NotReady, true, false)
        );
        assert_eq!(joining.reasons, ["partitions: no partitions assigned yet"]);

        let cut_off = HealthReport::new("s", kafka(false));
        assert_eq!((cut_off.live, cut_off.ready), (true, false));
        assert!(
            cut_off.reasons[0].contains("connection refused"),
            "{:?}",
            cut_off.reasons
        );

        let dead = HealthReport::new("s", kafka(true)).with_check("loop", false);
        assert_eq!(
            (dead.status, dead.live, dead.ready),
            (HealthStatus::Down, false, false)
        );
        assert_eq!(dead.reasons, ["loop: not running"]);
    }

    #[test]
    fn each_probe_answers_with_its_own_verdict() {
        let joining = || {
            HealthReport::new("s", kafka(true)).with_readiness("view", Err("catching up".into()))
        };
        assert_eq!(joining().answer(Probe::Live).status(), StatusCode::OK);
        assert_eq!(
            joining().answer(Probe::Ready).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
