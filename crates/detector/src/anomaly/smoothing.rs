//! Exponential smoothing, shared by the detectors and the per-object habits.

/// The weight of the present in an exponential average whose past halves every
/// `half_life` points.
pub(crate) fn smoothing_factor(half_life: f64) -> f64 {
    1.0 - (-1.0 / half_life).exp2()
}
