//! One test per rule of the book.

use crate::common::*;
use obs_detector::Severity;
use obs_incidents::{
    check_command, incident_id, Action, Incident, IncidentBook, IncidentConfig, IncidentError,
    IncidentStatus, ResolveReason, ScopeKind, Signal, TimelineEvent, Transition,
};

fn book() -> IncidentBook {
    IncidentBook::new(IncidentConfig::default())
}

fn apply(book: &mut IncidentBook, signal: Signal) -> Vec<Change> {
    apply_signal(book, &signal).unwrap()
}

/// The id of the incident opened by the critical alert of `object_id` at minute `end`.
fn id_of(object_id: i64, end: i64) -> String {
    let Signal::Alerted { alerts, .. } = alerted(object_id, end) else {
        unreachable!()
    };
    incident_id(&alerts[0].alert_id)
}

fn active(book: &IncidentBook) -> Vec<&Incident> {
    book.iter().filter(|i| i.status.is_active()).collect()
}

#[test]
fn an_alert_opens_a_series_incident_with_a_deterministic_id_and_a_readable_title() {
    let mut book = book();
    let changes = apply(&mut book, alerted(12, 0));
    assert_eq!(summary(&changes), [(id_of(12, 0), Transition::Opened)]);
    let incident = &changes[0].incident;
    assert!(incident.id.starts_with("inc-") && incident.id.len() == 20);
    assert_eq!(incident.status, IncidentStatus::Open);
    assert_eq!(incident.scope.kind, ScopeKind::Series);
    assert_eq!(incident.scope.object_id, Some(12));
    assert_eq!(incident.severity, Severity::Critical);
    assert_eq!(incident.title, "zoho Contacts (12): failing (timeout)");
    assert!(
        incident
            .summary
            .starts_with("Critical since 2025-09-05 11:58 UTC"),
        "{}",
        incident.summary
    );
    assert!(incident.summary.contains("run FAILED: Read timed out"));
    assert_eq!(incident.version, 1);
    assert_eq!(incident.objects, [12]);
    assert_eq!(incident.opened_at, at(0) + chrono::TimeDelta::seconds(1));
    assert_eq!(incident.last_alert_at, at(0));
    assert_eq!(book.get(&incident.id), Some(incident));

    let changes = apply(&mut book, alerted(12, 5));
    assert_eq!(summary(&changes), [(id_of(12, 0), Transition::Updated)]);
    let incident = &changes[0].incident;
    assert_eq!((incident.alerts_total, incident.version), (2, 2));
    assert_eq!(incident.last_alert_at, at(5));
    assert_eq!(book.len(), 1);
}

#[test]
fn three_objects_within_ten_minutes_make_one_source_wide_incident() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    apply(&mut book, alerted(2, 4));
    let changes = apply(&mut book, alerted(3, 8));
    let source_id = id_of(3, 8);
    assert_eq!(
        summary(&changes),
        [
            (source_id.clone(), Transition::Opened),
            (id_of(1, 0), Transition::Resolved),
            (id_of(2, 4), Transition::Resolved),
        ]
    );
    let source = &changes[0].incident;
    assert_eq!(source.scope.kind, ScopeKind::Source);
    assert_eq!(source.scope.object_id, None);
    assert_eq!(source.objects, [1, 2, 3]);
    assert_eq!(source.alerts_total, 3);
    assert_eq!(source.alerts.len(), 3);
    assert_eq!(source.runs.len(), 3);
    assert_eq!(source.title, "zoho (acme): 3 objects failing");
    assert_eq!(source.first_run_at, at(0) - chrono::TimeDelta::seconds(90));
    assert!(source.timeline.iter().any(|e| e.event
        == TimelineEvent::Absorbed {
            incident_id: id_of(1, 0)
        }));
    for merged in &changes[1..] {
        let incident = &merged.incident;
        assert_eq!(incident.status, IncidentStatus::Resolved);
        assert_eq!(incident.merged_into.as_deref(), Some(source_id.as_str()));
        assert_eq!(
            incident.resolved.as_ref().map(|r| r.reason),
            Some(ResolveReason::Merged)
        );
    }
    let open: Vec<_> = active(&book).iter().map(|i| i.id.clone()).collect();
    assert_eq!(open, std::slice::from_ref(&source_id));

    // A fourth object, and the first again: the source-wide incident takes them.
    let changes = apply(&mut book, alerted(4, 9));
    assert_eq!(
        summary(&changes),
        [(source_id.clone(), Transition::Updated)]
    );
    let changes = apply(&mut book, alerted(1, 12));
    assert_eq!(
        summary(&changes),
        [(source_id.clone(), Transition::Updated)]
    );
    assert_eq!(changes[0].incident.objects, [1, 2, 3, 4]);
    assert_eq!(active(&book).len(), 1);
}

