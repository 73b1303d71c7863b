//! The aggregates behind the endpoints, fed one record or alert at a time.
//!
//! Two locks, one per input topic, so a slow `/analytics/sources` (quantiles of every
//! source) never holds back the alerts, and the reader thread only ever waits for the
//! readers of the aggregate it updates.

use super::config::{AnalyticsConfig, MAX_RELATIVE_ACCURACY, MIN_RELATIVE_ACCURACY};
use super::newest::Newest;
use super::objects::{ObjectRun, Objects};
use super::responses::{Anomalies, RecentRecords, SourceSummary, SourcesReport, Summary};
use super::sketch::QuantileSketch;
use crate::processed::ProcessedFields;
use chrono::{DateTime, Utc};
use obs_detector::{Alert, Severity};
use obs_kafka::sync::{read, write};
use obs_records::Status;
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// The global analytics of every processed record and alert applied so far.
pub struct AnalyticsView {
    config: AnalyticsConfig,
    records: RwLock<RecordState>,
    alerts: RwLock<AlertState>,
    /// Whether the reader has read everything published before it started: until then an
    /// answer is partial, and says so.
    caught_up: AtomicBool,
}

/// A record kept for `/analytics/recent`: what its filters read, and the record's JSON
/// (checked when it was read; made a `RawValue` only when asked for, so reading a record
/// costs one parse, and the buffers of an evicted record are reused by the next).
struct RecentRecord {
    source: String,
    status: Status,
    /// The record's bytes as read; UTF-8 is checked when a request serves it, not for
    /// every record kept (the stage writes them with `serde_json`).
    json: Vec<u8>,
}

/// Run counters: the whole stack's, and each source's.
#[derive(Debug, Default)]
struct Counts {
    total: u64,
    success: u64,
    failed: u64,
    anomalous: u64,
    efficiency_sum: f64,
    duration_sum: f64,
}

impl Counts {
    fn add(&mut self, record: &ProcessedFields<'_>) {
        self.total += 1;
        match record.status {
            Status::Success => self.success += 1,
            Status::Failed => self.failed += 1,
        }
        if record.anomalous {
            self.anomalous += 1;
        }
        self.efficiency_sum += record.efficiency_score;
        self.duration_sum += record.duration_seconds;
    }

    /// `part / total` as a fraction, `None` without runs (no data is not 0 %).
    fn rate(&self, part: u64) -> Option<f64> {
        (self.total > 0).then(|| part as f64 / self.total as f64)
    }

    fn mean(&self, sum: f64) -> Option<f64> {
        (self.total > 0).then(|| sum / self.total as f64)
    }
}

struct SourceStats {
    counts: Counts,
    last_run_at: DateTime<Utc>,
    duration: QuantileSketch,
    memory: QuantileSketch,
    cpu: QuantileSketch,
}

struct RecordState {
    totals: Counts,
    sources: BTreeMap<String, SourceStats>,
    untracked_records: u64,
    last_updated: Option<DateTime<Utc>>,
    recent: Newest<RecentRecord>,
    objects: Objects,
}

struct AlertState {
    kept: Newest<Alert>,
    /// Ids of the alerts in `kept`, for de-duplication.
    ids: HashSet<String>,
    received: u64,
    duplicates: u64,
}

/// Filters of `GET /analytics/recent`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentQuery {
    pub limit: usize,
    /// Matches the source slug, ignoring ASCII case.
    pub source: Option<String>,
    pub status: Option<Status>,
}

/// Filters of `GET /analytics/anomalies`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyQuery {
    pub limit: usize,
    pub severity: Option<Severity>,
    /// Matches the source slug, ignoring ASCII case.
    pub source: Option<String>,
}

/// What the view holds, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AnalyticsViewStats)]
pub struct ViewStats {
    pub records_applied: u64,
    pub records_kept: usize,
    /// Alerts applied, duplicates included.
    pub alerts_applied: u64,
    /// Alerts ignored because an alert with the same id was kept.
    pub duplicate_alerts: u64,
    pub alerts_kept: usize,
    pub sources_tracked: usize,
    pub records_from_untracked_sources: u64,
    pub objects_tracked: usize,
    /// Runs of objects beyond `max_objects`: in every figure but the per-object ones.
    pub records_from_untracked_objects: u64,
}

