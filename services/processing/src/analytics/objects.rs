//! Each object's (series') latest run and its usual rhythm: what the console's fleet shows
//! per object, so a failing or silent one stands out among the others of its source.

use super::responses::ObjectSummary;
use chrono::{DateTime, Utc};
use obs_records::{FailureKind, Status};
use std::collections::{BTreeSet, HashMap};

/// Weight of the newest interval between two runs in [`ObjectSummary::usual_interval_seconds`]:
/// a few runs at a new rhythm move it, one late run does not.
const INTERVAL_WEIGHT: f64 = 0.2;

/// The fields of one processed run that the per-object figures read.
pub struct ObjectRun<'a> {
    pub series_key: &'a str,
    pub company: &'a str,
    pub source: &'a str,
    pub object_id: i64,
    pub object_type: &'a str,
    pub status: Status,
    pub anomalous: bool,
    pub error_kind: Option<FailureKind>,
    pub start_time: DateTime<Utc>,
}

/// The tracked objects of one source of one company.
pub struct SourceObjects {
    pub company: String,
    pub source: String,
    pub objects: Vec<ObjectSummary>,
}

/// Per-object figures of at most `capacity` objects (the first seen), kept grouped by
/// source: the fleet ranks sources, and grouping them per request would cost a map of every
/// object each time. Runs of further objects are only counted.
pub struct Objects {
    capacity: usize,
    /// Series key → (index in `sources`, index in its `objects`).
    index: HashMap<String, (usize, usize)>,
    source_index: HashMap<(String, String), usize>,
    sources: Vec<SourceObjects>,
    companies: BTreeSet<String>,
    source_names: BTreeSet<String>,
    newest_run_at: Option<DateTime<Utc>>,
    untracked_runs: u64,
}

impl Objects {
    pub fn new(capacity: usize) -> Self {
        Objects {
            capacity,
            index: HashMap::new(),
            source_index: HashMap::new(),
            sources: Vec::new(),
            companies: BTreeSet::new(),
            source_names: BTreeSet::new(),
            newest_run_at: None,
            untracked_runs: 0,
        }
    }

    /// Counts one run; the latest run by start time sets the object's last status, and
    /// each run later than the latest moves its usual interval. A run older than the
    /// latest (partitions interleave during catch-up) is counted only.
    pub fn add(&mut self, run: &ObjectRun<'_>) {
        if self
            .newest_run_at
            .is_none_or(|newest| newest < run.start_time)
        {
            self.newest_run_at = Some(run.start_time);
        }
        let failed = u64::from(run.status == Status::Failed);
        let anomalous = u64::from(run.anomalous);
        if let Some(&(source, at)) = self.index.get(run.series_key) {
            let object = &mut self.sources[source].objects[at];
            object.total_runs += 1;
            object.failed_count += failed;
            object.anomaly_count += anomalous;
            if run.start_time >= object.last_run_at {
                let interval = (run.start_time - object.last_run_at).as_seconds_f64();
                if interval > 0.0 {
                    object.usual_interval_seconds = Some(match object.usual_interval_seconds {
                        Some(usual) => usual + INTERVAL_WEIGHT * (interval - usual),
                        None => interval,
                    });
                }
                object.last_run_at = run.start_time;
                object.last_status = run.status;
                object.last_anomalous = run.anomalous;
                object.last_error_kind = run.error_kind;
            }
            return;
        }
        if self.index.len() >= self.capacity {
            self.untracked_runs += 1;
            return;
        }
        let at = self.insert(ObjectSummary {
            company: run.company.to_owned(),
            source: run.source.to_owned(),
            object_id: run.object_id,
            object_type: run.object_type.to_owned(),
            total_runs: 1,
            failed_count: failed,
            anomaly_count: anomalous,
            last_run_at: run.start_time,
            last_status: run.status,
            last_anomalous: run.anomalous,
            last_error_kind: run.error_kind,
            usual_interval_seconds: None,
        });
        self.index.insert(run.series_key.to_owned(), at);
    }

    /// Files a new object under its source; where it went.
    fn insert(&mut self, object: ObjectSummary) -> (usize, usize) {
        let key = (object.company.clone(), object.source.clone());
        let source = match self.source_index.get(&key) {
            Some(&source) => source,
            None => {
                self.companies.insert(object.company.clone());
                self.source_names.insert(object.source.clone());
                self.sources.push(SourceObjects {
                    company: key.0.clone(),
                    source: key.1.clone(),
                    objects: Vec::new(),
                });
                self.source_index.insert(key, self.sources.len() - 1);
                self.sources.len() - 1
            }
        };
        let objects = &mut self.sources[source].objects;
        objects.push(object);
        (source, objects.len() - 1)
    }

    /// Objects as they would stand after their runs, for the fleet's tests.
    #[cfg(test)]
    pub fn from_summaries(summaries: impl IntoIterator<Item = ObjectSummary>) -> Self {
        let mut objects = Objects::new(usize::MAX);
        for summary in summaries {
            let key = format!(
                "{}:{}:{}",
                summary.company, summary.source, summary.object_id
            );
            let last_run_at = summary.last_run_at;
            let at = objects.insert(summary);
            objects.index.insert(key, at);
            if objects
                .newest_run_at
                .is_none_or(|newest| newest < last_run_at)
            {
                objects.newest_run_at = Some(last_run_at);
            }
        }
        objects
    }

