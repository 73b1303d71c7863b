//! Contextual novelty: a value in a part of the value axis the series has never visited.
//!
//! The z-scores judge a value against a recent baseline, so a daily cycle longer than their
//! window, a level the series held a week ago, or a slow climb to a new height look the
//! same to them as the ordinary. This detector remembers *where* the series has been: once
//! it has seen `warmup` values it cuts their range into `levels` equal bins, which it keeps
//! (values beyond the range fall in new bins of the same width), and a value whose bin was
//! never visited is novel. How often a series finds new bins is its own business: a drifting
//! or spiky series does so often, a steady one almost never. So a novel bin is scored by its
//! surprise, −log10 of the series' recent rate of novel points (exponentially forgotten,
//! like the anomaly likelihood of HTM detectors), and it is reported once: the novelties of
//! the next `hold_off` points are learned but not reported, because an operator (and NAB)
//! wants the first sign of a change, not every point of it.
//!
//! It also remembers the transitions, pairs of consecutive bins, the series has made: a
//! deviation along a path taken before (the daily climb of a cycle longer than the
//! z-scores' window, the spikes of a spiky series) is weaker evidence than one that takes
//! the series somewhere new, and the fusion weighs it less (`familiar_weight`).

use super::config::NoveltyConfig;
use super::saved_state::{Reader, Unreadable, Writer};

/// Most bins remembered per metric: it bounds the memory of a series whose range keeps
/// growing. Beyond it new bins are still novel, just not remembered.
pub(crate) const MAX_VISITED: usize = 512;

/// Most transitions (pairs of consecutive bins) remembered per metric, likewise.
pub(crate) const MAX_TRANSITIONS: usize = 2048;

/// Smallest bin width relative to the warm-up values' magnitude, for a series that was
/// constant during its warm-up.
const RELATIVE_WIDTH_FLOOR: f64 = 0.01;

/// Smallest rate of novelty: it caps the surprise of a first novelty in a long calm.
const MIN_RATE: f64 = 1e-12;

/// What the detector says of one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NoveltyFinding {
    /// The value's bin was never visited.
    pub(crate) novel: bool,
    /// −log10 of the recent rate of novel points when reported, else 0.
    pub(crate) surprise: f64,
    /// Centre of the nearest visited bin.
    pub(crate) baseline: f64,
    /// Signed distance in bins from the nearest visited bin (0 when visited).
    pub(crate) bins: f64,
    /// The move from the previous value's bin to this one was never made.
    pub(crate) new_transition: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Novelty {
    /// The first values, until the bins are laid; empty afterwards.
    warmup: Vec<f64>,
    /// Lower edge of bin 0 and the bin width, once laid.
    grid: Option<(f64, f64)>,
    /// The bins visited, sorted.
    visited: Vec<i32>,
    /// The transitions made, sorted (see [`transition`]).
    transitions: Vec<u64>,
    /// The previous value's bin.
    previous: Option<i32>,
    /// Smoothed share of recent points that were novel.
    rate: f64,
    /// Points left during which novelties are not reported.
    hold: usize,
}

impl Novelty {
    pub(crate) fn new(config: &NoveltyConfig) -> Self {
        Novelty {
            warmup: Vec::with_capacity(config.warmup),
            grid: None,
            visited: Vec::new(),
            transitions: Vec::new(),
            previous: None,
            rate: 1.0 / config.warmup as f64,
            hold: 0,
        }
    }

    fn bin(grid: (f64, f64), value: f64) -> i32 {
        // `as` saturates: values far beyond the range share the outermost bins.
        ((value - grid.0) / grid.1).floor() as i32
    }

    fn is_new_transition(&self, bin: i32) -> bool {
        self.previous
            .is_none_or(|p| self.transitions.binary_search(&transition(p, bin)).is_err())
    }

