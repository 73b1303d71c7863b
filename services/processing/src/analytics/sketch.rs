//! A small DDSketch-style quantile sketch: log-spaced buckets with a guaranteed relative
//! error, in bounded memory.
//!
//! Why this and not a reservoir or t-digest: the error guarantee is relative (1 % of the
//! value by default), which is what matters for heavy-tailed run durations and memory —
//! 1 % of a 2 s run and 1 % of a 2 h run — and two sketches with the same accuracy merge
//! exactly, so the state stays a plain map of counters.
//!
//! How: with `γ = (1 + α) / (1 − α)`, a value `x > 0` goes to bucket `i = ⌈ln x / ln γ⌉`,
//! covering `(γ^(i−1), γ^i]`; the bucket answers `2γ^i / (γ + 1)`, which is within `α · x`
//! of every value it covers. Signs are honest rather than clamped: a negative value (the
//! connectors do report negative memory) goes to the mirror bucket of its magnitude, and
//! magnitudes below [`MIN_MAGNITUDE`] share one exact zero bucket. All buckets live in one
//! key space ordered like the values, so a quantile is a single walk from the lowest key.
//!
//! Memory: at most `max_buckets` buckets of 16 bytes (an `i32` key and a `u64` count,
//! padded). One bucket spans a factor `γ`, so `max_buckets` buckets cover values over a
//! ratio of `γ^max_buckets` (about 4.4 decades per sign at α = 1 % and 512 buckets). When
//! a new bucket would exceed the limit, the two LOWEST buckets are merged (DDSketch's
//! "collapsing lowest" store): the upper quantiles the endpoints report (p50, p95, p99)
//! keep their guarantee, and only quantiles that fall into the collapsed low end are
//! overestimated.

/// Magnitudes below this count as zero: a finite bucket index range, and an absolute
/// error of at most this for the tiniest values.
pub const MIN_MAGNITUDE: f64 = 1e-9;

/// Quantiles over a stream of `f64` with relative error `α`, in at most `max_buckets`
/// buckets.
#[derive(Debug, Clone)]
pub struct QuantileSketch {
    gamma: f64,
    ln_gamma: f64,
    /// Added to a magnitude's bucket index so every non-zero magnitude gets a key ≥ 1;
    /// positive values use `+key`, negative ones `−key`, zero uses 0.
    key_offset: i32,
    max_buckets: usize,
    /// `(key, count)`, sorted by key (= by value), keys unique, counts ≥ 1.
    buckets: Vec<(i32, u64)>,
    count: u64,
}

