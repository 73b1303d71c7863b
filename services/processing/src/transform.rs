//! The stage's transform: one standardized record → one processed record on
//! `processed-metrics`, plus one alert on `alerts` when it pages someone (see
//! `ProcessedRecord::alerts`), and the signal the incidents need on `incident-signals` (the
//! alerting run, or a normal run of a series that may be recovering). With checkpoints on,
//! the detectors' state of the run's partition is restored before its first run and saved
//! to `detector-state` as it falls due ([`crate::checkpoint`]).

use crate::checkpoint::{forget_discarded, CheckpointBatch, Checkpoints};
use crate::recovery::{RecoveryTracker, Undo};
use chrono::Utc;
use obs_detector::processed::{ALERT_SCHEMA_VERSION, PROCESSED_SCHEMA_VERSION};
use obs_detector::{AlertReason, DetectorBank, ProcessedRecord, RuleKind, RulesConfig, Severity};
use obs_incidents::{scope_key, RunSummary, Signal, SIGNAL_SCHEMA_VERSION};
use obs_kafka::dead_letter::DeadLetterTally;
use obs_kafka::sync::lock;
use obs_kafka::{ErrorCounter, InputRecord, Outputs, Transform};
use obs_records::standardize::StandardizedRecord;
use obs_records::Status;
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    errors: ErrorCounter,
    detector_score: GaugeVec,
    outage_probability: GaugeVec,
    detector_alerts: IntCounterVec,
    alerts: IntCounterVec,
    late: IntCounter,
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
                Opts::new("processing_rule_hits_total", "Rule hits, by rule and severity (a run can hit several)."),
                &["rule", "severity"],
            )?)?,
            anomalous: metrics.register(IntCounterVec::new(
                Opts::new(
                    "processing_anomalous_runs_total",
                    "Anomalous runs (a rule hit or the detectors' warning level, whether or not they alert), by severity.",
                ),
                &["severity"],
            )?)?,
            efficiency: metrics.register(histogram(
                "processing_efficiency_score",
                "Efficiency score (0-100) of runs, by source.",
                vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
            )?)?,
            errors: metrics.errors().clone(),
            detector_score: metrics.register(GaugeVec::new(
                Opts::new(
                    "processing_detector_anomaly_score",
                    "Latest combined anomaly score (0-1) of the streaming detectors, by source and object.",
                ),
                &["source", "object"],
            )?)?,
            outage_probability: metrics.register(GaugeVec::new(
                Opts::new(
                    "processing_detector_outage_probability",
                    "Latest outage probability (0-1) of the streaming detectors, by source and object.",
                ),
                &["source", "object"],
            )?)?,
            detector_alerts: metrics.register(IntCounterVec::new(
                Opts::new(
                    "processing_detector_alerts_total",
                    "Alerts raised by the streaming detectors, by detector (statistical, outage_prediction) and severity.",
                ),
                &["detector", "severity"],
            )?)?,
            late: metrics.register(IntCounter::new(
                "processing_late_runs_total",
                "Runs that came after a later run of their series: flagged late on the processed record and scored by the rules, not by the detectors.",
            )?)?,
            alerts: metrics.register(IntCounterVec::new(
                Opts::new(
                    "processing_alerts_total",
                    "Alerts raised on runs (what pages someone), by cause (failure, negative_memory, duration, memory, cpu) and severity.",
                ),
                &["cause", "severity"],
            )?)?,
        })
    }
}

/// The per-source metrics, looked up once per source rather than by label at every
/// record (a label lookup hashes every label value and takes a lock).
struct SourceMetrics {
    name: String,
    /// By status, in [`Status::ALL`] order.
    runs: [IntCounter; Status::ALL.len()],
    duration: Histogram,
    memory: Histogram,
    cpu: Histogram,
    efficiency: Histogram,
    last_run: Gauge,
    /// Index in [`Labels::objects`] of each object type seen.
    objects: HashMap<String, usize>,
}

