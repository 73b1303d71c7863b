//! Isolation Forest (Liu, Ting & Zhou, ICDM 2008), written in-house so that a seed fixes
//! every split and a score can be reproduced exactly.
//!
//! Anomalies are few and different, so random axis-parallel cuts isolate them in fewer
//! steps than normal points. Each tree is grown on its own subsample of ψ points drawn
//! without replacement (256 in the paper), down to the height limit ⌈log2 ψ⌉ beyond which
//! only normal points would still be separated. A point's path length h(x) is the depth of
//! the leaf it lands in plus c(size), the expected depth of the unbuilt subtree of a leaf
//! holding `size` points; the score is s(x) = 2^(−E[h(x)] / c(ψ)): about 0.5 or less for
//! normal points, towards 1 for anomalies.
//!
//! Trees live in one flat node array, the two children of a node side by side. A leaf
//! points to itself and never sends a point onwards (it splits at +∞ on feature 0), so
//! every walk takes exactly ⌈log2 ψ⌉ steps and ends on its leaf, whose path length was
//! computed at training time. With no branch on "is this a leaf", walks through several
//! trees are interleaved and their memory loads overlap, which is most of the scoring time.
//! Training copies each tree's subsample into columns so that the range and partition
//! passes of a node read contiguous memory.

use super::DetectorError;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Euler–Mascheroni constant, for the harmonic number in [`average_path_length`].
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Trees walked side by side when scoring.
const LANES: usize = 8;

/// c(n): the average path length of an unsuccessful search in a binary search tree of `n`
/// points, `2 H(n − 1) − 2 (n − 1) / n` with `H(i) ≈ ln i + γ`; 0 for n ≤ 1, 1 for n = 2.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// An internal node sends a point to `left + 1` when its `feature` is ≥ `value`, to `left`
/// otherwise; a leaf has `value = +∞`, `feature = 0` and `left` = itself.
#[derive(Debug, Clone, Copy)]
struct Node {
    value: f64,
    feature: u32,
    left: u32,
}

/// A trained forest over points of `dims` values.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    dims: usize,
    nodes: Vec<Node>,
    /// Per node, for leaves: depth + c(size), the path length of the points ending there.
    paths: Vec<f64>,
    roots: Vec<u32>,
    /// Steps of every walk: the height limit ⌈log2 ψ⌉.
    height: usize,
    /// c(ψ) for the subsample size actually used.
    normaliser: f64,
}

