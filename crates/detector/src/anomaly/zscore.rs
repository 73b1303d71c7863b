//! Rolling z-score: how unusual a value is against the last `window` values of its metric.
//!
//! The robust variant (the default) compares with the median and takes the spread from the
//! interquartile range (IQR / 1.349 estimates σ for Gaussian data): one spike, or a run of
//! them, barely moves either, whereas it inflates a mean and standard deviation and so masks
//! the next one. When more than half the window holds one value the IQR is 0 and the
//! standard deviation takes over as the spread, so that a mostly-flat series with rare
//! blips does not turn every blip into an infinite score.

use super::deviation::Deviation;
use super::saved_state::{Reader, Saved, Unreadable, Writer};
use super::window::RollingWindow;

/// Values a baseline needs before it judges anything (or the whole window if shorter).
pub(crate) const MIN_BASELINE: usize = 8;

/// σ of a Gaussian per unit of interquartile range.
const IQR_TO_SIGMA: f64 = 1.0 / 1.349;

#[derive(Debug, Clone)]
pub(crate) struct RollingZScore {
    window: RollingWindow,
    robust: bool,
}

impl RollingZScore {
    pub(crate) fn new(window: usize, robust: bool) -> Self {
        RollingZScore {
            window: RollingWindow::new(window),
            robust,
        }
    }

    /// The value against the window as it stands (before the value joins it); `None` while
    /// the window is too short to call anything usual.
    pub(crate) fn deviation(&self, value: f64) -> Option<Deviation> {
        let w = &self.window;
        if w.len() < MIN_BASELINE.min(w.capacity()) {
            return None;
        }
        Some(if self.robust {
            let spread = (w.quantile(0.75) - w.quantile(0.25)) * IQR_TO_SIGMA;
            let spread = if spread > 0.0 { spread } else { w.std_dev() };
            Deviation::new(value, w.median(), spread)
        } else {
            Deviation::new(value, w.mean(), w.std_dev())
        })
    }

    pub(crate) fn push(&mut self, value: f64) {
        self.window.push(value);
    }

    pub(crate) fn bytes_for(window: usize) -> usize {
        RollingWindow::bytes_for(window)
    }
}

impl Saved for RollingZScore {
    fn save(&self, out: &mut Writer<'_>) {
        self.window.save(out);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        self.window.load(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_z_ignores_a_past_spike() {
        let mut robust = RollingZScore::new(50, true);
        let mut classic = RollingZScore::new(50, false);
        for i in 0..49 {
            let v = f64::from(i % 5);
            robust.push(v);
            classic.push(v);
        }
        robust.push(1000.0);
        classic.push(1000.0);
        let r = robust.deviation(8.0).unwrap();
        let c = classic.deviation(8.0).unwrap();
        assert_eq!(r.baseline, 2.0);
        assert!(r.z > 3.0, "robust z {}", r.z);
        assert!(c.z < 0.0, "the spike drags the mean above 8: {}", c.z);
    }

    #[test]
    fn mostly_flat_windows_fall_back_to_the_standard_deviation() {
        let mut z = RollingZScore::new(10, true);
        for v in [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0] {
            z.push(v);
        }
        // median 0, IQR 0, σ = 0.3
        assert!((z.deviation(0.9).unwrap().z - 3.0).abs() < 1e-9);
        assert!(RollingZScore::new(10, true).deviation(1.0).is_none());
    }
}
