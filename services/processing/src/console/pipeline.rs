//! The pipeline page's figures: each loop of each service — records in, out and
//! dead-lettered, lag, errors and the last one, time per record — read from the service's
//! `/status` and `/metrics` (the counters of `docs/instrumentation.md`'s reconciliation).

use super::metrics_text::{self, Sample, Timing};
use serde::Serialize;
use serde_json::Value;

/// One service as the pipeline page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceReport {
    pub service: &'static str,
    /// Where it was asked (`None` for this process).
    pub url: Option<String>,
    pub reachable: bool,
    /// Why it could not be read.
    pub error: Option<String>,
    pub loops: Vec<LoopReport>,
}

/// One loop of a service (its runs, its log events...).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LoopReport {
    /// `runs`, `log events`, `incident signals`.
    pub name: &'static str,
    pub input: Option<String>,
    /// What the loop is doing (`running`, `rebalancing`...); `None` for HTTP ingestion.
    pub phase: Option<String>,
    pub records_in: u64,
    pub records_out: u64,
    /// `None` where the loop writes no dead letters.
    pub dead_lettered: Option<u64>,
    /// Refused at the door (ingestion's 422s).
    pub rejected: Option<u64>,
    /// Records behind, over the loop's partitions.
    pub lag: Option<i64>,
    pub errors: u64,
    /// The consumer's latest error, as its service's `/status` gives it.
    #[schema(value_type = Option<obs_kafka::consumer::LastError>)]
    pub last_error: Option<Value>,
    pub timing: Option<Timing>,
}

const STAGE_LATENCY: &str = "stage_end_to_end_latency_seconds";
const STAGE_MEASURE: &str = "ingested → committed by this stage";

impl ServiceReport {
    /// A service that answered: its loops from its `/status` and `/metrics` samples.
    pub fn read(
        service: &'static str,
        url: Option<String>,
        status: &Value,
        samples: &[Sample],
    ) -> ServiceReport {
        let loops = match service {
            "ingestion" => ingestion(status, samples),
            "standardization" => standardization(status, samples),
            _ => processing(status, samples),
        };
        ServiceReport {
            service,
            url,
            reachable: true,
            error: None,
            loops,
        }
    }

    pub fn unreachable(service: &'static str, url: String, error: String) -> ServiceReport {
        ServiceReport {
            service,
            url: Some(url),
            reachable: false,
            error: Some(error),
            loops: Vec::new(),
        }
    }
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// Ingestion has no loop: its HTTP endpoints publish what they accept.
fn ingestion(status: &Value, samples: &[Sample]) -> Vec<LoopReport> {
    let routes = |names: &'static [&'static str]| {
        move |s: &Sample| s.label("route").is_some_and(|r| names.contains(&r))
    };
    [
        (
            "runs",
            &status["records"],
            routes(&["/ingest/single", "/ingest/batch", "/ingest/file"]),
        ),
        ("log events", &status["log_events"], routes(&["/log"])),
    ]
    .into_iter()
    .map(|(name, counts, select)| LoopReport {
        name,
        input: None,
        phase: None,
        records_in: count(&counts["received"]),
        records_out: count(&counts["published"]),
        dead_lettered: None,
        rejected: Some(count(&counts["rejected"])),
        lag: None,
        errors: count(&counts["not_published"]),
        last_error: None,
        timing: metrics_text::timing(
            samples,
            "http_request_duration_seconds",
            "HTTP request (a batch), until Kafka acknowledged it",
            select,
        ),
    })
    .collect()
}

fn standardization(status: &Value, samples: &[Sample]) -> Vec<LoopReport> {
    [
        ("runs", "runs", &status["stage"], &status["records"]),
        (
            "log events",
            "log_events",
            &status["log_events_stage"],
            &status["log_events"],
        ),
    ]
    .into_iter()
    .map(|(name, input, stage, counts)| LoopReport {
        records_in: count(&counts["in"]),
        records_out: count(&counts["standardized"]),
        dead_lettered: Some(count(&counts["dead_lettered"])),
        ..stage_loop(name, input, stage, samples)
    })
    .collect()
}

fn processing(status: &Value, samples: &[Sample]) -> Vec<LoopReport> {
    let unreadable = |error_type: &'static str| {
        metrics_text::total(samples, "errors_total", move |s| {
            s.label("stage") == Some("processing") && s.label("error_type") == Some(error_type)
        }) as u64
    };
    let runs = &status["stage"];
    let log_events = &status["logs"]["error_rate_stage"];
    let incident_signals = &status["incidents"]["stage"];
    vec![
        LoopReport {
            records_out: metrics_text::total(samples, "processing_runs_total", |_| true) as u64,
            dead_lettered: Some(unreadable("unreadable_standardized_record")),
            ..stage_loop("runs", "runs", runs, samples)
        },
        LoopReport {
            records_out: (metrics_text::total(
                samples,
                "processing_app_log_events_windowed_total",
                |_| true,
            ) + metrics_text::total(
                samples,
                "processing_app_log_events_late_total",
                |_| true,
            )) as u64,
            dead_lettered: Some(unreadable("unreadable_standardized_log_event")),
            ..stage_loop("log events", "log_events", log_events, samples)
        },
        LoopReport {
            records_out: count(&incident_signals["records_produced"]),
            ..stage_loop(
                "incident signals",
                "incident_signals",
                incident_signals,
                samples,
            )
        },
    ]
}