impl AnalyticsView {
    /// An empty view. An invalid value in `config` falls back to its default (see
    /// [`AnalyticsConfig::validate`] to refuse it at start-up instead).
    pub fn new(mut config: AnalyticsConfig) -> Self {
        let defaults = AnalyticsConfig::default();
        if !(MIN_RELATIVE_ACCURACY..=MAX_RELATIVE_ACCURACY)
            .contains(&config.quantile_relative_accuracy)
        {
            config.quantile_relative_accuracy = defaults.quantile_relative_accuracy;
        }
        if config.quantile_max_buckets < 2 {
            config.quantile_max_buckets = defaults.quantile_max_buckets;
        }
        AnalyticsView {
            records: RwLock::new(RecordState {
                totals: Counts::default(),
                sources: BTreeMap::new(),
                untracked_records: 0,
                last_updated: None,
                recent: Newest::new(config.recent_capacity),
                objects: Objects::new(config.max_objects),
            }),
            alerts: RwLock::new(AlertState {
                kept: Newest::new(config.anomalies_capacity),
                ids: HashSet::new(),
                received: 0,
                duplicates: 0,
            }),
            caught_up: AtomicBool::new(false),
            config,
        }
    }

    /// The configuration in force (after falling back from invalid values).
    pub fn config(&self) -> &AnalyticsConfig {
        &self.config
    }

    /// [`apply_fields`](Self::apply_fields) of a record yet to be read, for the tests.
    #[cfg(test)]
    pub(crate) fn apply_processed(&self, json: &[u8]) -> Result<(), serde_json::Error> {
        self.apply_fields(&ProcessedFields::read(json)?, json);
        Ok(())
    }

    /// Adds one processed record, the JSON payload of `processed-metrics` whose fields
    /// were read, to the totals, its source's statistics and the recent records.
    pub fn apply_fields(&self, r: &ProcessedFields<'_>, json: &[u8]) {
        let mut state = write(&self.records);
        // A record older than every kept one at capacity is simply not kept.
        state.recent.insert_with(r.processed_at, |recycled| {
            let mut kept = recycled.unwrap_or_else(|| {
                Box::new(RecentRecord {
                    source: String::new(),
                    status: r.status,
                    json: Vec::new(),
                })
            });
            // Exact sizes: the amortized doubling of a growing buffer would keep up to
            // twice the record in every slot.
            kept.source.clear();
            kept.source.reserve_exact(r.source.len());
            kept.source.push_str(&r.source);
            kept.status = r.status;
            kept.json.clear();
            kept.json.reserve_exact(json.len());
            kept.json.extend_from_slice(json);
            kept
        });
        state.totals.add(r);
        state.objects.add(&ObjectRun {
            series_key: &r.series_key,
            company: &r.company,
            source: &r.source,
            object_id: r.object_id,
            object_type: &r.object_type,
            status: r.status,
            anomalous: r.anomalous,
            error_kind: r.error_kind,
            start_time: r.start_time,
        });
        if state.last_updated.is_none_or(|at| at < r.processed_at) {
            state.last_updated = Some(r.processed_at);
        }
        let tracked = state.sources.len();
        match state.sources.get_mut(r.source.as_ref()) {
            Some(stats) => stats.add(r),
            None if tracked < self.config.max_sources => {
                let sketch = || {
                    QuantileSketch::new(
                        self.config.quantile_relative_accuracy,
                        self.config.quantile_max_buckets,
                    )
                };
                let mut stats = SourceStats {
                    counts: Counts::default(),
                    last_run_at: r.start_time,
                    duration: sketch(),
                    memory: sketch(),
                    cpu: sketch(),
                };
                stats.add(r);
                state.sources.insert(r.source.to_string(), stats);
            }
            None => state.untracked_records += 1,
        }
    }

    /// Keeps one alert unless an alert with the same `alert_id` is kept already (a repeat
    /// of the same run and detector).
    pub fn apply_alert(&self, alert: Alert) {
        let mut state = write(&self.alerts);
        state.received += 1;
        if state.ids.contains(&alert.alert_id) {
            state.duplicates += 1;
            return;
        }
        let id = alert.alert_id.clone();
        if let Ok(evicted) = state.kept.insert(alert.raised_at, alert) {
            if let Some(evicted) = evicted {
                state.ids.remove(&evicted.alert_id);
            }
            state.ids.insert(id);
        }
    }

