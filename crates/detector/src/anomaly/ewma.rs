//! Deviation from an exponentially weighted moving average and variance (Finch 2009,
//! "Incremental calculation of weighted mean and variance"). Unlike a window it follows a
//! slow drift at once, so it flags the *speed* of a change rather than its size against
//! a long history; and it costs two numbers per metric.

use super::deviation::Deviation;
use super::saved_state::{Reader, Saved, Unreadable, Writer};
use super::zscore::MIN_BASELINE;

#[derive(Debug, Clone, Default)]
pub(crate) struct Ewma {
    mean: f64,
    variance: f64,
    seen: usize,
}

impl Ewma {
    /// The value against the average and variance so far (before the value joins them);
    /// `None` until they rest on a few values.
    pub(crate) fn deviation(&self, value: f64) -> Option<Deviation> {
        (self.seen >= MIN_BASELINE).then(|| Deviation::new(value, self.mean, self.variance.sqrt()))
    }

    /// Folds a value in with weight `alpha` (0 < alpha ≤ 1).
    pub(crate) fn push(&mut self, value: f64, alpha: f64) {
        self.seen += 1;
        if self.seen == 1 {
            self.mean = value;
            return;
        }
        let diff = value - self.mean;
        // Convex combinations and a capped variance: values near f64::MAX must not turn the
        // state into ∞ or NaN for good.
        self.mean = self.mean * (1.0 - alpha) + value * alpha;
        let variance = (1.0 - alpha) * (self.variance + diff * diff * alpha);
        self.variance = if variance.is_nan() {
            f64::MAX
        } else {
            variance.min(f64::MAX)
        };
    }
}

impl Saved for Ewma {
    fn save(&self, out: &mut Writer<'_>) {
        out.f64(self.mean);
        out.f64(self.variance);
        out.usize(self.seen);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        self.mean = from.f64()?;
        self.variance = from.f64()?;
        self.seen = from.usize()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_the_edges_of_f64() {
        let mut ewma = Ewma::default();
        for i in 0..20 {
            ewma.push(if i % 2 == 0 { f64::MAX } else { -f64::MAX }, 0.5);
        }
        let d = ewma.deviation(0.0).unwrap();
        assert!(d.z.is_finite() && d.baseline.is_finite(), "{d:?}");
    }

    #[test]
    fn follows_a_level_shift() {
        let mut ewma = Ewma::default();
        for i in 0..200 {
            ewma.push(10.0 + f64::from(i % 2), 0.1);
        }
        assert!(ewma.deviation(20.0).unwrap().z > 10.0);
        for i in 0..200 {
            ewma.push(20.0 + f64::from(i % 2), 0.1);
        }
        let after = ewma.deviation(20.5).unwrap();
        assert!(after.z.abs() < 1.0, "{after:?}");
        assert!((after.baseline - 20.5).abs() < 0.1);
    }
}