#[test]
fn three_objects_spread_over_an_hour_make_three_incidents() {
    let mut book = book();
    for (object, minute) in [(1, 0), (2, 25), (3, 50)] {
        let changes = apply(&mut book, alerted(object, minute));
        assert_eq!(
            summary(&changes),
            [(id_of(object, minute), Transition::Opened)]
        );
    }
    let kinds: Vec<_> = active(&book).iter().map(|i| i.scope.kind).collect();
    assert_eq!(kinds, [ScopeKind::Series; 3]);
}

#[test]
fn another_source_or_company_does_not_count_towards_source_wide() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    apply(&mut book, alerted_in("hubspot", 2, 1, Severity::Critical));
    apply(&mut book, alerted(3, 2));
    assert_eq!(active(&book).len(), 3);
    assert!(active(&book)
        .iter()
        .all(|i| i.scope.kind == ScopeKind::Series));
}

#[test]
fn a_higher_severity_escalates_a_lower_one_does_not() {
    let mut book = book();
    apply(&mut book, alerted_in(SOURCE, 1, 0, Severity::Warning));
    let changes = apply(&mut book, alerted_in(SOURCE, 1, 5, Severity::Critical));
    assert_eq!(
        summary(&changes),
        [(changes[0].incident.id.clone(), Transition::Escalated)]
    );
    let incident = &changes[0].incident;
    assert_eq!(incident.severity, Severity::Critical);
    assert!(incident.timeline.iter().any(|e| e.event
        == TimelineEvent::Escalated {
            from: Severity::Warning,
            to: Severity::Critical
        }));
    let changes = apply(&mut book, alerted_in(SOURCE, 1, 9, Severity::Warning));
    assert_eq!(changes[0].transition, Transition::Updated);
    assert_eq!(changes[0].incident.severity, Severity::Critical);
}

#[test]
fn an_acknowledged_incident_escalates_and_stays_acknowledged() {
    let mut book = book();
    let id = apply(&mut book, alerted_in(SOURCE, 1, 0, Severity::Warning))[0]
        .incident
        .id
        .clone();
    apply(&mut book, command("c1", &id, Action::Acknowledge, 1));
    let changes = apply(&mut book, alerted_in(SOURCE, 1, 5, Severity::Critical));
    assert_eq!(changes[0].transition, Transition::Escalated);
    assert_eq!(changes[0].incident.status, IncidentStatus::Acknowledged);
}

#[test]
fn two_normal_runs_in_a_row_resolve_as_recovered_and_an_alert_resets_the_count() {
    let mut book = book();
    let id = id_of(1, 0);
    apply(&mut book, alerted(1, 0));
    // Not after the alert: changes nothing.
    assert!(apply(&mut book, normal(1, -5)).is_empty());
    assert_eq!(
        summary(&apply(&mut book, normal(1, 10))),
        [(id.clone(), Transition::Updated)]
    );
    apply(&mut book, alerted(1, 15));
    assert_eq!(
        summary(&apply(&mut book, normal(1, 20))),
        [(id.clone(), Transition::Updated)]
    );
    let changes = apply(&mut book, normal(1, 25));
    assert_eq!(summary(&changes), [(id.clone(), Transition::Resolved)]);
    let incident = &changes[0].incident;
    assert_eq!(incident.status, IncidentStatus::Resolved);
    let resolution = incident.resolved.as_ref().unwrap();
    assert_eq!(resolution.reason, ResolveReason::Recovered);
    assert_eq!(resolution.stream_time, at(25));
    // The recoveries are evidence too.
    assert_eq!(incident.runs.len(), 5);
    // Another object's normal run changes nothing.
    assert!(apply(&mut book, normal(2, 30)).is_empty());
}

