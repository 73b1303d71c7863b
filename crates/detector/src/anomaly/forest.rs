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
//! A service holds a forest per series and scores each record with a different one, so
//! scoring waits on cache misses and the layout is compact. A node is 8 bytes: an f32
//! split, a u16 feature and a u16 offset from the node to its left child, the right child
//! being next to it. A tree's nodes are contiguous, from the start of a 64-byte line, in
//! blocks that each lie within a line: the root with its children and grandchildren, then
//! each pair of siblings with their children. A walk reads one line for the top three
//! levels and one for every two below (4 at ψ = 128's height limit of 7, where
//! breadth-first order reads one a level below the third); the lines' unused slots add a
//! few per cent to the nodes. A tree has at most 2ψ − 1 nodes on at most about twice as
//! many slots, so u16 offsets cover ψ up to 8,192. An offset, rather than an index within
//! the tree, lets a walk follow one cursor per tree and nothing else. A leaf splits
//! on a phantom feature, number `dims`, which is −∞ in every scored point, at its path
//! length, and its offset is 0: a point never leaves a leaf, every walk takes exactly
//! ⌈log2 ψ⌉ steps, and the node it ends on holds its path length, with no branch on "is
//! this a leaf" and no second array. Without that branch, walks through several trees are
//! interleaved and their memory loads overlap.
//!
//! Values are compared as f32. A point is narrowed once, clamped to ±f32::MAX so that
//! ranges and splits stay finite. A split is drawn uniformly in f64 as in the paper and
//! rounded up to an f32, which puts every f32 value on the side the drawn split would:
//! training partitions with the very comparison scoring makes. Training reads the
//! narrowed points where they are: a tree's subsample is a list of where they start, which
//! partitioning arranges so that the points of each node are contiguous. A caller that
//! retrains keeps the buffers of the forest and of the training from one training to the
//! next.

use super::error::DetectorError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Euler–Mascheroni constant, for the harmonic number in [`average_path_length`].
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Trees walked side by side when scoring.
const LANES: usize = 16;

/// Points of up to this many values are narrowed on the stack when scored.
const STACK_DIMS: usize = 32;

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

/// `value` as an f32, clamped to ±f32::MAX: finite, so that a range and a split drawn in
/// it are finite too. Points are narrowed so for training and for scoring.
pub(crate) fn narrow(value: f64) -> f32 {
    value.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

/// `value` moved `steps` (0 or 1) f32s up; `value` is below f32::MAX. (`f32::next_up`
/// needs Rust 1.86.) Arithmetic rather than branches: the sign of a split, and whether it
/// rounds up, are coin tosses that a branch would mispredict.
fn step_up(value: f32, steps: u32) -> f32 {
    // Adding 0 turns −0 into +0, whose successor is the least subnormal.
    let bits = (value + 0.0).to_bits();
    // Bits grow with the magnitude: up is +1 for a positive value, −1 for a negative one.
    let direction = 1u32.wrapping_sub((bits >> 31) << 1);
    f32::from_bits(bits.wrapping_add(steps.wrapping_mul(direction)))
}

/// The least f32 at or above `value`, which lies within the f32 range.
fn round_up(value: f64) -> f32 {
    let nearest = value as f32;
    step_up(nearest, u32::from(f64::from(nearest) < value))
}

/// The split of a cut drawn at fraction `t` ∈ [0, 1) of the range [low, high], low < high:
/// the drawn value rounded up, so that an f32 is below the split exactly when it is below
/// the drawn value, and kept within (low, high] so that both sides get a point. Only a
/// draw of exactly `low` (t = 0), which would isolate nothing, or a range rounded past
/// `high` is moved; a tree whose every split separates its points has at most 2ψ − 1
/// nodes.
fn split_at(low: f32, high: f32, t: f64) -> f32 {
    let drawn = f64::from(low) + (f64::from(high) - f64::from(low)) * t;
    round_up(drawn).clamp(step_up(low, 1), high)
}

/// An internal node sends a point `to_left + 1` nodes further when its `feature` is
/// ≥ `value`, `to_left` nodes further otherwise. A leaf has `feature` = `dims`, the phantom
/// feature at −∞, `value` = its path length and `to_left` = 0: a point stays on it.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C)]
struct Node {
    value: f32,
    feature: u16,
    to_left: u16,
}

impl Node {
    /// What fills a line's slots that no block took; no walk reaches it.
    const FILLER: Node = Node {
        value: 0.0,
        feature: 0,
        to_left: 0,
    };
}

/// Nodes on a 64-byte cache line.
const LINE_NODES: usize = 8;

/// The forest's storage, one cache line at a time: a block of nodes placed within a line
/// costs a walk one miss at most.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(64))]
struct Line([Node; LINE_NODES]);

/// A trained forest over points of `dims` values.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    dims: usize,
    /// The trees' nodes, tree after tree, each from the start of a line (see
    /// [`TrainingScratch::place_tree`]); node `i` is slot `i % 8` of line `i / 8`.
    lines: Vec<Line>,
    /// Where each tree's root is: a node number, at the start of a line.
    roots: Vec<usize>,
    /// Steps of every walk: the height limit ⌈log2 ψ⌉.
    height: usize,
    /// c(ψ) for the subsample size actually used.
    normaliser: f64,
}

