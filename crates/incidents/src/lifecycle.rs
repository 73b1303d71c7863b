//! What can happen to one incident: opened, alerts and normal runs added, acknowledged,
//! resolved, reopened, merged into or absorbing another; each bounded and written to the
//! timeline. Which incident a signal goes to is the book's business.

use crate::config::IncidentConfig;
use crate::error::IncidentError;
use crate::incident::{
    Incident, IncidentStatus, Mark, Resolution, ResolveReason, Scope, ScopeKind, SeriesProgress,
    TimelineEntry, TimelineEvent, INCIDENT_SCHEMA_VERSION,
};
use crate::signal::{Action, Command, RunSummary};
use chrono::{DateTime, Utc};
use obs_detector::processed::Alert;

/// When a change happens: the wall clock of its signal (for the marks and the
/// timeline) and the book's stream time (for the rules).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment {
    pub at: DateTime<Utc>,
    pub stream_time: DateTime<Utc>,
}

/// Whether `action` can apply to `incident` as it stands: acknowledge an open incident,
/// resolve an open or acknowledged one. For the HTTP API's 409.
pub fn check_command(incident: &Incident, action: Action) -> Result<(), IncidentError> {
    let allowed = match action {
        Action::Acknowledge => incident.status == IncidentStatus::Open,
        Action::Resolve => incident.status.is_active(),
    };
    if allowed {
        Ok(())
    } else {
        Err(IncidentError::ImpossibleTransition {
            incident_id: incident.id.clone(),
            status: incident.status,
            action,
        })
    }
}

impl Incident {
    /// A new open incident of `kind` from the alerts of `run` (the first of which names
    /// it); title and summary are written by the book once the signal is applied.
    pub(crate) fn open(
        id: String,
        kind: ScopeKind,
        run: &RunSummary,
        (first, rest): (&Alert, &[Alert]),
        moment: Moment,
        config: &IncidentConfig,
    ) -> Incident {
        let series = kind == ScopeKind::Series;
        let severity = rest
            .iter()
            .map(|a| a.severity)
            .fold(first.severity, Ord::max);
        let mut incident = Incident {
            id,
            schema_version: INCIDENT_SCHEMA_VERSION.into(),
            status: IncidentStatus::Open,
            scope: Scope {
                kind,
                company: run.company.clone(),
                source: run.source.clone(),
                series_key: series.then(|| run.series_key.clone()),
                object_id: series.then_some(run.object_id),
                object_type: series.then(|| run.object_type.clone()),
            },
            severity,
            title: String::new(),
            summary: String::new(),
            opened_at: run.processed_at,
            first_run_at: run.start_time,
            active_since: run.end_time,
            last_alert_at: run.end_time,
            updated_at: run.processed_at,
            stream_time: moment.stream_time,
            acknowledged: None,
            resolved: None,
            reopened: 0,
            alerts_total: 0,
            alerts: Vec::new(),
            runs: Vec::new(),
            objects: Vec::new(),
            series: Vec::new(),
            timeline: Vec::new(),
            merged_into: None,
            command_ids: Vec::new(),
            version: 0,
        };
        incident.record(
            moment,
            TimelineEvent::Opened {
                alert_id: first.alert_id.clone(),
                severity,
            },
            config,
        );
        incident.add_alerts(run, (first, rest), moment, config);
        incident
    }

    /// Adds the alerts of `run`; true when they raised its severity (an escalation).
    pub(crate) fn alerted(
        &mut self,
        run: &RunSummary,
        (first, rest): (&Alert, &[Alert]),
        moment: Moment,
        config: &IncidentConfig,
    ) -> bool {
        self.record(moment, alert_event(first), config);
        self.add_alerts(run, (first, rest), moment, config)
    }