/// One object type of a source, and its detector gauges once the detectors have scored
/// one of its runs.
struct ObjectMetrics {
    name: String,
    /// Score and outage probability.
    gauges: Option<(Gauge, Gauge)>,
}

/// Metric handles by source and object type, as the stage has met them: as many as the
/// label values of the metrics themselves, which the registry keeps anyway.
#[derive(Default)]
struct Labels {
    by_source: HashMap<String, usize>,
    sources: Vec<SourceMetrics>,
    objects: Vec<ObjectMetrics>,
}

impl Labels {
    /// The indexes of `source` and of `object` within it, created on first sight.
    fn lookup(&mut self, m: &ProcessingMetrics, source: &str, object: &str) -> (usize, usize) {
        let source_at = match self.by_source.get(source) {
            Some(&at) => at,
            None => {
                let labels = [source];
                self.sources.push(SourceMetrics {
                    name: source.to_owned(),
                    runs: Status::ALL.map(|s| m.runs.with_label_values(&[source, s.as_str()])),
                    duration: m.duration.with_label_values(&labels),
                    memory: m.memory.with_label_values(&labels),
                    cpu: m.cpu.with_label_values(&labels),
                    efficiency: m.efficiency.with_label_values(&labels),
                    last_run: m.last_run.with_label_values(&labels),
                    objects: HashMap::new(),
                });
                self.by_source
                    .insert(source.to_owned(), self.sources.len() - 1);
                self.sources.len() - 1
            }
        };
        let entry = &mut self.sources[source_at];
        let object_at = match entry.objects.get(object) {
            Some(&at) => at,
            None => {
                self.objects.push(ObjectMetrics {
                    name: object.to_owned(),
                    gauges: None,
                });
                entry
                    .objects
                    .insert(object.to_owned(), self.objects.len() - 1);
                self.objects.len() - 1
            }
        };
        (source_at, object_at)
    }
}

/// What the metrics need of one run, kept until its batch commits.
struct Observed {
    /// Index in [`Labels::sources`].
    source: usize,
    /// Index in [`Labels::objects`].
    object: usize,
    status: Status,
    duration: f64,
    memory: f64,
    cpu: f64,
    started: f64,
    efficiency: f64,
    severity: Option<Severity>,
    rules_severity: Option<Severity>,
    rules: Vec<RuleKind>,
    /// Latest detector score and outage probability, when the detectors scored the run.
    detector: Option<(f64, f64)>,
    /// Detector alerts raised: (detector, severity).
    detector_alerts: Vec<(String, Severity)>,
    /// Alerts raised: (cause, severity).
    alerts: Vec<(&'static str, Severity)>,
    /// Came after a later run of its series.
    late: bool,
}

/// What a batch leaves to do once it commits.
#[derive(Default)]
pub struct Pending {
    runs: Vec<Observed>,
    dead_letters: DeadLetterTally,
    /// The batch's changes to the recovery counts, given back if it is discarded.
    recovery: Vec<Undo>,
    /// What the batch saved to `detector-state` and which partitions it restored.
    checkpoints: CheckpointBatch,
}

/// A run as the stage reads it from its payload; a restore reads the runs it replays so.
pub(crate) fn read_run(payload: Option<&[u8]>) -> Result<StandardizedRecord, String> {
    payload
        .ok_or_else(|| "empty payload: no bytes to read".to_owned())
        .and_then(|p| {
            obs_records::from_json_bytes::<StandardizedRecord>(p).map_err(|e| e.to_string())
        })
}

pub struct ProcessTransform {
    rules: RulesConfig,
    /// Shared with `POST /detector/retrain` and `/status`; locked per record by this
    /// stage's thread. A panic under the lock stops the stage loop (health reports it),
    /// and the poison-tolerant lock keeps status and retrain answering.
    detectors: Arc<Mutex<DetectorBank>>,
    processed_topic: Arc<str>,
    alerts_topic: Arc<str>,
    signals_topic: Arc<str>,
    dead_letter_topic: Arc<str>,
    metrics: ProcessingMetrics,
    labels: Labels,
    recovery: RecoveryTracker,
    /// `None` with checkpoints off.
    checkpoints: Option<Checkpoints>,
}

impl ProcessTransform {
    pub fn new(
        rules: RulesConfig,
        detectors: Arc<Mutex<DetectorBank>>,
        topics: &obs_kafka::TopicsConfig,
        metrics: ProcessingMetrics,
        recovery: RecoveryTracker,
        checkpoints: Option<Checkpoints>,
    ) -> Self {
        ProcessTransform {
            rules,
            detectors,
            processed_topic: topics.processed_metrics.name.as_str().into(),
            alerts_topic: topics.alerts.name.as_str().into(),
            signals_topic: topics.incident_signals.name.as_str().into(),
            dead_letter_topic: topics.dead_letters.name.as_str().into(),
            metrics,
            labels: Labels::default(),
            recovery,
            checkpoints,
        }
    }
}

impl Transform for ProcessTransform {
    type Batch = Pending;

