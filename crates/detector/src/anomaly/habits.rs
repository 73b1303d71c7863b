//! What is usual for one object, so that only what is unusual for it (or broken) pages
//! someone: per series, the usual range of its duration, memory and CPU time, and how
//! often it breaks each threshold rule.
//!
//! A failure or a negative memory (a data-quality problem) always alerts. A value far
//! beyond the object's usual range alerts. A threshold rule (long run, high memory, low
//! efficiency) alerts by itself when the object does not habitually break it and the value
//! is outside its usual range; when it does (an object slow by nature), only a value far
//! beyond its range alerts. The state is a few numbers per series, of a fixed size, the
//! same for every series, and deterministic.

use super::saved_state::{Reader, Unreadable, Writer};
use super::smoothing::smoothing_factor;
use crate::rules::RuleKind;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How an object's habits are learned and judged; one configuration for every series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HabitsConfig {
    /// Runs after which an old run weighs half as much in the usual range and the rates
    /// of the rules.
    pub half_life: f64,
    /// Runs an object must have had before a value is judged against its usual range.
    pub min_runs: usize,
    /// Width of the usual range, in mean absolute deviations of the log of the value
    /// from its usual level: beyond it a value alerts.
    pub width: f64,
    /// Smallest factor between a value and the usual level for it to alert, so that a
    /// very steady object does not alert on an ordinary wobble.
    pub min_factor: f64,
    /// Share of its recent runs in which an object breaks a threshold rule from which
    /// the rule is habitual for it and no longer alerts by itself.
    pub habitual_rate: f64,
}

impl Default for HabitsConfig {
    fn default() -> Self {
        HabitsConfig {
            half_life: 50.0,
            min_runs: 8,
            width: 5.0,
            min_factor: 4.0,
            habitual_rate: 0.1,
        }
    }
}

impl HabitsConfig {
    /// Why the configuration is invalid, if it is.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.half_life) {
            Some("habits.half_life must be finite and > 0")
        } else if !positive(self.width) {
            Some("habits.width must be finite and > 0")
        } else if !(self.min_factor.is_finite() && self.min_factor >= 1.0) {
            Some("habits.min_factor must be finite and at least 1")
        } else if !(self.habitual_rate > 0.0 && self.habitual_rate <= 1.0) {
            Some("habits.habitual_rate must be in (0, 1]")
        } else {
            None
        }
    }
}

/// What an alert is about: the kind of trouble it reports.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertReason {
    /// The run FAILED.
    Failure,
    /// Negative memory: a data-quality problem.
    NegativeMemory,
    /// The run's duration.
    Duration,
    /// The run's memory.
    Memory,
    /// The run's CPU time.
    Cpu,
}

impl AlertReason {
    pub const ALL: [AlertReason; 5] = [
        AlertReason::Failure,
        AlertReason::NegativeMemory,
        AlertReason::Duration,
        AlertReason::Memory,
        AlertReason::Cpu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertReason::Failure => "failure",
            AlertReason::NegativeMemory => "negative_memory",
            AlertReason::Duration => "duration",
            AlertReason::Memory => "memory",
            AlertReason::Cpu => "cpu",
        }
    }
}

/// Why a run alerts: what about, and one sentence with the value, the usual range and
/// since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertCause {
    pub reason: AlertReason,
    pub why: String,
}

/// What the object's history says of one run: `alert` is `None` when it pages no one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Judgement {
    pub alert: Option<AlertCause>,
}

/// What the habits need of a run.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub started_at: DateTime<Utc>,
    pub failed: bool,
    pub error_message: Option<&'a str>,
    pub duration_seconds: f64,
    pub memory_bytes: f64,
    pub cpu_seconds: f64,
    /// The threshold rules the run broke.
    pub rules: &'a [RuleKind],
    /// The half of the efficiency score the run lost more of: duration or memory.
    pub efficiency_lost_to: AlertReason,
}

/// The metrics with a usual range, in the order of the arrays of [`Habits`].
const METRICS: [AlertReason; 3] = [AlertReason::Duration, AlertReason::Memory, AlertReason::Cpu];

