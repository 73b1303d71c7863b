//! Behaviour of the streaming detectors through the public API.

use chrono::{DateTime, TimeDelta, Utc};
use obs_detector::anomaly::{
    run_features, DetectorBank, DetectorConfig, DetectorError, DetectorKind, ForestConfig, Verdict,
    ZScoreConfig,
};
use obs_detector::Severity;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn at(minute: usize) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minute as i64)
}

/// A small configuration that trains forests quickly, for streams of a few hundred points.
fn small() -> DetectorConfig {
    DetectorConfig {
        min_history: 20,
        calibration_half_life: 50.0,
        zscore: ZScoreConfig {
            window: 16,
            ..ZScoreConfig::default()
        },
        forest: ForestConfig {
            trees: 10,
            subsample: 16,
            window: 32,
            retrain_every: 8,
            ..ForestConfig::default()
        },
        ..DetectorConfig::default()
    }
}

/// Connector runs: noisy durations, memory and CPU, with the odd slow run.
fn runs(n: usize, seed: u64) -> Vec<[(&'static str, f64); 4]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let slow = if rng.random_range(0..40) == 0 {
                8.0
            } else {
                1.0
            };
            let duration = rng.random_range(20.0..30.0) * slow;
            run_features(
                duration,
                duration * rng.random_range(0.3..0.6),
                rng.random_range(4e7..6e7),
            )
        })
        .collect()
}