impl IsolationForest {
    /// Grows `trees` trees on `rows`, a row-major matrix of points of `dims` values each,
    /// every tree on `min(subsample, points)` points drawn without replacement.
    /// Needs at least two points, all finite.
    pub fn fit(
        rows: &[f64],
        dims: usize,
        trees: usize,
        subsample: usize,
        seed: u64,
    ) -> Result<Self, DetectorError> {
        if dims == 0 || rows.len() % dims != 0 {
            return Err(DetectorError::DimensionMismatch {
                index: rows.len() / dims.max(1),
                expected: dims,
                got: rows.len() % dims.max(1),
            });
        }
        if trees == 0 || subsample < 2 {
            return Err(DetectorError::InvalidConfig(format!(
                "a forest needs at least 1 tree and a subsample of 2, got {trees} and {subsample}"
            )));
        }
        if rows.len() / dims < 2 {
            return Err(DetectorError::TooFewPoints {
                got: rows.len() / dims,
            });
        }
        if let Some(at) = rows.iter().position(|v| !v.is_finite()) {
            return Err(DetectorError::NonFinite {
                context: format!("training point {}", at / dims),
                metric: format!("feature {}", at % dims),
                value: rows[at],
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(Self::fit_checked(rows, dims, trees, subsample, &mut rng))
    }

    /// [`fit`](Self::fit) on input the caller has already checked: at least two finite
    /// points, `dims > 0`, `trees > 0`, `subsample >= 2`.
    pub(crate) fn fit_checked(
        rows: &[f64],
        dims: usize,
        trees: usize,
        subsample: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let points = rows.len() / dims;
        let psi = subsample.min(points);
        let mut forest = IsolationForest {
            dims,
            nodes: Vec::with_capacity(trees * (2 * psi - 1)),
            paths: Vec::with_capacity(trees * (2 * psi - 1)),
            roots: Vec::with_capacity(trees),
            height: (psi as f64).log2().ceil() as usize,
            normaliser: average_path_length(psi),
        };
        let mut builder = TreeBuilder {
            columns: vec![0.0; dims * psi],
            psi,
            dims,
            height: forest.height,
            rng,
        };
        let mut order = Vec::with_capacity(psi);
        for _ in 0..trees {
            for (j, point) in index::sample(builder.rng, points, psi).iter().enumerate() {
                for (f, value) in rows[point * dims..(point + 1) * dims].iter().enumerate() {
                    builder.columns[f * psi + j] = *value;
                }
            }
            order.clear();
            order.extend(0..psi);
            let root = forest.add_node();
            builder.grow(&mut forest, root, &mut order, 0);
            forest.roots.push(root as u32);
        }
        forest.nodes.shrink_to_fit();
        forest.paths.shrink_to_fit();
        forest
    }

    fn add_node(&mut self) -> usize {
        self.nodes.push(Node {
            value: f64::INFINITY,
            feature: 0,
            left: 0,
        });
        self.paths.push(0.0);
        self.nodes.len() - 1
    }

    fn set_leaf(&mut self, at: usize, depth: usize, size: usize) {
        self.nodes[at] = Node {
            value: f64::INFINITY,
            feature: 0,
            left: at as u32,
        };
        self.paths[at] = depth as f64 + average_path_length(size);
    }

    /// Number of values per point.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    /// The anomaly score s(x) in (0, 1] of a point of [`dims`](Self::dims) finite values.
    pub fn score(&self, point: &[f64]) -> Result<f64, DetectorError> {
        if point.len() != self.dims {
            return Err(DetectorError::DimensionMismatch {
                index: 0,
                expected: self.dims,
                got: point.len(),
            });
        }
        if let Some(at) = point.iter().position(|v| !v.is_finite()) {
            return Err(DetectorError::NonFinite {
                context: "scored point".to_owned(),
                metric: format!("feature {at}"),
                value: point[at],
            });
        }
        Ok(self.score_checked(point))
    }

    /// [`score`](Self::score) of a point the caller has already checked.
    pub(crate) fn score_checked(&self, point: &[f64]) -> f64 {
        let mut total = 0.0;
        for roots in self.roots.chunks(LANES) {
            let mut at = [0usize; LANES];
            let at = &mut at[..roots.len()];
            for (cursor, root) in at.iter_mut().zip(roots) {
                *cursor = *root as usize;
            }
            for _ in 0..self.height {
                for cursor in at.iter_mut() {
                    let node = self.nodes[*cursor];
                    let right = point[node.feature as usize] >= node.value;
                    *cursor = node.left as usize + usize::from(right);
                }
            }
            total += at.iter().map(|&leaf| self.paths[leaf]).sum::<f64>();
        }
        let mean = total / self.roots.len() as f64;
        (-mean / self.normaliser).exp2()
    }

    /// Upper bound of the heap bytes of a forest of this shape.
    pub(crate) fn bytes_for(trees: usize, subsample: usize) -> usize {
        let node = std::mem::size_of::<Node>() + std::mem::size_of::<f64>();
        trees * ((2 * subsample - 1) * node + std::mem::size_of::<u32>())
            + std::mem::size_of::<Self>()
    }
}

/// What growing one tree needs besides the forest.
struct TreeBuilder<'a> {
    /// The tree's subsample, feature-major: `columns[f * psi + j]` is feature `f` of its
    /// `j`-th point.
    columns: Vec<f64>,
    psi: usize,
    dims: usize,
    height: usize,
    rng: &'a mut ChaCha8Rng,
}

impl TreeBuilder<'_> {
    fn column(&self, feature: usize) -> &[f64] {
        &self.columns[feature * self.psi..(feature + 1) * self.psi]
    }

    /// Makes node `at` the subtree of the points in `sample` (positions in the columns).
    fn grow(
        &mut self,
        forest: &mut IsolationForest,
        at: usize,
        sample: &mut [usize],
        depth: usize,
    ) {
        if depth >= self.height || sample.len() <= 1 {
            forest.set_leaf(at, depth, sample.len());
            return;
        }
        let Some((feature, low, high)) = self.pick_feature(sample) else {
            // All the points are equal: nothing left to isolate.
            forest.set_leaf(at, depth, sample.len());
            return;
        };
        // Uniform on [low, high], written as a convex combination so that a range wider
        // than f64::MAX cannot overflow.
        let t: f64 = self.rng.random();
        let split = low * (1.0 - t) + high * t;
        let column = self.column(feature);
        // Branch-free Lomuto partition: which side a point falls is a coin toss, so a
        // branch on it would be mispredicted half the time.
        let mut boundary = 0;
        for i in 0..sample.len() {
            sample.swap(i, boundary);
            boundary += usize::from(column[sample[boundary]] < split);
        }
        let left = forest.add_node();
        forest.add_node();
        forest.nodes[at] = Node {
            value: split,
            feature: feature as u32,
            left: left as u32,
        };
        let (low_side, high_side) = sample.split_at_mut(boundary);
        self.grow(forest, left, low_side, depth + 1);
        self.grow(forest, left + 1, high_side, depth + 1);
    }

    /// A uniformly drawn feature, with its range over `sample`. A feature constant on the
    /// sample cannot split it, so the next features are tried in turn; `None` when all are
    /// constant.
    fn pick_feature(&mut self, sample: &[usize]) -> Option<(usize, f64, f64)> {
        let start = self.rng.random_range(0..self.dims);
        (0..self.dims).find_map(|offset| {
            let feature = (start + offset) % self.dims;
            let column = self.column(feature);
            let (low, high) = sample.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &j| {
                let v = column[j];
                (if v < lo { v } else { lo }, if v > hi { v } else { hi })
            });
            (high > low).then_some((feature, low, high))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_by_hand() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2 (ln 255 + γ) − 2 · 255 / 256
        let expected = 2.0 * (255f64.ln() + EULER_GAMMA) - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256) - expected).abs() < 1e-12);
    }

    #[test]
    fn an_outlier_scores_higher_than_the_cluster() {
        let mut rows = Vec::new();
        for i in 0..200 {
            let t = f64::from(i);
            rows.extend([(t * 0.37).sin(), (t * 0.73).cos()]);
        }
        rows.extend([6.0, -5.0]);
        let forest = IsolationForest::fit(&rows, 2, 100, 256, 7).unwrap();
        let inside = forest.score(&[0.1, 0.2]).unwrap();
        let outside = forest.score(&[6.0, -5.0]).unwrap();
        assert!(outside > 0.7 && inside < 0.5, "{inside} {outside}");
        assert_eq!(forest.trees(), 100);
        assert_eq!(forest.dims(), 2);
    }

    #[test]
    fn extreme_values_train_and_score() {
        let rows = [f64::MAX, -f64::MAX, 0.0, 1.0, -1.0, f64::MIN_POSITIVE];
        let forest = IsolationForest::fit(&rows, 1, 20, 256, 3).unwrap();
        let s = forest.score(&[f64::MAX]).unwrap();
        assert!(s > 0.0 && s <= 1.0);
    }

    #[test]
    fn constant_data_gives_one_leaf_per_tree() {
        let forest = IsolationForest::fit(&[3.0; 20], 2, 10, 256, 1).unwrap();
        assert_eq!(forest.nodes.len(), 10);
        assert_eq!(forest.height, 4);
        // Every point lands in the root leaf of 10 points: h = c(10) = c(ψ), s = 0.5.
        assert!((forest.score(&[3.0, 3.0]).unwrap() - 0.5).abs() < 1e-12);
        assert!((forest.score(&[100.0, -1.0]).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            IsolationForest::fit(&[1.0], 1, 10, 256, 1).unwrap_err(),
            DetectorError::TooFewPoints { got: 1 }
        );
        assert!(matches!(
            IsolationForest::fit(&[1.0, 2.0], 1, 0, 256, 1),
            Err(DetectorError::InvalidConfig(_))
        ));
        assert!(matches!(
            IsolationForest::fit(&[1.0, 2.0, 3.0], 2, 10, 256, 1),
            Err(DetectorError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            IsolationForest::fit(&[1.0, f64::NAN, 3.0], 1, 10, 256, 1),
            Err(DetectorError::NonFinite { .. })
        ));
        let forest = IsolationForest::fit(&[1.0, 2.0, 3.0], 1, 10, 256, 1).unwrap();
        assert!(matches!(
            forest.score(&[f64::INFINITY]),
            Err(DetectorError::NonFinite { .. })
        ));
        assert!(matches!(
            forest.score(&[1.0, 2.0]),
            Err(DetectorError::DimensionMismatch { .. })
        ));
    }
}
