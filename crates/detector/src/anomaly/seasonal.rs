//! Seasonal surprise: a value unlike what the series usually does at this hour of the week.
//!
//! Scheduled work and human traffic repeat by the hour of the day and the day of the week.
//! A missing daily peak, a quiet holiday or a night as busy as a day stay within the values
//! the series has visited and close to its recent baseline, so the z-scores and the
//! novelty do not see them; a profile of the week does. Each of the week's hours (UTC)
//! keeps an exponential mean of the values seen in it, learned online; the error of a
//! point is its distance from its hour's mean. Its surprise is judged as the anomaly
//! likelihood of HTM detectors (Ahmad et al., 2017): the mean of the last `window` errors
//! against the exponentially forgotten mean and variance of that mean, scored by the
//! Gaussian tail. A lasting departure from the usual week raises it; a lone noisy point
//! does not, and a series without a weekly pattern learns that its errors are large. Like
//! the novelty, it is reported once per `hold_off` points.

use super::config::SeasonalConfig;
use super::saved_state::{Reader, Unreadable, Writer};
use chrono::{DateTime, Utc};
use std::f64::consts::{LN_10, SQRT_2};

/// Hours in a week: the profile's slots.
pub(crate) const SLOTS: usize = 168;

/// Seconds from the Unix epoch (a Thursday) back to the Monday before it, so that slot 0 is
/// Monday 00:00 UTC.
const EPOCH_TO_MONDAY: i64 = 3 * 86_400;

/// Seconds the series must span before it is judged: a week and a day, so that it is judged
/// against a whole week rather than against the first days it was seen.
const MIN_SPAN: i64 = 8 * 86_400;

/// Values an hour's mean must have learned before a value in that hour is judged.
const MIN_VISITS: u32 = 3;

/// Variance of the mean error before it has any spread, so the first z-scores are finite.
const MIN_VARIANCE: f64 = 1e-300;

/// Largest error learned: its square, in the variance, stays finite, so values near
/// ±f64::MAX cannot turn the statistics into infinities or NaN.
const MAX_ERROR: f64 = 1e150;

/// How fast the detector learns, and from what surprise it holds off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Weight of the present in an hour's mean.
    pub(crate) slot: f64,
    /// Weight of the present in the mean error's mean and variance.
    pub(crate) errors: f64,
    /// A surprise at least this large (and above 0) starts the hold-off.
    pub(crate) report: f64,
}

/// What the detector says of one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SeasonalFinding {
    /// Distance of the value from its hour's mean.
    pub(crate) error: f64,
    /// Mean of the recent errors, this one included.
    pub(crate) average: f64,
    /// Standard score of `average` against its history (0 until there is one).
    pub(crate) z: f64,
    /// −log10 of the Gaussian tail of `z` when reported, else 0.
    pub(crate) surprise: f64,
    /// The hour's mean.
    pub(crate) baseline: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Seasonal {
    /// Timestamp (seconds) of the series' first value.
    first: Option<i64>,
    /// Mean value of each hour of the week, and how many values it has learned.
    means: Vec<f64>,
    visits: Vec<u32>,
    /// The last errors, a ring of at most `window` values; `next` is where the next goes.
    errors: Vec<f64>,
    next: usize,
    /// Exponential mean and variance of the mean error; `None` before the first.
    stats: Option<(f64, f64)>,
    /// Mean errors judged against `stats` so far.
    judged: usize,
    /// Points left during which surprises are not reported.
    hold: usize,
}

/// Hour of the week (Monday 00:00 UTC is 0) of a timestamp in seconds.
fn slot(seconds: i64) -> usize {
    ((seconds + EPOCH_TO_MONDAY).rem_euclid(7 * 86_400) / 3_600) as usize
}

/// −log10 of the upper tail of the standard normal at `z`. The complementary error function
/// is Chebyshev-fitted (Numerical Recipes' `erfcc`, relative error below 1.2e-7) in its
/// log form, so that a z of 40 gives a finite surprise rather than an underflow.
fn normal_tail_surprise(z: f64) -> f64 {
    let x = z.abs() / SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ln_erfc = t.ln() - x * x + poly;
    let ln_tail = if z >= 0.0 {
        ln_erfc - std::f64::consts::LN_2
    } else {
        // Q(z) = 1 − Q(|z|).
        (-(ln_erfc - std::f64::consts::LN_2).exp()).ln_1p()
    };
    (-ln_tail / LN_10).max(0.0)
}

impl Seasonal {
    pub(crate) fn new(config: &SeasonalConfig) -> Self {
        Seasonal {
            first: None,
            means: vec![0.0; SLOTS],
            visits: vec![0; SLOTS],
            errors: Vec::with_capacity(config.window),
            next: 0,
            stats: None,
            judged: 0,
            hold: 0,
        }
    }

