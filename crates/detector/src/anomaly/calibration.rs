//! Turning a detector's raw deviation into a *surprise*: −log10 of the probability, under
//! the series' own recent history, of a deviation at least as large.
//!
//! A z-score of 6 is alarming on a quiet metric and routine on a spiky one, so one fixed
//! threshold cannot serve every series; each detector's output is therefore judged against
//! the distribution of its own past outputs for that series. The distribution is a
//! histogram with exponential forgetting (a `half_life` in points), kept as suffix sums so
//! that adding a value is O(bins) at worst and cheap for the common small values, and a
//! query reads a few bins: the bin of the tail's threshold, which a push moves by a bin or
//! so, is kept up to date rather than searched for. Beyond the `1 − TAIL` quantile the
//! tail is modelled as exponential with the observed mean excess (peaks over threshold,
//! Siffer et al., KDD 2017), so that a deviation larger than anything in the history still
//! gets a finite, growing surprise rather than a saturated one.
//!
//! Because recent deviations are part of the history, the second occurrence of a large
//! deviation is much less surprising than the first: a shift is reported when it happens,
//! not for as long as it lasts.

use super::saved_state::{Reader, Saved, Unreadable, Writer};

/// Histogram bins.
const BINS: usize = 128;
/// Fraction of the mass in the modelled tail.
const TAIL: f64 = 0.02;
/// Weights are rescaled when the growing weight of new values passes this.
const RESCALE_AT: f64 = 1e100;

/// What a calibrator says of a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tail {
    /// −log10 of the probability of a value at least as large.
    pub(crate) surprise: f64,
    /// Beyond the series' usual extremes (the top 2 % of its history).
    pub(crate) extreme: bool,
}

/// `[mass, moment]` of one bin's suffix: side by side, because a push adds to both over the
/// same bins and a query reads both of the tail's bin.
const MASS: usize = 0;
const MOMENT: usize = 1;

/// Laid out for the cache, as the calibrators of a fleet's series rarely are in it: the
/// fields every query and push reads first share a cache line with the first bins, where
/// most values fall.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(crate) struct TailCalibrator {
    /// The last bin whose suffix holds the tail mass, `TAIL × mass[0]`: the `1 − TAIL`
    /// quantile lies in it (0 with no history). Kept by every change to `mass`, so that a
    /// query need not search a kilobyte of bins.
    tail_bin: usize,
    /// Weight of the next value: it grows instead of the old weights shrinking, which is the
    /// same forgetting without touching every bin.
    weight: f64,
    growth: f64,
    width: f64,
    /// `bins[i][MASS]`: weight of the values in bins `i..`; `bins[BINS][MASS]` is 0.
    /// Non-increasing: rounding is monotone, so adding a weight to a prefix keeps the order.
    /// `bins[i][MOMENT]`: Σ over bins `b ≥ i` of weight × (b + ½), the excess of the tail
    /// in bins.
    bins: [[f64; 2]; BINS + 1],
}

impl TailCalibrator {
    /// A calibrator for values in `[0, width × 128)` (larger ones count in the last bin)
    /// forgetting with the given half-life in points.
    pub(crate) fn new(width: f64, half_life: f64) -> Self {
        TailCalibrator {
            tail_bin: 0,
            weight: 1.0,
            growth: (1.0 / half_life).exp2(),
            width,
            bins: [[0.0; 2]; BINS + 1],
        }
    }

    fn mass(&self, bin: usize) -> f64 {
        self.bins[bin][MASS]
    }

    fn bin(&self, value: f64) -> usize {
        ((value / self.width) as usize).min(BINS - 1)
    }

    /// [`tail_bin`](Self::tail_bin) for the bins as they are, walking from `from`: a change
    /// moves it by a bin or so, where a binary search would miss the cache at every step.
    fn find_tail_bin(&self, from: usize) -> usize {
        if self.mass(0) <= 0.0 {
            return 0;
        }
        let target = TAIL * self.mass(0);
        let mut at = from.min(BINS - 1);
        // `mass[0] ≥ target`, and `mass[BINS] = 0 < target` bounds the walk up.
        while at > 0 && self.mass(at) < target {
            at -= 1;
        }
        while at + 1 < BINS && self.mass(at + 1) >= target {
            at += 1;
        }
        debug_assert_eq!(at + 1, self.bins.partition_point(|b| b[MASS] >= target));
        at
    }