    pub fn summary(&self) -> Summary {
        let state = read(&self.records);
        let t = &state.totals;
        Summary {
            total_logs_processed: t.total,
            success_count: t.success,
            failed_count: t.failed,
            success_rate: t.rate(t.success),
            anomaly_count: t.anomalous,
            anomaly_rate: t.rate(t.anomalous),
            average_efficiency_score: t.mean(t.efficiency_sum),
            average_duration_seconds: t.mean(t.duration_sum),
            total_sources: state.sources.len(),
            records_from_untracked_sources: state.untracked_records,
            last_updated: state.last_updated,
        }
    }

    pub fn sources(&self) -> SourcesReport {
        let state = read(&self.records);
        let sources = state
            .sources
            .iter()
            .map(|(name, stats)| {
                let c = &stats.counts;
                SourceSummary {
                    source: name.clone(),
                    total_runs: c.total,
                    success_count: c.success,
                    failed_count: c.failed,
                    success_rate: c.rate(c.success).unwrap_or_default(),
                    anomaly_count: c.anomalous,
                    duration_p50_seconds: stats.duration.quantile(0.50),
                    duration_p95_seconds: stats.duration.quantile(0.95),
                    duration_p99_seconds: stats.duration.quantile(0.99),
                    memory_p95_bytes: stats.memory.quantile(0.95),
                    cpu_p95_seconds: stats.cpu.quantile(0.95),
                    last_run_at: stats.last_run_at,
                    average_efficiency_score: c.mean(c.efficiency_sum).unwrap_or_default(),
                }
            })
            .collect();
        SourcesReport {
            sources,
            total_sources: state.sources.len(),
            records_from_untracked_sources: state.untracked_records,
            quantile_relative_accuracy: self.config.quantile_relative_accuracy,
        }
    }

    /// `f` of the tracked objects (each one's latest run and rhythm, grouped by source),
    /// read under the view's lock: the fleet ranks them all per request, and copies only
    /// what it answers.
    pub fn with_objects<T>(&self, f: impl FnOnce(&Objects) -> T) -> T {
        f(&read(&self.records).objects)
    }

    pub fn recent(&self, query: &RecentQuery) -> RecentRecords {
        let state = read(&self.records);
        let records: Vec<Box<RawValue>> = state
            .recent
            .newest_first()
            .filter(|p| source_matches(query.source.as_deref(), &p.source))
            .filter(|p| query.status.is_none_or(|s| s == p.status))
            .take(query.limit)
            .filter_map(|p| match serde_json::from_slice::<Box<RawValue>>(&p.json) {
                Ok(json) => Some(json),
                // The record parsed when it was read, and the stage writes UTF-8: a
                // string it skipped there would have to hold invalid bytes.
                Err(error) => {
                    tracing::error!(%error, "a kept processed record is not UTF-8 JSON");
                    None
                }
            })
            .collect();
        RecentRecords {
            count: records.len(),
            records,
        }
    }

    pub fn anomalies(&self, query: &AnomalyQuery) -> Anomalies {
        let state = read(&self.alerts);
        let anomalies: Vec<Alert> = state
            .kept
            .newest_first()
            .filter(|a| source_matches(query.source.as_deref(), &a.source))
            .filter(|a| query.severity.is_none_or(|s| s == a.severity))
            .take(query.limit)
            .cloned()
            .collect();
        Anomalies {
            count: anomalies.len(),
            anomalies,
        }
    }

    /// The reader has read everything published before it started.
    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Relaxed);
    }

    /// Whether answers cover everything published before the reader started.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> ViewStats {
        let (records_applied, records_kept, sources_tracked, untracked, objects) = {
            let state = read(&self.records);
            (
                state.totals.total,
                state.recent.len(),
                state.sources.len(),
                state.untracked_records,
                (state.objects.tracked(), state.objects.untracked_runs()),
            )
        };
        let alerts = read(&self.alerts);
        ViewStats {
            records_applied,
            records_kept,
            alerts_applied: alerts.received,
            duplicate_alerts: alerts.duplicates,
            alerts_kept: alerts.kept.len(),
            sources_tracked,
            records_from_untracked_sources: untracked,
            objects_tracked: objects.0,
            records_from_untracked_objects: objects.1,
        }
    }
}

