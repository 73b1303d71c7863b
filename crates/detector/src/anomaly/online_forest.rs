//! An Isolation Forest kept current on a stream: the last `window` points of a series are
//! kept, and the forest is retrained on them every `retrain_every` points (or on demand).
//! A point is scored by the forest as trained *before* it arrived, so a score never uses
//! later data, and retraining on a schedule keeps the cost per point bounded. A young
//! forest is retrained each time its data has doubled, so that the first model, trained
//! on the first few points, is not kept for a whole `retrain_every`.

use super::config::ForestConfig;
use super::forest::IsolationForest;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub(crate) struct OnlineForest {
    dims: usize,
    /// Up to `window` points, row-major; once full, `next` is overwritten. Training does
    /// not care about their order.
    rows: Vec<f64>,
    next: usize,
    model: Option<IsolationForest>,
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
        if self.rows.len() < capacity {
            self.rows.extend_from_slice(point);
        } else {
            self.rows[self.next..self.next + self.dims].copy_from_slice(point);
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

    /// Trains on the points held now; false when there are fewer than two.
    pub(crate) fn retrain(&mut self, config: &ForestConfig) -> bool {
        if self.rows.len() < 2 * self.dims {
            return false;
        }
        self.model = Some(IsolationForest::fit_checked(
            &self.rows,
            self.dims,
            config.trees,
            config.subsample,
            &mut self.rng,
        ));
        self.since_training = 0;
        self.trained_on = self.rows.len() / self.dims;
        true
    }

    /// Upper bound of the bytes of a forest over `dims` values.
    pub(crate) fn bytes_for(dims: usize, config: &ForestConfig) -> usize {
        std::mem::size_of::<Self>()
            + config.window * dims * std::mem::size_of::<f64>()
            + IsolationForest::bytes_for(config.trees, config.subsample.min(config.window))
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