    /// Opens a resolved incident again (same id) with the alerts of `run`.
    pub(crate) fn reopen(
        &mut self,
        run: &RunSummary,
        (first, rest): (&Alert, &[Alert]),
        moment: Moment,
        config: &IncidentConfig,
    ) {
        self.status = IncidentStatus::Open;
        self.reopened += 1;
        self.acknowledged = None;
        self.resolved = None;
        self.active_since = run.end_time;
        self.record(
            moment,
            TimelineEvent::Reopened {
                alert_id: first.alert_id.clone(),
            },
            config,
        );
        self.add_alerts(run, (first, rest), moment, config);
    }

    /// The alerts of a run, the first of which the caller put on the timeline already;
    /// true when they raised the severity (also put on the timeline).
    fn add_alerts(
        &mut self,
        run: &RunSummary,
        (first, rest): (&Alert, &[Alert]),
        moment: Moment,
        config: &IncidentConfig,
    ) -> bool {
        let before = self.severity;
        for alert in std::iter::once(first).chain(rest) {
            self.severity = self.severity.max(alert.severity);
            push_bounded(&mut self.alerts, alert.clone(), config.max_alerts);
        }
        for alert in rest {
            self.record(moment, alert_event(alert), config);
        }
        self.alerts_total += 1 + rest.len() as u64;
        push_bounded(&mut self.runs, run.clone(), config.max_runs);
        self.track(
            SeriesProgress {
                object_id: run.object_id,
                series_key: run.series_key.clone(),
                last_alert_at: run.end_time,
                normal_runs: 0,
            },
            config,
        );
        self.last_alert_at = self.last_alert_at.max(run.end_time);
        self.updated_at = moment.at;
        let escalated = self.severity > before;
        if escalated {
            self.record(
                moment,
                TimelineEvent::Escalated {
                    from: before,
                    to: self.severity,
                },
                config,
            );
        }
        escalated
    }

    /// A normal run of one of its objects after that object's latest alert: `None` when
    /// it changes nothing (not its object, or not after its alert), else whether every
    /// object has now recovered (the incident is then resolved).
    pub(crate) fn normal_run(
        &mut self,
        run: &RunSummary,
        moment: Moment,
        config: &IncidentConfig,
    ) -> Option<bool> {
        let progress = self
            .series
            .iter_mut()
            .find(|p| p.object_id == run.object_id && p.series_key == run.series_key)?;
        if run.end_time <= progress.last_alert_at {
            return None;
        }
        progress.normal_runs = progress.normal_runs.saturating_add(1);
        push_bounded(&mut self.runs, run.clone(), config.max_runs);
        self.updated_at = moment.at;
        let recovered = self
            .series
            .iter()
            .all(|p| p.normal_runs >= config.resolve_after_normal_runs);
        if recovered {
            self.resolve(ResolveReason::Recovered, None, None, moment, config);
        }
        Some(recovered)
    }

    /// Applies an operator's command, which [`check_command`] allowed.
    pub(crate) fn command(&mut self, command: &Command, moment: Moment, config: &IncidentConfig) {
        match command.action {
            Action::Acknowledge => {
                self.status = IncidentStatus::Acknowledged;
                self.acknowledged = Some(Mark {
                    by: command.by.clone(),
                    note: command.note.clone(),
                    at: command.at,
                });
                self.updated_at = moment.at;
                self.record(
                    moment,
                    TimelineEvent::Acknowledged {
                        by: command.by.clone(),
                        note: command.note.clone(),
                    },
                    config,
                );
            }
            Action::Resolve => self.resolve(
                ResolveReason::Operator,
                Some(command.by.clone()),
                command.note.clone(),
                moment,
                config,
            ),
        }
        push_bounded(
            &mut self.command_ids,
            command.command_id.clone(),
            config.max_command_ids,
        );
    }

    pub(crate) fn resolve(
        &mut self,
        reason: ResolveReason,
        by: Option<String>,
        note: Option<String>,
        moment: Moment,
        config: &IncidentConfig,
    ) {
        self.settle(reason, by.clone(), note, moment);
        self.record(moment, TimelineEvent::Resolved { reason, by }, config);
    }

