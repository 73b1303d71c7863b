//! The incident book: which incident each signal goes to, the automatic resolutions, the
//! bound; and its rebuilding from the `incidents` topic.

use crate::change::{Applied, Change, Touched, Transition};
use crate::config::IncidentConfig;
use crate::error::IncidentError;
use crate::incident::{incident_id, Incident, ResolveReason, ScopeKind};
use crate::lifecycle::{check_command, Moment};
use crate::signal::{scope_key, Action, Command, RunSummary, Signal};
use crate::text::describe;
use chrono::{DateTime, Utc};
use obs_detector::processed::Alert;
use std::collections::{BTreeMap, BTreeSet};

/// Incident ids ordered by a time.
type TimeIndex = BTreeSet<(DateTime<Utc>, String)>;

/// Incident ids by [`scope_key`].
type ScopeIndex = BTreeMap<String, BTreeSet<String>>;

/// Incident ids by [`scope_key`], each scope's ordered by a time.
type ScopeTimeIndex = BTreeMap<String, TimeIndex>;

/// The incidents of the scopes a processing stage serves. Everything but `incidents` is an
/// index rebuilt from them, so [`IncidentBook::restore`] of every incident is enough to
/// continue.
#[derive(Debug, Clone)]
pub struct IncidentBook {
    config: IncidentConfig,
    incidents: BTreeMap<String, Incident>,
    /// Ids of the open and acknowledged incidents of each [`scope_key`]: what every
    /// signal looks up.
    active_by_scope: ScopeIndex,
    /// Ids of the resolved incidents of each [`scope_key`] by their last moment, the
    /// later of their resolution and their latest alert: what opening one looks up, from
    /// the start of the windows it asks about instead of over every resolved incident.
    resolved_by_scope: ScopeTimeIndex,
    /// Resolved incidents by resolution (stream time): the first are forgotten first.
    resolved_by_time: TimeIndex,
    /// Per [`scope_key`], the latest run end time among the signals that changed one of
    /// its incidents. Each scope has its own clock, so what happens to a scope depends on
    /// its signals only, never on which other scopes (partitions) this book serves.
    stream_time: BTreeMap<String, DateTime<Utc>>,
}

impl IncidentBook {
    /// An empty book; `config` should have been validated.
    pub fn new(config: IncidentConfig) -> Self {
        IncidentBook {
            config,
            incidents: BTreeMap::new(),
            active_by_scope: ScopeIndex::new(),
            resolved_by_scope: ScopeTimeIndex::new(),
            resolved_by_time: TimeIndex::new(),
            stream_time: BTreeMap::new(),
        }
    }

    /// Rebuild: put back an incident read from the `incidents` topic (the latest version
    /// wins). Resolved incidents beyond the bound are forgotten as by [`Self::apply`].
    pub fn restore(&mut self, incident: Incident) {
        if self
            .incidents
            .get(&incident.id)
            .is_some_and(|held| held.version >= incident.version)
        {
            return;
        }
        self.take(&incident.id);
        let scope = incident.scope.key();
        let clock = self
            .stream_time
            .entry(scope.clone())
            .or_insert(incident.stream_time);
        *clock = (*clock).max(incident.stream_time);
        self.put(incident);
        // Read back from the topic already: nothing to hand out.
        drop(self.forget_settled(&scope));
        drop(self.forget_beyond_bound());
    }

    pub fn clear(&mut self) {
        *self = IncidentBook::new(self.config.clone());
    }

