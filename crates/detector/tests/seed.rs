//! The field data through the rules: the figures the operators know.

use chrono::Utc;
use obs_detector::{ProcessedRecord, RuleKind, RulesConfig, Severity};
use obs_records::standardize::{standardize_bytes, StandardizeOptions};
use std::collections::BTreeMap;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/seed-logs.json"
);

#[test]
fn the_field_data_gives_the_known_summary() {
    let text = std::fs::read_to_string(SEED).expect("tests/fixtures/seed-logs.json");
    let rules = RulesConfig::default();
    let processed: Vec<ProcessedRecord> = text
        .lines()
        .map(|line| {
            let record =
                standardize_bytes(line.as_bytes(), &StandardizeOptions::default()).unwrap();
            ProcessedRecord::score(record, &rules, Utc::now())
        })
        .collect();
    assert_eq!(processed.len(), 72);
    let anomalous: Vec<&ProcessedRecord> = processed.iter().filter(|p| p.anomalous).collect();
    assert_eq!(anomalous.len(), 11);
    let mut by_rule: BTreeMap<RuleKind, usize> = BTreeMap::new();
    for hit in processed.iter().flat_map(|p| &p.rule_hits) {
        *by_rule.entry(hit.rule).or_default() += 1;
    }
    assert_eq!(
        by_rule,
        BTreeMap::from([
            (RuleKind::Failure, 1),
            (RuleKind::HighMemory, 4),
            (RuleKind::NegativeMemory, 2),
            (RuleKind::LowEfficiency, 8),
        ])
    );
    let mean = processed
        .iter()
        .map(|p| p.metrics.efficiency_score)
        .sum::<f64>()
        / 72.0;
    assert!((mean - 67.10).abs() < 0.01, "mean efficiency {mean}");

    let failed = anomalous
        .iter()
        .find(|p| p.record.object_id == 1035)
        .unwrap();
    assert_eq!(failed.severity, Some(Severity::Critical));
    let alert = failed.alerts().into_iter().next().unwrap();
    assert_eq!(alert.alert_id, "akonovia:2025-09-05-16-45:1035/rules");
    assert!(
        alert.reasons[0].contains("FAILED: 'id'"),
        "{:?}",
        alert.reasons
    );
    assert!(anomalous.iter().all(|p| p.alerts().len() == 1));
    assert!(processed
        .iter()
        .filter(|p| !p.anomalous)
        .all(|p| p.alerts().is_empty()));
    let json = serde_json::to_string(&processed[0]).unwrap();
    let back: ProcessedRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, processed[0]);
}
