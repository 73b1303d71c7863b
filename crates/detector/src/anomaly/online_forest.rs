//! An Isolation Forest kept current on a stream: the last `window` points of a series are
//! kept, and the forest is retrained on them every `retrain_every` points (or on demand).
//! A point is scored by the forest as trained *before* it arrived, so a score never uses
//! later data, and retraining on a schedule keeps the cost per point bounded. A young
//! forest is retrained each time its data has doubled, so that the first model, trained
//! on the first few points, is not kept for a whole `retrain_every`. A retraining grows
//! the new trees in the buffers of the old ones, with the training's own buffers kept from
//! the last time, so that once the window is full it allocates nothing.

use super::config::ForestConfig;
use super::forest::{narrow, IsolationForest, TrainingScratch};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct OnlineForest {
    dims: usize,
    /// Up to `window` points, row-major and narrowed to f32 as the forest compares them;
    /// once full, `next` is overwritten. Training does not care about their order.
    rows: Vec<f32>,
    next: usize,
    /// Shared, so that copying a series' state (for the undo log of a batch) does not copy
    /// the trees; a training replaces it.
    model: Option<Arc<IsolationForest>>,
    scratch: TrainingScratch,
    since_training: usize,
    /// Points the current model was trained on.
    trained_on: usize,
    first_training: usize,
    rng: ChaCha8Rng,
}

impl OnlineForest {
    /// A forest over points of `dims` values, first trained once it holds `first_training`
    /// points (at least 2).
    pub(crate) fn new(dims: usize, first_training: usize, rng: ChaCha8Rng) -> Self {
        OnlineForest {
            dims,
            rows: Vec::new(),
            next: 0,
            model: None,
            scratch: TrainingScratch::default(),
            since_training: 0,
            trained_on: 0,
            first_training: first_training.max(2),
            rng,
        }
    }

    /// The score of a point of `dims` finite values; `None` until the first training.
    pub(crate) fn score(&self, point: &[f64]) -> Option<f64> {
        self.model.as_ref().map(|m| m.score_checked(point))
    }

    pub(crate) fn is_trained(&self) -> bool {
        self.model.is_some()
    }

    /// Adds a point, then trains if it is time to.
    pub(crate) fn push(&mut self, point: &[f64], config: &ForestConfig) {
        let capacity = config.window * self.dims;
        let narrowed = point.iter().map(|&v| narrow(v));
        if self.rows.len() < capacity {
            self.rows.extend(narrowed);
        } else {
            for (to, from) in self.rows[self.next..self.next + self.dims]
                .iter_mut()
                .zip(narrowed)
            {
                *to = from;
            }
            self.next = (self.next + self.dims) % capacity;
        }
        self.since_training += 1;
        let due = match self.model {
            None => self.rows.len() >= self.first_training * self.dims,
            Some(_) => self.since_training >= config.retrain_every.min(self.trained_on),
        };
        if due {
            self.retrain(config);
        }
    }

    /// Trains on the points held now; false when there are fewer than two, or when a point
    /// has more values than a forest can index ([`IsolationForest::MAX_DIMS`], far beyond
    /// any sensible `max_metrics`).
    pub(crate) fn retrain(&mut self, config: &ForestConfig) -> bool {
        if self.rows.len() < 2 * self.dims || self.dims > IsolationForest::MAX_DIMS {
            return false;
        }
        // In place unless a copy of this state (the bank's undo log) shares the model.
        let mut fresh = None;
        let model = match self.model.as_mut().and_then(Arc::get_mut) {
            Some(model) => model,
            None => fresh.insert(IsolationForest::untrained()),
        };
        model.refit_checked(
            &self.rows,
            self.dims,
            config.trees,
            config.subsample,
            &mut self.rng,
            &mut self.scratch,
        );
        if let Some(mut model) = fresh {
            model.shrink_to_fit();
            self.model = Some(Arc::new(model));
        }
        self.since_training = 0;
        self.trained_on = self.rows.len() / self.dims;
        true
    }

    /// Upper bound of the bytes of a forest over `dims` values.
    pub(crate) fn bytes_for(dims: usize, config: &ForestConfig) -> usize {
        let psi = config.subsample.min(config.window);
        std::mem::size_of::<Self>()
            + config.window * dims * std::mem::size_of::<f32>()
            + IsolationForest::bytes_for(config.trees, psi)
            + TrainingScratch::bytes_for(config.window, psi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn trains_first_at_the_threshold_then_on_schedule() {
        let config = ForestConfig {
            window: 8,
            retrain_every: 4,
            trees: 5,
            ..ForestConfig::default()
        };
        let mut forest = OnlineForest::new(1, 3, ChaCha8Rng::seed_from_u64(1));
        forest.push(&[1.0], &config);
        forest.push(&[2.0], &config);
        assert!(forest.score(&[1.0]).is_none());
        forest.push(&[3.0], &config);
        assert!(forest.is_trained());
        for i in 0..20 {
            forest.push(&[f64::from(i)], &config);
        }
        assert_eq!(forest.rows.len(), 8, "the window is bounded");
        assert!(forest.since_training < 4);
        assert_eq!(forest.trained_on, 8);
    }
}
