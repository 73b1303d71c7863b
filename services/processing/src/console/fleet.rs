//! The fleet: one tile per source of a company and, within it, per object, worst first, so
//! that what is failing, silent or abnormal now is what an operator sees first.
//!
//! Freshness is measured in event time, from the newest run of the whole fleet: replayed
//! or delayed data then looks as it did when it ran, and a source that stopped while the
//! others go on stands out. (Whether the whole fleet went quiet is the wall clock's
//! question; the page shows the newest run's age for that.)

use crate::analytics::{ObjectSummary, Objects, SourceObjects};
use chrono::{DateTime, Utc};
use obs_detector::Severity;
use obs_incidents::{Incident, IncidentStatus};
use obs_records::{FailureKind, Status};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How an object or a source is doing, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    /// The latest run succeeded but was anomalous (rules or detectors).
    Anomalous,
    /// No run for longer than `silent_after_intervals` of its usual interval.
    Silent,
    /// The latest run failed.
    Failing,
}

/// What the fleet shows: filters and how many objects per source.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetQuery {
    pub company: Option<String>,
    pub source: Option<String>,
    pub objects_per_source: usize,
    /// Most tiles answered, the worst: a fleet of thousands of sources is read through
    /// its worst ones and the filters, not all at once.
    pub tiles: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetReport {
    /// The newest run start of the fleet, from which freshness is measured.
    pub newest_run_at: Option<DateTime<Utc>>,
    /// Every company and source, for the filters.
    pub companies: Vec<String>,
    pub sources: Vec<String>,
    /// The tiles that match the filters, worst first, at most the query's `tiles`.
    pub tiles: Vec<SourceTile>,
    /// Tiles that match the filters but were not answered.
    pub tiles_not_shown: usize,
}

/// One source of one company.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceTile {
    pub company: String,
    pub source: String,
    /// The worst of its objects.
    pub health: Health,
    pub objects_total: usize,
    pub objects_by_health: BTreeMap<Health, usize>,
    pub total_runs: u64,
    pub failed_count: u64,
    pub failure_rate: f64,
    pub last_run_at: DateTime<Utc>,
    pub since_last_run_seconds: f64,
    /// The median of its objects' usual intervals.
    pub usual_interval_seconds: Option<f64>,
    /// Its open and acknowledged incidents, worst first.
    pub incidents: Vec<IncidentRef>,
    /// Worst first, at most `objects_per_source`.
    pub objects: Vec<ObjectTile>,
    pub objects_not_shown: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectTile {
    pub object_id: i64,
    pub object_type: String,
    pub health: Health,
    pub last_run_at: DateTime<Utc>,
    pub last_status: Status,
    pub last_error_kind: Option<FailureKind>,
    pub total_runs: u64,
    pub failed_count: u64,
    pub failure_rate: f64,
    pub since_last_run_seconds: f64,
    pub usual_interval_seconds: Option<f64>,
    /// Active incidents that name this object.
    pub open_incidents: usize,
}

/// An active incident, as a tile links to it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentRef {
    pub id: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub title: String,
}

/// What the fleet reads of an active incident: taken from the incident view under its
/// lock, instead of a copy of each incident with its evidence (alerts, runs, timeline).
#[derive(Debug, Clone)]
pub struct ActiveIncident {
    pub company: String,
    pub source: String,
    pub object_id: Option<i64>,
    /// Sorted, as [`Incident::objects`].
    pub objects: Vec<i64>,
    pub reference: IncidentRef,
}

impl From<&Incident> for ActiveIncident {
    fn from(incident: &Incident) -> Self {
        ActiveIncident {
            company: incident.scope.company.clone(),
            source: incident.scope.source.clone(),
            object_id: incident.scope.object_id,
            objects: incident.objects.clone(),
            reference: IncidentRef {
                id: incident.id.clone(),
                severity: incident.severity,
                status: incident.status,
                title: incident.title.clone(),
            },
        }
    }
}