fn verdicts(config: &DetectorConfig, points: &[[(&str, f64); 4]]) -> Vec<Verdict> {
    let mut bank = DetectorBank::new(config.clone()).unwrap();
    points
        .iter()
        .enumerate()
        .map(|(i, features)| bank.observe("etl/daily", at(i), features).unwrap())
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_scores() {
    let points = runs(300, 1);
    let first = verdicts(&small(), &points);
    assert_eq!(first, verdicts(&small(), &points));
    let forest_scores = |v: &[Verdict]| -> Vec<Option<f64>> {
        v.iter()
            .map(|v| v.assessment().and_then(|a| a.detectors.forest))
            .collect()
    };
    assert!(forest_scores(&first).iter().flatten().count() > 200);
    let mut other = small();
    other.seed += 1;
    assert_ne!(
        forest_scores(&first),
        forest_scores(&verdicts(&other, &points)),
        "the seed drives the forests"
    );
}

#[test]
fn a_series_says_when_it_is_too_young_to_judge() {
    let v = verdicts(&small(), &runs(25, 2));
    assert_eq!(
        v[0],
        Verdict::InsufficientHistory {
            seen: 0,
            required: 20
        }
    );
    assert_eq!(v[19].score(), None);
    assert!(v[20].score().is_some());
}

#[test]
fn a_spike_is_critical_and_explained() {
    let mut config = DetectorConfig::default();
    config.forest.enabled = false;
    let mut bank = DetectorBank::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..500 {
        let v = bank
            .observe(
                "api",
                at(i),
                &[("latency_ms", rng.random_range(95.0..105.0))],
            )
            .unwrap();
        if let Some(a) = v.assessment() {
            assert!(a.severity.is_none(), "point {i}: {a:?}");
        }
    }
    let v = bank
        .observe("api", at(500), &[("latency_ms", 400.0)])
        .unwrap();
    let a = v.assessment().unwrap();
    assert_eq!(a.severity, Some(Severity::Critical), "{a:?}");
    assert_eq!(a.explanation.metric, "latency_ms");
    assert_eq!(a.explanation.value, 400.0);
    assert!((95.0..105.0).contains(&a.explanation.baseline), "{a:?}");
    assert!(a.explanation.z > 10.0);
    assert!(matches!(
        a.explanation.detector,
        DetectorKind::ZScore | DetectorKind::Step | DetectorKind::Ewma
    ));
    assert!(a.detectors.zscore.unwrap() > 0.5 && a.detectors.forest.is_none());
    // The same spike again right away is less of a surprise.
    let again = bank
        .observe("api", at(501), &[("latency_ms", 400.0)])
        .unwrap();
    assert!(again.score().unwrap() < a.score);
}

#[test]
fn a_constant_series_scores_zero_until_it_changes() {
    let mut bank = DetectorBank::new(DetectorConfig::default()).unwrap();
    for i in 0..300 {
        let v = bank
            .observe("flat", at(i), &[("a", 45.0), ("b", 0.0)])
            .unwrap();
        if let Some(a) = v.assessment() {
            assert!(a.score < 1e-6, "point {i}: {a:?}");
        }
    }
    let v = bank
        .observe("flat", at(300), &[("a", 46.0), ("b", 0.0)])
        .unwrap();
    assert!(v.score().unwrap() >= 0.8, "{v:?}");
}

#[test]
fn tiny_windows_work() {
    let config = DetectorConfig {
        min_history: 1,
        calibration_half_life: 1.0,
        zscore: ZScoreConfig {
            window: 1,
            ..ZScoreConfig::default()
        },
        forest: ForestConfig {
            window: 2,
            subsample: 2,
            retrain_every: 1,
            min_metrics: 1,
            trees: 3,
            ..ForestConfig::default()
        },
        ..DetectorConfig::default()
    };
    let mut bank = DetectorBank::new(config).unwrap();
    for (i, value) in [1.0, 1.0, 5.0, -3.0, 0.0, 1e9, 2.0].into_iter().enumerate() {
        let v = bank.observe("s", at(i), &[("x", value)]).unwrap();
        if i > 0 {
            let score = v.score().unwrap();
            assert!((0.0..=1.0).contains(&score), "{v:?}");
        }
    }
}

#[test]
fn non_finite_values_are_refused_and_change_nothing() {
    let mut bank = DetectorBank::new(small()).unwrap();
    for (value, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        let err = bank
            .observe(
                "job",
                at(0),
                &[("duration_seconds", 1.0), ("memory_bytes", value)],
            )
            .unwrap_err();
        assert!(matches!(err, DetectorError::NonFinite { .. }));
        assert_eq!(
            err.to_string(),
            format!("series \"job\": metric \"memory_bytes\" is {shown}; only finite values can be scored")
        );
    }
    assert!(bank.is_empty());
    assert_eq!(bank.snapshot().rejected, 3);
    assert!(bank
        .observe("job", at(0), &[("duration_seconds", 1.0)])
        .is_ok());
}

#[test]
fn malformed_records_are_refused() {
    let mut config = small();
    config.max_metrics = 2;
    let mut bank = DetectorBank::new(config).unwrap();
    let err = |bank: &mut DetectorBank, minute, features: &[(&str, f64)]| {
        bank.observe("job", at(minute), features).unwrap_err()
    };
    assert!(matches!(
        err(&mut bank, 0, &[]),
        DetectorError::NoMetrics { .. }
    ));
    assert!(matches!(
        err(&mut bank, 0, &[("a", 1.0), ("b", 1.0), ("c", 1.0)]),
        DetectorError::TooManyMetrics {
            count: 3,
            max: 2,
            ..
        }
    ));
    assert!(matches!(
        err(&mut bank, 0, &[("a", 1.0), ("a", 2.0)]),
        DetectorError::DuplicateMetric { .. }
    ));
    bank.observe("job", at(10), &[("a", 1.0), ("b", 1.0)])
        .unwrap();
    assert!(matches!(
        err(&mut bank, 11, &[("b", 1.0), ("a", 1.0)]),
        DetectorError::MetricsChanged { .. }
    ));
    let late = err(&mut bank, 9, &[("a", 1.0), ("b", 1.0)]);
    assert!(matches!(late, DetectorError::OutOfOrder { .. }), "{late}");
    assert!(
        bank.observe("job", at(10), &[("a", 1.0), ("b", 1.0)])
            .is_ok(),
        "same time is fine"
    );
}

#[test]
fn memory_stays_bounded_with_100_000_series() {
    let config = DetectorConfig {
        max_series: 1_000,
        ..DetectorConfig::default()
    };
    let mut bank = DetectorBank::new(config).unwrap();
    for i in 0..100_000 {
        let features = run_features(10.0, 5.0, 1e6);
        bank.observe(&format!("source-{i}/job"), at(0), &features)
            .unwrap();
    }
    let snapshot = bank.snapshot();
    assert_eq!(snapshot.series, 1_000);
    assert_eq!(snapshot.evicted_series, 99_000);
    assert_eq!(snapshot.observations, 100_000);
    assert!(snapshot.state_bytes <= snapshot.max_state_bytes);
    // The most recent series are the ones kept.
    assert_eq!(bank.retrain(Some("source-99999/job")), Ok(0));
    assert_eq!(
        bank.retrain(Some("source-0/job")),
        Err(DetectorError::UnknownSeries("source-0/job".to_owned()))
    );
}

#[test]
fn retraining_on_demand() {
    let mut bank = DetectorBank::new(small()).unwrap();
    for (i, features) in runs(30, 4).iter().enumerate() {
        bank.observe("a", at(i), features).unwrap();
        bank.observe("b", at(i), &features[..1]).unwrap();
    }
    // "b" has one metric: no forest (forest.min_metrics is 2).
    assert_eq!(bank.retrain(None), Ok(1));
    assert_eq!(bank.retrain(Some("a")), Ok(1));
    assert_eq!(bank.retrain(Some("b")), Ok(0));
    assert_eq!(bank.snapshot().trained_forests, 1);
}

#[test]
fn a_lasting_degradation_fires_the_predictive_alert() {
    let mut config = DetectorConfig::default();
    config.forest.enabled = false;
    let mut bank = DetectorBank::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut fired = Vec::new();
    for i in 0..400 {
        // Normal for 300 points, then every run is slower than any before.
        let slowdown = if i < 300 {
            1.0
        } else {
            1.5f64.powi(i as i32 - 299)
        };
        let v = bank
            .observe(
                "job",
                at(i),
                &[("duration_seconds", rng.random_range(20.0..30.0) * slowdown)],
            )
            .unwrap();
        if v.assessment().is_some_and(|a| a.predictive_alert) {
            fired.push(i);
        }
    }
    assert!(!fired.is_empty() && fired[0] > 300, "{fired:?}");
}

#[test]
fn verdicts_and_snapshots_serialize() {
    let v = verdicts(&small(), &runs(25, 6));
    let json = serde_json::to_value(&v[24]).unwrap();
    assert_eq!(json["status"], "scored");
    assert!(json["explanation"]["metric"].is_string());
    let json = serde_json::to_value(&v[0]).unwrap();
    assert_eq!(json["status"], "insufficient_history");
    let bank = DetectorBank::new(DetectorConfig::default()).unwrap();
    let json = serde_json::to_value(bank.snapshot()).unwrap();
    assert_eq!(json["max_series"], 1000);
}

#[test]
fn the_bank_can_move_to_a_worker_thread() {
    fn send<T: Send + 'static>(_: &T) {}
    send(&DetectorBank::new(DetectorConfig::default()).unwrap());
}

#[test]
fn an_invalid_configuration_is_refused() {
    let config = DetectorConfig {
        max_series: 0,
        ..DetectorConfig::default()
    };
    assert!(matches!(
        DetectorBank::new(config),
        Err(DetectorError::InvalidConfig(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No look-ahead: the scores of a prefix are the prefix of the scores.
    #[test]
    fn scores_of_a_prefix_are_a_prefix_of_the_scores(
        seed in any::<u64>(),
        len in 1usize..120,
        cut in 0.0f64..1.0,
    ) {
        let points = runs(len, seed);
        let prefix = ((len as f64) * cut) as usize;
        let all = verdicts(&small(), &points);
        prop_assert_eq!(&verdicts(&small(), &points[..prefix])[..], &all[..prefix]);
    }

    /// Any finite input gives a score in [0, 1], never a panic.
    #[test]
    fn any_finite_values_give_scores_in_the_unit_interval(
        values in prop::collection::vec(
            prop_oneof![
                any::<f64>().prop_filter("finite", |v| v.is_finite()),
                -1e3f64..1e3,
                Just(0.0),
            ],
            1..80,
        ),
    ) {
        let mut config = small();
        config.min_history = 2;
        config.forest.min_metrics = 1;
        let mut bank = DetectorBank::new(config).unwrap();
        for (i, v) in values.iter().enumerate() {
            let verdict = bank.observe("p", at(i), &[("x", *v), ("duration_seconds", v.abs())]).unwrap();
            if let Some(a) = verdict.assessment() {
                prop_assert!((0.0..=1.0).contains(&a.score), "{:?}", a);
                prop_assert!(a.outage_probability.is_finite() && a.explanation.z.is_finite());
            }
        }
    }
}
