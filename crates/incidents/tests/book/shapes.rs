//! The JSON of signals and incidents: round trips, and the shapes readers rely on.

use crate::common::*;
use obs_incidents::{scope_key, Action, IncidentBook, IncidentConfig, Signal, TimelineEvent};
use serde_json::{json, Value};

#[test]
fn signals_round_trip_and_are_tagged_by_kind() {
    let signals = [
        alerted(7, 0),
        normal(7, 5),
        command("c1", "inc-0123456789abcdef", Action::Resolve, 6),
    ];
    for signal in &signals {
        let text = serde_json::to_string(signal).unwrap();
        assert_eq!(
            &serde_json::from_str::<Signal>(&text).unwrap(),
            signal,
            "{text}"
        );
    }
    let alerted = serde_json::to_value(&signals[0]).unwrap();
    assert_eq!(alerted["kind"], "alerted");
    assert_eq!(alerted["run"]["status"], "FAILED");
    assert_eq!(alerted["run"]["error_kind"], "timeout");
    assert_eq!(alerted["run"]["end_time"], "2025-09-05T12:00:00Z");
    assert_eq!(alerted["alerts"][0]["severity"], "critical");
    assert_eq!(serde_json::to_value(&signals[1]).unwrap()["kind"], "normal");
    assert_eq!(
        serde_json::to_value(&signals[2]).unwrap(),
        json!({
            "kind": "command",
            "command_id": "c1",
            "incident_id": "inc-0123456789abcdef",
            "action": "resolve",
            "by": "dana",
            "note": "on it",
            "at": "2025-09-05T12:06:00Z",
        })
    );
}

#[test]
fn signals_are_keyed_by_company_and_source() {
    assert_eq!(scope_key("acme", "zoho"), "acme:zoho");
    assert_eq!(alerted(7, 0).scope_key().as_deref(), Some("acme:zoho"));
    assert_eq!(normal(7, 0).scope_key().as_deref(), Some("acme:zoho"));
    assert_eq!(command("c", "i", Action::Acknowledge, 0).scope_key(), None);
}

#[test]
fn incidents_round_trip_with_every_part_filled() {
    let mut book = IncidentBook::new(IncidentConfig::default());
    let signals = [alerted(1, 0), alerted(2, 1), alerted(3, 2)];
    let mut changed = Vec::new();
    for signal in &signals {
        changed.extend(apply_signal(&mut book, signal).unwrap());
    }
    let source_id = changed[2].incident.id.clone();
    changed.extend(
        apply_signal(
            &mut book,
            &command("c1", &source_id, Action::Acknowledge, 3),
        )
        .unwrap(),
    );
    changed
        .extend(apply_signal(&mut book, &command("c2", &source_id, Action::Resolve, 4)).unwrap());
    changed.extend(apply_signal(&mut book, &alerted(4, 5)).unwrap());
    let events: Vec<_> = changed
        .iter()
        .flat_map(|c| &c.incident.timeline)
        .map(|e| serde_json::to_value(e).unwrap()["event"].clone())
        .collect();
    for event in [
        "opened",
        "absorbed",
        "merged",
        "acknowledged",
        "resolved",
        "reopened",
    ] {
        assert!(events.contains(&json!(event)), "{event} in {events:?}");
    }
    for change in &changed {
        let text = serde_json::to_string(&change.incident).unwrap();
        assert_eq!(
            serde_json::from_str::<obs_incidents::Incident>(&text).unwrap(),
            change.incident,
            "{text}"
        );
    }

    let resolved = changed
        .iter()
        .find(|c| c.incident.resolved.as_ref().is_some_and(|r| r.by.is_some()))
        .map(|c| serde_json::to_value(&c.incident).unwrap())
        .unwrap();
    assert_eq!(resolved["schema_version"], "incident-v1");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["scope"]["kind"], "source");
    assert_eq!(resolved["scope"]["object_id"], Value::Null);
    assert_eq!(resolved["resolved"]["reason"], "operator");
    assert_eq!(resolved["resolved"]["by"], "dana");
    assert_eq!(resolved["acknowledged"]["at"], "2025-09-05T12:03:00Z");
    let last = resolved["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last,
        json!({"at": "2025-09-05T12:04:00Z", "event": "resolved", "reason": "operator", "by": "dana"})
    );
    let resolved_event = TimelineEvent::Resolved {
        reason: obs_incidents::ResolveReason::Quiet,
        by: None,
    };
    assert_eq!(
        serde_json::to_value(&resolved_event).unwrap(),
        json!({"event": "resolved", "reason": "quiet", "by": null})
    );
}