#[test]
fn a_source_wide_incident_recovers_when_every_object_has() {
    let mut book = book();
    for (object, minute) in [(1, 0), (2, 1), (3, 2)] {
        apply(&mut book, alerted(object, minute));
    }
    let source_id = id_of(3, 2);
    for minute in [5, 6] {
        apply(&mut book, normal(1, minute));
        apply(&mut book, normal(2, minute));
    }
    assert_eq!(book.get(&source_id).unwrap().status, IncidentStatus::Open);
    assert_eq!(
        summary(&apply(&mut book, normal(3, 7))),
        [(source_id.clone(), Transition::Updated)]
    );
    let changes = apply(&mut book, normal(3, 8));
    assert_eq!(summary(&changes), [(source_id, Transition::Resolved)]);
}

#[test]
fn an_hour_without_an_alert_resolves_as_quiet_at_the_next_signal_of_its_scope() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    apply(&mut book, alerted(2, 30));
    // Another source has a clock of its own: nothing of this one goes quiet.
    assert!(apply(&mut book, normal_in("hubspot", 9, 61)).is_empty());
    // Exactly the quiet period: not yet.
    assert!(apply(&mut book, normal(9, 60)).is_empty());
    let changes = apply(&mut book, normal(9, 61));
    assert_eq!(summary(&changes), [(id_of(1, 0), Transition::Resolved)]);
    let incident = &changes[0].incident;
    assert_eq!(
        incident.resolved.as_ref().map(|r| r.reason),
        Some(ResolveReason::Quiet)
    );
    assert_eq!(incident.updated_at, at(61) + chrono::TimeDelta::seconds(1));
    assert_eq!(
        book.get(&id_of(2, 30)).unwrap().status,
        IncidentStatus::Open
    );
    // Acknowledged incidents go quiet as well.
    apply(
        &mut book,
        command("c1", &id_of(2, 30), Action::Acknowledge, 62),
    );
    let changes = apply(&mut book, alerted_in("zoho", 9, 91, Severity::Warning));
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (changes[1].incident.id.clone(), changes[1].transition),
        (id_of(2, 30), Transition::Resolved)
    );
}

#[test]
fn commands_do_not_move_stream_time() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    let id = id_of(1, 0);
    // A command written two hours later in wall clock: the stream is still at minute 0.
    let changes = apply(&mut book, command("c1", &id, Action::Acknowledge, 120));
    assert_eq!(changes[0].incident.status, IncidentStatus::Acknowledged);
    assert_eq!(changes[0].incident.stream_time, at(0));
}

#[test]
fn the_same_scope_alerting_within_the_reopen_window_reopens_the_same_id() {
    let mut book = book();
    let id = id_of(1, 0);
    apply(&mut book, alerted(1, 0));
    apply(&mut book, command("ack", &id, Action::Acknowledge, 1));
    apply(&mut book, command("res", &id, Action::Resolve, 2));
    apply(&mut book, normal(2, 10));
    // Resolved at stream time 0 (the operator's resolve does not move it); 59 min later.
    let changes = apply(&mut book, alerted(1, 59));
    assert_eq!(summary(&changes), [(id.clone(), Transition::Reopened)]);
    let incident = &changes[0].incident;
    assert_eq!(incident.status, IncidentStatus::Open);
    assert_eq!(incident.reopened, 1);
    assert_eq!(incident.acknowledged, None);
    assert_eq!(incident.resolved, None);
    assert_eq!(incident.alerts_total, 2);
    assert!(
        incident.summary.contains("Reopened 1 time."),
        "{}",
        incident.summary
    );
    assert!(incident
        .timeline
        .iter()
        .any(|e| matches!(&e.event, TimelineEvent::Reopened { .. })));
}

