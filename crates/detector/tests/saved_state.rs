//! A series' saved state (what processing checkpoints): saved at any point of a stream and
//! restored in another bank, it gives the verdicts the uninterrupted bank gives, bit for bit.

use chrono::{DateTime, TimeDelta, Utc};
use obs_detector::anomaly::{
    run_features, AlertReason, DetectorBank, DetectorConfig, DetectorError, ForestConfig,
    NoveltyConfig, RunFacts, ZScoreConfig,
};
use obs_detector::RuleKind;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn at(minute: usize) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minute as i64)
}

/// Small windows and a small forest retrained often, so that a few hundred points go
/// through every phase: warm-up, first trainings, a full window overwritten, retrainings.
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
            retrain_every: 12,
            ..ForestConfig::default()
        },
        novelty: NoveltyConfig {
            warmup: 30,
            hold_off: 20,
            ..NoveltyConfig::default()
        },
        ..DetectorConfig::default()
    }
}

const SERIES: [&str; 3] = ["acme:powerbi:1", "acme:talend:2", "globex:sap:3"];

/// Points of the three series interleaved: noisy runs with slow ones, ties and zeros (the
/// windows then hold equal values of both signs), and a level shift half-way.
fn stream(len: usize, seed: u64) -> Vec<(usize, [(&'static str, f64); 4])> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|i| {
            let series = rng.random_range(0..SERIES.len());
            let shift = if i > len / 2 { 3.0 } else { 1.0 };
            let duration = match rng.random_range(0..20) {
                0 => 0.0,
                1 => 25.0,
                2 => 400.0,
                _ => rng.random_range(20.0..30.0) * shift,
            };
            let cpu = if duration == 0.0 {
                -0.0
            } else {
                duration * rng.random_range(0.3..0.6)
            };
            (
                series,
                run_features(duration, cpu, rng.random_range(4e7..6e7)),
            )
        })
        .collect()
}

