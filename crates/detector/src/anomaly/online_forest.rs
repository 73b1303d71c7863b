//! An Isolation Forest kept current on a stream: the last `window` points of a series are
//! kept, and the forest is retrained on them every `retrain_every` points (or on demand).
//! A point is scored by the forest as trained *before* it arrived, so a score never uses
//! later data, and retraining on a schedule keeps the cost per point bounded. A young
//! forest is retrained each time its data has doubled, so that the first model, trained
//! on the first few points, is not kept for a whole `retrain_every`. A retraining grows
//! the new trees in the buffers of the old ones, with the training's own buffers kept from
//! the last time (one set per bank, lent to the series that trains: they hold nothing
//! between trainings), so that once the window is full it allocates nothing.
//!
//! A checkpoint of the forest leaves the trees out (a few hundred kilobytes): it keeps the
//! generator's position when the trees were grown and the rows the window has overwritten
//! since, from which the same trees are grown again.

use super::config::ForestConfig;
use super::forest::{narrow, IsolationForest, TrainingScratch};
use super::saved_state::{Reader, Unreadable, Writer};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub(crate) struct OnlineForest {
    dims: usize,
    /// Up to `window` points, row-major and narrowed to f32 as the forest compares them;
    /// once full, `next` is overwritten. Training does not care about their order.
    rows: Vec<f32>,
    next: usize,
    /// Retrained in place, in the buffers of the trees it replaces.
    model: Option<IsolationForest>,
    since_training: usize,
    /// Points the current model was trained on.
    trained_on: usize,
    first_training: usize,
    rng: ChaCha8Rng,
    /// The generator's position when the current model's training began.
    trained_from: u128,
    /// The rows the window overwrote since the current model was trained, in order: with
    /// the window and `trained_from`, what grows the same model again.
    displaced: Vec<f32>,
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
            trained_from: 0,
            displaced: Vec::new(),
        }
    }

    /// The score of a point of `dims` finite values; `None` until the first training.
    pub(crate) fn score(&self, point: &[f64]) -> Option<f64> {
        self.model.as_ref().map(|m| m.score_checked(point))
    }

    pub(crate) fn is_trained(&self) -> bool {
        self.model.is_some()
    }

    /// Adds a point, then trains if it is time to, in `scratch`.
    pub(crate) fn push(
        &mut self,
        point: &[f64],
        config: &ForestConfig,
        scratch: &mut TrainingScratch,
    ) {
        let capacity = config.window * self.dims;
        let narrowed = point.iter().map(|&v| narrow(v));
        if self.rows.len() < capacity {
            self.rows.extend(narrowed);
        } else {
            let row = &mut self.rows[self.next..self.next + self.dims];
            if self.model.is_some() {
                self.displaced.extend_from_slice(row);
            }
            for (to, from) in row.iter_mut().zip(narrowed) {
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
            self.retrain(config, scratch);
        }
    }

    /// Trains on the points held now; false when there are fewer than two, or when a point
    /// has more values than a forest can index ([`IsolationForest::MAX_DIMS`], far beyond
    /// any sensible `max_metrics`). The new trees are grown in the old model's buffers (a
    /// new forest's at the first training): a refit overwrites everything a forest holds,
    /// so nothing of the old trees reaches the new ones.
    pub(crate) fn retrain(&mut self, config: &ForestConfig, scratch: &mut TrainingScratch) -> bool {
        if self.rows.len() < 2 * self.dims || self.dims > IsolationForest::MAX_DIMS {
            return false;
        }
        self.displaced.clear();
        self.trained_from = self.rng.get_word_pos();
        let model = self.model.get_or_insert_with(IsolationForest::untrained);
        model.refit_checked(
            &self.rows,
            self.dims,
            config.trees,
            config.subsample,
            &mut self.rng,
            scratch,
        );
        self.since_training = 0;
        self.trained_on = self.rows.len() / self.dims;
        true
    }

    /// Writes the window and the generator's position; with a model, where its training
    /// began and the rows overwritten since.
    pub(crate) fn save(&self, out: &mut Writer<'_>) {
        out.f32s(&self.rows);
        out.usize(self.next);
        out.usize(self.since_training);
        out.usize(self.trained_on);
        out.u128(self.rng.get_word_pos());
        out.option(self.model.as_ref(), |out, _| {
            out.u128(self.trained_from);
            out.f32s(&self.displaced);
        });
    }

    /// Reads back into a new forest of the same series what [`save`](Self::save) wrote,
    /// and grows its model again: the rows it was trained on are the window with the
    /// overwritten rows put back and the rows added since taken off, and the generator
    /// starts where it did. The generator must then end where the saved one was, or the
    /// state is refused.
    pub(crate) fn load(
        &mut self,
        from: &mut Reader<'_>,
        config: &ForestConfig,
        scratch: &mut TrainingScratch,
    ) -> Result<(), Unreadable> {
        let dims = self.dims;
        let capacity = config.window * dims;
        self.rows = from.f32s(capacity)?;
        self.next = from.usize()?;
        self.since_training = from.usize()?;
        self.trained_on = from.usize()?;
        let full = self.rows.len() == capacity;
        if self.rows.len() % dims != 0 || self.next % dims != 0 || (self.next > 0 && !full) {
            return Err(Unreadable("a forest's window is inconsistent"));
        }
        let word = from.u128()?;
        let trained = from.option(|from| Ok((from.u128()?, from.f32s(capacity)?)))?;
        if let Some((trained_from, displaced)) = trained {
            let mut rows = self.rows.clone();
            let mut next = self.next;
            if displaced.len() % dims != 0 || (!displaced.is_empty() && !full) {
                return Err(Unreadable("a forest's overwritten rows are inconsistent"));
            }
            for row in displaced.chunks_exact(dims).rev() {
                next = (next + capacity - dims) % capacity;
                rows[next..next + dims].copy_from_slice(row);
            }
            let trained_len = self.trained_on * dims;
            if self.trained_on < 2 || trained_len > rows.len() {
                return Err(Unreadable("a forest was trained on rows it does not have"));
            }
            rows.truncate(trained_len);
            self.rng.set_word_pos(trained_from);
            let mut model = IsolationForest::untrained();
            model.refit_checked(
                &rows,
                dims,
                config.trees,
                config.subsample,
                &mut self.rng,
                scratch,
            );
            if self.rng.get_word_pos() != word {
                return Err(Unreadable("the forest grown again is not the one saved"));
            }
            self.model = Some(model);
            self.trained_from = trained_from;
            self.displaced = displaced;
        }
        self.rng.set_word_pos(word);
        Ok(())
    }

    /// Upper bound of the heap bytes of a forest over `dims` values (the struct itself is
    /// counted where it is held, the training's buffers where they are: the bank).
    pub(crate) fn heap_bytes_for(dims: usize, config: &ForestConfig) -> usize {
        // The window, and at most as many rows overwritten since the last training.
        2 * config.window * dims * std::mem::size_of::<f32>() + Self::model_bytes(config)
    }

    /// Upper bound of the heap bytes of the training buffers that forests of `config`
    /// share.
    pub(crate) fn scratch_bytes_for(config: &ForestConfig) -> usize {
        TrainingScratch::bytes_for(config.window, config.subsample.min(config.window))
    }

    /// Upper bound of the bytes of one trained model.
    fn model_bytes(config: &ForestConfig) -> usize {
        IsolationForest::bytes_for(config.trees, config.subsample.min(config.window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    impl OnlineForest {
        fn push_alone(&mut self, point: &[f64], config: &ForestConfig) {
            self.push(point, config, &mut TrainingScratch::default());
        }

        fn retrain_alone(&mut self, config: &ForestConfig) -> bool {
            self.retrain(config, &mut TrainingScratch::default())
        }
    }

    #[test]
    fn trains_first_at_the_threshold_then_on_schedule() {
        let config = ForestConfig {
            window: 8,
            retrain_every: 4,
            trees: 5,
            ..ForestConfig::default()
        };
        let mut forest = OnlineForest::new(1, 3, ChaCha8Rng::seed_from_u64(1));
        forest.push_alone(&[1.0], &config);
        forest.push_alone(&[2.0], &config);
        assert!(forest.score(&[1.0]).is_none());
        forest.push_alone(&[3.0], &config);
        assert!(forest.is_trained());
        for i in 0..20 {
            forest.push_alone(&[f64::from(i)], &config);
        }
        assert_eq!(forest.rows.len(), 8, "the window is bounded");
        assert!(forest.since_training < 4);
        assert_eq!(forest.trained_on, 8);
    }

    /// What a restored state relies on: it grows its model in a new forest, where the live
    /// one refit its old trees' buffers.
    #[test]
    fn a_retraining_in_place_grows_the_trees_a_new_forest_would() {
        let config = ForestConfig {
            window: 64,
            retrain_every: 1_000,
            trees: 10,
            subsample: 32,
            ..ForestConfig::default()
        };
        let point = |i: usize| [(i as f64 * 0.7).sin(), (i as f64 * 0.3).cos()];
        let mut forest = OnlineForest::new(2, 50, ChaCha8Rng::seed_from_u64(3));
        for i in 0..60 {
            forest.push_alone(&point(i), &config);
        }
        // The same state with the buffers of a forest trained on other data, and with none.
        let mut other = OnlineForest::new(3, 40, ChaCha8Rng::seed_from_u64(4));
        for i in 0..40 {
            other.push_alone(&[i as f64, 0.5, -(i as f64)], &config);
        }
        let mut refit_other = forest.clone();
        refit_other.model = other.model.take();
        let mut new = forest.clone();
        new.model = None;
        let copy = forest.clone();
        let probe = [0.2, -0.9];
        let before = copy.score(&probe);

        assert!(forest.retrain_alone(&config));
        assert!(refit_other.retrain_alone(&config));
        assert!(new.retrain_alone(&config));
        // The copy keeps the old trees; every retraining grows the same new ones.
        assert_eq!(copy.score(&probe), before);
        for i in 0..60 {
            assert_eq!(forest.score(&point(i)), refit_other.score(&point(i)), "{i}");
            assert_eq!(forest.score(&point(i)), new.score(&point(i)), "{i}");
        }
        assert_ne!(forest.score(&probe), before);
    }
}