/// Added to a value before its log is taken, so that values at the log's resolution
/// (CPU in hundredths of a second, memory in pages) do not look like huge swings.
const FLOORS: [f64; 3] = [0.1, 1e6, 0.05];

/// Half-width of the usual range, in mean absolute deviations of the log: where all but
/// a run or two in a hundred fall.
const USUAL_DEVIATIONS: f64 = 3.0;

/// The threshold rules whose habit is learned, in the order of [`Habits::rule_rates`].
const THRESHOLD_RULES: [RuleKind; 3] = [
    RuleKind::LongDuration,
    RuleKind::HighMemory,
    RuleKind::LowEfficiency,
];

/// The habits of one series, of a fixed size: they are bounded with the series' state.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Habits {
    /// Runs learned from.
    runs: u64,
    /// Runs whose metrics were learned (not failed), per metric.
    learned: [u64; 3],
    /// Exponential mean of `ln(floor + value)` per metric.
    level: [f64; 3],
    /// Exponential mean absolute deviation of the same from `level`.
    spread: [f64; 3],
    /// Start of the first of the consecutive runs, up to the last one, beyond the usual
    /// range, per metric (seconds since the epoch).
    beyond_since: [Option<i64>; 3],
    /// Start of the first of the consecutive failed runs up to the last one.
    failing_since: Option<i64>,
    /// Start of the first of the consecutive runs with negative memory up to the last one.
    negative_since: Option<i64>,
    /// Exponential rate of failed runs.
    failure_rate: f64,
    /// Exponential rate of runs breaking each of [`THRESHOLD_RULES`].
    rule_rates: [f64; 3],
}

fn log_of(metric: usize, value: f64) -> f64 {
    (FLOORS[metric] + value.max(0.0)).ln()
}

fn unlog(metric: usize, log: f64) -> f64 {
    (log.exp() - FLOORS[metric]).max(0.0)
}