    /// The value against the bins visited before it; `None` until the bins are laid.
    pub(crate) fn judge(&self, value: f64) -> Option<NoveltyFinding> {
        let grid = self.grid?;
        let bin = Self::bin(grid, value);
        let at = self.visited.partition_point(|b| *b < bin);
        let novel = self.visited.get(at) != Some(&bin);
        let nearest = [at.checked_sub(1), Some(at)]
            .into_iter()
            .flatten()
            .filter_map(|i| self.visited.get(i))
            .min_by_key(|b| (i64::from(**b) - i64::from(bin)).abs())
            .copied()
            .unwrap_or(bin);
        let surprise = if novel && self.hold == 0 {
            -self.rate.max(MIN_RATE).log10()
        } else {
            0.0
        };
        Some(NoveltyFinding {
            novel,
            surprise,
            baseline: grid.0 + (f64::from(nearest) + 0.5) * grid.1,
            bins: f64::from(bin) - f64::from(nearest),
            new_transition: self.is_new_transition(bin),
        })
    }

    /// Learns the value judged as `finding`; a reported novelty of `report_surprise` or
    /// more starts the hold-off. `alpha` is the weight of the present in the rate.
    pub(crate) fn learn(
        &mut self,
        value: f64,
        finding: Option<NoveltyFinding>,
        report_surprise: f64,
        alpha: f64,
        config: &NoveltyConfig,
    ) {
        let (Some(grid), Some(finding)) = (self.grid, finding) else {
            self.warm_up(value, config);
            return;
        };
        let bin = Self::bin(grid, value);
        if finding.novel && self.visited.len() < MAX_VISITED {
            let at = self.visited.partition_point(|b| *b < bin);
            self.visited.insert(at, bin);
        }
        if let Some(previous) = self.previous {
            let key = transition(previous, bin);
            if let Err(at) = self.transitions.binary_search(&key) {
                if self.transitions.len() < MAX_TRANSITIONS {
                    self.transitions.insert(at, key);
                }
            }
        }
        self.previous = Some(bin);
        let now = if finding.novel { 1.0 } else { 0.0 };
        self.rate += alpha * (now - self.rate);
        self.hold = if finding.surprise >= report_surprise && finding.surprise > 0.0 {
            config.hold_off
        } else {
            self.hold.saturating_sub(1)
        };
    }

    /// Keeps a warm-up value; the last one lays the bins over the range of them all.
    fn warm_up(&mut self, value: f64, config: &NoveltyConfig) {
        self.warmup.push(value);
        if self.warmup.len() < config.warmup {
            return;
        }
        let (low, high) = self
            .warmup
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        let floor = (RELATIVE_WIDTH_FLOOR * low.abs().max(high.abs())).max(f64::MIN_POSITIVE);
        // Halved before subtracting: the range of values near ±f64::MAX would overflow.
        let width = ((high / 2.0 - low / 2.0) * 2.0 / config.levels as f64).max(floor);
        let grid = (low, width);
        let mut bins: Vec<i32> = self.warmup.iter().map(|v| Self::bin(grid, *v)).collect();
        let mut transitions: Vec<u64> = bins.windows(2).map(|w| transition(w[0], w[1])).collect();
        transitions.sort_unstable();
        transitions.dedup();
        transitions.truncate(MAX_TRANSITIONS);
        self.transitions = transitions;
        self.previous = bins.last().copied();
        bins.sort_unstable();
        bins.dedup();
        bins.truncate(MAX_VISITED);
        self.visited = bins;
        self.grid = Some(grid);
        self.warmup = Vec::new();
    }

    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.f64s(self.warmup.iter());
        out.option(self.grid, |out, (low, width)| {
            out.f64(low);
            out.f64(width);
        });
        out.usize(self.visited.len());
        for bin in &self.visited {
            out.u32(*bin as u32);
        }
        out.usize(self.transitions.len());
        for key in &self.transitions {
            out.u64(*key);
        }
        out.option(self.previous, |out, bin| out.u32(bin as u32));
        out.f64(self.rate);
        out.usize(self.hold);
    }

    /// Reads back into a new detector what [`save`](Self::save) wrote.
    pub(crate) fn load(
        &mut self,
        from: &mut Reader<'_>,
        config: &NoveltyConfig,
    ) -> Result<(), Unreadable> {
        self.warmup.clear();
        from.f64s_into(&mut self.warmup, config.warmup)?;
        self.grid = from.option(|from| Ok((from.f64()?, from.f64()?)))?;
        if self.grid.is_some() {
            if !self.warmup.is_empty() {
                return Err(Unreadable("warm-up values kept after the bins were laid"));
            }
            self.warmup = Vec::new();
        }
        let visited = from.usize()?;
        if visited > MAX_VISITED {
            return Err(Unreadable("more visited bins than a detector keeps"));
        }
        self.visited = (0..visited)
            .map(|_| from.u32().map(|bin| bin as i32))
            .collect::<Result<_, _>>()?;
        let transitions = from.usize()?;
        if transitions > MAX_TRANSITIONS {
            return Err(Unreadable("more transitions than a detector keeps"));
        }
        self.transitions = (0..transitions)
            .map(|_| from.u64())
            .collect::<Result<_, _>>()?;
        let sorted = self.visited.windows(2).all(|w| w[0] < w[1])
            && self.transitions.windows(2).all(|w| w[0] < w[1]);
        if !sorted {
            return Err(Unreadable(
                "the visited bins or transitions are out of order",
            ));
        }
        self.previous = from.option(|from| from.u32().map(|bin| bin as i32))?;
        self.rate = from.f64()?;
        self.hold = from.usize()?;
        Ok(())
    }

    /// Upper bound of the bytes of one metric's detector.
    pub(crate) fn bytes_for(config: &NoveltyConfig) -> usize {
        std::mem::size_of::<Self>()
            + (config.warmup * std::mem::size_of::<f64>()).max(
                MAX_VISITED * std::mem::size_of::<i32>()
                    + MAX_TRANSITIONS * std::mem::size_of::<u64>(),
            )
    }
}