    fn transform(&mut self, input: &InputRecord<'_>, pending: &mut Pending, out: &mut Outputs) {
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.before_run(input, &self.detectors, &mut pending.checkpoints, out);
        }
        let record = match read_run(input.payload) {
            Ok(record) => record,
            Err(reason) => {
                pending.dead_letters.write(
                    out,
                    input,
                    &self.dead_letter_topic,
                    STAGE,
                    "unreadable_standardized_record",
                    &reason,
                );
                return;
            }
        };
        let processed = {
            let mut bank = lock(&self.detectors);
            ProcessedRecord::assess(record, &self.rules, &mut bank, Utc::now())
        };
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.seen(input.partition, &processed.record.series_key, input.offset);
        }
        let key = Some(processed.record.series_key.as_bytes());
        let alerts = processed.alerts();
        for alert in &alerts {
            out.record(&self.alerts_topic, key)
                .next_hop_headers(input, ALERT_SCHEMA_VERSION)
                .json(alert);
        }
        let r = &processed.record;
        let detector_alerts = alerts
            .iter()
            .filter(|a| a.detector != "rules")
            .map(|a| (a.detector.clone(), a.severity))
            .collect();
        let raised = alerts
            .iter()
            .map(|a| (a.cause.map_or("unknown", AlertReason::as_str), a.severity))
            .collect();
        let signal = if alerts.is_empty() {
            self.recovery
                .normal(&r.series_key, &mut pending.recovery)
                .then(|| Signal::Normal {
                    run: RunSummary::of(r, processed.processed_at),
                })
        } else {
            self.recovery.alerted(&r.series_key, &mut pending.recovery);
            Some(Signal::Alerted {
                run: RunSummary::of(r, processed.processed_at),
                alerts,
            })
        };
        if let Some(signal) = signal {
            let scope = scope_key(&r.company, &r.source);
            out.record(&self.signals_topic, Some(scope.as_bytes()))
                .next_hop_headers(input, SIGNAL_SCHEMA_VERSION)
                .json(&signal);
        }
        let (source, object) = self.labels.lookup(&self.metrics, &r.source, &r.object_type);
        pending.runs.push(Observed {
            source,
            object,
            status: r.status,
            duration: r.duration_seconds,
            memory: r.memory_used_bytes as f64,
            cpu: r.cpu_time_seconds,
            started: r.start_time.timestamp_micros() as f64 / 1e6,
            efficiency: processed.metrics.efficiency_score,
            severity: processed.overall_severity(),
            rules_severity: processed.severity,
            rules: processed.rule_hits.iter().map(|h| h.rule).collect(),
            detector: processed
                .detector
                .as_ref()
                .and_then(|v| v.assessment())
                .map(|a| (a.score, a.outage_probability)),
            detector_alerts,
            alerts: raised,
            late: processed.late.is_some(),
        });
        out.record(&self.processed_topic, key)
            .next_hop_headers(input, PROCESSED_SCHEMA_VERSION)
            .json(&processed);
    }

    /// The batches will be consumed again: the detectors must not learn them twice, so
    /// they are forgotten and rebuilt as after a rebalance ([`forget_discarded`]); what the
    /// batches saved or restored needs no taking back, since the rebuild forgets it all.
    /// The recovery counts of their series go back.
    fn discarded(&mut self, batches: Vec<Pending>) {
        self.recovery
            .undo(batches.into_iter().flat_map(|batch| batch.recovery));
        forget_discarded(self.checkpoints.as_mut(), &self.detectors);
    }

    /// The bank is rebuilt for the new assignment, partition by partition.
    fn rebalanced(&mut self, _assigned: &[i32]) {
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.rebalanced(&self.detectors);
        }
    }

    fn committed(&mut self, pending: Pending) {
        let m = &self.metrics;
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.committed(pending.checkpoints);
        }
        pending.dead_letters.commit(&m.errors);
        let labels = &mut self.labels;
        for run in pending.runs {
            let source = &labels.sources[run.source];
            let object = &mut labels.objects[run.object];
            if let Some(at) = Status::ALL.iter().position(|s| *s == run.status) {
                source.runs[at].inc();
            }
            source.duration.observe(run.duration);
            source.memory.observe(run.memory);
            source.cpu.observe(run.cpu);
            source.efficiency.observe(run.efficiency);
            if run.started > source.last_run.get() {
                source.last_run.set(run.started);
            }
            if run.late {
                m.late.inc();
            }
            if run.status == Status::Failed {
                m.failures
                    .with_label_values(&[&source.name, &object.name])
                    .inc();
            }
            if let Some((score, outage)) = run.detector {
                let (score_gauge, outage_gauge) = object.gauges.get_or_insert_with(|| {
                    let labels = [source.name.as_str(), object.name.as_str()];
                    (
                        m.detector_score.with_label_values(&labels),
                        m.outage_probability.with_label_values(&labels),
                    )
                });
                score_gauge.set(score);
                outage_gauge.set(outage);
            }
            for (cause, severity) in &run.alerts {
                m.alerts
                    .with_label_values(&[cause, severity.as_str()])
                    .inc();
            }
            for (detector, severity) in &run.detector_alerts {
                m.detector_alerts
                    .with_label_values(&[detector, severity.as_str()])
                    .inc();
            }
            if let Some(severity) = run.severity {
                m.anomalous.with_label_values(&[severity.as_str()]).inc();
            }
            if let Some(severity) = run.rules_severity {
                for rule in run.rules {
                    m.rule_hits
                        .with_label_values(&[rule.as_str(), severity.as_str()])
                        .inc();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testing::processed;
    use obs_detector::anomaly::DetectorConfig;
    use obs_kafka::TopicsConfig;

    /// With checkpoints off nothing can rebuild the detectors, so a discarded batch
    /// forgets them, as a restart would, rather than have its runs learned twice.
    #[test]
    fn a_discarded_batch_without_checkpoints_forgets_the_detectors() {
        let registry = obs_service::Metrics::new();
        let detectors = Arc::new(Mutex::new(
            DetectorBank::new(DetectorConfig::default()).unwrap(),
        ));
        let mut transform = ProcessTransform::new(
            RulesConfig::default(),
            detectors.clone(),
            &TopicsConfig::default(),
            ProcessingMetrics::register(&registry).unwrap(),
            RecoveryTracker::new(2, 100),
            None,
        );
        let mut pending = Pending::default();
        let mut out = Outputs::default();
        for n in 0..3 {
            let payload = serde_json::to_vec(
                &processed(n, "zoho", Status::Success, 5.0, 1_000_000, 1.0).record,
            )
            .unwrap();
            let input = InputRecord {
                topic: "standardized-logs",
                partition: 0,
                offset: n,
                key: None,
                payload: Some(&payload),
                headers: None,
                timestamp_ms: None,
            };
            transform.transform(&input, &mut pending, &mut out);
        }
        assert_eq!(lock(&detectors).len(), 3, "each run's series learned");
        transform.discarded(vec![pending]);
        assert!(lock(&detectors).is_empty());
    }
}