impl QuantileSketch {
    /// A sketch with relative accuracy `relative_accuracy` (α, in (0, 1)) and at most
    /// `max_buckets` buckets (at least 2, so collapsing always has two to merge).
    pub fn new(relative_accuracy: f64, max_buckets: usize) -> Self {
        let gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy);
        let ln_gamma = gamma.ln();
        let lowest_index = (MIN_MAGNITUDE.ln() / ln_gamma).ceil() as i32;
        QuantileSketch {
            gamma,
            ln_gamma,
            key_offset: 1 - lowest_index,
            max_buckets: max_buckets.max(2),
            buckets: Vec::new(),
            count: 0,
        }
    }

    /// Values added (non-finite values are not).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds one value. NaN and infinities have no place on a log scale and are ignored;
    /// they cannot come from JSON anyway.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        let key = self.key(value);
        match self.buckets.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(at) => self.buckets[at].1 += 1,
            Err(at) => self.insert_bucket(at, key),
        }
    }

    /// The value at quantile `q` (clamped to [0, 1]) by the nearest-rank definition: an
    /// estimate, within `α` relatively (unless it lies in a collapsed low end), of the
    /// smallest value with at least a fraction `q` of the values at or below it — "95 % of
    /// the runs took at most p95". `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        // 1-based rank ⌈q·n⌉, at least 1. The 1e-9 keeps a product such as 0.95 × 20,
        // computed in floating point, from rounding up to the next rank.
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64 - 1e-9).ceil() as u64).max(1);
        let mut seen = 0;
        for &(key, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(self.value(key));
            }
        }
        // Unreachable while the counts add up to `count`; the highest bucket is the
        // honest answer if they ever did not.
        self.buckets.last().map(|&(key, _)| self.value(key))
    }

    fn key(&self, value: f64) -> i32 {
        let magnitude = value.abs();
        if magnitude < MIN_MAGNITUDE {
            return 0;
        }
        let key = (magnitude.ln() / self.ln_gamma).ceil() as i32 + self.key_offset;
        if value > 0.0 {
            key
        } else {
            -key
        }
    }

    fn value(&self, key: i32) -> f64 {
        if key == 0 {
            return 0.0;
        }
        let index = key.abs() - self.key_offset;
        let magnitude = 2.0 * self.gamma.powi(index) / (self.gamma + 1.0);
        if key > 0 {
            magnitude
        } else {
            -magnitude
        }
    }

    /// Inserts a new bucket with count 1 at sorted position `at`, collapsing the lowest
    /// buckets first when the sketch is full.
    fn insert_bucket(&mut self, at: usize, key: i32) {
        if self.buckets.len() < self.max_buckets {
            // Grow exactly up to the limit rather than doubling past it, so the memory
            // bound is `max_buckets` buckets, not twice that.
            if self.buckets.len() == self.buckets.capacity() {
                let room = self.max_buckets - self.buckets.len();
                self.buckets
                    .reserve_exact(self.buckets.len().max(4).min(room));
            }
            self.buckets.insert(at, (key, 1));
        } else if at == 0 {
            // Below everything kept: it joins the lowest bucket, which already stands for
            // "this value or lower".
            self.buckets[0].1 += 1;
        } else {
            let lowest = self.buckets.remove(0);
            self.buckets[0].1 += lowest.1;
            self.buckets.insert(at - 1, (key, 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact nearest-rank quantile: the value of 1-based rank `⌈q · n⌉` (at least 1).
    fn exact(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64 - 1e-9).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    fn assert_within(estimate: f64, truth: f64, alpha: f64) {
        // 1e-12: floating-point slack of `ln` at a bucket boundary.
        assert!(
            (estimate - truth).abs() <= (alpha + 1e-12) * truth.abs(),
            "estimate {estimate} vs {truth}: relative error {} above {alpha}",
            (estimate - truth).abs() / truth.abs()
        );
    }

    #[test]
    fn empty_sketch_has_no_quantiles() {
        let sketch = QuantileSketch::new(0.01, 512);
        assert_eq!(sketch.quantile(0.5), None);
        assert_eq!(sketch.count(), 0);
    }

    #[test]
    fn bucket_answers_by_hand() {
        // α = 1/3 → γ = (4/3)/(2/3) = 2; buckets (1, 2], (2, 4], (4, 8]...; bucket (4, 8]
        // answers 2·8/3 = 16/3.
        let mut sketch = QuantileSketch::new(1.0 / 3.0, 64);
        for v in [5.0, 6.0, 7.0] {
            sketch.add(v);
        }
        let p50 = sketch.quantile(0.5).unwrap_or_default();
        assert!((p50 - 16.0 / 3.0).abs() < 1e-12, "{p50}");
        // 1.5 is in (1, 2] → 4/3; it is the minimum, so q = 0 answers it.
        sketch.add(1.5);
        let p0 = sketch.quantile(0.0).unwrap_or_default();
        assert!((p0 - 4.0 / 3.0).abs() < 1e-12, "{p0}");
    }

    #[test]
    fn nearest_rank_by_hand() {
        // Two runs, 6 s and 30 s: p50 is 6 (half the runs took at most 6 s), p95 is 30.
        let mut sketch = QuantileSketch::new(0.01, 64);
        sketch.add(30.0);
        sketch.add(6.0);
        assert_within(sketch.quantile(0.5).unwrap_or_default(), 6.0, 0.01);
        assert_within(sketch.quantile(0.95).unwrap_or_default(), 30.0, 0.01);
        // Twenty runs 1…20: ⌈0.95 × 20⌉ = 19 exactly, not 20 by rounding.
        let mut sketch = QuantileSketch::new(0.01, 64);
        for v in 1..=20 {
            sketch.add(f64::from(v));
        }
        assert_within(sketch.quantile(0.95).unwrap_or_default(), 19.0, 0.01);
        assert_within(sketch.quantile(0.99).unwrap_or_default(), 20.0, 0.01);
    }

    #[test]
    fn quantiles_are_within_the_relative_error_over_many_decades() {
        let alpha = 0.01;
        let mut sketch = QuantileSketch::new(alpha, 2048);
        // Deterministic, heavy-tailed: 1e-3 … 1e5 on a log-uniform grid, shuffled by a
        // multiplicative step so insertion order is not sorted.
        let values: Vec<f64> = (0..10_000u64)
            .map(|i| 10f64.powf(-3.0 + 8.0 * ((i * 7919) % 10_000) as f64 / 10_000.0))
            .collect();
        for &v in &values {
            sketch.add(v);
        }
        assert_eq!(sketch.count(), 10_000);
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let estimate = sketch.quantile(q).unwrap_or_default();
            assert_within(estimate, exact(&values, q), alpha);
        }
    }

    #[test]
    fn zero_and_negative_values_keep_their_sign_and_order() {
        let alpha = 0.01;
        let mut sketch = QuantileSketch::new(alpha, 512);
        // Memory as the connectors report it: a few negatives, zeros, positives.
        let values = [
            -5_000_000.0,
            -1200.0,
            0.0,
            0.0,
            1e-12,
            350.0,
            4_000_000.0,
            8_000_000.0,
            9_500_000.0,
            120_000_000.0,
        ];
        for v in values {
            sketch.add(v);
        }
        assert_within(
            sketch.quantile(0.0).unwrap_or_default(),
            -5_000_000.0,
            alpha,
        );
        assert_within(sketch.quantile(0.12).unwrap_or_default(), -1200.0, alpha);
        // Ranks 3–5 (1-based) are the zeros and the sub-MIN_MAGNITUDE value: exactly 0.
        assert_eq!(sketch.quantile(0.3), Some(0.0));
        assert_eq!(sketch.quantile(0.45), Some(0.0));
        assert_within(sketch.quantile(0.56).unwrap_or_default(), 350.0, alpha);
        assert_within(
            sketch.quantile(1.0).unwrap_or_default(),
            120_000_000.0,
            alpha,
        );
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let mut sketch = QuantileSketch::new(0.01, 16);
        sketch.add(f64::NAN);
        sketch.add(f64::INFINITY);
        sketch.add(2.0);
        assert_eq!(sketch.count(), 1);
        assert_within(sketch.quantile(0.5).unwrap_or_default(), 2.0, 0.01);
    }

    #[test]
    fn full_sketch_collapses_the_low_end_and_keeps_upper_quantiles() {
        let alpha = 0.01;
        let max_buckets = 64;
        let mut sketch = QuantileSketch::new(alpha, max_buckets);
        // 1 … 1e6 spans ~690 buckets at 1 %: far more than 64.
        let values: Vec<f64> = (0..5000u64)
            .map(|i| 10f64.powf(6.0 * ((i * 2711) % 5000) as f64 / 5000.0))
            .collect();
        for &v in &values {
            sketch.add(v);
        }
        assert!(sketch.buckets.len() <= max_buckets);
        assert!(sketch.buckets.capacity() <= max_buckets, "grows exactly");
        assert_eq!(sketch.buckets.iter().map(|b| b.1).sum::<u64>(), 5000);
        // The top 63 buckets cover ~1e6 / 1.0202^63 ≈ 2.8e5 upwards: q ≥ 0.95 is exact
        // within α.
        for q in [0.95, 0.99, 1.0] {
            assert_within(
                sketch.quantile(q).unwrap_or_default(),
                exact(&values, q),
                alpha,
            );
        }
        // The collapsed low end only ever overestimates.
        assert!(sketch.quantile(0.0).unwrap_or_default() >= 1.0);
    }
}