    /// Applies one signal; returns the incidents it changed (version bumped), each with
    /// what happened to it, in the order they were first changed, and what the bound made
    /// the book forget.
    pub fn apply(&mut self, signal: &Signal) -> Result<Applied, IncidentError> {
        let mut touched = Touched::default();
        let (scope, now) = match signal {
            Signal::Alerted { run, alerts } => {
                let Some((first, rest)) = alerts.split_first() else {
                    return Err(IncidentError::NoAlerts {
                        record_id: run.record_id.clone(),
                    });
                };
                let (scope, moment) = self.moment_of(run);
                self.alerted(run, (first, rest), moment, &mut touched);
                self.resolve_quiet(&scope, moment, &mut touched);
                (scope, moment.stream_time)
            }
            Signal::Normal { run } => {
                let (scope, moment) = self.moment_of(run);
                self.normal(run, moment, &mut touched);
                self.resolve_quiet(&scope, moment, &mut touched);
                (scope, moment.stream_time)
            }
            Signal::Command(command) => self.command(command, &mut touched)?,
        };
        Ok(self.finish(touched, scope, now))
    }

    pub fn get(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id)
    }

    /// Each incident `applied` changed in its state now, with what happened to it: from
    /// the book, or from what it forgot. Right after [`Self::apply`] that is the state the
    /// signal left.
    pub fn changed<'a>(
        &'a self,
        applied: &'a Applied,
    ) -> impl Iterator<Item = (&'a Incident, Transition)> + 'a {
        applied.changes.iter().filter_map(move |change| {
            self.get(&change.id)
                .or_else(|| applied.forgotten.iter().find(|f| f.id == change.id))
                .map(|incident| (incident, change.transition))
        })
    }

    /// Every incident held, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    pub fn len(&self) -> usize {
        self.incidents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty()
    }

    /// The scope of `run`, and its signal's moment: its processing time, and its scope's
    /// stream time moved to its end if later.
    fn moment_of(&self, run: &RunSummary) -> (String, Moment) {
        let scope = scope_key(&run.company, &run.source);
        let moment = Moment {
            at: run.processed_at,
            stream_time: self
                .stream_time
                .get(&scope)
                .map_or(run.end_time, |t| (*t).max(run.end_time)),
        };
        (scope, moment)
    }

    /// The grouping rules, in order: the source-wide incident, the series incident, a
    /// new (or reopened) source-wide incident when enough objects alert together, the
    /// series incident reopened, a new series incident.
    fn alerted(
        &mut self,
        run: &RunSummary,
        alerts: (&Alert, &[Alert]),
        moment: Moment,
        touched: &mut Touched,
    ) {
        let scope = scope_key(&run.company, &run.source);
        let active = self
            .active_of(&scope, ScopeKind::Source, None)
            .or_else(|| self.active_of(&scope, ScopeKind::Series, Some(&run.series_key)));
        if let Some(id) = active {
            let escalated = self.modify(&id, |incident, config| {
                incident.alerted(run, alerts, moment, config)
            });
            let transition = if escalated == Some(true) {
                Transition::Escalated
            } else {
                Transition::Updated
            };
            touched.mark(&id, transition);
        } else if self.alerting_objects(&scope, run) >= self.config.source_wide_objects {
            let Some(source_id) =
                self.open_or_reopen(&scope, ScopeKind::Source, run, alerts, moment, touched)
            else {
                return;
            };
            for merged_id in self.mergeable(&scope, run.end_time) {
                self.merge(&merged_id, &source_id, moment);
                touched.mark(&merged_id, Transition::Resolved);
            }
        } else {
            self.open_or_reopen(&scope, ScopeKind::Series, run, alerts, moment, touched);
        }
    }

    /// Reopens the incident of this scope resolved within `reopen_within`, or opens a new
    /// one; its id, or `None` when the new id is taken (the signal was applied already).
    fn open_or_reopen(
        &mut self,
        scope: &str,
        kind: ScopeKind,
        run: &RunSummary,
        alerts: (&Alert, &[Alert]),
        moment: Moment,
        touched: &mut Touched,
    ) -> Option<String> {
        let series_key = (kind == ScopeKind::Series).then_some(run.series_key.as_str());
        if let Some(id) = self.reopenable(scope, kind, series_key, moment.stream_time) {
            self.modify(&id, |incident, config| {
                incident.reopen(run, alerts, moment, config)
            });
            touched.mark(&id, Transition::Reopened);
            return Some(id);
        }
        let id = incident_id(&alerts.0.alert_id);
        if self.incidents.contains_key(&id) {
            return None;
        }
        self.put(Incident::open(
            id.clone(),
            kind,
            run,
            alerts,
            moment,
            &self.config,
        ));
        touched.mark(&id, Transition::Opened);
        Some(id)
    }

    /// The open or acknowledged incident of `kind` in `scope` (of the series, for a series
    /// incident).
    fn active_of(&self, scope: &str, kind: ScopeKind, series_key: Option<&str>) -> Option<String> {
        self.active_in(scope)
            .find(|incident| {
                incident.scope.kind == kind && incident.scope.series_key.as_deref() == series_key
            })
            .map(|incident| incident.id.clone())
    }

    /// The latest incident of `kind` in `scope` resolved less than `reopen_within` before
    /// `now`, unless it was merged into another.
    fn reopenable(
        &self,
        scope: &str,
        kind: ScopeKind,
        series_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let within = self.config.reopen_within();
        self.resolved_since(scope, since(now, within))
            .filter(|incident| {
                incident.scope.kind == kind && incident.scope.series_key.as_deref() == series_key
            })
            .filter_map(|incident| {
                let resolution = incident.resolved.as_ref()?;
                (resolution.reason != ResolveReason::Merged
                    && now - resolution.stream_time < within)
                    .then_some((resolution.stream_time, &incident.id))
            })
            .max()
            .map(|(_, id)| id.clone())
    }

    /// Distinct objects of `scope` whose latest alert ended within the source-wide window
    /// before `run` (or after it), `run`'s own included.
    fn alerting_objects(&self, scope: &str, run: &RunSummary) -> usize {
        let window = self.config.window();
        let recent = |time: DateTime<Utc>| run.end_time - time <= window;
        let mut objects = BTreeSet::from([run.object_id]);
        let incidents = self
            .active_in(scope)
            .chain(self.resolved_since(scope, since(run.end_time, window)));
        for incident in incidents {
            if recent(incident.last_alert_at) {
                objects.extend(
                    incident
                        .series
                        .iter()
                        .filter(|p| recent(p.last_alert_at))
                        .map(|p| p.object_id),
                );
            }
        }
        objects.len()
    }

    /// The open or acknowledged series incidents of `scope` (re)opened within the
    /// source-wide window before `end_time`, oldest first.
    fn mergeable(&self, scope: &str, end_time: DateTime<Utc>) -> Vec<String> {
        let window = self.config.window();
        let mut mergeable: Vec<_> = self
            .active_in(scope)
            .filter(|incident| {
                incident.scope.kind == ScopeKind::Series
                    && end_time - incident.active_since <= window
            })
            .map(|incident| (incident.active_since, incident.id.clone()))
            .collect();
        mergeable.sort();
        mergeable.into_iter().map(|(_, id)| id).collect()
    }

    fn merge(&mut self, merged_id: &str, into: &str, moment: Moment) {
        let Some(merged) = self.modify(merged_id, |incident, config| {
            incident.merge_into(into, moment, config);
            incident.clone()
        }) else {
            return;
        };
        self.modify(into, |incident, config| {
            incident.absorb(&merged, moment, config)
        });
    }

    /// Counts a normal run in every open or acknowledged incident tracking its object;
    /// those whose objects have all recovered are resolved.
    fn normal(&mut self, run: &RunSummary, moment: Moment, touched: &mut Touched) {
        let scope = scope_key(&run.company, &run.source);
        let holding: Vec<String> = self
            .active_in(&scope)
            .filter(|incident| incident.series.iter().any(|p| p.object_id == run.object_id))
            .map(|incident| incident.id.clone())
            .collect();
        for id in holding {
            match self.modify(&id, |incident, config| {
                incident.normal_run(run, moment, config)
            }) {
                Some(Some(true)) => touched.mark(&id, Transition::Resolved),
                Some(Some(false)) => touched.mark(&id, Transition::Updated),
                _ => {}
            }
        }
    }

    /// Resolves every open or acknowledged incident whose latest alert is more than the
    /// quiet period before the stream time.
    fn resolve_quiet(&mut self, scope: &str, moment: Moment, touched: &mut Touched) {
        let quiet = self.config.quiet_period();
        let due: Vec<String> = self
            .active_by_scope
            .get(scope)
            .into_iter()
            .flatten()
            .filter(|id| {
                self.incidents
                    .get(*id)
                    .is_some_and(|i| moment.stream_time - i.last_alert_at > quiet)
            })
            .cloned()
            .collect();
        for id in due {
            self.modify(&id, |incident, config| {
                incident.resolve(ResolveReason::Quiet, None, None, moment, config)
            });
            touched.mark(&id, Transition::Resolved);
        }
    }

    /// An operator's command; a command id the incident has seen changes nothing. Gives
    /// the stream time, which commands do not move.
    fn command(
        &mut self,
        command: &Command,
        touched: &mut Touched,
    ) -> Result<(String, DateTime<Utc>), IncidentError> {
        let incident = self.incidents.get(&command.incident_id).ok_or_else(|| {
            IncidentError::UnknownIncident {
                incident_id: command.incident_id.clone(),
            }
        })?;
        let scope = incident.scope.key();
        let now = self
            .stream_time
            .get(&scope)
            .map_or(incident.stream_time, |t| (*t).max(incident.stream_time));
        if incident.command_ids.contains(&command.command_id) {
            return Ok((scope, now));
        }
        check_command(incident, command.action)?;
        let moment = Moment {
            at: command.at,
            stream_time: now,
        };
        self.modify(&command.incident_id, |incident, config| {
            incident.command(command, moment, config)
        });
        let transition = match command.action {
            Action::Acknowledge => Transition::Acknowledged,
            Action::Resolve => Transition::Resolved,
        };
        touched.mark(&command.incident_id, transition);
        Ok((scope, now))
    }

    /// Stamps the changed incidents (version, stream time, title and summary), hands
    /// them out, then forgets what the bound requires.
    fn finish(&mut self, touched: Touched, scope: String, now: DateTime<Utc>) -> Applied {
        if touched.is_empty() {
            return Applied::default();
        }
        self.stream_time.insert(scope.clone(), now);
        let changes = touched
            .into_inner()
            .into_iter()
            .filter_map(|(id, transition)| {
                let incident = self.incidents.get_mut(&id)?;
                incident.version += 1;
                incident.stream_time = now;
                describe(incident);
                Some(Change { id, transition })
            })
            .collect();
        let mut forgotten = self.forget_settled(&scope);
        forgotten.extend(self.forget_beyond_bound());
        Applied { changes, forgotten }
    }

    /// Forgets the resolved incidents of `scope` that no signal can bring back into play:
    /// last resolved or alerted more than `reopen_within` plus the source-wide window
    /// before the scope's stream time. A reopening looks back `reopen_within` from that
    /// clock, which never goes back, and the count of alerting objects a window from the
    /// run's end, so only a run later than `reopen_within` behind its scope's clock could
    /// have counted one of them. Without this, a book holds `max_incidents` incidents
    /// with their evidence once enough have been resolved, however long ago. The clock
    /// is in every incident, so a restored book forgets the same ones.
    fn forget_settled(&mut self, scope: &str) -> Vec<Incident> {
        let Some(clock) = self.stream_time.get(scope) else {
            return Vec::new();
        };
        let cutoff = (since(*clock, self.config.settled_after()), String::new());
        let settled: Vec<String> = self
            .resolved_by_scope
            .get(scope)
            .into_iter()
            .flat_map(|ids| ids.range(..&cutoff))
            .map(|(_, id)| id.clone())
            .collect();
        settled.iter().filter_map(|id| self.take(id)).collect()
    }

    /// Forgets resolved incidents, oldest resolution first, while the book holds more
    /// than `max_incidents`; open and acknowledged ones are kept whatever their number.
    /// Returns what it forgot.
    fn forget_beyond_bound(&mut self) -> Vec<Incident> {
        let mut forgotten = Vec::new();
        while self.incidents.len() > self.config.max_incidents {
            let Some((_, id)) = self.resolved_by_time.first().cloned() else {
                break;
            };
            forgotten.extend(self.take(&id));
        }
        forgotten
    }

    /// The open and acknowledged incidents of `scope`.
    fn active_in<'a>(&'a self, scope: &str) -> impl Iterator<Item = &'a Incident> + 'a {
        self.active_by_scope
            .get(scope)
            .into_iter()
            .flatten()
            .filter_map(|id| self.incidents.get(id))
    }

    /// The resolved incidents of `scope` resolved or alerted at `since` or later (a
    /// superset of those resolved, and of those alerted, since then).
    fn resolved_since<'a>(
        &'a self,
        scope: &str,
        since: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Incident> + 'a {
        self.resolved_by_scope
            .get(scope)
            .into_iter()
            .flat_map(move |ids| ids.range((since, String::new())..))
            .filter_map(|(_, id)| self.incidents.get(id))
    }

    /// Changes one incident, keeping the indexes right.
    fn modify<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Incident, &IncidentConfig) -> R,
    ) -> Option<R> {
        let mut incident = self.take(id)?;
        let result = change(&mut incident, &self.config);
        self.put(incident);
        Some(result)
    }

    fn take(&mut self, id: &str) -> Option<Incident> {
        let incident = self.incidents.remove(id)?;
        let scope = incident.scope.key();
        match resolution_times(&incident) {
            None => remove_from(&mut self.active_by_scope, &scope, id),
            Some((resolved_at, last_moment)) => {
                let id = id.to_owned();
                self.resolved_by_time.remove(&(resolved_at, id.clone()));
                remove_from(&mut self.resolved_by_scope, &scope, &(last_moment, id));
            }
        }
        Some(incident)
    }

    fn put(&mut self, incident: Incident) {
        let scope = incident.scope.key();
        let id = incident.id.clone();
        match resolution_times(&incident) {
            None => {
                self.active_by_scope.entry(scope).or_default().insert(id);
            }
            Some((resolved_at, last_moment)) => {
                self.resolved_by_time.insert((resolved_at, id.clone()));
                self.resolved_by_scope
                    .entry(scope)
                    .or_default()
                    .insert((last_moment, id));
            }
        }
        self.incidents.insert(incident.id.clone(), incident);
    }
}

/// For a resolved incident, its keys in the resolved indexes: when it was resolved
/// (stream time), and its last moment, the later of that and its latest alert.
fn resolution_times(incident: &Incident) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if incident.status.is_active() {
        return None;
    }
    let resolved_at = incident
        .resolved
        .as_ref()
        .map_or(incident.stream_time, |r| r.stream_time);
    Some((resolved_at, resolved_at.max(incident.last_alert_at)))
}

/// Removes `key` from `scope`'s set in `index`, and the set once empty.
fn remove_from<K, Q>(index: &mut BTreeMap<String, BTreeSet<Q>>, scope: &str, key: &K)
where
    K: Ord + ?Sized,
    Q: Ord + std::borrow::Borrow<K>,
{
    if let Some(keys) = index.get_mut(scope) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(scope);
        }
    }
}

/// `within` before `time`, or the earliest time there is.
fn since(time: DateTime<Utc>, within: chrono::Duration) -> DateTime<Utc> {
    time.checked_sub_signed(within)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
