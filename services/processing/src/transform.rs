//! The stage's transform: one standardized record → one processed record on
//! `processed-metrics`, plus one alert on `alerts` when it is anomalous.

use chrono::Utc;
use obs_detector::processed::{ALERT_SCHEMA_VERSION, PROCESSED_SCHEMA_VERSION};
use obs_detector::{ProcessedRecord, RuleKind, RulesConfig, Severity};
use obs_kafka::dead_letter::dead_letter;
use obs_kafka::{InputRecord, OutputRecord, Transform};
use obs_records::standardize::StandardizedRecord;
use obs_records::Status;
use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts};
use std::sync::Arc;

pub const STAGE: &str = "processing";

/// Business metrics: each run counted once, by this stage, when its batch commits.
#[derive(Clone)]
pub struct ProcessingMetrics {
    runs: IntCounterVec,
    duration: HistogramVec,
    memory: HistogramVec,
    cpu: HistogramVec,
    last_run: GaugeVec,
    failures: IntCounterVec,
    rule_hits: IntCounterVec,
    anomalous: IntCounterVec,
    efficiency: HistogramVec,
    dead_letters: IntCounterVec,
}

impl ProcessingMetrics {
    pub fn register(metrics: &obs_service::Metrics) -> Result<Self, prometheus::Error> {
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), &["source"])
        };
        Ok(ProcessingMetrics {
            runs: metrics.register(IntCounterVec::new(
                Opts::new("processing_runs_total", "Connector runs processed, by source and status."),
                &["source", "status"],
            )?)?,
            duration: metrics.register(histogram(
                "processing_run_duration_seconds",
                "Run duration by source.",
                vec![0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0],
            )?)?,
            memory: metrics.register(histogram(
                "processing_run_memory_bytes",
                "Memory used by a run, by source (negative values are counted in the lowest bucket).",
                vec![1e6, 5e6, 1e7, 2.5e7, 5e7, 1e8, 1.5e8, 2.5e8, 5e8, 1e9, 2e9],
            )?)?,
            cpu: metrics.register(histogram(
                "processing_run_cpu_seconds",
                "CPU time of a run, by source.",
                vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0],
            )?)?,
            last_run: metrics.register(GaugeVec::new(
                Opts::new(
                    "processing_last_run_timestamp_seconds",
                    "Start time (Unix seconds) of the latest run seen, by source.",
                ),
                &["source"],
            )?)?,
            failures: metrics.register(IntCounterVec::new(
                Opts::new("processing_failures_total", "FAILED runs, by source and object."),
                &["source", "object"],
            )?)?,
            rule_hits: metrics.register(IntCounterVec::new(
                Opts::new("processing_anomalies_total", "Rule hits, by rule and severity (a run can hit several)."),
                &["rule", "severity"],
            )?)?,
            anomalous: metrics.register(IntCounterVec::new(
                Opts::new("processing_anomalous_runs_total", "Anomalous runs (one alert each), by severity."),
                &["severity"],
            )?)?,
            efficiency: metrics.register(histogram(
                "processing_efficiency_score",
                "Efficiency score (0-100) of runs, by source.",
                vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
            )?)?,
            dead_letters: metrics.register(IntCounterVec::new(
                Opts::new("processing_dead_letters_total", "Standardized records that could not be read, by error kind."),
                &["kind"],
            )?)?,
        })
    }
}

/// What the metrics need of one run, kept until its batch commits.
struct Observed {
    source: String,
    object: String,
    status: Status,
    duration: f64,
    memory: f64,
    cpu: f64,
    started: f64,
    efficiency: f64,
    severity: Option<Severity>,
    rules: Vec<RuleKind>,
}

pub struct ProcessTransform {
    rules: RulesConfig,
    processed_topic: Arc<str>,
    alerts_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: ProcessingMetrics,
    pending: Vec<Observed>,
    pending_dead: Vec<&'static str>,
}

impl ProcessTransform {
    pub fn new(
        rules: RulesConfig,
        topics: &obs_kafka::TopicsConfig,
        metrics: ProcessingMetrics,
    ) -> Self {
        ProcessTransform {
            rules,
            processed_topic: topics.processed_metrics.name.as_str().into(),
            alerts_topic: topics.alerts.name.as_str().into(),
            dead_letter_topic: topics.dead_letters.name.as_str().into(),
            metrics,
            pending: Vec::new(),
            pending_dead: Vec::new(),
        }
    }
}

impl Transform for ProcessTransform {
    fn transform(&mut self, input: &InputRecord<'_>, out: &mut Vec<OutputRecord>) {
        let parsed = input
            .payload
            .ok_or_else(|| "empty payload: no bytes to read".to_owned())
            .and_then(|p| {
                serde_json::from_slice::<StandardizedRecord>(p).map_err(|e| e.to_string())
            });
        let record = match parsed {
            Ok(record) => record,
            Err(reason) => {
                self.pending_dead.push("unreadable_standardized_record");
                out.push(dead_letter(
                    input,
                    &self.dead_letter_topic,
                    STAGE,
                    "unreadable_standardized_record",
                    &reason,
                ));
                return;
            }
        };
        let processed = ProcessedRecord::score(record, &self.rules, Utc::now());
        let key = processed.record.series_key.as_bytes().to_vec();
        if let Some(alert) = processed.alert() {
            out.push(OutputRecord {
                topic: self.alerts_topic.clone(),
                key: Some(key.clone()),
                payload: serde_json::to_vec(&alert).unwrap_or_default(),
                headers: input.next_hop_headers(ALERT_SCHEMA_VERSION),
            });
        }
        let r = &processed.record;
        self.pending.push(Observed {
            source: r.source.clone(),
            object: r.object_type.clone(),
            status: r.status,
            duration: r.duration_seconds,
            memory: r.memory_used_bytes as f64,
            cpu: r.cpu_time_seconds,
            started: r.start_time.timestamp_micros() as f64 / 1e6,
            efficiency: processed.metrics.efficiency_score,
            severity: processed.severity,
            rules: processed.rule_hits.iter().map(|h| h.rule).collect(),
        });
        out.push(OutputRecord {
            topic: self.processed_topic.clone(),
            key: Some(key),
            // Serializing strings, numbers and timestamps cannot fail.
            payload: serde_json::to_vec(&processed).unwrap_or_default(),
            headers: input.next_hop_headers(PROCESSED_SCHEMA_VERSION),
        });
    }

    fn settle(&mut self, committed: bool) {
        let pending = std::mem::take(&mut self.pending);
        let dead = std::mem::take(&mut self.pending_dead);
        if !committed {
            return;
        }
        let m = &self.metrics;
        for kind in dead {
            m.dead_letters.with_label_values(&[kind]).inc();
        }
        for run in pending {
            let source = run.source.as_str();
            m.runs
                .with_label_values(&[source, run.status.as_str()])
                .inc();
            m.duration
                .with_label_values(&[source])
                .observe(run.duration);
            m.memory.with_label_values(&[source]).observe(run.memory);
            m.cpu.with_label_values(&[source]).observe(run.cpu);
            m.efficiency
                .with_label_values(&[source])
                .observe(run.efficiency);
            let last = m.last_run.with_label_values(&[source]);
            if run.started > last.get() {
                last.set(run.started);
            }
            if run.status == Status::Failed {
                m.failures.with_label_values(&[source, &run.object]).inc();
            }
            if let Some(severity) = run.severity {
                m.anomalous.with_label_values(&[severity.as_str()]).inc();
                for rule in run.rules {
                    m.rule_hits
                        .with_label_values(&[rule.as_str(), severity.as_str()])
                        .inc();
                }
            }
        }
    }
}