#[test]
fn the_same_scope_alerting_after_the_reopen_window_opens_a_new_incident() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    apply(&mut book, normal(1, 5));
    apply(&mut book, normal(1, 10));
    assert_eq!(
        book.get(&id_of(1, 0)).unwrap().status,
        IncidentStatus::Resolved
    );
    let changes = apply(&mut book, alerted(1, 70));
    assert_eq!(summary(&changes), [(id_of(1, 70), Transition::Opened)]);
    assert_eq!(book.len(), 2);
}

#[test]
fn a_source_going_wide_again_within_the_window_reopens_its_incident_and_merged_ones_are_not_reopened(
) {
    let mut book = book();
    for (object, minute) in [(1, 0), (2, 1), (3, 2)] {
        apply(&mut book, alerted(object, minute));
    }
    let source_id = id_of(3, 2);
    for object in 1..=3 {
        apply(&mut book, normal(object, 5));
        apply(&mut book, normal(object, 6));
    }
    assert_eq!(
        book.get(&source_id).unwrap().status,
        IncidentStatus::Resolved
    );
    // One object alone: a new series incident, not its merged one.
    let changes = apply(&mut book, alerted(1, 20));
    assert_eq!(summary(&changes), [(id_of(1, 20), Transition::Opened)]);
    apply(&mut book, alerted(2, 21));
    let changes = apply(&mut book, alerted(4, 22));
    assert_eq!(
        summary(&changes),
        [
            (source_id.clone(), Transition::Reopened),
            (id_of(1, 20), Transition::Resolved),
            (id_of(2, 21), Transition::Resolved),
        ]
    );
    assert_eq!(changes[0].incident.reopened, 1);
    assert_eq!(changes[0].incident.objects, [1, 2, 3, 4]);
}

#[test]
fn a_series_incident_opened_before_the_window_is_not_merged() {
    let mut book = book();
    apply(&mut book, alerted(1, 0));
    apply(&mut book, alerted(1, 20));
    apply(&mut book, alerted(2, 22));
    let changes = apply(&mut book, alerted(3, 24));
    assert_eq!(
        summary(&changes),
        [
            (id_of(3, 24), Transition::Opened),
            (id_of(2, 22), Transition::Resolved),
        ]
    );
    assert_eq!(book.get(&id_of(1, 0)).unwrap().status, IncidentStatus::Open);
}

#[test]
fn every_command_transition() {
    let allowed = [
        (IncidentStatus::Open, Action::Acknowledge, true),
        (IncidentStatus::Open, Action::Resolve, true),
        (IncidentStatus::Acknowledged, Action::Acknowledge, false),
        (IncidentStatus::Acknowledged, Action::Resolve, true),
        (IncidentStatus::Resolved, Action::Acknowledge, false),
        (IncidentStatus::Resolved, Action::Resolve, false),
    ];
    let mut book = book();
    let incident = apply(&mut book, alerted(1, 0)).remove(0).incident;
    for (status, action, ok) in allowed {
        let incident = Incident {
            status,
            ..incident.clone()
        };
        let expected = if ok {
            Ok(())
        } else {
            Err(IncidentError::ImpossibleTransition {
                incident_id: incident.id.clone(),
                status,
                action,
            })
        };
        assert_eq!(
            check_command(&incident, action),
            expected,
            "{status} {action}"
        );
    }

    let id = incident.id;
    let changes = apply(&mut book, command("c1", &id, Action::Acknowledge, 1));
    assert_eq!(summary(&changes), [(id.clone(), Transition::Acknowledged)]);
    let mark = changes[0].incident.acknowledged.clone().unwrap();
    assert_eq!((mark.by.as_str(), mark.at), ("dana", at(1)));
    let impossible = apply_signal(&mut book, &command("c2", &id, Action::Acknowledge, 2));
    assert!(matches!(
        impossible,
        Err(IncidentError::ImpossibleTransition {
            status: IncidentStatus::Acknowledged,
            action: Action::Acknowledge,
            ..
        })
    ));
    let changes = apply(&mut book, command("c3", &id, Action::Resolve, 3));
    assert_eq!(summary(&changes), [(id.clone(), Transition::Resolved)]);
    let resolution = changes[0].incident.resolved.clone().unwrap();
    assert_eq!(resolution.reason, ResolveReason::Operator);
    assert_eq!(resolution.by.as_deref(), Some("dana"));
    assert_eq!(resolution.note.as_deref(), Some("on it"));
    assert_eq!(resolution.at, at(3));
    // The acknowledgement stays as history.
    assert!(changes[0].incident.acknowledged.is_some());
    for (command_id, action) in [("c4", Action::Resolve), ("c5", Action::Acknowledge)] {
        assert!(matches!(
            apply_signal(&mut book, &command(command_id, &id, action, 4)),
            Err(IncidentError::ImpossibleTransition {
                status: IncidentStatus::Resolved,
                ..
            })
        ));
    }
    // Resolve straight from open.
    let other = apply(&mut book, alerted(2, 5)).remove(0).incident.id;
    let changes = apply(&mut book, command("c6", &other, Action::Resolve, 6));
    assert_eq!(changes[0].incident.status, IncidentStatus::Resolved);
    assert_eq!(
        apply_signal(
            &mut book,
            &command("c7", "inc-0000000000000000", Action::Resolve, 7)
        ),
        Err(IncidentError::UnknownIncident {
            incident_id: "inc-0000000000000000".into()
        })
    );
}

