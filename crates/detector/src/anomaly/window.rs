//! The last `capacity` values of one metric, with the statistics the z-scores need.
//!
//! Values are kept twice: in arrival order (to know which one leaves the window) and sorted
//! (so that the median and the quartiles are lookups, not a selection pass per point). The
//! sorted copy costs one binary search and one short memmove per point, which keeps the
//! robust z-score on the per-core budget of a million points a second. The running sums of
//! the classic z-score are recomputed from scratch once per window length, so rounding
//! errors cannot accumulate over a long stream.

use super::saved_state::{Reader, Saved, Unreadable, Writer};
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(crate) struct RollingWindow {
    capacity: usize,
    arrival: VecDeque<f64>,
    sorted: Vec<f64>,
    sum: f64,
    sum_sq: f64,
    pushes_since_resum: usize,
}

impl RollingWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        RollingWindow {
            capacity,
            arrival: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            sum: 0.0,
            sum_sq: 0.0,
            pushes_since_resum: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.arrival.len()
    }

    /// Adds a finite value, dropping the oldest one when the window is full.
    pub(crate) fn push(&mut self, value: f64) {
        let old = if self.arrival.len() == self.capacity {
            self.arrival.pop_front()
        } else {
            None
        };
        match old {
            Some(old) => {
                let [at, below] = count_below(&self.sorted, [old, value]);
                self.sum -= old;
                self.sum_sq -= old * old;
                self.replace_sorted(at, below, value);
            }
            None => {
                let at = self.sorted.partition_point(|v| *v < value);
                self.sorted.insert(at, value);
            }
        }
        self.arrival.push_back(value);
        self.sum += value;
        self.sum_sq += value * value;
        self.pushes_since_resum += 1;
        if self.pushes_since_resum >= self.capacity {
            self.sum = self.arrival.iter().sum();
            self.sum_sq = self.arrival.iter().map(|v| v * v).sum();
            self.pushes_since_resum = 0;
        }
    }

    /// Removes `sorted[at]` and inserts `value`, which `below` values are less than, where
    /// it belongs among the others, as a `remove` then an `insert` would, moving only the
    /// values between the two places rather than the window's tail twice.
    fn replace_sorted(&mut self, at: usize, below: usize, value: f64) {
        // `sorted[at] < value` exactly when `at < below`: then it is one of the `below`.
        let to = below - usize::from(at < below);
        if at < to {
            self.sorted.copy_within(at + 1..=to, at);
        } else {
            self.sorted.copy_within(to..at, to + 1);
        }
        self.sorted[to] = value;
    }

    pub(crate) fn mean(&self) -> f64 {
        let n = self.len().max(1) as f64;
        if self.sum.is_finite() {
            self.sum / n
        } else {
            // Values near f64::MAX overflow the running sum; this cannot.
            self.arrival.iter().map(|v| v / n).sum()
        }
    }

    /// Population standard deviation.
    pub(crate) fn std_dev(&self) -> f64 {
        let n = self.len().max(1) as f64;
        let mean = self.sum / n;
        let variance = self.sum_sq / n - mean * mean;
        if variance.is_finite() {
            variance.max(0.0).sqrt()
        } else {
            // Overflowing sums: scale by the largest magnitude first.
            let mean = self.mean();
            let scale = self
                .arrival
                .iter()
                .fold(0.0f64, |m, v| m.max((v - mean).abs()));
            if scale == 0.0 || !scale.is_finite() {
                return scale;
            }
            let sum: f64 = self
                .arrival
                .iter()
                .map(|v| ((v - mean) / scale).powi(2))
                .sum();
            scale * (sum / n).sqrt()
        }
    }

    /// The `q` quantile (0 ≤ q ≤ 1), linearly interpolated; 0 for an empty window.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0.0;
        }
        let position = q * (n - 1) as f64;
        let below = position.floor() as usize;
        let above = (below + 1).min(n - 1);
        let fraction = position - below as f64;
        // A convex combination: no overflow between values of opposite signs near f64::MAX.
        self.sorted[below] * (1.0 - fraction) + self.sorted[above] * fraction
    }

    pub(crate) fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// Bytes held, for the memory bound of the bank.
    pub(crate) fn bytes_for(capacity: usize) -> usize {
        2 * capacity * std::mem::size_of::<f64>() + std::mem::size_of::<Self>()
    }
}

/// The values in arrival and in sorted order (the order of equal values of different signs,
/// 0.0 and −0.0, is history), and the running sums.
impl Saved for RollingWindow {
    fn save(&self, out: &mut Writer<'_>) {
        out.f64s(self.arrival.iter());
        out.f64s(self.sorted.iter());
        out.f64(self.sum);
        out.f64(self.sum_sq);
        out.usize(self.pushes_since_resum);
    }

