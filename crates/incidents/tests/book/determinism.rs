//! The same signals give the same incidents; a book restored from a snapshot of its
//! incidents continues exactly as the uninterrupted one; the changes handed out are the
//! book (what the `incidents` topic holds is all there is).

use crate::common::*;
use obs_detector::Severity;
use obs_incidents::{
    Action, Command, Incident, IncidentBook, IncidentConfig, IncidentError, Signal,
};
use obs_records::Status;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Small bounds and windows, so that grouping, reopening, merging, quiet resolution and
/// forgetting all happen within a few dozen signals. At most ten incidents are active at
/// once (two sources of four objects, and their source-wide incidents), fewer than the
/// bound, so the book never has to keep more than it may.
fn config(max_incidents: usize) -> IncidentConfig {
    IncidentConfig {
        source_wide_objects: 3,
        source_wide_window_seconds: 600,
        resolve_after_normal_runs: 2,
        quiet_period_seconds: 3600,
        reopen_within_seconds: 3600,
        max_alerts: 4,
        max_runs: 4,
        max_timeline: 5,
        max_objects: 3,
        max_command_ids: 2,
        max_incidents,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alert {
        source: usize,
        object: i64,
        severity: Severity,
        with_detector: bool,
    },
    Normal {
        source: usize,
        object: i64,
    },
    /// On one of the incidents seen so far; `repeat` sends the previous command again.
    Command {
        pick: usize,
        resolve: bool,
        repeat: bool,
    },
}

const SOURCES: [&str; 2] = ["zoho", "hubspot"];

fn op() -> impl Strategy<Value = Op> {
    let severity = prop_oneof![Just(Severity::Warning), Just(Severity::Critical)];
    prop_oneof![
        5 => (0..2usize, 0..4i64, severity, any::<bool>()).prop_map(
            |(source, object, severity, with_detector)| Op::Alert {
                source,
                object,
                severity,
                with_detector
            }
        ),
        4 => (0..2usize, 0..4i64).prop_map(|(source, object)| Op::Normal { source, object }),
        2 => (any::<usize>(), any::<bool>(), any::<bool>()).prop_map(|(pick, resolve, repeat)| {
            Op::Command {
                pick,
                resolve,
                repeat,
            }
        }),
    ]
}

/// Each op with how far the stream clock moves before it (minutes) and how late its run
/// ends behind that clock (out of order, sometimes by more than the quiet period).
fn ops() -> impl Strategy<Value = Vec<(Op, i64, i64)>> {
    let late = prop_oneof![8 => Just(0i64), 2 => 0..15i64, 1 => 0..120i64];
    prop::collection::vec((op(), 0..12i64, late), 1..80)
}

/// Turns the ops into signals, commands naming incidents a reference book opened.
fn signals(ops: &[(Op, i64, i64)]) -> Vec<Signal> {
    let mut book = IncidentBook::new(config(usize::MAX));
    let mut ids: Vec<String> = Vec::new();
    let mut previous: Option<Signal> = None;
    let mut signals = Vec::new();
    let mut clock = 0;
    for (index, (op, step, late)) in ops.iter().enumerate() {
        clock += step;
        let end = clock - late;
        let signal = match *op {
            Op::Alert {
                source,
                object,
                severity,
                with_detector,
            } => {
                let status = match severity {
                    Severity::Critical => Status::Failed,
                    Severity::Warning => Status::Success,
                };
                let mut run = run_of(SOURCES[source], object, end, status);
                run.record_id = format!("{COMPANY}:{index}:{object}");
                let mut alerts = vec![alert_of(&run, severity)];
                if with_detector {
                    let mut detector = alert_of(&run, Severity::Warning);
                    detector.alert_id = format!("{}/detector", run.record_id);
                    detector.detector = "statistical".into();
                    detector.rules.clear();
                    alerts.push(detector);
                }
                Signal::Alerted { run, alerts }
            }
            Op::Normal { source, object } => {
                let mut run = run_of(SOURCES[source], object, end, Status::Success);
                run.record_id = format!("{COMPANY}:{index}:{object}");
                Signal::Normal { run }
            }
            Op::Command {
                pick,
                resolve,
                repeat,
            } => match (&previous, ids.is_empty()) {
                (Some(previous), _) if repeat => previous.clone(),
                (_, true) => continue,
                (_, false) => Signal::Command(Command {
                    command_id: format!("c{index}"),
                    incident_id: ids[pick % ids.len()].clone(),
                    action: if resolve {
                        Action::Resolve
                    } else {
                        Action::Acknowledge
                    },
                    by: "dana".into(),
                    note: None,
                    at: at(clock),
                }),
            },
        };
        if let Ok(changes) = apply_signal(&mut book, &signal) {
            for change in changes {
                if !ids.contains(&change.incident.id) {
                    ids.push(change.incident.id);
                }
            }
        }
        if matches!(signal, Signal::Command(_)) {
            previous = Some(signal.clone());
        }
        signals.push(signal);
    }
    signals
}

type Outcome = Result<Vec<Change>, IncidentError>;

fn run_all(book: &mut IncidentBook, signals: &[Signal]) -> Vec<Outcome> {
    signals.iter().map(|s| apply_signal(book, s)).collect()
}

fn incidents(book: &IncidentBook) -> Vec<Incident> {
    book.iter().cloned().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_same_signals_give_the_same_incidents(ops in ops()) {
        let signals = signals(&ops);
        let mut first = IncidentBook::new(config(11));
        let mut second = IncidentBook::new(config(11));
        prop_assert_eq!(run_all(&mut first, &signals), run_all(&mut second, &signals));
        prop_assert_eq!(incidents(&first), incidents(&second));
    }

    #[test]
    fn a_book_restored_mid_stream_continues_as_the_uninterrupted_one(
        ops in ops(),
        split in any::<prop::sample::Index>(),
        rotate in any::<prop::sample::Index>(),
    ) {
        let signals = signals(&ops);
        let split = split.index(signals.len() + 1);
        let mut uninterrupted = IncidentBook::new(config(11));
        let outcomes = run_all(&mut uninterrupted, &signals);

        let mut before = IncidentBook::new(config(11));
        run_all(&mut before, &signals[..split]);
        let mut snapshot = incidents(&before);
        // The topic's order is not the book's.
        if !snapshot.is_empty() {
            let by = rotate.index(snapshot.len());
            snapshot.rotate_left(by);
        }
        let mut restored = IncidentBook::new(config(11));
        for incident in snapshot {
            restored.restore(incident);
        }
        prop_assert_eq!(incidents(&restored), incidents(&before));
        prop_assert_eq!(&run_all(&mut restored, &signals[split..])[..], &outcomes[split..]);
        prop_assert_eq!(incidents(&restored), incidents(&uninterrupted));
    }

    /// Every change to an incident is handed out: the latest version of each (what the
    /// compacted `incidents` topic holds) is the book, after every signal, but for the
    /// resolved incidents the book has forgotten as settled (no bound on their number
    /// here), which never change again.
    #[test]
    fn the_changes_handed_out_are_the_book(ops in ops()) {
        let signals = signals(&ops);
        let mut book = IncidentBook::new(config(usize::MAX));
        let mut topic: BTreeMap<String, Incident> = BTreeMap::new();
        let mut settled: BTreeSet<String> = BTreeSet::new();
        for signal in &signals {
            let Ok(applied) = book.apply(signal) else { continue };
            for (incident, _) in book.changed(&applied) {
                prop_assert!(!settled.contains(&incident.id));
                let previous = topic.get(&incident.id).map_or(0, |i| i.version);
                prop_assert_eq!(incident.version, previous + 1);
                topic.insert(incident.id.clone(), incident.clone());
            }
            for forgotten in &applied.forgotten {
                prop_assert!(!forgotten.status.is_active());
                settled.insert(forgotten.id.clone());
            }
            let held: Vec<Incident> = topic
                .values()
                .filter(|i| !settled.contains(&i.id))
                .cloned()
                .collect();
            prop_assert_eq!(held, incidents(&book));
        }
    }

    /// With a bound of one, a resolved incident is forgotten by the very signal that
    /// resolved it: its last state is still handed out, so the topic ends with each
    /// incident's last state, forgotten or not.
    #[test]
    fn the_last_state_of_a_forgotten_incident_is_handed_out(ops in ops()) {
        let signals = signals(&ops);
        let mut book = IncidentBook::new(config(1));
        let mut topic: BTreeMap<String, Incident> = BTreeMap::new();
        for signal in &signals {
            let Ok(applied) = book.apply(signal) else { continue };
            for (incident, _) in book.changed(&applied) {
                topic.insert(incident.id.clone(), incident.clone());
            }
            prop_assert_eq!(book.changed(&applied).count(), applied.changes.len());
            for forgotten in &applied.forgotten {
                prop_assert_eq!(topic.get(&forgotten.id), Some(forgotten));
                prop_assert!(book.get(&forgotten.id).is_none());
            }
        }
        for incident in book.iter() {
            prop_assert_eq!(topic.get(&incident.id), Some(incident));
        }
    }
}
