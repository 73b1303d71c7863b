//! The `backtest` binary end to end, on files it writes to a scratch directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("obs-backtest-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

fn series(rows: usize, spike_at: usize) -> String {
    let mut text = String::from("timestamp,value\n");
    for i in 0..rows {
        let value = if i == spike_at {
            500.0
        } else {
            100.0 + (i % 7) as f64
        };
        text.push_str(&format!(
            "2014-04-{:02} {:02}:{:02}:00,{value}\n",
            1 + i / 288,
            i / 12 % 24,
            i % 12 * 5
        ));
    }
    text
}

fn backtest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backtest"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_tree_is_mirrored_with_one_scored_row_per_input_row() {
    let dir = Scratch::new("tree");
    let input = dir.join("in");
    fs::create_dir_all(input.join("category")).unwrap();
    fs::write(input.join("category/a.csv"), series(400, 300)).unwrap();
    fs::write(input.join("b.csv"), series(50, 99)).unwrap();
    fs::write(input.join("README.txt"), "not a series").unwrap();
    let output = dir.join("out");
    let run = backtest(&["--input", path(&input), "--output", path(&output)]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let progress = String::from_utf8_lossy(&run.stderr);
    assert!(
        progress.contains("[1/2] b.csv") && progress.contains("[2/2] category"),
        "{progress}"
    );
    let a = fs::read_to_string(output.join("category/a.csv")).unwrap();
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines[0], "timestamp,value,anomaly_score,is_anomaly");
    assert_eq!(lines.len(), 401);
    assert_eq!(
        lines[1], "2014-04-01 00:00:00,100,0,0",
        "too young to judge"
    );
    let spike: Vec<&str> = lines[301].split(',').collect();
    assert_eq!(&spike[..2], ["2014-04-02 01:00:00", "500"]);
    assert!(
        spike[2].parse::<f64>().unwrap() >= 0.8 && spike[3] == "1",
        "{spike:?}"
    );
    assert_eq!(
        fs::read_to_string(output.join("b.csv"))
            .unwrap()
            .lines()
            .count(),
        51
    );
    assert!(!output.join("README.txt").exists());
}

#[test]
fn explain_adds_the_detectors() {
    let dir = Scratch::new("explain");
    let input = dir.join("s.csv");
    fs::write(&input, series(200, 150)).unwrap();
    let run = backtest(&[
        "--input",
        path(&input),
        "--output",
        path(&dir.join("out")),
        "--explain",
    ]);
    assert!(run.status.success());
    let text = fs::read_to_string(dir.join("out/s.csv")).unwrap();
    assert!(text.starts_with(
        "timestamp,value,anomaly_score,is_anomaly,surprise,zscore,step,ewma,forest,\
         novelty,seasonal,outage_probability,predictive_alert,explanation\n"
    ));
    assert!(text.lines().nth(151).unwrap().contains(" value 500 vs "));
}

#[test]
fn bad_input_names_the_file_and_the_line() {
    let dir = Scratch::new("bad");
    let input = dir.join("bad.csv");
    let cases = [
        (
            "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,oops\n",
            "line 3: value \"oops\" is not a number",
        ),
        (
            "timestamp,value\n2014-04-01 00:00:00,NaN\n",
            "line 2: series \"value\": metric \"value\" is NaN",
        ),
        ("time,value\n", "line 1: header is \"time,value\""),
    ];
    for (text, problem) in cases {
        fs::write(&input, text).unwrap();
        let run = backtest(&["--input", path(&input), "--output", path(&dir.join("out"))]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success());
        assert!(
            stderr.contains("bad.csv") && stderr.contains(problem),
            "{stderr}"
        );
    }
    let run = backtest(&[
        "--input",
        path(&dir.join("missing.csv")),
        "--output",
        path(&dir),
    ]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot read"));
    let run = backtest(&["--input", path(&input)]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("--input and --output are required"));
}

#[test]
fn a_row_back_in_time_is_left_unscored() {
    let dir = Scratch::new("late");
    let input = dir.join("late.csv");
    let mut text = series(20, 99);
    text.push_str("2014-04-01 00:30:00,1\n");
    fs::write(&input, text).unwrap();
    let run = backtest(&["--input", path(&input), "--output", path(&dir.join("out"))]);
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("late.csv: line 22: not scored"));
    let out = fs::read_to_string(dir.join("out/late.csv")).unwrap();
    assert_eq!(out.lines().last(), Some("2014-04-01 00:30:00,1,0,0"));
}

#[test]
fn a_configuration_file_is_used_and_checked() {
    let dir = Scratch::new("config");
    let input = dir.join("s.csv");
    fs::write(&input, series(30, 99)).unwrap();
    let config = dir.join("config.json");
    fs::write(&config, r#"{"min_history": 10}"#).unwrap();
    let out = dir.join("out");
    let run = backtest(&[
        "--input",
        path(&input),
        "--output",
        path(&out),
        "--config",
        path(&config),
    ]);
    assert!(run.status.success());
    let text = fs::read_to_string(out.join("s.csv")).unwrap();
    let scored = |text: &str| {
        text.lines()
            .skip(1)
            .filter(|l| !l.ends_with(",0,0"))
            .count()
    };
    assert!(scored(&text) > 0, "scored from row 11:\n{text}");
    let run = backtest(&["--input", path(&input), "--output", path(&out)]);
    assert!(run.status.success());
    let text = fs::read_to_string(out.join("s.csv")).unwrap();
    assert_eq!(scored(&text), 0, "the default needs 100 points");
    fs::write(&config, r#"{"min_histroy": 10}"#).unwrap();
    let run = backtest(&[
        "--input",
        path(&input),
        "--output",
        path(&out),
        "--config",
        path(&config),
    ]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("unknown field `min_histroy`"));
}

#[test]
fn odds_mode_prints_the_roc_auc() {
    let dir = Scratch::new("odds");
    let file = dir.join("tiny.csv");
    let mut text = String::from("# comment\n");
    for i in 0..100 {
        text.push_str(&format!("{},{},0\n", i % 10, i % 7));
    }
    text.push_str("50,50,1\n");
    fs::write(&file, text).unwrap();
    let run = backtest(&["--odds", path(&file), "--repeat", "2"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("101 points of 2 features, 1 outliers"),
        "{stdout}"
    );
    assert!(stdout.contains("ROC-AUC 1.0000"), "{stdout}");
    assert!(stdout.contains("over 2 seeds"), "{stdout}");
    assert!(
        stdout.contains("100 trees, ψ = 256"),
        "the paper's: {stdout}"
    );

    let run = backtest(&["--odds", path(&file), "--trees", "7", "--subsample", "16"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("7 trees, ψ = 16"), "{stdout}");
    let run = backtest(&["--odds", path(&file), "--trees", "0"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--trees needs an integer of at least 1"));
    let run = backtest(&["--labelled", "--subsample", "16"]);
    assert!(!run.status.success(), "--subsample goes with --odds only");
}