    /// The value at `at` against its hour's mean; `None` until the hour and the series
    /// have enough history.
    pub(crate) fn judge(
        &self,
        value: f64,
        at: DateTime<Utc>,
        config: &SeasonalConfig,
    ) -> Option<SeasonalFinding> {
        let seconds = at.timestamp();
        let slot = slot(seconds);
        let warm = self.visits[slot] >= MIN_VISITS
            && self.first.is_some_and(|first| seconds - first >= MIN_SPAN);
        if !warm {
            return None;
        }
        let baseline = self.means[slot];
        let error = (value - baseline).abs().min(MAX_ERROR);
        // The ring once this error is in: it replaces the oldest when full.
        let replaced = (self.errors.len() == config.window).then(|| self.errors[self.next]);
        let sum: f64 = self.errors.iter().sum::<f64>() - replaced.unwrap_or(0.0) + error;
        let count = self.errors.len() + usize::from(replaced.is_none());
        let average = sum / count as f64;
        let (z, surprise) = match self.stats {
            Some((mean, variance)) => {
                let z = (average - mean) / (variance + MIN_VARIANCE).sqrt();
                let ready = self.hold == 0 && self.judged + 1 >= config.warmup;
                let surprise = if ready { normal_tail_surprise(z) } else { 0.0 };
                (z, surprise)
            }
            None => (0.0, 0.0),
        };
        Some(SeasonalFinding {
            error,
            average,
            z,
            surprise,
            baseline,
        })
    }