    /// Resolved as taken over by the source-wide incident `into`.
    pub(crate) fn merge_into(&mut self, into: &str, moment: Moment, config: &IncidentConfig) {
        self.settle(ResolveReason::Merged, None, None, moment);
        self.merged_into = Some(into.to_owned());
        self.record(moment, TimelineEvent::Merged { into: into.into() }, config);
    }

    fn settle(
        &mut self,
        reason: ResolveReason,
        by: Option<String>,
        note: Option<String>,
        moment: Moment,
    ) {
        self.status = IncidentStatus::Resolved;
        self.resolved = Some(Resolution {
            reason,
            by,
            note,
            at: moment.at,
            stream_time: moment.stream_time,
        });
        self.updated_at = moment.at;
    }

    /// Takes over the evidence of `merged` (a series incident merged into this one).
    pub(crate) fn absorb(&mut self, merged: &Incident, moment: Moment, config: &IncidentConfig) {
        self.alerts.extend(merged.alerts.iter().cloned());
        self.alerts
            .sort_by(|a, b| (a.raised_at, &a.alert_id).cmp(&(b.raised_at, &b.alert_id)));
        self.alerts.dedup_by(|a, b| a.alert_id == b.alert_id);
        keep_newest(&mut self.alerts, config.max_alerts);
        self.runs.extend(merged.runs.iter().cloned());
        self.runs
            .sort_by(|a, b| (a.processed_at, &a.record_id).cmp(&(b.processed_at, &b.record_id)));
        self.runs.dedup_by(|a, b| a.record_id == b.record_id);
        keep_newest(&mut self.runs, config.max_runs);
        for progress in &merged.series {
            self.track(progress.clone(), config);
        }
        self.alerts_total += merged.alerts_total;
        self.severity = self.severity.max(merged.severity);
        self.first_run_at = self.first_run_at.min(merged.first_run_at);
        self.last_alert_at = self.last_alert_at.max(merged.last_alert_at);
        self.updated_at = moment.at;
        self.record(
            moment,
            TimelineEvent::Absorbed {
                incident_id: merged.id.clone(),
            },
            config,
        );
    }

    /// Puts an object's progress in (the one with the later alert wins when it is
    /// there already), keeping the most recently alerting `max_objects`.
    fn track(&mut self, progress: SeriesProgress, config: &IncidentConfig) {
        match self
            .series
            .binary_search_by_key(&progress.object_id, |p| p.object_id)
        {
            Ok(at) => {
                let kept = &mut self.series[at];
                if (
                    progress.last_alert_at,
                    std::cmp::Reverse(progress.normal_runs),
                ) > (kept.last_alert_at, std::cmp::Reverse(kept.normal_runs))
                {
                    *kept = progress;
                }
            }
            Err(at) => self.series.insert(at, progress),
        }
        while self.series.len() > config.max_objects {
            let oldest = self
                .series
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| (p.last_alert_at, p.object_id))
                .map(|(at, _)| at);
            match oldest {
                Some(at) => self.series.remove(at),
                None => break,
            };
        }
        self.objects = self.series.iter().map(|p| p.object_id).collect();
    }

    /// Adds a timeline entry, keeping the first and the newest.
    fn record(&mut self, moment: Moment, event: TimelineEvent, config: &IncidentConfig) {
        self.timeline.push(TimelineEntry {
            at: moment.at,
            event,
        });
        let max = config.max_timeline.max(2);
        if self.timeline.len() > max {
            let excess = self.timeline.len() - max;
            self.timeline.drain(1..=excess);
        }
    }
}

fn alert_event(alert: &Alert) -> TimelineEvent {
    TimelineEvent::Alert {
        alert_id: alert.alert_id.clone(),
        severity: alert.severity,
        object_id: alert.object_id,
    }
}

fn push_bounded<T>(list: &mut Vec<T>, item: T, max: usize) {
    list.push(item);
    keep_newest(list, max);
}

/// Drops the oldest (first) items beyond `max`.
fn keep_newest<T>(list: &mut Vec<T>, max: usize) {
    if list.len() > max {
        list.drain(..list.len() - max);
    }
}
