//! From the detectors' surprises to one score, a level and an outage probability.

use super::config::{DetectorConfig, LevelsConfig};
use super::saved_state::{Reader, Unreadable, Writer};
use crate::rules::Severity;
use std::f64::consts::LN_10;

/// Fisher's method: the surprise (−log10 probability) of the product of `k` independent
/// tail probabilities being as small as that of the given surprises. Summing surprises
/// alone would make a record with more metrics look more anomalous; this keeps the
/// combined figure a probability whatever the number of parts. 0 for no parts.
pub(crate) fn combine(surprises: impl IntoIterator<Item = f64>) -> f64 {
    // −2 Σ ln pᵢ follows χ² with 2k degrees of freedom; with x = −Σ ln pᵢ its tail is
    // e^(−x) Σ_{i<k} x^i / i!.
    let (sum, parts) = surprises
        .into_iter()
        .fold((0.0, 0usize), |(sum, n), s| (sum + s, n + 1));
    let x = sum * LN_10;
    if x <= 0.0 {
        return 0.0;
    }
    let (mut term, mut series) = (1.0, 1.0);
    for i in 1..parts {
        term *= x / i as f64;
        series += term;
    }
    ((x - series.ln()) / LN_10).max(0.0)
}

/// A surprise as a score in [0, 1].
pub(crate) fn score(surprise: f64, levels: &LevelsConfig) -> f64 {
    (surprise / levels.max_surprise).min(1.0)
}

pub(crate) fn severity(score: f64, levels: &LevelsConfig) -> Option<Severity> {
    if score >= levels.critical {
        Some(Severity::Critical)
    } else if score >= levels.warning {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// The exponentially smoothed share of recent points beyond their series' usual extremes,
/// and how long it has stayed at or above the alert level: a lasting run of unusual points
/// is what precedes an outage, a lone spike is not. Unlike the score, which reports a change
/// when it happens, this stays up for as long as the series is out of its normal range.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outage {
    probability: f64,
    streak: usize,
}

impl Outage {
    /// Folds in whether the current point is extreme; returns the probability and whether
    /// the alert fires.
    pub(crate) fn update(
        &mut self,
        extreme: bool,
        alpha: f64,
        config: &DetectorConfig,
    ) -> (f64, bool) {
        let now = if extreme { 1.0 } else { 0.0 };
        self.probability += alpha * (now - self.probability);
        if self.probability >= config.outage.alert_probability {
            self.streak += 1;
        } else {
            self.streak = 0;
        }
        (self.probability, self.streak >= config.outage.sustain)
    }

    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.f64(self.probability);
        out.usize(self.streak);
    }

    pub(crate) fn load(from: &mut Reader<'_>) -> Result<Self, Unreadable> {
        Ok(Outage {
            probability: from.f64()?,
            streak: from.usize()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_by_hand() {
        assert_eq!(combine([]), 0.0);
        assert_eq!(combine([0.0, 0.0]), 0.0);
        // One part is itself.
        assert!((combine([3.0]) - 3.0).abs() < 1e-12);
        // p₁ = p₂ = 0.01: x = 2 ln 100, tail = e^(−x) (1 + x) = 1e-4 (1 + 9.21) → 3.009
        let expected = -(1e-4 * (1.0 + 2.0 * 100f64.ln())).log10();
        assert!((combine([2.0, 2.0]) - expected).abs() < 1e-9);
        // Weak parts add little to a strong one: x = 6 ln 10, tail = e^(−x) (1 + x + x²/2).
        let x = 6.0 * std::f64::consts::LN_10;
        let expected = -(1e-6 * (1.0 + x + x * x / 2.0)).log10();
        assert!((combine([4.0, 1.0, 1.0]) - expected).abs() < 1e-9);
        assert!(expected < 4.0);
    }

    #[test]
    fn scores_and_levels() {
        let levels = LevelsConfig::default();
        assert_eq!(score(5.0, &levels), 0.5);
        assert_eq!(score(50.0, &levels), 1.0);
        assert_eq!(severity(0.49, &levels), None);
        assert_eq!(severity(0.5, &levels), Some(Severity::Warning));
        assert_eq!(severity(0.8, &levels), Some(Severity::Critical));
    }

    #[test]
    fn the_alert_needs_a_sustained_probability() {
        let config = DetectorConfig::default();
        let mut outage = Outage::default();
        let fired: Vec<bool> = (0..30)
            .map(|_| outage.update(true, 0.2, &config).1)
            .collect();
        let first = fired.iter().position(|f| *f).unwrap();
        // 1 − 0.8^k ≥ 0.5 from k = 4; three points in a row from k = 6.
        assert_eq!(first, 5);
        assert!(!outage.update(false, 0.9, &config).1);
    }
}