    /// Learns the value at `at`, judged as `finding`, at `pace`.
    pub(crate) fn learn(
        &mut self,
        value: f64,
        at: DateTime<Utc>,
        finding: Option<SeasonalFinding>,
        pace: Pace,
        config: &SeasonalConfig,
    ) {
        let seconds = at.timestamp();
        let slot = slot(seconds);
        self.first.get_or_insert(seconds);
        if let Some(finding) = finding {
            let window = config.window;
            if self.errors.len() < window {
                self.errors.push(finding.error);
            } else {
                self.errors[self.next] = finding.error;
            }
            self.next = (self.next + 1) % window;
            let average = finding.average;
            self.stats = Some(match self.stats {
                None => (average, (average / 2.0).powi(2)),
                Some((mean, variance)) => {
                    self.judged += 1;
                    self.hold = if finding.surprise >= pace.report && finding.surprise > 0.0 {
                        config.hold_off
                    } else {
                        self.hold.saturating_sub(1)
                    };
                    let alpha = pace.errors;
                    let delta = average - mean;
                    (
                        mean + alpha * delta,
                        (1.0 - alpha) * (variance + alpha * delta * delta),
                    )
                }
            });
        }
        let visits = &mut self.visits[slot];
        let mean = &mut self.means[slot];
        if *visits == 0 {
            *mean = value;
        } else {
            let step = value - *mean;
            *mean = if step.is_finite() {
                *mean + pace.slot * step
            } else {
                // The difference of values near ±f64::MAX overflows; their weighted sum not.
                (1.0 - pace.slot) * *mean + pace.slot * value
            };
        }
        *visits = visits.saturating_add(1);
    }

    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.option(self.first, Writer::i64);
        out.f64s(self.means.iter());
        for visits in &self.visits {
            out.u32(*visits);
        }
        out.f64s(self.errors.iter());
        out.usize(self.next);
        out.option(self.stats, |out, (mean, variance)| {
            out.f64(mean);
            out.f64(variance);
        });
        out.usize(self.judged);
        out.usize(self.hold);
    }

    /// Reads back into a new detector what [`save`](Self::save) wrote.
    pub(crate) fn load(
        &mut self,
        from: &mut Reader<'_>,
        config: &SeasonalConfig,
    ) -> Result<(), Unreadable> {
        self.first = from.option(Reader::i64)?;
        self.means.clear();
        from.f64s_into(&mut self.means, SLOTS)?;
        if self.means.len() != SLOTS {
            return Err(Unreadable("a week profile of another length"));
        }
        for visits in &mut self.visits {
            *visits = from.u32()?;
        }
        self.errors.clear();
        from.f64s_into(&mut self.errors, config.window)?;
        self.next = from.usize()?;
        if self.next >= config.window || self.next > self.errors.len() {
            return Err(Unreadable("the ring of errors is out of shape"));
        }
        self.stats = from.option(|from| Ok((from.f64()?, from.f64()?)))?;
        self.judged = from.usize()?;
        self.hold = from.usize()?;
        Ok(())
    }

    /// Upper bound of the bytes of one metric's detector.
    pub(crate) fn bytes_for(config: &SeasonalConfig) -> usize {
        std::mem::size_of::<Self>()
            + SLOTS * (std::mem::size_of::<f64>() + std::mem::size_of::<u32>())
            + config.window * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::smoothing::smoothing_factor;
    use super::*;
    use chrono::TimeZone;

    fn config() -> SeasonalConfig {
        SeasonalConfig {
            warmup: 50,
            ..SeasonalConfig::default()
        }
    }

    /// A point every 15 minutes from Monday 2024-01-01 00:00 UTC.
    fn at(i: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_704_067_200 + i * 900, 0).unwrap()
    }

    /// A busy day from 08:00 to 18:00, a little noise that repeats every 7 points.
    fn usual(i: i64) -> f64 {
        let hour = (i / 4) % 24;
        let noise = ((i * 5) % 7) as f64 / 7.0;
        if (8..18).contains(&hour) {
            100.0 + noise
        } else {
            10.0 + noise
        }
    }

    fn observe(seasonal: &mut Seasonal, i: i64, value: f64) -> f64 {
        let config = config();
        let finding = seasonal.judge(value, at(i), &config);
        let pace = Pace {
            slot: smoothing_factor(config.slot_half_life),
            errors: smoothing_factor(config.half_life),
            report: 4.0,
        };
        seasonal.learn(value, at(i), finding, pace, &config);
        finding.map_or(0.0, |f| f.surprise)
    }

    #[test]
    fn slots_are_hours_of_the_week_from_monday() {
        assert_eq!(slot(at(0).timestamp()), 0);
        assert_eq!(slot(at(4 * 25).timestamp()), 25);
        assert_eq!(slot(at(4 * 24 * 7).timestamp()), 0);
        assert_eq!(slot(at(-1).timestamp()), SLOTS - 1);
    }

    #[test]
    fn the_normal_tail_is_right_and_finite_far_out() {
        assert!((normal_tail_surprise(0.0) - 2f64.log10()).abs() < 1e-6);
        assert!((normal_tail_surprise(1.959_964) + 0.025f64.log10()).abs() < 1e-4);
        assert!(normal_tail_surprise(-3.0) < 0.01);
        let far = normal_tail_surprise(40.0);
        assert!(far.is_finite() && far > 300.0, "{far}");
    }

    #[test]
    fn a_missing_busy_day_is_reported_and_a_usual_week_is_not() {
        let mut seasonal = Seasonal::new(&config());
        let weeks = 4 * 24 * 7;
        let mut loudest_usual: f64 = 0.0;
        for i in 0..3 * weeks {
            loudest_usual = loudest_usual.max(observe(&mut seasonal, i, usual(i)));
        }
        assert!(loudest_usual < 4.0, "a usual week: {loudest_usual}");
        // Monday of the fourth week stays quiet all day.
        let quiet: f64 = (3 * weeks..3 * weeks + 96)
            .map(|i| observe(&mut seasonal, i, 10.0 + usual(i) % 1.0))
            .fold(0.0, f64::max);
        assert!(quiet >= 4.0, "a missing busy day: {quiet}");
    }

    #[test]
    fn huge_values_leave_the_statistics_finite() {
        let mut seasonal = Seasonal::new(&config());
        for i in 0..10 * 96 {
            let value = match i % 3 {
                0 => f64::MAX,
                1 => -f64::MAX,
                _ => usual(i),
            };
            let surprise = observe(&mut seasonal, i, value);
            assert!(surprise.is_finite(), "{i}: {surprise}");
        }
        let (mean, variance) = seasonal.stats.unwrap();
        assert!(mean.is_finite() && variance.is_finite());
        assert!(seasonal.means.iter().all(|m| m.is_finite()));
    }

    #[test]
    fn nothing_is_judged_before_a_week_and_a_day() {
        let mut seasonal = Seasonal::new(&config());
        for i in 0..8 * 96 {
            assert_eq!(seasonal.judge(usual(i), at(i), &config()), None, "{i}");
            observe(&mut seasonal, i, usual(i));
        }
        assert!(seasonal
            .judge(usual(8 * 96), at(8 * 96), &config())
            .is_some());
    }

    #[test]
    fn learning_is_saved_whole() {
        let snapshot = |s: &Seasonal| {
            (
                s.first,
                s.means.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                s.visits.clone(),
                s.errors.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                s.next,
                s.stats.map(|(a, b)| (a.to_bits(), b.to_bits())),
                s.judged,
                s.hold,
            )
        };
        let mut seasonal = Seasonal::new(&config());
        for i in 0..9 * 96 {
            observe(&mut seasonal, i, usual(i));
        }
        for i in 9 * 96..9 * 96 + 200 {
            let value = if i % 50 == 0 { 500.0 } else { usual(i) };
            observe(&mut seasonal, i, value);
        }
        let mut bytes = Vec::new();
        seasonal.save(&mut Writer::new(&mut bytes));
        let mut loaded = Seasonal::new(&config());
        let mut from = Reader::new(&bytes);
        loaded.load(&mut from, &config()).unwrap();
        from.finish().unwrap();
        assert_eq!(snapshot(&loaded), snapshot(&seasonal));
    }
}
