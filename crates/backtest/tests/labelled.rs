//! `backtest --labelled` end to end: the report of the alerts against the generator's
//! labels, on a short run.

use std::process::{Command, Output};

fn backtest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backtest"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn labelled_prints_the_table_deterministically() {
    let run = || {
        let out = backtest(&["--labelled", "--hours", "150", "--seed", "7"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report = run();
    assert!(report.starts_with("labelled generator data: 150 hours, seed 7:"));
    for family in ["rules alerts", "detector alerts", "any alert"] {
        assert!(report.contains(family), "{report}");
    }
    for kind in [
        "failure",
        "slow_run",
        "memory_spike",
        "negative_memory",
        "cpu_spike",
    ] {
        assert!(report.contains(kind), "{report}");
    }
    // Every FAILED run hits the failure rule: rules recall of `failure` is 1.
    let failure = report.lines().find(|l| l.starts_with("failure ")).unwrap();
    let rules_recall = failure.split_whitespace().nth(2).unwrap();
    assert_eq!(rules_recall, "1.000", "{report}");
    assert_eq!(run(), report);
}

#[test]
fn labelled_refuses_other_modes_and_hours_alone() {
    for args in [
        &["--labelled", "--odds", "x.csv"][..],
        &["--labelled", "--input", "a", "--output", "b"],
        &["--hours", "10", "--print-config"],
        &["--labelled", "--hours", "0"],
    ] {
        let out = backtest(args);
        assert!(!out.status.success(), "{args:?} was accepted");
    }
}