/// The verdicts and judgements of `points`, observed as job runs (so the object's habits
/// are saved and restored too), from offset `from` of the stream, as text (every bit of
/// every figure shows in it: the shortest round-trip form, signed zeros included).
fn observe(
    bank: &mut DetectorBank,
    points: &[(usize, [(&'static str, f64); 4])],
    from: usize,
) -> Vec<String> {
    points
        .iter()
        .enumerate()
        .map(|(i, (series, features))| {
            let value = |k: usize| features[k].1;
            let rules: &[RuleKind] = if value(0) == 0.0 {
                &[RuleKind::Failure]
            } else if value(0) > 100.0 {
                &[RuleKind::LongDuration, RuleKind::LowEfficiency]
            } else {
                &[]
            };
            let run = RunFacts {
                started_at: at(from + i),
                failed: rules.contains(&RuleKind::Failure),
                error_message: None,
                duration_seconds: value(0),
                memory_bytes: value(1),
                cpu_seconds: value(2),
                rules,
                efficiency_lost_to: AlertReason::Duration,
            };
            let verdict = bank.observe_run(SERIES[*series], at(from + i), features, Some(&run));
            format!("{verdict:?}")
        })
        .collect()
}

fn saved(bank: &DetectorBank, series: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    assert!(bank.save_series(series, &mut bytes), "{series} is held");
    bytes
}

/// Saves every series of `bank` into a new bank of the same configuration.
fn restored(bank: &DetectorBank, config: &DetectorConfig) -> DetectorBank {
    let mut copy = DetectorBank::new(config.clone()).unwrap();
    for series in SERIES {
        let mut bytes = Vec::new();
        if bank.save_series(series, &mut bytes) {
            copy.restore_series(series, &bytes).unwrap();
        }
    }
    copy
}

/// Runs `points` split at `cut`: one bank straight through, another restored from the
/// first's saved states at the cut; the verdicts after the cut and the final states agree.
fn check_split(
    config: &DetectorConfig,
    points: &[(usize, [(&'static str, f64); 4])],
    cut: usize,
) -> Result<(), TestCaseError> {
    let mut straight = DetectorBank::new(config.clone()).unwrap();
    observe(&mut straight, &points[..cut], 0);
    let mut resumed = restored(&straight, config);
    for series in SERIES {
        let mut bytes = Vec::new();
        if straight.save_series(series, &mut bytes) {
            prop_assert_eq!(&saved(&resumed, series), &bytes, "{} read back", series);
        }
    }
    let expected = observe(&mut straight, &points[cut..], cut);
    let got = observe(&mut resumed, &points[cut..], cut);
    for (i, (got, expected)) in got.iter().zip(&expected).enumerate() {
        prop_assert_eq!(got, expected, "point {} after the cut at {}", i, cut);
    }
    for series in SERIES.into_iter().filter(|s| straight.contains(s)) {
        prop_assert_eq!(
            saved(&resumed, series),
            saved(&straight, series),
            "{}",
            series
        );
    }
    Ok(())
}

#[test]
fn a_restored_bank_continues_as_the_uninterrupted_one_at_every_phase() {
    let config = small();
    let points = stream(900, 7);
    assert!(
        observe(&mut DetectorBank::new(config.clone()).unwrap(), &points, 0)
            .iter()
            .any(|v| v.contains("forest: Some")),
        "the forests score"
    );
    // Before any series is scored, during the novelty's warm-up, with young forests, with
    // full windows overwritten since the last training, near the end.
    for cut in [1, 15, 61, 95, 200, 333, 512, 777, 899] {
        check_split(&config, &points, cut).unwrap();
    }
}

#[test]
fn the_default_configuration_restores_its_forests_too() {
    let config = DetectorConfig::default();
    // One series through its first trainings and into a full window of 512 points.
    let points: Vec<_> = stream(1_400, 3)
        .into_iter()
        .map(|(_, features)| (0, features))
        .collect();
    for cut in [150, 700, 1_250] {
        check_split(&config, &points, cut).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Wherever the stream is cut, the restored bank goes on as the uninterrupted one.
    #[test]
    fn any_split_point_gives_the_same_verdicts(
        seed in any::<u64>(),
        len in 1usize..600,
        cut in 0.0f64..1.0,
    ) {
        let points = stream(len, seed);
        let cut = ((len as f64) * cut) as usize;
        check_split(&small(), &points, cut)?;
    }
}

#[test]
fn a_restored_state_saves_back_the_same_and_is_not_taken_twice() {
    let config = small();
    let points = stream(300, 11);
    let mut source = DetectorBank::new(config.clone()).unwrap();
    observe(&mut source, &points, 0);
    let bytes = saved(&source, SERIES[0]);

    let mut bank = DetectorBank::new(config).unwrap();
    bank.restore_series(SERIES[0], &bytes).unwrap();
    assert!(bank.contains(SERIES[0]));
    assert_eq!(saved(&bank, SERIES[0]), bytes);
    assert!(matches!(
        bank.restore_series(SERIES[0], &bytes),
        Err(DetectorError::SeriesHeld(_))
    ));
}

#[test]
fn a_bank_built_apart_is_absorbed_and_its_series_go_on() {
    let config = small();
    let points = stream(600, 5);
    let mut straight = DetectorBank::new(config.clone()).unwrap();
    observe(&mut straight, &points[..400], 0);
    // Built apart: the saved states, then the points since (as a restore replays them).
    let mut apart = restored(&straight, &config);
    let mut reference = DetectorBank::new(config.clone()).unwrap();
    observe(&mut reference, &points[..450], 0);
    observe(&mut apart, &points[400..450], 400);
    observe(&mut straight, &points[400..450], 400);

    let mut bank = DetectorBank::new(config.clone()).unwrap();
    assert_eq!(bank.absorb(apart).unwrap(), 3);
    assert_eq!(
        observe(&mut bank, &points[450..], 450),
        observe(&mut reference, &points[450..], 450)
    );

    let other = DetectorBank::new(DetectorConfig {
        min_history: 21,
        ..config
    })
    .unwrap();
    assert!(matches!(
        straight.absorb(other),
        Err(DetectorError::NotAbsorbable(_))
    ));
}

#[test]
fn states_of_another_configuration_or_cut_short_are_refused() {
    let config = small();
    let mut bank = DetectorBank::new(config.clone()).unwrap();
    observe(&mut bank, &stream(400, 13), 0);
    let bytes = saved(&bank, SERIES[1]);

    let mut other = DetectorBank::new(DetectorConfig {
        seed: 1,
        ..config.clone()
    })
    .unwrap();
    assert!(matches!(
        other.restore_series(SERIES[1], &bytes),
        Err(DetectorError::StateOfAnotherConfig { .. })
    ));
    // The number of series held is not part of a series' state.
    let mut larger = DetectorBank::new(DetectorConfig {
        max_series: 5,
        ..config.clone()
    })
    .unwrap();
    larger.restore_series(SERIES[1], &bytes).unwrap();

    let mut fresh = DetectorBank::new(config).unwrap();
    for len in (0..bytes.len()).step_by(7) {
        assert!(
            matches!(
                fresh.restore_series(SERIES[1], &bytes[..len]),
                Err(DetectorError::UnreadableState { .. })
            ),
            "cut at {len} of {}",
            bytes.len()
        );
    }
    // A state saved before the habits (format obs1) or before the week profiles (obs2) is
    // refused, not misread.
    for format in [b"obs1", b"obs2"] {
        let mut older = bytes.clone();
        older[..4].copy_from_slice(format);
        assert!(matches!(
            fresh.restore_series(SERIES[1], &older),
            Err(DetectorError::UnreadableState { reason, .. }) if reason.contains("earlier version")
        ));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(fresh.restore_series(SERIES[1], &longer).is_err());
    assert!(fresh.is_empty());
    let mut bytes_nothing = Vec::new();
    assert!(!fresh.save_series("nobody", &mut bytes_nothing));
    assert!(bytes_nothing.is_empty());
}

#[test]
fn clearing_forgets_every_series() {
    let mut bank = DetectorBank::new(small()).unwrap();
    observe(&mut bank, &stream(100, 2), 0);
    bank.clear();
    assert!(bank.is_empty());
    let points = stream(300, 2);
    let mut fresh = DetectorBank::new(small()).unwrap();
    assert_eq!(
        observe(&mut bank, &points, 0),
        observe(&mut fresh, &points, 0)
    );
}

/// Every 15 minutes: busy from 08:00 to 18:00 UTC, with a little noise, but on day 12,
/// which stays quiet.
fn working_days(i: usize) -> (DateTime<Utc>, [(&'static str, f64); 1]) {
    let hour = (i / 4) % 24;
    let busy = (8..18).contains(&hour) && i / 96 != 12;
    let value = if busy { 100.0 } else { 10.0 } + ((i * 5) % 7) as f64 / 7.0;
    (at(15 * i), [("value", value)])
}

#[test]
fn the_week_profiles_are_restored_bit_for_bit() {
    let config = DetectorConfig::default();
    let points: Vec<_> = (0..14 * 96).map(working_days).collect();
    let mut straight = DetectorBank::new(config.clone()).unwrap();
    let verdicts: Vec<String> = points
        .iter()
        .map(|(t, f)| format!("{:?}", straight.observe("s", *t, f).unwrap()))
        .collect();
    // The quiet day is what the week profile is for: it is reported, and on it.
    let mut reported = Vec::new();
    let mut replay = DetectorBank::new(config.clone()).unwrap();
    for (i, (t, f)) in points.iter().enumerate() {
        let verdict = replay.observe("s", *t, f).unwrap();
        if verdict
            .assessment()
            .and_then(|a| a.detectors.seasonal)
            .is_some_and(|s| s >= config.levels.warning)
        {
            reported.push(i / 96);
        }
    }
    assert_eq!(
        reported,
        [12],
        "days on which the seasonal surprise was reported"
    );

    for cut in [9 * 96, 10 * 96 + 37, 12 * 96 + 41] {
        // The scores of a prefix are the prefix of the scores: no look-ahead.
        let mut first = DetectorBank::new(config.clone()).unwrap();
        for (i, (t, f)) in points[..cut].iter().enumerate() {
            let got = format!("{:?}", first.observe("s", *t, f).unwrap());
            assert_eq!(got, verdicts[i], "point {i} of the prefix of {cut}");
        }
        let mut resumed = DetectorBank::new(config.clone()).unwrap();
        resumed.restore_series("s", &saved(&first, "s")).unwrap();
        for (i, (t, f)) in points.iter().enumerate().skip(cut) {
            let got = format!("{:?}", resumed.observe("s", *t, f).unwrap());
            assert_eq!(got, verdicts[i], "point {i} after the cut at {cut}");
        }
        assert_eq!(saved(&resumed, "s"), saved(&straight, "s"));
    }
}