impl IsolationForest {
    /// Largest subsample: a tree of 2ψ − 1 nodes on its lines keeps its offsets within u16.
    pub(crate) const MAX_SUBSAMPLE: usize = 1 << 13;
    /// Most values per point: the phantom feature of a leaf, number `dims`, is a u16.
    pub(crate) const MAX_DIMS: usize = u16::MAX as usize;

    /// Grows `trees` trees on `rows`, a row-major matrix of points of `dims` values each,
    /// every tree on `min(subsample, points)` points drawn without replacement.
    /// Needs at least two points, all finite, `dims` up to 65,535 and `subsample` from 2 to
    /// 8,192.
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
        if trees == 0 || !(2..=Self::MAX_SUBSAMPLE).contains(&subsample) || dims > Self::MAX_DIMS {
            return Err(DetectorError::InvalidConfig(format!(
                "a forest needs at least 1 tree, a subsample of 2 to {} and at most {} values \
                 per point, got {trees}, {subsample} and {dims}",
                Self::MAX_SUBSAMPLE,
                Self::MAX_DIMS
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
    /// points, `0 < dims <= MAX_DIMS`, `trees > 0`, `subsample >= 2`.
    pub(crate) fn fit_checked(
        rows: &[f64],
        dims: usize,
        trees: usize,
        subsample: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let narrowed: Vec<f32> = rows.iter().map(|&v| narrow(v)).collect();
        let mut forest = Self::untrained();
        let mut scratch = TrainingScratch::default();
        forest.refit_checked(&narrowed, dims, trees, subsample, rng, &mut scratch);
        forest.lines.shrink_to_fit();
        forest
    }

    /// A forest of no trees, which must be trained by
    /// [`refit_checked`](Self::refit_checked) before it scores.
    pub(crate) fn untrained() -> Self {
        IsolationForest {
            dims: 0,
            lines: Vec::new(),
            roots: Vec::new(),
            height: 0,
            normaliser: 0.0,
        }
    }

    /// Trains this forest as [`fit_checked`](Self::fit_checked) would a new one (the same
    /// trees for the same state of `rng`) on `rows` already [`narrow`]ed, in the buffers of
    /// this forest and of `scratch`: once they have grown to the shape asked for, a
    /// retraining allocates nothing. Subsamples beyond
    /// [`MAX_SUBSAMPLE`](Self::MAX_SUBSAMPLE) are capped to it.
    ///
    /// The trees take under half of the 2ψ − 1 nodes each may need (an eighth of the lines
    /// their worst case could take), and a service keeps a
    /// forest per series, so the node buffer is not kept at the worst case: it keeps what
    /// the trees used plus a margin (1/16 and one tree's worst case, several times the
    /// spread of the nodes a training uses), enough for the next training on similar data.
    /// A training that runs short grows it once to the worst case and gives back the excess
    /// at the end; so does a forest first trained. Either way its capacity stays within
    /// [`bytes_for`](Self::bytes_for).
    pub(crate) fn refit_checked(
        &mut self,
        rows: &[f32],
        dims: usize,
        trees: usize,
        subsample: usize,
        rng: &mut ChaCha8Rng,
        scratch: &mut TrainingScratch,
    ) {
        let points = rows.len() / dims;
        let psi = subsample.min(points).min(Self::MAX_SUBSAMPLE);
        self.dims = dims;
        self.height = (psi as f64).log2().ceil() as usize;
        self.normaliser = average_path_length(psi);
        let tree_lines = Self::tree_lines(psi);
        self.lines.clear();
        self.roots.clear();
        self.roots.reserve_exact(trees);
        scratch.prepare(points, dims, psi);
        for _ in 0..trees {
            if self.lines.capacity() - self.lines.len() < tree_lines {
                // Fewer than `trees` trees are placed, so this is at least one tree's worth.
                self.lines
                    .reserve_exact(trees * tree_lines - self.lines.len());
            }
            scratch.draw_subsample(psi, rng);
            scratch.grow_tree(rows, dims, psi, self.height, rng);
            self.roots.push(self.lines.len() * LINE_NODES);
            scratch.place_tree(&mut self.lines);
        }
        // Shrunk only when well beyond the margin, so that trainings that use a few more or
        // fewer lines than the last do not reallocate back and forth.
        let margin = self.lines.len() / 16 + tree_lines;
        if self.lines.capacity() - self.lines.len() > 2 * margin {
            self.lines.shrink_to(self.lines.len() + margin);
        }
    }

    /// Most lines a tree grown on ψ points takes: at most 2ψ − 1 nodes, at least 4 on
    /// each line but its first and its last (see [`TrainingScratch::place_tree`]).
    fn tree_lines(psi: usize) -> usize {
        (2 * psi - 1).div_ceil(4) + 1
    }

    /// The nodes, in order.
    fn nodes(&self) -> &[Node] {
        bytemuck::cast_slice(&self.lines)
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
        let mut on_stack = [f32::NEG_INFINITY; STACK_DIMS + 1];
        let mut on_heap = Vec::new();
        // The point's values, then the phantom feature of the leaves, left at −∞.
        let narrowed = if self.dims <= STACK_DIMS {
            &mut on_stack[..=self.dims]
        } else {
            on_heap.resize(self.dims + 1, f32::NEG_INFINITY);
            &mut on_heap[..]
        };
        for (to, &from) in narrowed.iter_mut().zip(point) {
            *to = narrow(from);
        }
        let mean = self.total_path_length(narrowed) / self.trees() as f64;
        (-mean / self.normaliser).exp2()
    }

    /// The sum over the trees of the path length of `point`, narrowed and followed by the
    /// phantom feature.
    fn total_path_length(&self, point: &[f32]) -> f64 {
        let nodes = self.nodes();
        let mut total = 0.0;
        for roots in self.roots.chunks(LANES) {
            let mut at = [0usize; LANES];
            let at = &mut at[..roots.len()];
            at.copy_from_slice(roots);
            for _ in 0..self.height {
                for cursor in at.iter_mut() {
                    let node = nodes[*cursor];
                    let right = point[usize::from(node.feature)] >= node.value;
                    *cursor += usize::from(node.to_left) + usize::from(right);
                }
            }
            total += at
                .iter()
                .map(|&leaf| f64::from(nodes[leaf].value))
                .sum::<f64>();
        }
        total
    }

    /// Upper bound of the heap bytes of a forest of this shape.
    pub(crate) fn bytes_for(trees: usize, subsample: usize) -> usize {
        trees * Self::tree_lines(subsample) * std::mem::size_of::<Line>()
            + trees * std::mem::size_of::<usize>()
            + std::mem::size_of::<Self>()
    }
}

/// The points and depth of a node waiting to be grown: `starts[start..end]`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u16,
    end: u16,
    depth: u16,
}

/// The buffers of a training, kept between trainings by a caller that retrains. They
/// hold nothing from one training to the next, so a clone starts empty.
#[derive(Debug, Default)]
pub(crate) struct TrainingScratch {
    /// Where each point starts in the rows, in an order that each draw of a subsample
    /// shuffles: the first `psi` are the tree's subsample, which growing it arranges so
    /// that the points of each node are contiguous. (Starts rather than point numbers
    /// spare a multiplication in the partition's chain of dependent loads.)
    starts: Vec<usize>,
    /// One per node of the tree being grown, in the same order.
    spans: Vec<Span>,
    /// The tree being grown, breadth first, before it is placed in the forest's lines.
    tree: Vec<Node>,
    /// Where each node of `tree` is placed: its slot from the tree's first line.
    slots: Vec<u16>,
    /// The blocks of `tree` waiting to be placed, in the order they were reached.
    blocks: Vec<Block>,
}

impl Clone for TrainingScratch {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl TrainingScratch {
    /// Upper bound of the heap bytes of a training on `points` points, subsample `psi`.
    pub(crate) fn bytes_for(points: usize, psi: usize) -> usize {
        let nodes = 2 * psi - 1;
        points * std::mem::size_of::<usize>()
            + nodes
                * (std::mem::size_of::<Span>()
                    + std::mem::size_of::<Node>()
                    + std::mem::size_of::<u16>())
            + Self::max_blocks(psi) * std::mem::size_of::<Block>()
    }

    /// Most blocks waiting at once: at most one per pair of nodes, and the root's.
    fn max_blocks(psi: usize) -> usize {
        psi
    }

    /// Sizes the buffers for a training, with capacities that stay within
    /// [`bytes_for`](Self::bytes_for).
    fn prepare(&mut self, points: usize, dims: usize, psi: usize) {
        self.starts.clear();
        self.starts.reserve_exact(points);
        self.starts.extend((0..points).map(|point| point * dims));
        self.spans.clear();
        self.spans.reserve_exact(2 * psi - 1);
        self.tree.clear();
        self.tree.reserve_exact(2 * psi - 1);
        self.slots.clear();
        self.slots.reserve_exact(2 * psi - 1);
        self.blocks.clear();
        self.blocks.reserve_exact(Self::max_blocks(psi));
    }

    /// Draws `psi` of the points without replacement into `starts[..psi]`: a partial
    /// Fisher–Yates shuffle, whose draw is uniform from whatever order the last tree left.
    fn draw_subsample(&mut self, psi: usize, rng: &mut ChaCha8Rng) {
        let points = self.starts.len();
        for j in 0..psi {
            self.starts.swap(j, rng.random_range(j..points));
        }
    }

    /// Grows a tree on the subsample into `tree`, breadth first: the nodes are made in the
    /// order of `spans`, and a split appends its children to both.
    fn grow_tree(
        &mut self,
        rows: &[f32],
        dims: usize,
        psi: usize,
        height: usize,
        rng: &mut ChaCha8Rng,
    ) {
        self.tree.clear();
        self.spans.clear();
        self.spans.push(Span {
            start: 0,
            end: psi as u16,
            depth: 0,
        });
        let mut at = 0;
        while let Some(&Span { start, end, depth }) = self.spans.get(at) {
            let sample = &mut self.starts[usize::from(start)..usize::from(end)];
            let cut = if usize::from(depth) < height && sample.len() > 1 {
                pick_feature(rows, dims, sample, rng)
            } else {
                None
            };
            let node = match cut {
                Some((feature, low, high)) => {
                    let split = split_at(low, high, rng.random());
                    // Branch-free Lomuto partition: which side a point falls is a coin
                    // toss, so a branch on it would be mispredicted half the time. The
                    // point judged is read before the swap, where no earlier swap has
                    // moved it, so that the next boundary waits on no load.
                    let mut boundary = 0;
                    for i in 0..sample.len() {
                        let point = sample[i];
                        let below = rows[point + feature] < split;
                        sample[i] = sample[boundary];
                        sample[boundary] = point;
                        boundary += usize::from(below);
                    }
                    let middle = start + boundary as u16;
                    let to_left = (self.spans.len() - at) as u16;
                    for (start, end) in [(start, middle), (middle, end)] {
                        self.spans.push(Span {
                            start,
                            end,
                            depth: depth + 1,
                        });
                    }
                    Node {
                        value: split,
                        feature: feature as u16,
                        to_left,
                    }
                }
                // At the height limit, down to one point, or all the points equal:
                // nothing left to isolate.
                None => Node {
                    value: (f64::from(depth) + average_path_length(sample.len())) as f32,
                    feature: dims as u16,
                    to_left: 0,
                },
            };
            self.tree.push(node);
            at += 1;
        }
    }

    /// Appends the tree grown in `tree` to `lines`, from the start of a line, in blocks
    /// that each lie within a line: the root with its children and grandchildren (up to 7
    /// nodes), then each pair of siblings below with their children (up to 6). A walk
    /// of height h then reads at most 1 + ⌈(h − 2) / 2⌉ lines, against one a level in
    /// breadth-first order. The blocks are placed in the order they are reached; one
    /// that does not fit in what is left of a line lets a later one that does go first,
    /// and when none does, the line's rest is left empty. A block is placed after the
    /// block of its parent, so offsets to children stay positive.
    fn place_tree(&mut self, lines: &mut Vec<Line>) {
        let tree = &self.tree;
        self.slots.clear();
        self.slots.resize(tree.len(), 0);
        self.blocks.clear();
        self.blocks.push(Block::of(tree, 0));
        let mut slot = 0;
        while !self.blocks.is_empty() {
            let free = LINE_NODES - slot % LINE_NODES;
            let fitting = self.blocks.iter().position(|b| usize::from(b.len) <= free);
            let next = self.blocks.remove(fitting.unwrap_or_else(|| {
                slot += free;
                0
            }));
            for &node in next.nodes() {
                self.slots[usize::from(node)] = slot as u16;
                slot += 1;
            }
            for &node in next.bottom() {
                if let Some(left) = left_child(tree, usize::from(node)) {
                    self.blocks.push(Block::of(tree, left));
                }
            }
        }
        let first = lines.len();
        lines.resize(
            first + slot.div_ceil(LINE_NODES),
            Line([Node::FILLER; LINE_NODES]),
        );
        for (i, node) in tree.iter().enumerate() {
            let at = usize::from(self.slots[i]);
            let to_left =
                left_child(tree, i).map_or(0, |left| (usize::from(self.slots[left]) - at) as u16);
            lines[first + at / LINE_NODES].0[at % LINE_NODES] = Node { to_left, ..*node };
        }
    }
}

/// The left child of internal node `at` of a tree in breadth-first order.
fn left_child(tree: &[Node], at: usize) -> Option<usize> {
    match tree[at].to_left {
        0 => None,
        offset => Some(at + usize::from(offset)),
    }
}

/// Nodes of a tree placed together within a line, level by level: the root, its children
/// and grandchildren; or a pair of siblings and their children. Node numbers are in the
/// breadth-first tree.
#[derive(Debug, Clone, Copy)]
struct Block {
    nodes: [u16; 7],
    len: u8,
    /// Where the bottom level starts in `nodes`: its children head the next blocks.
    bottom: u8,
}

impl Block {
    /// The block of the root (`head` 0), or of the pair `head`, `head + 1`.
    fn of(tree: &[Node], head: usize) -> Block {
        let mut block = Block {
            nodes: [0; 7],
            len: 0,
            bottom: 0,
        };
        let (tops, levels) = if head == 0 { (1, 3) } else { (2, 2) };
        for node in head..head + tops {
            block.push(node);
        }
        let mut from = 0;
        for _ in 1..levels {
            let to = block.len;
            for i in from..to {
                if let Some(left) = left_child(tree, usize::from(block.nodes[usize::from(i)])) {
                    block.push(left);
                    block.push(left + 1);
                }
            }
            from = to;
        }
        block.bottom = from;
        block
    }

    fn push(&mut self, node: usize) {
        self.nodes[usize::from(self.len)] = node as u16;
        self.len += 1;
    }

    fn nodes(&self) -> &[u16] {
        &self.nodes[..usize::from(self.len)]
    }

    fn bottom(&self) -> &[u16] {
        &self.nodes[usize::from(self.bottom)..usize::from(self.len)]
    }
}

/// A uniformly drawn feature, with its range over the points of `rows` starting at
/// `sample`. A feature constant on the sample cannot split it, so the next features are
/// tried in turn; `None` when all are constant.
fn pick_feature(
    rows: &[f32],
    dims: usize,
    sample: &[usize],
    rng: &mut ChaCha8Rng,
) -> Option<(usize, f32, f32)> {
    let first = rng.random_range(0..dims);
    (first..dims).chain(0..first).find_map(|feature| {
        let (low, high) = sample
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &start| {
                let v = rows[start + feature];
                (if v < lo { v } else { lo }, if v > hi { v } else { hi })
            });
        (high > low).then_some((feature, low, high))
    })
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

    /// Tree `t`'s slots, from its first line to the next tree's.
    fn tree(forest: &IsolationForest, t: usize) -> &[Node] {
        let nodes = forest.nodes();
        let end = forest.roots.get(t + 1).copied();
        &nodes[forest.roots[t]..end.unwrap_or(nodes.len())]
    }

    /// The nodes of tree `t` a walk can reach, with their slots, root first.
    fn reachable(forest: &IsolationForest, t: usize) -> Vec<(usize, Node)> {
        let tree = tree(forest, t);
        let mut found = vec![(0, tree[0])];
        let mut next = 0;
        while let Some(&(at, node)) = found.get(next) {
            if node.to_left != 0 {
                let left = at + usize::from(node.to_left);
                found.extend([(left, tree[left]), (left + 1, tree[left + 1])]);
            }
            next += 1;
        }
        found
    }

    /// Every tree within 2ψ − 1 nodes on at most its share of lines, from the start of a
    /// line; its internal nodes pointing past themselves to a pair of children on one line
    /// within the tree, its leaves to themselves.
    fn assert_valid(forest: &IsolationForest, psi: usize) {
        assert_eq!(forest.roots[0], 0);
        for t in 0..forest.trees() {
            assert_eq!(forest.roots[t] % LINE_NODES, 0, "tree {t} starts mid-line");
            let tree = tree(forest, t);
            assert!(tree.len() <= IsolationForest::tree_lines(psi) * LINE_NODES);
            let nodes = reachable(forest, t);
            assert!(nodes.len() < 2 * psi, "tree {t}: {} nodes", nodes.len());
            for (i, node) in nodes {
                let left = i + usize::from(node.to_left);
                assert!(node.value.is_finite(), "tree {t} node {i}: {node:?}");
                if usize::from(node.feature) == forest.dims {
                    assert_eq!(left, i, "tree {t}: leaf {i} points elsewhere");
                } else {
                    assert!(usize::from(node.feature) < forest.dims);
                    assert!(left > i && left + 1 < tree.len(), "tree {t} node {i}");
                    assert_ne!(left % LINE_NODES, LINE_NODES - 1, "tree {t}: a split pair");
                }
            }
        }
    }

    /// The slots a walk of `point` through `tree` (root at slot 0) goes through, root first.
    fn walk(tree: &[Node], height: usize, point: &[f64]) -> Vec<usize> {
        let mut narrowed: Vec<f32> = point.iter().map(|&v| narrow(v)).collect();
        narrowed.push(f32::NEG_INFINITY);
        let mut path = vec![0];
        for _ in 0..height {
            let node = tree[path[path.len() - 1]];
            let right = narrowed[usize::from(node.feature)] >= node.value;
            path.push(path[path.len() - 1] + usize::from(node.to_left) + usize::from(right));
        }
        path
    }

    /// The node each tree's walk of `point` ends on, tree by tree.
    fn walk_ends(forest: &IsolationForest, point: &[f64]) -> Vec<Node> {
        (0..forest.trees())
            .map(|t| {
                let tree = tree(forest, t);
                tree[walk(tree, forest.height, point)[forest.height]]
            })
            .collect()
    }

    fn random_rows(points: usize, dims: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..points * dims)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect()
    }

    /// How many lines each tree's walk of `point` reads, tree by tree.
    fn lines_read(forest: &IsolationForest, point: &[f64]) -> Vec<usize> {
        (0..forest.trees())
            .map(|t| {
                let mut lines = walk(tree(forest, t), forest.height, point);
                lines.iter_mut().for_each(|at| *at /= LINE_NODES);
                lines.dedup();
                lines.len()
            })
            .collect()
    }

    #[test]
    fn a_walk_reads_a_line_for_the_top_three_levels_and_one_for_every_two_below() {
        let (dims, psi) = (3, 256);
        let rows = random_rows(1_000, dims, 21);
        let forest = IsolationForest::fit(&rows, dims, 40, psi, 22).unwrap();
        assert_valid(&forest, psi);
        assert_eq!(forest.height, 8);
        let most = 1 + (forest.height - 2).div_ceil(2);
        let mut longest = 0;
        for point in random_rows(200, dims, 23).chunks(dims) {
            for read in lines_read(&forest, point) {
                assert!(read <= most, "{read} lines for {point:?}");
                longest = longest.max(read);
            }
        }
        // In breadth-first order the deepest walks would read a line a level.
        assert_eq!(longest, most);
    }

    #[test]
    fn a_placed_tree_ends_every_walk_where_the_grown_one_does() {
        for (dims, points, seed) in [(1, 40, 31), (3, 700, 32), (6, 300, 33)] {
            let rows: Vec<f32> = random_rows(points, dims, seed)
                .iter()
                .map(|&v| narrow(v))
                .collect();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (mut forest, mut scratch) =
                (IsolationForest::untrained(), TrainingScratch::default());
            forest.refit_checked(&rows, dims, 1, 256, &mut rng, &mut scratch);
            let grown = &scratch.tree;
            for point in random_rows(100, dims, seed + 1).chunks(dims) {
                let at = walk(grown, forest.height, point)[forest.height];
                assert_eq!(walk_ends(&forest, point), [grown[at]], "{point:?}");
            }
        }
    }

    #[test]
    fn points_beyond_the_f32_range_end_on_leaves() {
        for rows in [
            random_rows(300, 2, 1),
            vec![
                f64::MAX,
                -f64::MAX,
                -f64::MAX,
                f64::MAX,
                0.0,
                1.0,
                -1.0,
                0.5,
            ],
        ] {
            let forest = IsolationForest::fit(&rows, 2, 50, 256, 9).unwrap();
            assert_valid(&forest, 256.min(rows.len() / 2));
            for point in [[f64::MAX, -f64::MAX], [-f64::MAX, f64::MAX], [f64::MAX; 2]] {
                let s = forest.score(&point).unwrap();
                assert!(s > 0.0 && s <= 1.0, "{point:?}: {s}");
                for end in walk_ends(&forest, &point) {
                    assert_eq!(usize::from(end.feature), forest.dims, "{end:?}");
                }
            }
        }
    }

    #[test]
    fn splits_are_rounded_up_into_the_range() {
        let above_one = step_up(1.0, 1);
        assert_eq!(f64::from(above_one), 1.0 + f64::from(f32::EPSILON));
        assert_eq!(step_up(-1.0, 1), -1.0 + f32::EPSILON / 2.0);
        assert_eq!(step_up(0.0, 1), f32::from_bits(1));
        assert_eq!(step_up(-0.0, 1), f32::from_bits(1));
        assert_eq!(step_up(-f32::from_bits(1), 1), 0.0);
        assert_eq!(step_up(-2.5, 0), -2.5);
        assert_eq!(round_up(-1.0 - 1e-10), -1.0);
        assert_eq!(round_up(1.0 + 1e-10), above_one);
        assert_eq!(round_up(1.0 - 1e-10), 1.0);
        assert_eq!(round_up(1.0), 1.0);
        // An f32 is below the split exactly when it is below the drawn value.
        for t in [0.1, 0.3, 0.5, 0.77, 0.999_999] {
            let drawn = -2.0 + 5.0 * t;
            let split = split_at(-2.0, 3.0, t);
            for v in [-2.0, -1.0, -0.25, 0.5, 1.5, 1.9, 2.999, 3.0].map(|v: f64| v as f32) {
                assert_eq!(v < split, f64::from(v) < drawn, "t {t}, v {v}");
            }
        }
        // Between neighbouring f32s, every draw, even t = 0, separates them.
        for t in [0.0, 1e-9, 0.5, 1.0 - f64::EPSILON] {
            assert_eq!(split_at(1.0, above_one, t), above_one);
        }
        let huge = split_at(-f32::MAX, f32::MAX, 1.0 - f64::EPSILON);
        assert!(huge.is_finite() && huge <= f32::MAX);
    }

    #[test]
    fn neighbouring_f32_values_are_isolated_by_every_tree() {
        let rows = [1.0, f64::from(step_up(1.0, 1))];
        let forest = IsolationForest::fit(&rows, 1, 50, 256, 4).unwrap();
        // A root split and two leaves of one point at depth 1 per tree, a line each.
        assert_eq!(forest.lines.len(), 50);
        assert!((0..50).all(|t| reachable(&forest, t).len() == 3));
        for point in rows {
            assert!((forest.score(&[point]).unwrap() - 0.5).abs() < 1e-6);
        }
        // Values that only f64 tells apart are one point to the forest.
        let forest = IsolationForest::fit(&[1.0, 1.0 + 1e-12], 1, 50, 256, 4).unwrap();
        assert!((0..50).all(|t| reachable(&forest, t).len() == 1));
    }

    #[test]
    fn a_refit_is_a_fresh_fit_in_the_same_buffers() {
        let (old_rows, rows) = (random_rows(50, 3, 2), random_rows(512, 2, 3));
        let narrowed: Vec<f32> = rows.iter().map(|&v| narrow(v)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut forest = IsolationForest::fit_checked(&old_rows, 3, 20, 256, &mut rng);
        let mut scratch = TrainingScratch::default();
        let mut buffers = Vec::new();
        for _ in 0..3 {
            let mut fresh_rng = rng.clone();
            let fresh = IsolationForest::fit_checked(&rows, 2, 20, 256, &mut fresh_rng);
            forest.refit_checked(&narrowed, 2, 20, 256, &mut rng, &mut scratch);
            assert_eq!(rng, fresh_rng);
            assert_eq!(forest.lines, fresh.lines);
            assert_eq!(forest.roots, fresh.roots);
            assert_eq!((forest.dims, forest.height), (fresh.dims, fresh.height));
            assert_eq!(forest.normaliser, fresh.normaliser);
            assert_eq!(forest.score(&[0.1, 0.9]), fresh.score(&[0.1, 0.9]));
            buffers.push((
                (forest.lines.as_ptr(), forest.roots.as_ptr()),
                (scratch.starts.as_ptr(), scratch.spans.as_ptr()),
                (
                    scratch.tree.as_ptr(),
                    scratch.slots.as_ptr(),
                    scratch.blocks.as_ptr(),
                ),
            ));
        }
        assert_eq!(buffers[1], buffers[0], "a retraining allocated");
        assert_eq!(buffers[2], buffers[0], "a retraining allocated");
    }

    #[test]
    fn buffers_stay_within_bytes_for() {
        let (trees, dims, window) = (30, 3, 512);
        let rows: Vec<f32> = random_rows(window, dims, 6)
            .iter()
            .map(|&v| narrow(v))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut forest = IsolationForest::untrained();
        let mut scratch = TrainingScratch::default();
        // A young window grows towards its size, as in an online forest.
        for points in [4, 50, 100, 200, 400, 512, 512] {
            let rows = &rows[..points * dims];
            forest.refit_checked(rows, dims, trees, 256, &mut rng, &mut scratch);
            assert_valid(&forest, points.min(256));
            let held = forest.lines.capacity() * std::mem::size_of::<Line>()
                + forest.roots.capacity() * std::mem::size_of::<usize>()
                + std::mem::size_of::<IsolationForest>();
            assert!(held <= IsolationForest::bytes_for(trees, 256), "{points}");
            let scratch_held = scratch.starts.capacity() * std::mem::size_of::<usize>()
                + scratch.spans.capacity() * std::mem::size_of::<Span>()
                + scratch.tree.capacity() * std::mem::size_of::<Node>()
                + scratch.slots.capacity() * std::mem::size_of::<u16>()
                + scratch.blocks.capacity() * std::mem::size_of::<Block>();
            assert!(scratch_held <= TrainingScratch::bytes_for(window, 256));
        }
    }

    #[test]
    fn the_node_buffer_keeps_a_margin_rather_than_the_worst_case() {
        let (trees, dims) = (50, 2);
        let rows: Vec<f32> = random_rows(512, dims, 11)
            .iter()
            .map(|&v| narrow(v))
            .collect();
        let tree_lines = IsolationForest::tree_lines(256);
        let worst = trees * tree_lines;
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut scratch = TrainingScratch::default();
        let mut forest = IsolationForest::untrained();
        forest.refit_checked(&rows, dims, trees, 256, &mut rng, &mut scratch);
        let used = forest.lines.len();
        assert!(used < worst / 2, "{used} of {worst}");
        let capacity = forest.lines.capacity();
        assert!((used + tree_lines..=used + used / 16 + tree_lines).contains(&capacity));
        // Retrainings on similar data fit in it.
        let buffer = forest.lines.as_ptr();
        for _ in 0..5 {
            forest.refit_checked(&rows, dims, trees, 256, &mut rng, &mut scratch);
            assert_eq!(forest.lines.as_ptr(), buffer, "a retraining reallocated");
        }
        // A forest of smaller trees gives back what it does not need, and is the forest a
        // fresh fit would grow.
        let small_rows = &rows[..16 * dims];
        let mut fresh_rng = rng.clone();
        forest.refit_checked(small_rows, dims, trees, 256, &mut rng, &mut scratch);
        let wide: Vec<f64> = small_rows.iter().map(|&v| f64::from(v)).collect();
        let fresh = IsolationForest::fit_checked(&wide, dims, trees, 256, &mut fresh_rng);
        assert_eq!(forest.lines, fresh.lines);
        let used = forest.lines.len();
        assert!(forest.lines.capacity() <= used + used / 16 + IsolationForest::tree_lines(16));
    }

    #[test]
    fn constant_data_gives_one_leaf_per_tree() {
        let forest = IsolationForest::fit(&[3.0; 20], 2, 10, 256, 1).unwrap();
        assert!((0..10).all(|t| reachable(&forest, t).len() == 1));
        assert_eq!(forest.height, 4);
        // Every point lands in the root leaf of 10 points: h = c(10) = c(ψ), s = 0.5 (up to
        // the f32 of the leaf's path length).
        assert!((forest.score(&[3.0, 3.0]).unwrap() - 0.5).abs() < 1e-6);
        assert!((forest.score(&[100.0, -1.0]).unwrap() - 0.5).abs() < 1e-6);
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
            IsolationForest::fit(&[1.0, 2.0], 1, 10, IsolationForest::MAX_SUBSAMPLE + 1, 1),
            Err(DetectorError::InvalidConfig(_))
        ));
        let wide = vec![0.0; 2 * (IsolationForest::MAX_DIMS + 1)];
        assert!(matches!(
            IsolationForest::fit(&wide, IsolationForest::MAX_DIMS + 1, 10, 256, 1),
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