fn time(at: Option<i64>) -> String {
    at.and_then(|s| Utc.timestamp_opt(s, 0).single())
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A value of `metric` as an operator reads it.
fn show(metric: usize, value: f64) -> String {
    match METRICS[metric] {
        AlertReason::Memory => {
            let abs = value.abs();
            let (scaled, unit) = if abs >= 1e9 {
                (value / 1e9, "GB")
            } else if abs >= 1e6 {
                (value / 1e6, "MB")
            } else {
                (value / 1e3, "kB")
            };
            format!("{scaled:.1} {unit}")
        }
        _ if value >= 100.0 => format!("{value:.0} s"),
        _ if value >= 1.0 => format!("{value:.1} s"),
        _ => format!("{value:.2} s"),
    }
}

const NAMES: [&str; 3] = ["duration", "memory", "CPU time"];

impl Habits {
    /// The usual range of `metric`: within [`USUAL_DEVIATIONS`] of its level.
    fn usual(&self, metric: usize) -> (f64, f64) {
        let (level, spread) = (self.level[metric], self.spread[metric]);
        (
            unlog(metric, level - USUAL_DEVIATIONS * spread),
            unlog(metric, level + USUAL_DEVIATIONS * spread),
        )
    }

    /// How far, on the log scale, `value` of `metric` is beyond the edge of the range that
    /// alerts; `None` when the metric has too little history or the value is within.
    fn excess(&self, config: &HabitsConfig, metric: usize, value: f64) -> Option<f64> {
        if self.learned[metric] < config.min_runs as u64 {
            return None;
        }
        let reach = (config.width * self.spread[metric]).max(config.min_factor.ln());
        let excess = log_of(metric, value) - (self.level[metric] + reach);
        (excess > 0.0).then_some(excess)
    }

    fn usual_text(&self, config: &HabitsConfig, metric: usize) -> String {
        if self.learned[metric] < config.min_runs as u64 {
            return format!("too few runs yet to know the usual {}", NAMES[metric]);
        }
        let (low, high) = self.usual(metric);
        format!(
            "usually {}–{} for this object",
            show(metric, low),
            show(metric, high)
        )
    }

    /// Whether `run` alerts, judged against the history before it.
    pub(crate) fn judge(&self, config: &HabitsConfig, run: &RunFacts<'_>) -> Judgement {
        let start = run.started_at.timestamp();
        let values = [run.duration_seconds, run.memory_bytes, run.cpu_seconds];
        if run.failed {
            let message = run.error_message.unwrap_or("unknown error");
            let since = self.failing_since.unwrap_or(start);
            return alert(
                AlertReason::Failure,
                format!(
                    "run FAILED ({message}), usually fails in {:.0} % of runs for this object \
                     (since {})",
                    100.0 * self.failure_rate,
                    time(Some(since))
                ),
            );
        }
        if run.memory_bytes < 0.0 {
            let since = self.negative_since.unwrap_or(start);
            return alert(
                AlertReason::NegativeMemory,
                format!(
                    "memory {} (negative: a measurement problem), {} (since {})",
                    show(1, run.memory_bytes),
                    self.usual_text(config, 1),
                    time(Some(since))
                ),
            );
        }
        let beyond = (0..METRICS.len())
            .filter_map(|m| Some((m, self.excess(config, m, values[m])?)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((m, _)) = beyond {
            return alert(METRICS[m], self.sentence(config, m, values[m], start));
        }
        let new_rule = THRESHOLD_RULES
            .iter()
            .zip(self.rule_rates)
            .filter(|(rule, rate)| run.rules.contains(rule) && *rate < config.habitual_rate)
            .map(|(rule, _)| match rule {
                RuleKind::HighMemory => 1,
                RuleKind::LowEfficiency if run.efficiency_lost_to == AlertReason::Memory => 1,
                _ => 0,
            })
            .find(|&m| !self.within_usual(config, m, values[m]));
        match new_rule {
            Some(m) => alert(METRICS[m], self.sentence(config, m, values[m], start)),
            None => Judgement { alert: None },
        }
    }

    /// Whether `value` of `metric` lies within its usual range (false while it is unknown).
    fn within_usual(&self, config: &HabitsConfig, metric: usize, value: f64) -> bool {
        let (low, high) = self.usual(metric);
        self.learned[metric] >= config.min_runs as u64 && (low..=high).contains(&value)
    }

    fn sentence(&self, config: &HabitsConfig, metric: usize, value: f64, start: i64) -> String {
        format!(
            "{} {}, {} (since {})",
            NAMES[metric],
            show(metric, value),
            self.usual_text(config, metric),
            time(Some(self.beyond_since[metric].unwrap_or(start)))
        )
    }

    /// Learns `run`: a failed run counts in the rates but leaves the usual ranges alone (it
    /// stopped early or waited on a timeout); a negative memory leaves the memory's alone.
    /// A value is clipped to the edge of the alerting range before it is learned, so an
    /// outlier moves the range by a bounded step.
    pub(crate) fn learn(&mut self, config: &HabitsConfig, run: &RunFacts<'_>) {
        let start = run.started_at.timestamp();
        let rate_weight = smoothing_factor(config.half_life).max(1.0 / (self.runs + 1) as f64);
        let mean =
            |rate: &mut f64, hit: bool| *rate += rate_weight * (f64::from(u8::from(hit)) - *rate);
        mean(&mut self.failure_rate, run.failed);
        for (rate, rule) in self.rule_rates.iter_mut().zip(THRESHOLD_RULES) {
            mean(rate, run.rules.contains(&rule));
        }
        self.failing_since = run.failed.then(|| self.failing_since.unwrap_or(start));
        let negative = run.memory_bytes < 0.0;
        self.negative_since = negative.then(|| self.negative_since.unwrap_or(start));
        self.runs += 1;
        let values = [run.duration_seconds, run.memory_bytes, run.cpu_seconds];
        for (m, value) in values.into_iter().enumerate() {
            if run.failed || (m == 1 && negative) {
                continue;
            }
            let beyond = self.excess(config, m, value).is_some();
            self.beyond_since[m] = beyond.then(|| self.beyond_since[m].unwrap_or(start));
            let mut log = log_of(m, value);
            if self.learned[m] >= config.min_runs as u64 {
                let reach = (config.width * self.spread[m]).max(config.min_factor.ln());
                log = log.clamp(self.level[m] - reach, self.level[m] + reach);
            }
            if self.learned[m] == 0 {
                self.level[m] = log;
            } else {
                let w = smoothing_factor(config.half_life).max(1.0 / (self.learned[m] + 1) as f64);
                let deviation = (log - self.level[m]).abs();
                self.spread[m] += w * (deviation - self.spread[m]);
                self.level[m] += w * (log - self.level[m]);
            }
            self.learned[m] += 1;
        }
    }

    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.u64(self.runs);
        for m in 0..METRICS.len() {
            out.u64(self.learned[m]);
            out.f64(self.level[m]);
            out.f64(self.spread[m]);
            out.option(self.beyond_since[m], Writer::i64);
        }
        out.option(self.failing_since, Writer::i64);
        out.option(self.negative_since, Writer::i64);
        out.f64(self.failure_rate);
        for rate in self.rule_rates {
            out.f64(rate);
        }
    }

    pub(crate) fn load(from: &mut Reader<'_>) -> Result<Self, Unreadable> {
        let mut habits = Habits {
            runs: from.u64()?,
            ..Habits::default()
        };
        for m in 0..METRICS.len() {
            habits.learned[m] = from.u64()?;
            habits.level[m] = from.f64()?;
            habits.spread[m] = from.f64()?;
            habits.beyond_since[m] = from.option(Reader::i64)?;
        }
        habits.failing_since = from.option(Reader::i64)?;
        habits.negative_since = from.option(Reader::i64)?;
        habits.failure_rate = from.f64()?;
        for rate in &mut habits.rule_rates {
            *rate = from.f64()?;
        }
        Ok(habits)
    }
}

fn alert(reason: AlertReason, why: String) -> Judgement {
    Judgement {
        alert: Some(AlertCause { reason, why }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A run started `at` hours after a fixed instant, breaking `rules`.
    fn run(at: i64, duration: f64, memory: f64, rules: &[RuleKind]) -> RunFacts<'_> {
        RunFacts {
            started_at: Utc.timestamp_opt(1_700_000_000 + at * 3600, 0).unwrap(),
            failed: rules.contains(&RuleKind::Failure),
            error_message: Some("'id'"),
            duration_seconds: duration,
            memory_bytes: memory,
            cpu_seconds: duration * 0.1,
            rules,
            efficiency_lost_to: AlertReason::Duration,
        }
    }

    /// Learns `runs` ordinary runs, a little noisy, each judged first; returns the alerts.
    fn learn(habits: &mut Habits, config: &HabitsConfig, runs: i64, rules: &[RuleKind]) -> usize {
        (0..runs)
            .filter(|&i| {
                let wobble = 1.0 + 0.05 * (i % 5) as f64;
                let r = run(i, 120.0 * wobble, 30e6 * wobble, rules);
                let alerted = habits.judge(config, &r).alert.is_some();
                habits.learn(config, &r);
                alerted
            })
            .count()
    }

    #[test]
    fn a_rule_always_broken_alerts_once_then_not() {
        let config = HabitsConfig::default();
        let mut habits = Habits::default();
        let alerts = learn(&mut habits, &config, 200, &[RuleKind::LowEfficiency]);
        assert_eq!(alerts, 1, "only the first run, with no history, alerts");
    }

    #[test]
    fn the_same_rule_broken_worse_than_usual_alerts() {
        let config = HabitsConfig::default();
        let mut habits = Habits::default();
        learn(&mut habits, &config, 200, &[RuleKind::LowEfficiency]);
        let worse = run(200, 120.0 * 20.0, 30e6, &[RuleKind::LowEfficiency]);
        let cause = habits.judge(&config, &worse).alert.expect("alerts");
        assert_eq!(cause.reason, AlertReason::Duration);
        assert!(
            cause.why.starts_with("duration 2400 s, usually"),
            "{}",
            cause.why
        );
        assert!(
            cause.why.contains("for this object (since 2023-"),
            "{}",
            cause.why
        );
    }

    #[test]
    fn a_rule_newly_broken_alerts() {
        let config = HabitsConfig::default();
        let mut habits = Habits::default();
        learn(&mut habits, &config, 200, &[]);
        let broken = run(200, 130.0, 30e6, &[RuleKind::HighMemory]);
        // Within the usual range the rule alone does not page; beyond it, it does, well
        // before the value is far enough to alert without a rule.
        assert!(habits.judge(&config, &broken).alert.is_none());
        let broken = run(200, 130.0, 60e6, &[RuleKind::HighMemory]);
        assert!(habits
            .judge(&config, &run(200, 130.0, 60e6, &[]))
            .alert
            .is_none());
        let cause = habits.judge(&config, &broken).alert.expect("alerts");
        assert_eq!(cause.reason, AlertReason::Memory);
    }

    #[test]
    fn a_failure_always_alerts_even_for_an_object_that_often_fails() {
        let config = HabitsConfig::default();
        let mut habits = Habits::default();
        let alerts = learn(&mut habits, &config, 100, &[RuleKind::Failure]);
        assert_eq!(alerts, 100);
        let cause = habits
            .judge(&config, &run(100, 1.0, 1e6, &[RuleKind::Failure]))
            .alert
            .expect("alerts");
        assert_eq!(cause.reason, AlertReason::Failure);
        assert!(cause.why.contains("FAILED ('id')"), "{}", cause.why);
        assert!(
            cause.why.contains("since 2023-11-14 22:13"),
            "{}",
            cause.why
        );
    }

    #[test]
    fn negative_memory_always_alerts() {
        let config = HabitsConfig::default();
        let mut habits = Habits::default();
        learn(&mut habits, &config, 50, &[]);
        let cause = habits
            .judge(
                &config,
                &run(50, 120.0, -4096.0, &[RuleKind::NegativeMemory]),
            )
            .alert
            .expect("alerts");
        assert_eq!(cause.reason, AlertReason::NegativeMemory);
    }

    #[test]
    fn invalid_configurations_are_named() {
        let bad = |f: fn(&mut HabitsConfig)| {
            let mut c = HabitsConfig::default();
            f(&mut c);
            c.invalid()
        };
        assert!(HabitsConfig::default().invalid().is_none());
        assert!(bad(|c| c.half_life = 0.0).is_some());
        assert!(bad(|c| c.width = f64::NAN).is_some());
        assert!(bad(|c| c.min_factor = 0.5).is_some());
        assert!(bad(|c| c.habitual_rate = 0.0).is_some());
    }

    proptest! {
        /// Same runs, same judgements and state; the state reads back bit for bit.
        #[test]
        fn deterministic_and_saved_whole(
            runs in prop::collection::vec((0.0f64..1e4, -1e7f64..1e9, 0u8..8), 1..120)
        ) {
            let config = HabitsConfig::default();
            let all = [RuleKind::Failure, RuleKind::LongDuration, RuleKind::HighMemory];
            let (mut a, mut b) = (Habits::default(), Habits::default());
            for (i, (duration, memory, mask)) in runs.iter().enumerate() {
                let rules: Vec<RuleKind> =
                    all.iter().enumerate().filter(|(k, _)| mask & (1 << k) != 0).map(|(_, r)| *r).collect();
                let r = run(i as i64, *duration, *memory, &rules);
                prop_assert_eq!(a.judge(&config, &r), b.judge(&config, &r));
                a.learn(&config, &r);
                b.learn(&config, &r);
            }
            let mut bytes = Vec::new();
            a.save(&mut Writer::new(&mut bytes));
            let mut from = Reader::new(&bytes);
            let back = Habits::load(&mut from).unwrap();
            prop_assert!(from.finish().is_ok());
            let mut again = Vec::new();
            back.save(&mut Writer::new(&mut again));
            prop_assert_eq!(bytes, again);
            prop_assert_eq!(a, b);
        }
    }
}