/// The fleet of `objects`, with the `active` incidents (open or acknowledged) of each.
pub fn fleet(
    objects: &Objects,
    active: &[ActiveIncident],
    query: &FleetQuery,
    silent_after_intervals: f64,
) -> FleetReport {
    let newest_run_at = objects.newest_run_at();
    let newest = newest_run_at.unwrap_or_default();
    let mut incidents_of: HashMap<(&str, &str), Vec<&ActiveIncident>> = HashMap::new();
    for incident in active {
        incidents_of
            .entry((&incident.company, &incident.source))
            .or_default()
            .push(incident);
    }
    // Ranked first on what orders them, so that only the tiles answered are built.
    let mut ranked: Vec<Ranked> = objects
        .sources()
        .iter()
        .filter(|s| {
            !s.objects.is_empty()
                && matches(query.company.as_deref(), &s.company)
                && matches(query.source.as_deref(), &s.source)
        })
        .map(|s| {
            let incidents: Vec<&ActiveIncident> = incidents_of
                .get(&(s.company.as_str(), s.source.as_str()))
                .cloned()
                .unwrap_or_default();
            Ranked::new(s, incidents, newest, silent_after_intervals)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.key
            .cmp(&a.key)
            .then(b.failure_rate.total_cmp(&a.failure_rate))
            .then_with(|| {
                (&a.source.company, &a.source.source).cmp(&(&b.source.company, &b.source.source))
            })
    });
    let tiles_not_shown = ranked.len().saturating_sub(query.tiles);
    ranked.truncate(query.tiles);
    let tiles = ranked
        .into_iter()
        .map(|r| {
            source_tile(
                r.source,
                &r.incidents,
                newest,
                silent_after_intervals,
                query.objects_per_source,
            )
        })
        .collect();
    FleetReport {
        newest_run_at,
        companies: objects.companies().iter().cloned().collect(),
        sources: objects.source_names().iter().cloned().collect(),
        tiles,
        tiles_not_shown,
    }
}

/// A source tile before it is built: what orders the tiles, worst first.
struct Ranked<'a> {
    source: &'a SourceObjects,
    incidents: Vec<&'a ActiveIncident>,
    /// The tile's health, its worst incident's severity, its incidents, its failing
    /// objects (none: `None`, as [`SourceTile::objects_by_health`] counts them).
    key: (Health, Option<Severity>, usize, Option<usize>),
    failure_rate: f64,
}

impl<'a> Ranked<'a> {
    fn new(
        source: &'a SourceObjects,
        incidents: Vec<&'a ActiveIncident>,
        newest: DateTime<Utc>,
        silent_after_intervals: f64,
    ) -> Self {
        let objects = &source.objects;
        let healths = objects
            .iter()
            .map(|o| health(o, newest, silent_after_intervals));
        let (worst, failing) = healths.fold((Health::Ok, 0), |(worst, failing), h| {
            (worst.max(h), failing + usize::from(h == Health::Failing))
        });
        let total_runs = objects.iter().map(|o| o.total_runs).sum();
        let failed_count = objects.iter().map(|o| o.failed_count).sum();
        Ranked {
            source,
            key: (
                worst,
                incidents.iter().map(|i| i.reference.severity).max(),
                incidents.len(),
                (failing > 0).then_some(failing),
            ),
            failure_rate: rate(failed_count, total_runs),
            incidents,
        }
    }
}

fn source_tile(
    source: &SourceObjects,
    incidents: &[&ActiveIncident],
    newest: DateTime<Utc>,
    silent_after_intervals: f64,
    objects_per_source: usize,
) -> SourceTile {
    let mut tiles: Vec<ObjectTile> = source
        .objects
        .iter()
        .map(|o| object_tile(o, incidents, newest, silent_after_intervals))
        .collect();
    tiles.sort_by(|a, b| {
        (b.health, b.open_incidents)
            .cmp(&(a.health, a.open_incidents))
            .then(b.failure_rate.total_cmp(&a.failure_rate))
            .then(a.object_id.cmp(&b.object_id))
    });
    let mut objects_by_health = BTreeMap::new();
    for tile in &tiles {
        *objects_by_health.entry(tile.health).or_insert(0) += 1;
    }
    let total_runs = tiles.iter().map(|t| t.total_runs).sum();
    let failed_count = tiles.iter().map(|t| t.failed_count).sum();
    let last_run_at = tiles.iter().map(|t| t.last_run_at).max().unwrap_or(newest);
    let mut intervals: Vec<f64> = tiles
        .iter()
        .filter_map(|t| t.usual_interval_seconds)
        .collect();
    intervals.sort_by(f64::total_cmp);
    let mut incident_refs: Vec<IncidentRef> =
        incidents.iter().map(|i| i.reference.clone()).collect();
    incident_refs.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    let objects_total = tiles.len();
    let objects_not_shown = objects_total.saturating_sub(objects_per_source);
    tiles.truncate(objects_per_source);
    SourceTile {
        company: source.company.clone(),
        source: source.source.clone(),
        health: tiles.first().map_or(Health::Ok, |t| t.health),
        objects_total,
        objects_by_health,
        total_runs,
        failed_count,
        failure_rate: rate(failed_count, total_runs),
        last_run_at,
        since_last_run_seconds: seconds_between(last_run_at, newest),
        usual_interval_seconds: intervals.get(intervals.len() / 2).copied(),
        incidents: incident_refs,
        objects: tiles,
        objects_not_shown,
    }
}

