//! Time to recover per kill, and the figures of a run.

use super::schedule::Event;
use std::time::Duration;

/// How long one event kept its stage's output away.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub event: Event,
    /// The share of the records processed when it fired.
    pub at_fraction: f64,
    /// From the kill (a stage) or from the broker answering again (a broker restart) to
    /// the first output committed after it; `None`: none came within the harness's wait.
    pub recovered_in: Option<Duration>,
    /// A broker restart: from its stop to its answering again.
    pub broker_down_for: Option<Duration>,
}

/// The figures over every event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveryStats {
    pub events: usize,
    pub max: Option<Duration>,
    pub median: Option<Duration>,
    /// Events with no output within the wait, or with a recovery at or over the bound.
    pub too_slow: usize,
}

impl RecoveryStats {
    /// Max and median of `recoveries`, and how many reached `bound` (or never recovered).
    pub fn of(recoveries: &[Recovery], bound: Duration) -> RecoveryStats {
        let mut times: Vec<Duration> = recoveries.iter().filter_map(|r| r.recovered_in).collect();
        times.sort();
        let median = match times.len() {
            0 => None,
            n if n % 2 == 1 => Some(times[n / 2]),
            n => Some((times[n / 2 - 1] + times[n / 2]) / 2),
        };
        let too_slow = recoveries
            .iter()
            .filter(|r| r.recovered_in.is_none_or(|t| t >= bound))
            .count();
        RecoveryStats {
            events: recoveries.len(),
            max: times.last().copied(),
            median,
            too_slow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::schedule::Target;

    fn recovery(ms: Option<u64>) -> Recovery {
        Recovery {
            event: Event::Kill(Target::Processing),
            at_fraction: 0.5,
            recovered_in: ms.map(Duration::from_millis),
            broker_down_for: None,
        }
    }

    #[test]
    fn max_median_and_the_slow_ones() {
        let bound = Duration::from_secs(10);
        let odd = [Some(3000), Some(1000), Some(2000)].map(recovery);
        let stats = RecoveryStats::of(&odd, bound);
        assert_eq!(stats.max, Some(Duration::from_millis(3000)));
        assert_eq!(stats.median, Some(Duration::from_millis(2000)));
        assert_eq!((stats.events, stats.too_slow), (3, 0));
        let even = [Some(1000), Some(4000), Some(10_000), None].map(recovery);
        let stats = RecoveryStats::of(&even, bound);
        assert_eq!(stats.median, Some(Duration::from_millis(4000)));
        assert_eq!(stats.too_slow, 2, "at the bound, and never");
        assert_eq!(RecoveryStats::of(&[], bound).max, None);
    }
}