    /// −log10 of the tail probability of a value ≥ 0 (0 with no history), and whether the
    /// value lies in the extreme tail (beyond the `1 − TAIL` quantile). The current value
    /// counts as one more observation, so that the empirical part never reaches 0.
    pub(crate) fn surprise(&self, value: f64) -> Tail {
        let total = self.mass(0);
        if total <= 0.0 {
            return Tail {
                surprise: 0.0,
                extreme: false,
            };
        }
        let target = TAIL * total;
        // The threshold u lies in this bin.
        let at = self.tail_bin;
        let in_bin = (self.mass(at) - self.mass(at + 1)).max(f64::MIN_POSITIVE);
        let upper = (at + 1) as f64 * self.width;
        let threshold = upper - self.width * ((target - self.mass(at + 1)) / in_bin).min(1.0);
        let extreme = value > threshold;
        let log_p = if !extreme {
            let b = self.bin(value);
            let inside = (self.mass(b) - self.mass(b + 1)).max(0.0);
            let above = self.mass(b + 1)
                + inside * (((b + 1) as f64 * self.width - value) / self.width).clamp(0.0, 1.0);
            ((above + self.weight) / (total + self.weight)).ln()
        } else {
            // Mean excess over the threshold: whole bins above it at their middle, and the
            // part of the threshold's own bin above it at the middle of that part.
            let partial = target - self.mass(at + 1);
            let sum = self.bins[at + 1][MOMENT] * self.width + partial * (threshold + upper) / 2.0;
            let excess = (sum / target - threshold).max(self.width / 4.0);
            ((target + self.weight) / (total + self.weight)).ln() - (value - threshold) / excess
        };
        Tail {
            surprise: (-log_p / std::f64::consts::LN_10).max(0.0),
            extreme,
        }
    }

    /// Adds a value ≥ 0 to the history.
    pub(crate) fn push(&mut self, value: f64) {
        let b = self.bin(value);
        let moment = self.weight * (b as f64 + 0.5);
        for bin in &mut self.bins[..=b] {
            bin[MASS] += self.weight;
            bin[MOMENT] += moment;
        }
        self.weight *= self.growth;
        if self.weight > RESCALE_AT {
            let scale = 1.0 / self.weight;
            self.bins
                .as_flattened_mut()
                .iter_mut()
                .for_each(|m| *m *= scale);
            self.weight = 1.0;
        }
        self.tail_bin = self.find_tail_bin(self.tail_bin);
    }
}

/// The bins up to the last one holding any weight (the rest are 0: values stay in the first
/// few bins), the tail's bin and the running weight.
impl Saved for TailCalibrator {
    fn save(&self, out: &mut Writer<'_>) {
        let used = self
            .bins
            .iter()
            .rposition(|bin| bin[MASS] != 0.0 || bin[MOMENT] != 0.0)
            .map_or(0, |last| last + 1);
        out.f64s(self.bins[..used].iter().map(|bin| &bin[MASS]));
        out.f64s(self.bins[..used].iter().map(|bin| &bin[MOMENT]));
        out.usize(self.tail_bin);
        out.f64(self.weight);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        let mut mass = Vec::with_capacity(BINS);
        let mut moment = Vec::with_capacity(BINS);
        let used = from.f64s_into(&mut mass, BINS)?;
        if from.f64s_into(&mut moment, BINS)? != used {
            return Err(Unreadable("a calibration's sums differ in length"));
        }
        for (bin, (mass, moment)) in self.bins.iter_mut().zip(mass.into_iter().zip(moment)) {
            *bin = [mass, moment];
        }
        self.tail_bin = from.usize()?;
        if self.tail_bin >= BINS {
            return Err(Unreadable("a calibration's tail lies beyond its bins"));
        }
        self.weight = from.f64()?;
        Ok(())
    }
}