    fn load(&mut self, from: &mut Reader<'_>) -> Result<(), Unreadable> {
        self.arrival.clear();
        self.sorted.clear();
        let len = from.f64s_into(&mut self.arrival, self.capacity)?;
        if from.f64s_into(&mut self.sorted, self.capacity)? != len {
            return Err(Unreadable("a window's two copies differ in length"));
        }
        self.sum = from.f64()?;
        self.sum_sq = from.f64()?;
        self.pushes_since_resum = from.usize()?;
        Ok(())
    }
}

/// `sorted.partition_point(|v| *v < key)` for two keys at once, in one binary search:
/// the window is rarely in cache, and the two probes of a step are independent loads
/// whose misses overlap.
fn count_below(sorted: &[f64], keys: [f64; 2]) -> [usize; 2] {
    let mut base = [0; 2];
    if sorted.is_empty() {
        return base;
    }
    let mut size = sorted.len();
    while size > 1 {
        let half = size / 2;
        for (base, key) in base.iter_mut().zip(keys) {
            let middle = *base + half;
            *base = if sorted[middle] < key { middle } else { *base };
        }
        size -= half;
    }
    for (base, key) in base.iter_mut().zip(keys) {
        *base += usize::from(sorted[*base] < key);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_full_window_forget_the_oldest_values() {
        let mut window = RollingWindow::new(4);
        for v in [100.0, 1.0, 2.0, 3.0, 4.0] {
            window.push(v);
        }
        assert_eq!(window.len(), 4);
        assert_eq!(window.median(), 2.5);
        assert_eq!(window.mean(), 2.5);
        assert!((window.std_dev() - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(window.quantile(0.0), 1.0);
        assert_eq!(window.quantile(1.0), 4.0);
        assert_eq!(window.quantile(0.25), 1.75);
    }

    #[test]
    fn empty_and_single_value_windows_are_harmless() {
        let mut window = RollingWindow::new(1);
        assert_eq!(window.median(), 0.0);
        assert_eq!(window.std_dev(), 0.0);
        window.push(7.0);
        window.push(9.0);
        assert_eq!(
            (window.len(), window.median(), window.std_dev()),
            (1, 9.0, 0.0)
        );
    }

    #[test]
    fn huge_values_do_not_overflow_the_statistics() {
        let mut window = RollingWindow::new(4);
        for v in [f64::MAX, -f64::MAX, f64::MAX, -f64::MAX] {
            window.push(v);
        }
        assert_eq!(window.median(), 0.0);
        assert_eq!(window.mean(), 0.0);
        assert!(window.std_dev() > 1e300 && window.std_dev().is_finite());
        let mut window = RollingWindow::new(2);
        window.push(f64::MAX);
        window.push(f64::MAX);
        assert_eq!(window.mean(), f64::MAX);
    }

    #[test]
    fn running_sums_are_refreshed() {
        let mut window = RollingWindow::new(3);
        for i in 0..10_000 {
            window.push(1e9 + f64::from(i % 3));
        }
        assert!((window.mean() - (1e9 + 1.0)).abs() < 1e-6);
    }

    #[test]
    fn count_below_is_partition_point() {
        let sorted = [-1.0, -0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 5.0];
        for len in 0..=sorted.len() {
            let sorted = &sorted[..len];
            for a in [-2.0, -1.0, -0.0, 0.0, 1.0, 2.0, 5.0, 6.0] {
                let b = -a / 2.0;
                let expected = [a, b].map(|key| sorted.partition_point(|v| *v < key));
                assert_eq!(count_below(sorted, [a, b]), expected, "{sorted:?} {a} {b}");
            }
        }
    }

    #[test]
    fn the_sorted_copy_is_what_remove_then_insert_would_make() {
        let mut window = RollingWindow::new(5);
        let mut reference: Vec<f64> = Vec::new();
        let values = [
            0.0, -0.0, 3.0, 1.0, -0.0, 3.0, 0.0, -2.0, 1.0, 7.0, 0.0, -0.0, 3.0,
        ];
        for (i, &v) in values.iter().cycle().take(60).enumerate() {
            if let Some(&old) = i.checked_sub(5).map(|j| &values[j % values.len()]) {
                reference.remove(reference.partition_point(|x| *x < old));
            }
            reference.insert(reference.partition_point(|x| *x < v), v);
            window.push(v);
            let bits = |s: &[f64]| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&window.sorted), bits(&reference), "after {i}");
        }
    }
}