fn object_tile(
    object: &ObjectSummary,
    incidents: &[&ActiveIncident],
    newest: DateTime<Utc>,
    silent_after_intervals: f64,
) -> ObjectTile {
    let since = seconds_between(object.last_run_at, newest);
    let health = health(object, newest, silent_after_intervals);
    let open_incidents = incidents
        .iter()
        .filter(|i| {
            i.object_id == Some(object.object_id)
                || i.objects.binary_search(&object.object_id).is_ok()
        })
        .count();
    ObjectTile {
        object_id: object.object_id,
        object_type: object.object_type.clone(),
        health,
        last_run_at: object.last_run_at,
        last_status: object.last_status,
        last_error_kind: object.last_error_kind,
        total_runs: object.total_runs,
        failed_count: object.failed_count,
        failure_rate: rate(object.failed_count, object.total_runs),
        since_last_run_seconds: since,
        usual_interval_seconds: object.usual_interval_seconds,
        open_incidents,
    }
}

/// Failing (its latest run failed), silent (no run for `silent_after_intervals` of its
/// usual interval before the newest run of the fleet), anomalous, or ok.
fn health(object: &ObjectSummary, newest: DateTime<Utc>, silent_after_intervals: f64) -> Health {
    let since = seconds_between(object.last_run_at, newest);
    let silent = object
        .usual_interval_seconds
        .is_some_and(|usual| since > silent_after_intervals * usual);
    if object.last_status == Status::Failed {
        Health::Failing
    } else if silent {
        Health::Silent
    } else if object.last_anomalous {
        Health::Anomalous
    } else {
        Health::Ok
    }
}

fn matches(wanted: Option<&str>, value: &str) -> bool {
    wanted.is_none_or(|w| w.eq_ignore_ascii_case(value))
}