#[test]
fn a_command_applied_twice_changes_nothing_the_second_time() {
    let mut book = book();
    let id = apply(&mut book, alerted(1, 0)).remove(0).incident.id;
    let first = apply(&mut book, command("c1", &id, Action::Acknowledge, 1));
    assert_eq!(first.len(), 1);
    let before = book.get(&id).cloned();
    assert_eq!(
        apply_signal(&mut book, &command("c1", &id, Action::Acknowledge, 2)),
        Ok(vec![])
    );
    assert_eq!(book.get(&id).cloned(), before);
    apply(&mut book, command("c2", &id, Action::Resolve, 3));
    // Repeated after the incident moved on: still nothing, not a conflict.
    assert_eq!(
        apply_signal(&mut book, &command("c2", &id, Action::Resolve, 4)),
        Ok(vec![])
    );
    assert_eq!(
        apply_signal(&mut book, &command("c1", &id, Action::Acknowledge, 4)),
        Ok(vec![])
    );
}

#[test]
fn an_alerted_signal_without_alerts_is_refused() {
    let Signal::Alerted { run, .. } = alerted(1, 0) else {
        unreachable!()
    };
    let record_id = run.record_id.clone();
    let signal = Signal::Alerted {
        run,
        alerts: Vec::new(),
    };
    assert_eq!(
        apply_signal(&mut book(), &signal),
        Err(IncidentError::NoAlerts { record_id })
    );
}

#[test]
fn an_incident_keeps_its_evidence_bounded() {
    let config = IncidentConfig {
        max_alerts: 3,
        max_runs: 4,
        max_timeline: 5,
        max_objects: 3,
        max_command_ids: 1,
        source_wide_objects: 2,
        ..IncidentConfig::default()
    };
    let mut book = IncidentBook::new(config);
    apply(&mut book, alerted(1, 0));
    apply(&mut book, alerted(2, 1));
    let source_id = id_of(2, 1);
    for minute in 2..12 {
        apply(&mut book, alerted(10 + minute, minute));
    }
    let incident = book.get(&source_id).unwrap();
    assert_eq!(incident.alerts_total, 12);
    assert_eq!(incident.alerts.len(), 3);
    assert_eq!(incident.alerts[2].object_id, 21);
    assert_eq!(incident.runs.len(), 4);
    assert_eq!(incident.runs[3].object_id, 21);
    // The most recently alerting objects are kept.
    assert_eq!(incident.objects, [19, 20, 21]);
    assert_eq!(incident.series.len(), 3);
    assert_eq!(incident.timeline.len(), 5);
    assert!(matches!(
        incident.timeline[0].event,
        TimelineEvent::Opened { .. }
    ));
    for (n, minute) in (0..3).zip(12..) {
        let action = if n == 0 {
            Action::Acknowledge
        } else {
            Action::Resolve
        };
        let _ = apply_signal(
            &mut book,
            &command(&format!("c{n}"), &source_id, action, minute),
        );
    }
    assert_eq!(book.get(&source_id).unwrap().command_ids, ["c1"]);
}

