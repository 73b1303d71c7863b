//! Every incident's latest state, as the `incidents` topic holds it: what the API lists and
//! shows, what the commands are checked against, what Alertmanager is told.
//!
//! Fed by a follower of every partition of the topic, so each replica answers for every
//! incident and a restart rebuilds the same view. Bounded: every open or acknowledged
//! incident is kept, and the most recently resolved ones up to `max_resolved`.

use chrono::{DateTime, Utc};
use obs_detector::Severity;
use obs_incidents::{Incident, IncidentStatus};
use obs_kafka::sync::{read, write};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use utoipa::ToSchema;

/// What `GET /incidents` filters on.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    pub status: Option<IncidentStatus>,
    /// Minimum severity.
    pub severity: Option<Severity>,
    pub source: Option<String>,
    pub company: Option<String>,
    pub limit: usize,
}

pub struct IncidentView {
    inner: RwLock<Inner>,
    caught_up: AtomicBool,
    max_resolved: usize,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Incident>,
    /// Resolved incidents by resolution time, oldest first: the first to forget.
    resolved: BTreeSet<(DateTime<Utc>, String)>,
    /// Kept as incidents come and go, so that the gauges cost nothing to read.
    counts: Counts,
}

impl IncidentView {
    pub fn new(max_resolved: usize) -> Self {
        IncidentView {
            inner: RwLock::new(Inner::default()),
            caught_up: AtomicBool::new(false),
            max_resolved,
        }
    }

    /// Takes an incident's state unless the view holds a later version of it.
    pub fn apply(&self, incident: Incident) {
        let mut guard = write(&self.inner);
        let inner = &mut *guard;
        if let Some(held) = inner.by_id.get(&incident.id) {
            if held.version >= incident.version {
                return;
            }
            if let Some(at) = resolved_at(held) {
                inner.resolved.remove(&(at, held.id.clone()));
            }
            inner.counts.count(held, -1);
        }
        if let Some(at) = resolved_at(&incident) {
            inner.resolved.insert((at, incident.id.clone()));
        }
        inner.counts.count(&incident, 1);
        inner.by_id.insert(incident.id.clone(), incident);
        while inner.resolved.len() > self.max_resolved {
            if let Some((_, id)) = inner.resolved.pop_first() {
                if let Some(forgotten) = inner.by_id.remove(&id) {
                    inner.counts.count(&forgotten, -1);
                }
            }
        }
    }

    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    /// Whether the view holds everything committed before the service started.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    pub fn get(&self, id: &str) -> Option<Incident> {
        read(&self.inner).by_id.get(id).cloned()
    }

    /// `take` of every open or acknowledged incident, read under the lock: what a caller
    /// needs of each without copying all of it.
    pub fn active<T>(&self, take: impl Fn(&Incident) -> T) -> Vec<T> {
        read(&self.inner)
            .by_id
            .values()
            .filter(|i| i.status.is_active())
            .map(take)
            .collect()
    }

    /// The incidents that match, worst first: active before resolved, then by severity, then
    /// the latest change first; and how many matched.
    /// `take` of each returned, read under the lock.
    pub fn list<T>(&self, query: &IncidentQuery, take: impl Fn(&Incident) -> T) -> (Vec<T>, usize) {
        let inner = read(&self.inner);
        let mut matched: Vec<&Incident> = inner
            .by_id
            .values()
            .filter(|i| query.status.is_none_or(|s| i.status == s))
            .filter(|i| query.severity.is_none_or(|s| i.severity >= s))
            .filter(|i| query.source.as_ref().is_none_or(|s| &i.scope.source == s))
            .filter(|i| query.company.as_ref().is_none_or(|c| &i.scope.company == c))
            .collect();
        let total = matched.len();
        matched.sort_by(|a, b| {
            b.status
                .is_active()
                .cmp(&a.status.is_active())
                .then(b.severity.cmp(&a.severity))
                .then(b.updated_at.cmp(&a.updated_at))
                .then(a.id.cmp(&b.id))
        });
        let incidents = matched.into_iter().take(query.limit).map(take).collect();
        (incidents, total)
    }

    /// The incidents Alertmanager must hear of: every active one, and those resolved since
    /// `resolved_since`.
    pub fn to_notify(&self, resolved_since: DateTime<Utc>) -> Vec<Incident> {
        read(&self.inner)
            .by_id
            .values()
            .filter(|i| {
                i.status.is_active() || resolved_at(i).is_some_and(|at| at >= resolved_since)
            })
            .cloned()
            .collect()
    }

    /// Active incidents by severity, and incidents held by status.
    pub fn counts(&self) -> Counts {
        read(&self.inner).counts.clone()
    }
}

/// The view's counts (for `/status` and the gauges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// In [`Severity::ALL`] order.
    pub active_by_severity: [u64; Severity::ALL.len()],
    /// In [`IncidentStatus::ALL`] order.
    pub by_status: [u64; IncidentStatus::ALL.len()],
}

/// The view's counts as `/status` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IncidentCounts {
    /// Open and acknowledged incidents, by severity.
    pub active_by_severity: BySeverity,
    pub held_by_status: ByStatus,
}

/// A count per [`Severity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BySeverity {
    pub warning: u64,
    pub critical: u64,
}

/// A count per [`IncidentStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ByStatus {
    pub open: u64,
    pub acknowledged: u64,
    pub resolved: u64,
}

impl Counts {
    /// For `/status`. The arrays are in the order of `Severity::ALL` and
    /// `IncidentStatus::ALL`, which the assertions below pin.
    pub fn report(&self) -> IncidentCounts {
        const _: () = assert!(matches!(
            Severity::ALL,
            [Severity::Warning, Severity::Critical]
        ));
        const _: () = assert!(matches!(
            IncidentStatus::ALL,
            [
                IncidentStatus::Open,
                IncidentStatus::Acknowledged,
                IncidentStatus::Resolved
            ]
        ));
        let [warning, critical] = self.active_by_severity;
        let [open, acknowledged, resolved] = self.by_status;
        IncidentCounts {
            active_by_severity: BySeverity { warning, critical },
            held_by_status: ByStatus {
                open,
                acknowledged,
                resolved,
            },
        }
    }

    /// Adds (`sign` 1) or removes (-1) one incident.
    fn count(&mut self, incident: &Incident, sign: i64) {
        let add = |n: &mut u64| *n = n.saturating_add_signed(sign);
        if incident.status.is_active() {
            if let Some(at) = Severity::ALL.iter().position(|s| *s == incident.severity) {
                add(&mut self.active_by_severity[at]);
            }
        }
        if let Some(at) = IncidentStatus::ALL
            .iter()
            .position(|s| *s == incident.status)
        {
            add(&mut self.by_status[at]);
        }
    }
}

fn resolved_at(incident: &Incident) -> Option<DateTime<Utc>> {
    match incident.status {
        IncidentStatus::Resolved => incident.resolved.as_ref().map(|r| r.at),
        _ => None,
    }
}