fn rate(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

fn seconds_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    (later - earlier).as_seconds_f64().max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use obs_incidents::{Scope, ScopeKind};

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 5, 16, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    /// An object of `source` (company `acme`) that last ran `minutes` after 16:00, hourly.
    fn object(source: &str, id: i64, minutes: i64, status: Status) -> ObjectSummary {
        ObjectSummary {
            company: "acme".into(),
            source: source.into(),
            object_id: id,
            object_type: "projects".into(),
            total_runs: 10,
            failed_count: u64::from(status == Status::Failed),
            anomaly_count: 0,
            last_run_at: at(minutes),
            last_status: status,
            last_anomalous: status == Status::Failed,
            last_error_kind: None,
            usual_interval_seconds: Some(3600.0),
        }
    }

    fn incident(source: &str, objects: Vec<i64>, severity: Severity) -> Incident {
        let json = serde_json::json!({
            "id": format!("inc-{source}"),
            "schema_version": "incident-v1",
            "status": "open",
            "scope": {"kind": "source", "company": "acme", "source": source,
                      "series_key": null, "object_id": null, "object_type": null},
            "severity": severity,
            "title": format!("{source} failing"),
            "summary": "",
            "opened_at": "2025-09-05T16:00:00Z",
            "first_run_at": "2025-09-05T16:00:00Z",
            "active_since": "2025-09-05T16:00:00Z",
            "last_alert_at": "2025-09-05T16:00:00Z",
            "updated_at": "2025-09-05T16:00:00Z",
            "stream_time": "2025-09-05T16:00:00Z",
            "acknowledged": null,
            "resolved": null,
            "reopened": 0,
            "alerts_total": 1,
            "alerts": [],
            "runs": [],
            "objects": objects,
            "series": [],
            "timeline": [],
            "merged_into": null,
            "command_ids": [],
            "version": 1,
        });
        let incident: Incident = serde_json::from_value(json).unwrap();
        assert_eq!(
            incident.scope,
            Scope {
                kind: ScopeKind::Source,
                company: "acme".into(),
                source: source.into(),
                series_key: None,
                object_id: None,
                object_type: None,
            }
        );
        incident
    }

    fn refs(objects: &[ObjectSummary]) -> Objects {
        Objects::from_summaries(objects.iter().cloned())
    }

    fn everything() -> FleetQuery {
        FleetQuery {
            company: None,
            source: None,
            objects_per_source: 100,
            tiles: 100,
        }
    }

    fn order(report: &FleetReport) -> Vec<(&str, Health)> {
        report
            .tiles
            .iter()
            .map(|t| (t.source.as_str(), t.health))
            .collect()
    }

    #[test]
    fn worst_first_failing_then_silent_then_anomalous_then_ok() {
        let mut anomalous = object("powerbi", 3, 600, Status::Success);
        anomalous.last_anomalous = true;
        let objects = vec![
            object("zoho", 1, 600, Status::Success),
            // Last ran 4 h before the newest run, hourly: silent.
            object("sharepoint", 2, 360, Status::Success),
            anomalous,
            object("efficy", 4, 600, Status::Failed),
            object("efficy", 5, 600, Status::Success),
        ];
        let report = fleet(&refs(&objects), &[], &everything(), 3.0);
        assert_eq!(
            order(&report),
            [
                ("efficy", Health::Failing),
                ("sharepoint", Health::Silent),
                ("powerbi", Health::Anomalous),
                ("zoho", Health::Ok),
            ]
        );
        assert_eq!(report.newest_run_at, Some(at(600)));
        let efficy = &report.tiles[0];
        assert_eq!(
            efficy
                .objects
                .iter()
                .map(|o| o.object_id)
                .collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(efficy.objects_by_health.get(&Health::Failing), Some(&1));
        assert_eq!(efficy.objects_by_health.get(&Health::Ok), Some(&1));
        assert_eq!((efficy.total_runs, efficy.failed_count), (20, 1));
        assert!((efficy.failure_rate - 0.05).abs() < 1e-12);
        let silent = &report.tiles[1];
        assert_eq!(silent.since_last_run_seconds, 4.0 * 3600.0);
        assert_eq!(silent.usual_interval_seconds, Some(3600.0));
        assert_eq!(report.sources, ["efficy", "powerbi", "sharepoint", "zoho"]);
        assert_eq!(report.companies, ["acme"]);
    }

    #[test]
    fn two_intervals_late_is_not_silent_at_three() {
        let objects = vec![
            object("zoho", 1, 600, Status::Success),
            object("sharepoint", 2, 480, Status::Success),
        ];
        let report = fleet(&refs(&objects), &[], &everything(), 3.0);
        assert!(report.tiles.iter().all(|t| t.health == Health::Ok));
    }

    #[test]
    fn incidents_break_ties_and_are_counted_on_their_objects() {
        let objects = vec![
            object("zoho", 1, 600, Status::Failed),
            object("efficy", 2, 600, Status::Failed),
            object("efficy", 3, 600, Status::Success),
        ];
        let incidents = [
            ActiveIncident::from(&incident("efficy", vec![2, 3], Severity::Critical)),
            ActiveIncident::from(&incident("other", vec![1], Severity::Critical)),
        ];
        let report = fleet(&refs(&objects), &incidents, &everything(), 3.0);
        assert_eq!(
            order(&report),
            [("efficy", Health::Failing), ("zoho", Health::Failing)]
        );
        let efficy = &report.tiles[0];
        assert_eq!(efficy.incidents.len(), 1);
        assert_eq!(efficy.incidents[0].id, "inc-efficy");
        let open: Vec<(i64, usize)> = efficy
            .objects
            .iter()
            .map(|o| (o.object_id, o.open_incidents))
            .collect();
        assert_eq!(open, [(2, 1), (3, 1)]);
        assert!(report.tiles[1].incidents.is_empty(), "another source's");
    }

    #[test]
    fn filters_and_the_objects_shown() {
        let mut objects: Vec<ObjectSummary> = (0..5)
            .map(|id| object("zoho", id, 600, Status::Success))
            .collect();
        let mut other = object("zoho", 9, 600, Status::Failed);
        other.company = "globex".into();
        objects.push(other);
        let query = FleetQuery {
            company: Some("ACME".into()),
            source: Some("zoho".into()),
            objects_per_source: 2,
            tiles: 100,
        };
        let report = fleet(&refs(&objects), &[], &query, 3.0);
        assert_eq!(report.tiles.len(), 1);
        let tile = &report.tiles[0];
        assert_eq!((tile.company.as_str(), tile.health), ("acme", Health::Ok));
        assert_eq!((tile.objects_total, tile.objects.len()), (5, 2));
        assert_eq!(tile.objects_not_shown, 3);
        assert_eq!(
            report.companies,
            ["acme", "globex"],
            "the filters list everything"
        );
    }

    #[test]
    fn the_worst_tiles_are_answered_and_the_others_counted() {
        let objects = vec![
            object("zoho", 1, 600, Status::Success),
            object("efficy", 2, 600, Status::Failed),
            object("powerbi", 3, 600, Status::Success),
        ];
        let query = FleetQuery {
            tiles: 1,
            ..everything()
        };
        let report = fleet(&refs(&objects), &[], &query, 3.0);
        assert_eq!(order(&report), [("efficy", Health::Failing)]);
        assert_eq!(report.tiles_not_shown, 2);
        assert_eq!(report.sources, ["efficy", "powerbi", "zoho"]);
    }

    #[test]
    fn an_empty_fleet_has_no_tiles() {
        let report = fleet(&refs(&[]), &[], &everything(), 3.0);
        assert!(report.tiles.is_empty());
        assert_eq!(report.newest_run_at, None);
    }
}