#[test]
fn the_book_forgets_the_oldest_resolved_incidents_beyond_its_bound() {
    let config = IncidentConfig {
        max_incidents: 3,
        ..IncidentConfig::default()
    };
    let mut book = IncidentBook::new(config);
    // Four open incidents: none is forgotten.
    for (object, minute) in [(1, 0), (2, 20), (3, 40), (4, 50)] {
        apply(&mut book, alerted(object, minute));
    }
    assert_eq!(book.len(), 4);
    apply(&mut book, command("r2", &id_of(2, 20), Action::Resolve, 51));
    assert_eq!(book.len(), 3);
    assert_eq!(book.get(&id_of(2, 20)), None);
    // Object 3 recovers, then object 1: the book holds three.
    apply(&mut book, normal(3, 51));
    apply(&mut book, normal(3, 52));
    apply(&mut book, alerted(1, 53));
    apply(&mut book, normal(1, 54));
    apply(&mut book, normal(1, 55));
    assert_eq!(book.len(), 3);
    // A new incident: the oldest resolution goes.
    apply(&mut book, alerted(5, 70));
    assert_eq!(book.len(), 3);
    assert_eq!(book.get(&id_of(3, 40)), None);
    assert!(book.get(&id_of(1, 0)).is_some());
    assert_eq!(
        apply_signal(&mut book, &command("x", &id_of(3, 40), Action::Resolve, 71)),
        Err(IncidentError::UnknownIncident {
            incident_id: id_of(3, 40)
        })
    );
}

/// A resolved incident stays while it could still reopen (or count among a source's
/// alerting objects), and is forgotten once its scope's clock has moved past
/// `reopen_within` plus the source-wide window (70 minutes by default) after it.
#[test]
fn the_book_forgets_a_resolved_incident_once_it_can_no_longer_reopen() {
    let mut book = book();
    let first = id_of(1, 0);
    apply(&mut book, alerted(1, 0));
    apply(&mut book, normal(1, 1));
    let resolved = apply(&mut book, normal(1, 2)).remove(0).incident;
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    // Object 2 alerts 71 minutes on: 69 minutes after the resolution, still held.
    apply(&mut book, alerted(2, 71));
    assert!(book.get(&first).is_some());
    // 73 minutes on, 71 after it: forgotten.
    let latest = apply(&mut book, alerted(2, 73)).remove(0).incident;
    assert!(book.get(&first).is_none());
    // A book restored from the topic, in either order, forgets it too.
    for order in [[&resolved, &latest], [&latest, &resolved]] {
        let mut restored = IncidentBook::new(IncidentConfig::default());
        for incident in order {
            restored.restore(incident.clone());
        }
        assert!(restored.get(&first).is_none());
        assert_eq!(restored.len(), 1);
    }
    // Object 1 alerts again: a new incident, as the old one could not reopen anyway.
    let opened = apply(&mut book, alerted(1, 74));
    assert_eq!(summary(&opened), [(id_of(1, 74), Transition::Opened)]);
}

#[test]
fn restore_keeps_the_latest_version_and_clear_empties_the_book() {
    let mut book = book();
    let first = apply(&mut book, alerted(1, 0)).remove(0).incident;
    let second = apply(&mut book, alerted(1, 5)).remove(0).incident;
    let mut restored = IncidentBook::new(IncidentConfig::default());
    restored.restore(second.clone());
    restored.restore(first);
    assert_eq!(restored.get(&second.id), Some(&second));
    assert_eq!(restored.len(), 1);
    restored.clear();
    assert!(restored.is_empty());
}
