//! How far a value lies from a baseline, in units of the baseline's spread; shared by the
//! univariate detectors.

/// Beyond this a z-score is "infinitely" far; the cap keeps every score finite (a constant
/// series has no spread, and any change of it divides by the floor below).
const MAX_Z: f64 = 1e6;

/// Smallest spread relative to the baseline's magnitude: below it a series is treated as
/// constant.
const RELATIVE_FLOOR: f64 = 1e-9;

/// A value seen against a baseline, both on the detector's (possibly log) scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Deviation {
    /// Signed z-score, within ±1e6.
    pub(crate) z: f64,
    /// The center the value was compared with.
    pub(crate) baseline: f64,
}

impl Deviation {
    /// `(value − center) / spread`, with the spread floored so that a constant baseline
    /// gives 0 for the same value and a huge but finite z for any other.
    pub(crate) fn new(value: f64, center: f64, spread: f64) -> Self {
        let floor = (RELATIVE_FLOOR * center.abs()).max(f64::MIN_POSITIVE);
        let z = (value - center) / spread.max(floor);
        Deviation {
            // NaN only from ∞ / ∞, values at the edge of f64 overflowing: no verdict.
            z: if z.is_nan() {
                0.0
            } else {
                z.clamp(-MAX_Z, MAX_Z)
            },
            baseline: center,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_baselines_give_zero_or_a_capped_z() {
        assert_eq!(Deviation::new(5.0, 5.0, 0.0).z, 0.0);
        assert_eq!(Deviation::new(5.1, 5.0, 0.0).z, MAX_Z);
        assert_eq!(Deviation::new(-1.0, 0.0, 0.0).z, -MAX_Z);
        assert_eq!(Deviation::new(3.0, 1.0, 0.5).z, 4.0);
        assert_eq!(Deviation::new(f64::MAX, -f64::MAX, f64::INFINITY).z, 0.0);
    }
}