/// What every transactional loop's status says (`obs_kafka::StageStatus`); `records_in`
/// is what it consumed and committed.
fn stage_loop(
    name: &'static str,
    input: &'static str,
    stage: &Value,
    samples: &[Sample],
) -> LoopReport {
    let lag = stage["lag"]
        .as_object()
        .map(|lag| lag.values().filter_map(Value::as_i64).sum());
    LoopReport {
        name,
        input: stage["input_topic"].as_str().map(str::to_owned),
        phase: Some(stage["phase"].as_str().unwrap_or("not started").to_owned()),
        records_in: count(&stage["records_consumed"]),
        records_out: count(&stage["records_produced"]),
        dead_lettered: None,
        rejected: None,
        lag,
        errors: count(&stage["errors"]),
        last_error: stage.get("last_error").filter(|e| !e.is_null()).cloned(),
        timing: metrics_text::timing(samples, STAGE_LATENCY, STAGE_MEASURE, |s| {
            s.label("input") == Some(input)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stage(consumed: u64, produced: u64) -> Value {
        json!({
            "consumer": "x", "running": true, "phase": "running", "assigned": [],
            "rebalances": 1, "errors": 2,
            "last_error": {"message": "broker down", "at": "2025-09-05T16:00:00Z"},
            "input_topic": "in", "group_id": "g", "transactional_id": "t",
            "assigned_partitions": [0, 1], "lag": {"0": 3, "1": 4},
            "records_consumed": consumed, "records_produced": produced,
            "transactions_committed": 1, "transactions_aborted": 0, "last_commit_at": null,
        })
    }

    const LATENCY: &str = "stage_end_to_end_latency_seconds_bucket{input=\"runs\",le=\"1\"} 4
stage_end_to_end_latency_seconds_bucket{input=\"runs\",le=\"+Inf\"} 4
stage_end_to_end_latency_seconds_sum{input=\"runs\"} 2
stage_end_to_end_latency_seconds_count{input=\"runs\"} 4
";

    #[test]
    fn ingestion_counts_what_it_received_published_and_refused() {
        let status = json!({
            "kafka": {"topic": "raw-logs", "log_events_topic": "app-logs"},
            "records": {"received": 10, "published": 8, "rejected": 1, "not_published": 1},
            "log_events": {"received": 5, "published": 5, "rejected": 0, "not_published": 0},
        });
        let samples = metrics_text::parse(
            "http_request_duration_seconds_bucket{route=\"/ingest/batch\",le=\"0.1\"} 2
http_request_duration_seconds_bucket{route=\"/ingest/batch\",le=\"+Inf\"} 2
http_request_duration_seconds_sum{route=\"/ingest/batch\"} 0.1
http_request_duration_seconds_count{route=\"/ingest/batch\"} 2
http_request_duration_seconds_count{route=\"/status\"} 9
",
        );
        let report = ServiceReport::read("ingestion", None, &status, &samples);
        let runs = &report.loops[0];
        assert_eq!(
            (
                runs.records_in,
                runs.records_out,
                runs.rejected,
                runs.errors
            ),
            (10, 8, Some(1), 1)
        );
        assert_eq!(runs.timing.as_ref().map(|t| t.count), Some(2));
        let events = &report.loops[1];
        assert_eq!((events.name, events.records_out), ("log events", 5));
        assert_eq!(events.timing, None, "no POST /log yet");
    }

    #[test]
    fn standardization_counts_come_from_its_reconciled_status() {
        let status = json!({
            "stage": stage(10, 10),
            "records": {"in": 10, "standardized": 9, "dead_lettered": 1},
            "log_events_stage": null,
            "log_events": {"in": 0, "standardized": 0, "dead_lettered": 0},
        });
        let report = ServiceReport::read(
            "standardization",
            None,
            &status,
            &metrics_text::parse(LATENCY),
        );
        let runs = &report.loops[0];
        assert_eq!(
            (runs.records_in, runs.records_out, runs.dead_lettered),
            (10, 9, Some(1))
        );
        assert_eq!((runs.lag, runs.errors), (Some(7), 2));
        assert_eq!(runs.last_error.as_ref().unwrap()["message"], "broker down");
        assert_eq!(runs.phase.as_deref(), Some("running"));
        assert_eq!(runs.timing.as_ref().map(|t| t.average_seconds), Some(0.5));
        let events = &report.loops[1];
        assert_eq!(events.phase.as_deref(), Some("not started"));
        assert_eq!((events.lag, events.last_error.clone()), (None, None));
    }

    #[test]
    fn processing_counts_processed_runs_and_unreadable_records() {
        let status = json!({
            "stage": stage(12, 30),
            "logs": {"error_rate_stage": stage(5, 1)},
            "incidents": {"stage": stage(4, 2)},
        });
        let samples = metrics_text::parse(&format!(
            "{LATENCY}processing_runs_total{{source=\"a\",status=\"SUCCESS\"}} 9
processing_runs_total{{source=\"b\",status=\"FAILED\"}} 2
errors_total{{error_type=\"unreadable_standardized_record\",stage=\"processing\"}} 1
processing_app_log_events_windowed_total 4
processing_app_log_events_late_total 1
"
        ));
        let report = ServiceReport::read("processing", None, &status, &samples);
        let figures: Vec<(&str, u64, u64, Option<u64>)> = report
            .loops
            .iter()
            .map(|l| (l.name, l.records_in, l.records_out, l.dead_lettered))
            .collect();
        assert_eq!(
            figures,
            [
                ("runs", 12, 11, Some(1)),
                ("log events", 5, 5, Some(0)),
                ("incident signals", 4, 2, None),
            ]
        );
        assert!(report.loops[0].timing.is_some());
        assert!(report.loops[2].timing.is_none());
    }
}