    /// Every source with its tracked objects, in the order first seen.
    pub fn sources(&self) -> &[SourceObjects] {
        &self.sources
    }

    /// Every tracked object, in no particular order.
    pub fn summaries(&self) -> impl Iterator<Item = &ObjectSummary> {
        self.sources.iter().flat_map(|s| s.objects.iter())
    }

    /// The companies and the source names of the tracked objects, sorted.
    pub fn companies(&self) -> &BTreeSet<String> {
        &self.companies
    }

    pub fn source_names(&self) -> &BTreeSet<String> {
        &self.source_names
    }

    /// The latest start of any run counted, tracked object or not.
    pub fn newest_run_at(&self) -> Option<DateTime<Utc>> {
        self.newest_run_at
    }

    /// How many objects are tracked.
    pub fn tracked(&self) -> usize {
        self.index.len()
    }

    /// Runs of objects beyond the capacity.
    pub fn untracked_runs(&self) -> u64 {
        self.untracked_runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 5, 16, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn run(series_key: &str, minutes: i64, status: Status) -> ObjectRun<'_> {
        ObjectRun {
            series_key,
            company: "akonovia",
            source: "efficy",
            object_id: 1014,
            object_type: "contacts",
            status,
            anomalous: status == Status::Failed,
            error_kind: (status == Status::Failed).then_some(FailureKind::Timeout),
            start_time: at(minutes),
        }
    }

    fn only(objects: &Objects) -> ObjectSummary {
        let mut all: Vec<ObjectSummary> = objects.summaries().cloned().collect();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn the_latest_run_sets_the_status_and_the_intervals_the_rhythm() {
        let mut objects = Objects::new(10);
        objects.add(&run("k", 0, Status::Success));
        assert_eq!(only(&objects).usual_interval_seconds, None, "one run");
        objects.add(&run("k", 60, Status::Success));
        assert_eq!(only(&objects).usual_interval_seconds, Some(3600.0));
        objects.add(&run("k", 150, Status::Failed));
        let object = only(&objects);
        // 3600 + 0.2 × (5400 − 3600)
        assert_eq!(object.usual_interval_seconds, Some(3960.0));
        assert_eq!(object.last_run_at, at(150));
        assert_eq!(object.last_status, Status::Failed);
        assert!(object.last_anomalous);
        assert_eq!(object.last_error_kind, Some(FailureKind::Timeout));
        assert_eq!(
            (object.total_runs, object.failed_count, object.anomaly_count),
            (3, 1, 1)
        );
        assert_eq!(
            (object.company.as_str(), object.source.as_str()),
            ("akonovia", "efficy")
        );
    }

    #[test]
    fn an_older_run_is_counted_but_changes_neither_status_nor_rhythm() {
        let mut objects = Objects::new(10);
        objects.add(&run("k", 60, Status::Success));
        objects.add(&run("k", 0, Status::Failed));
        objects.add(&run("k", 60, Status::Success));
        let object = only(&objects);
        assert_eq!(object.last_status, Status::Success);
        assert_eq!(object.last_run_at, at(60));
        assert_eq!(object.usual_interval_seconds, None, "no later run yet");
        assert_eq!((object.total_runs, object.failed_count), (3, 1));
    }

    #[test]
    fn objects_beyond_the_capacity_are_counted_only() {
        let mut objects = Objects::new(2);
        for key in ["a", "b", "c", "a", "d"] {
            objects.add(&run(key, 0, Status::Success));
        }
        assert_eq!(objects.tracked(), 2);
        assert_eq!(objects.untracked_runs(), 2);
        let mut keys: Vec<u64> = objects.summaries().map(|o| o.total_runs).collect();
        keys.sort_unstable();
        assert_eq!(keys, [1, 2]);
    }

    #[test]
    fn objects_are_grouped_by_source_with_the_names_for_the_filters() {
        let mut objects = Objects::new(10);
        let mut other = run("b", 30, Status::Success);
        other.source = "zoho";
        objects.add(&run("a", 0, Status::Success));
        objects.add(&other);
        let mut third = run("c", 10, Status::Failed);
        third.company = "globex";
        objects.add(&third);
        objects.add(&run("d", 20, Status::Success));
        let groups: Vec<(&str, &str, usize)> = objects
            .sources()
            .iter()
            .map(|s| (s.company.as_str(), s.source.as_str(), s.objects.len()))
            .collect();
        assert_eq!(
            groups,
            [
                ("akonovia", "efficy", 2),
                ("akonovia", "zoho", 1),
                ("globex", "efficy", 1)
            ]
        );
        assert_eq!(
            objects.companies().iter().collect::<Vec<_>>(),
            ["akonovia", "globex"]
        );
        assert_eq!(
            objects.source_names().iter().collect::<Vec<_>>(),
            ["efficy", "zoho"]
        );
        assert_eq!(objects.newest_run_at(), Some(at(30)));
        assert_eq!(objects.summaries().count(), 4);
    }
}