/// The key of the move from bin `from` to bin `to`, ordered by `from` then `to`.
fn transition(from: i32, to: i32) -> u64 {
    // Flipping the sign bit maps i32's order onto u32's.
    (u64::from(from as u32 ^ 0x8000_0000) << 32) | u64::from(to as u32 ^ 0x8000_0000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NoveltyConfig {
        NoveltyConfig {
            warmup: 20,
            ..NoveltyConfig::default()
        }
    }

    /// Judges and learns `value`, as the series does; returns the finding.
    fn observe(novelty: &mut Novelty, value: f64) -> Option<f64> {
        let config = config();
        let finding = novelty.judge(value);
        novelty.learn(value, finding, 1.0, 0.01, &config);
        finding.map(|f| f.surprise)
    }

    #[test]
    fn a_new_level_is_reported_once_and_a_known_one_never() {
        let mut novelty = Novelty::new(&config());
        for i in 0..20 {
            assert_eq!(observe(&mut novelty, f64::from(i % 10)), None);
        }
        for i in 0..500 {
            assert_eq!(observe(&mut novelty, f64::from(i % 10)), Some(0.0));
        }
        let first = observe(&mut novelty, 30.0).unwrap();
        assert!(first > 2.0, "a first novelty in a long calm: {first}");
        assert_eq!(observe(&mut novelty, 40.0), Some(0.0), "held off");
        assert_eq!(observe(&mut novelty, 30.0), Some(0.0), "known now");
    }

    #[test]
    fn a_series_that_keeps_finding_new_levels_is_less_surprised() {
        let mut novelty = Novelty::new(&config());
        for i in 0..20 {
            observe(&mut novelty, f64::from(i));
        }
        // A climb: every point is a new bin.
        let surprises: Vec<f64> = (20..400)
            .filter_map(|i| observe(&mut novelty, f64::from(i)))
            .collect();
        let last = surprises.iter().rev().find(|s| **s > 0.0).unwrap();
        assert!(*last < 0.5, "{last}");
    }

    #[test]
    fn a_constant_warm_up_and_huge_values_are_harmless() {
        let mut novelty = Novelty::new(&config());
        for _ in 0..20 {
            observe(&mut novelty, 0.0);
        }
        assert_eq!(observe(&mut novelty, 0.0), Some(0.0));
        for v in [f64::MAX, -f64::MAX, 1e-300] {
            let surprise = observe(&mut novelty, v).unwrap();
            assert!(surprise.is_finite(), "{v}: {surprise}");
        }
    }
}