impl SourceStats {
    fn add(&mut self, r: &ProcessedFields<'_>) {
        self.counts.add(r);
        self.last_run_at = self.last_run_at.max(r.start_time);
        self.duration.add(r.duration_seconds);
        self.memory.add(r.memory_used_bytes as f64);
        self.cpu.add(r.cpu_time_seconds);
    }
}

fn source_matches(wanted: Option<&str>, source: &str) -> bool {
    wanted.is_none_or(|w| w.eq_ignore_ascii_case(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::responses::ObjectSummary;
    use crate::analytics::testing::{base_time, processed};
    use chrono::Duration;
    use obs_detector::ProcessedRecord;

    fn json(record: &ProcessedRecord) -> Vec<u8> {
        serde_json::to_vec(record).unwrap()
    }

    fn view_with(config: AnalyticsConfig) -> AnalyticsView {
        AnalyticsView::new(config)
    }

    fn close(value: Option<f64>, expected: f64) -> bool {
        value.is_some_and(|v| (v - expected).abs() < 1e-9)
    }

    /// Within the sketch's 1 %.
    fn within(value: Option<f64>, expected: f64) -> bool {
        value.is_some_and(|v| (v - expected).abs() <= 0.01 * expected.abs())
    }

    fn everything(limit: usize) -> RecentQuery {
        RecentQuery {
            limit,
            source: None,
            status: None,
        }
    }

    #[test]
    fn empty_view_has_counts_of_zero_and_no_rates() {
        let view = view_with(AnalyticsConfig::default());
        let summary = view.summary();
        assert_eq!(summary.total_logs_processed, 0);
        assert_eq!(summary.success_rate, None, "no data is not 0 %");
        assert_eq!(summary.average_efficiency_score, None);
        assert_eq!(summary.last_updated, None);
        assert!(view.sources().sources.is_empty());
        assert_eq!(view.recent(&everything(10)).count, 0);
    }

    #[test]
    fn summary_by_hand() {
        let view = view_with(AnalyticsConfig::default());
        // Applied out of order, as partitions interleave.
        for record in [
            processed(2, "powerbi", Status::Success, 30.0, 200_000_000, 5.0), // eff 0, anomalous
            processed(0, "zoho", Status::Success, 2.0, 4_000_000, 0.5), // eff (90 + 80) / 2 = 85
            processed(3, "powerbi", Status::Success, 6.0, 0, 3.0),      // eff (70 + 100) / 2 = 85
            processed(1, "zoho", Status::Failed, 10.0, 1_000_000, 2.0), // eff (50 + 95) / 2 = 72.5, anomalous
        ] {
            view.apply_processed(&json(&record)).unwrap();
        }
        let s = view.summary();
        assert_eq!(
            (s.total_logs_processed, s.success_count, s.failed_count),
            (4, 3, 1)
        );
        assert!(close(s.success_rate, 0.75));
        assert_eq!(s.anomaly_count, 2);
        assert!(close(s.anomaly_rate, 0.5));
        assert!(close(
            s.average_efficiency_score,
            (0.0 + 85.0 + 85.0 + 72.5) / 4.0
        ));
        assert!(close(
            s.average_duration_seconds,
            (30.0 + 2.0 + 6.0 + 10.0) / 4.0
        ));
        assert_eq!(s.total_sources, 2);
        // The latest processed_at (run 3), not the last applied (run 1).
        let expected = processed(3, "x", Status::Success, 1.0, 0, 0.0).processed_at;
        assert_eq!(s.last_updated, Some(expected));
    }

    #[test]
    fn sources_by_hand() {
        let view = view_with(AnalyticsConfig::default());
        for record in [
            processed(3, "zoho", Status::Success, 1.0, -500_000, 0.2), // eff 97.5, negative memory
            processed(0, "zoho", Status::Success, 2.0, 4_000_000, 0.5), // eff 85
            processed(2, "zoho", Status::Failed, 10.0, 1_000_000, 2.0), // eff 72.5
            processed(1, "zoho", Status::Success, 4.0, 2_000_000, 1.0), // eff 85
            processed(4, "efficy", Status::Success, 2.0, -300_000, 1.0),
        ] {
            view.apply_processed(&json(&record)).unwrap();
        }
        let report = view.sources();
        assert_eq!(report.total_sources, 2);
        assert_eq!(report.quantile_relative_accuracy, 0.01);
        let names: Vec<&str> = report.sources.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(names, ["efficy", "zoho"], "sorted by name");

        let zoho = &report.sources[1];
        assert_eq!(
            (zoho.total_runs, zoho.success_count, zoho.failed_count),
            (4, 3, 1)
        );
        assert!(close(Some(zoho.success_rate), 0.75));
        assert_eq!(zoho.anomaly_count, 2, "the failure and the negative memory");
        // Nearest rank over durations 1, 2, 4, 10: p50 = rank 2 = 2; p95 = p99 = rank 4.
        assert!(within(zoho.duration_p50_seconds, 2.0));
        assert!(within(zoho.duration_p95_seconds, 10.0));
        assert!(within(zoho.duration_p99_seconds, 10.0));
        assert!(within(zoho.memory_p95_bytes, 4_000_000.0));
        assert!(within(zoho.cpu_p95_seconds, 2.0));
        // Latest start_time (run 3) although run 1 was applied last.
        assert_eq!(zoho.last_run_at, base_time() + Duration::minutes(3));
        assert!(close(
            Some(zoho.average_efficiency_score),
            (97.5 + 85.0 + 72.5 + 85.0) / 4.0
        ));

        // A negative memory stays negative.
        let efficy = &report.sources[0];
        assert!(within(efficy.memory_p95_bytes, -300_000.0));
        assert!(efficy.memory_p95_bytes.unwrap_or_default() < 0.0);
    }

    #[test]
    fn sources_beyond_the_limit_count_in_the_totals_only() {
        let view = view_with(AnalyticsConfig {
            max_sources: 2,
            ..AnalyticsConfig::default()
        });
        for (n, source) in ["a", "b", "c", "a", "d"].into_iter().enumerate() {
            view.apply_processed(&json(&processed(
                n as i64,
                source,
                Status::Success,
                1.0,
                0,
                0.1,
            )))
            .unwrap();
        }
        let summary = view.summary();
        assert_eq!(summary.total_logs_processed, 5);
        assert_eq!(summary.total_sources, 2);
        assert_eq!(summary.records_from_untracked_sources, 2);
        let report = view.sources();
        let runs: Vec<(&str, u64)> = report
            .sources
            .iter()
            .map(|s| (s.source.as_str(), s.total_runs))
            .collect();
        assert_eq!(runs, [("a", 2), ("b", 1)]);
        assert_eq!(report.records_from_untracked_sources, 2);
    }

    #[test]
    fn recent_keeps_the_newest_by_processed_at_and_filters() {
        let view = view_with(AnalyticsConfig {
            recent_capacity: 3,
            ..AnalyticsConfig::default()
        });
        for n in [4, 0, 5, 1, 3, 2] {
            let status = if n % 2 == 0 {
                Status::Success
            } else {
                Status::Failed
            };
            let source = if n == 4 { "Zoho" } else { "zoho" };
            view.apply_processed(&json(&processed(n, source, status, 1.0, 0, 0.1)))
                .unwrap();
        }
        let ids = |records: RecentRecords| -> Vec<i64> {
            records
                .records
                .iter()
                .map(|r| {
                    serde_json::from_str::<ProcessedRecord>(r.get())
                        .unwrap()
                        .record
                        .object_id
                        - 100
                })
                .collect()
        };
        assert_eq!(ids(view.recent(&everything(10))), [5, 4, 3], "newest first");
        assert_eq!(ids(view.recent(&everything(2))), [5, 4]);
        let failed = RecentQuery {
            status: Some(Status::Failed),
            ..everything(10)
        };
        assert_eq!(ids(view.recent(&failed)), [5, 3]);
        let zoho = RecentQuery {
            source: Some("ZOHO".into()),
            ..everything(10)
        };
        assert_eq!(
            ids(view.recent(&zoho)),
            [5, 4, 3],
            "source ignores ASCII case"
        );
        let none = RecentQuery {
            source: Some("powerbi".into()),
            ..everything(10)
        };
        assert_eq!(view.recent(&none).count, 0);
        assert_eq!(view.stats().records_kept, 3);
        assert_eq!(
            view.summary().total_logs_processed,
            6,
            "totals keep everything"
        );
    }

    #[test]
    fn alerts_are_deduplicated_among_those_kept_and_filtered() {
        let view = view_with(AnalyticsConfig {
            anomalies_capacity: 2,
            ..AnalyticsConfig::default()
        });
        let alert = |n: i64, status: Status, memory: i64| {
            processed(n, "zoho", status, 1.0, memory, 0.1)
                .alerts()
                .into_iter()
                .next()
                .unwrap()
        };
        let critical = alert(1, Status::Failed, 0);
        view.apply_alert(critical.clone());
        view.apply_alert(critical.clone());
        assert_eq!(
            (view.stats().alerts_kept, view.stats().duplicate_alerts),
            (1, 1)
        );
        view.apply_alert(alert(2, Status::Success, -1));
        view.apply_alert(alert(3, Status::Success, 200_000_000));
        // The critical alert was evicted (oldest); sent again, it is older than both kept
        // ones, so it is neither kept nor a duplicate.
        view.apply_alert(critical);
        let stats = view.stats();
        assert_eq!(
            (
                stats.alerts_applied,
                stats.duplicate_alerts,
                stats.alerts_kept
            ),
            (5, 1, 2)
        );

        let query = |severity: Option<Severity>, source: Option<&str>| AnomalyQuery {
            limit: 10,
            severity,
            source: source.map(str::to_owned),
        };
        let ids = |anomalies: Anomalies| -> Vec<String> {
            anomalies
                .anomalies
                .into_iter()
                .map(|a| a.alert_id)
                .collect()
        };
        assert_eq!(
            ids(view.anomalies(&query(None, None))),
            ["acme:3:103/rules", "acme:2:102/rules"]
        );
        assert_eq!(
            view.anomalies(&query(Some(Severity::Warning), None)).count,
            2
        );
        assert_eq!(
            view.anomalies(&query(Some(Severity::Critical), None)).count,
            0
        );
        assert_eq!(view.anomalies(&query(None, Some("efficy"))).count, 0);
        assert_eq!(
            view.anomalies(&AnomalyQuery {
                limit: 1,
                ..query(None, Some("zoho"))
            })
            .count,
            1
        );
    }

    #[test]
    fn objects_have_their_latest_run_within_max_objects() {
        let view = view_with(AnalyticsConfig {
            max_objects: 2,
            ..AnalyticsConfig::default()
        });
        // Objects 100 + n: runs 0 and 1 tracked, run 2's object beyond the bound.
        for record in [
            processed(1, "zoho", Status::Failed, 1.0, 0, 0.1),
            processed(0, "zoho", Status::Success, 1.0, 0, 0.1),
            processed(2, "zoho", Status::Success, 1.0, 0, 0.1),
        ] {
            view.apply_processed(&json(&record)).unwrap();
        }
        let mut objects: Vec<ObjectSummary> =
            view.with_objects(|all| all.summaries().cloned().collect());
        objects.sort_by_key(|o| o.object_id);
        let figures: Vec<(i64, Status, &str, &str)> = objects
            .iter()
            .map(|o| {
                (
                    o.object_id,
                    o.last_status,
                    o.company.as_str(),
                    o.object_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            figures,
            [
                (100, Status::Success, "acme", "Projects"),
                (101, Status::Failed, "acme", "Projects")
            ]
        );
        assert_eq!(objects[1].last_run_at, base_time() + Duration::minutes(1));
        let stats = view.stats();
        assert_eq!(
            (stats.objects_tracked, stats.records_from_untracked_objects),
            (2, 1)
        );
    }

    #[test]
    fn invalid_config_values_fall_back_to_their_defaults() {
        let view = view_with(AnalyticsConfig {
            quantile_relative_accuracy: 2.0,
            quantile_max_buckets: 0,
            ..AnalyticsConfig::default()
        });
        assert_eq!(view.config(), &AnalyticsConfig::default());
    }
}