/// A z-score's surprise, with rises and falls judged separately: many metrics are lopsided
/// (latency spikes up, throughput drops down), and a drop should not look ordinary because
/// spikes are.
#[derive(Debug, Clone)]
pub(crate) struct SignedCalibrator {
    up: TailCalibrator,
    down: TailCalibrator,
}

/// Bin width on the `ln(1 + |z|)` scale: 128 bins reach |z| ≈ 9·10⁶, past the cap of 10⁶.
const LOG_Z_WIDTH: f64 = 0.125;

impl SignedCalibrator {
    pub(crate) fn new(half_life: f64) -> Self {
        SignedCalibrator {
            up: TailCalibrator::new(LOG_Z_WIDTH, half_life),
            down: TailCalibrator::new(LOG_Z_WIDTH, half_life),
        }
    }

    /// What the history says of a z-score, and its magnitude on the calibration's scale,
    /// for [`push`](Self::push).
    pub(crate) fn surprise(&self, z: f64) -> (Tail, f64) {
        let magnitude = z.abs().ln_1p();
        let side = if z >= 0.0 { &self.up } else { &self.down };
        (side.surprise(magnitude), magnitude)
    }

    /// Adds a z-score, given with the magnitude [`surprise`](Self::surprise) returned.
    pub(crate) fn push(&mut self, z: f64, magnitude: f64) {
        let side = if z >= 0.0 {
            &mut self.up
        } else {
            &mut self.down
        };
        side.push(magnitude);
    }
}

impl Saved for SignedCalibrator {
    fn save(&self, out: &mut Writer<'_>) {
        self.up.save(out);
        self.down.save(out);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        self.up.load(from)?;
        self.down.load(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_history_is_never_surprised() {
        let calibrator = TailCalibrator::new(0.1, 100.0);
        assert_eq!(calibrator.surprise(5.0).surprise, 0.0);
    }

    #[test]
    fn rare_values_are_surprising_and_common_ones_are_not() {
        let mut calibrator = TailCalibrator::new(0.125, 10_000.0);
        for i in 0..1000 {
            calibrator.push(f64::from(i % 10) / 10.0); // uniform on [0, 1)
        }
        let median = calibrator.surprise(0.5).surprise;
        assert!((median - 0.3).abs() < 0.05, "P(≥ 0.5) ≈ 0.5: {median}");
        let top = calibrator.surprise(0.99).surprise;
        assert!(top > 1.3 && top < 2.5, "P(≥ 0.99) ≈ 0.01: {top}");
        let beyond = calibrator.surprise(3.0);
        assert!(beyond.extreme && !calibrator.surprise(0.9).extreme);
        assert!(
            beyond.surprise > 5.0,
            "far beyond anything seen: {beyond:?}"
        );
        assert!(
            calibrator.surprise(4.0).surprise > beyond.surprise,
            "and growing"
        );
    }

    #[test]
    fn a_repeated_deviation_becomes_ordinary() {
        let mut calibrator = SignedCalibrator::new(1000.0);
        for i in 0..500 {
            let z = f64::from(i % 7) / 3.0 - 1.0;
            let (_, magnitude) = calibrator.surprise(z);
            calibrator.push(z, magnitude);
        }
        let (
            Tail {
                surprise: first, ..
            },
            magnitude,
        ) = calibrator.surprise(50.0);
        for _ in 0..3 {
            calibrator.push(50.0, magnitude);
        }
        let fourth = calibrator.surprise(50.0).0.surprise;
        assert!(first > 4.0 && fourth < 2.5, "{first} then {fourth}");
        assert!(
            calibrator.surprise(-50.0).0.surprise > 4.0,
            "a fall as large is still news"
        );
    }

    #[test]
    fn forgetting_rescales_without_drift() {
        let mut calibrator = TailCalibrator::new(0.125, 2.0);
        for i in 0..5000 {
            calibrator.push(f64::from(i % 3));
        }
        assert!(calibrator.bins.as_flattened().iter().all(|m| m.is_finite()));
        assert!(calibrator.surprise(1.0).surprise.is_finite());
    }
}
