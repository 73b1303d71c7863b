//! An Isolation Forest kept current on a stream: the last `window` points of a series are
//! kept, and the forest is retrained on them every `retrain_every` points (or on demand).
//! A point is scored by the forest as trained *before* it arrived, so a score never uses
//! later data, and retraining on a schedule keeps the cost per point bounded. A young
//! forest is retrained each time its data has doubled, so that the first model, trained
//! on the first few points, is not kept for a whole `retrain_every`. A retraining grows
//! the new trees in the buffers of the old ones, with the training's own buffers kept from
//! the last time, so that once the window is full it allocates nothing.
//!
//! The first retraining of a forest in an open batch of the bank cannot grow the new trees
//! in the old buffers: the old model goes to the batch's journal, to be put back if the
//! batch is rolled back, and the new trees are grown in a forest taken from the bank's
//! [`ForestPool`], where the journal gives back the models it held once its batch is
//! settled. Without it every such retraining would allocate and later free a forest of a
//! few hundred kilobytes: page faults, or heap the allocator keeps resident. Later
//! retrainings in the same batch refit that new forest in place.
//!
//! A checkpoint of the forest leaves the trees out (a few hundred kilobytes): it keeps the
//! generator's position when the trees were grown and the rows the window has overwritten
//! since, from which the same trees are grown again.

use super::config::ForestConfig;
use super::forest::{narrow, IsolationForest, TrainingScratch};
use super::journal::{ForestUndo, Journal};
use super::saved_state::{Reader, Unreadable, Writer};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Most forests a [`ForestPool`] keeps. The pool only carries models from the commit of a
/// batch to the retrainings of the next ones, a few per batch on average in the processing
/// service (25,000 records/s retrain about 50 forests a second, over 20 batches a second),
/// but in bursts: series that started together retrain together. In a simulation of the
/// service's fleet (170 series, batches of 1,250 records, two open) a pool of 16 served 99 %
/// of the retrainings after warm-up, one of 8 only 87 %. A pooled forest keeps only the
/// buffers its trees used, at most [`OnlineForest::model_bytes`], so the pool holds at most
/// 16 of those. Beyond it a forest given back is freed.
pub(crate) const POOL_CAPACITY: usize = 16;

/// Forests whose trees are no longer used by anything, kept with their buffers so that a
/// retraining that cannot reuse its own forest's refits one of these instead of
/// allocating. A refit overwrites everything a forest holds, so what a pooled forest was
/// trained on never reaches the next one. A clone starts empty.
#[derive(Debug, Default)]
pub(crate) struct ForestPool {
    models: Vec<IsolationForest>,
    /// Forests allocated because the pool was empty, for tests.
    #[cfg(test)]
    pub(crate) allocated: usize,
    /// Forests taken from the pool, for tests.
    #[cfg(test)]
    pub(crate) reused: usize,
}

impl Clone for ForestPool {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl ForestPool {
    /// A forest to train, from the pool when it holds one.
    fn take(&mut self) -> IsolationForest {
        match self.models.pop() {
            Some(model) => {
                #[cfg(test)]
                {
                    self.reused += 1;
                }
                model
            }
            None => {
                #[cfg(test)]
                {
                    self.allocated += 1;
                }
                IsolationForest::untrained()
            }
        }
    }

    /// Keeps `model`'s buffers if nothing else holds it and the pool has room; otherwise
    /// lets it go.
    pub(crate) fn give_back(&mut self, model: Arc<IsolationForest>) {
        if self.models.len() < POOL_CAPACITY {
            if let Some(model) = Arc::into_inner(model) {
                self.models.push(model);
            }
        }
    }

    /// Forests held.
    pub(crate) fn len(&self) -> usize {
        self.models.len()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct OnlineForest {
    dims: usize,
    /// Up to `window` points, row-major and narrowed to f32 as the forest compares them;
    /// once full, `next` is overwritten. Training does not care about their order.
    rows: Vec<f32>,
    next: usize,
    /// Shared, so that copying a series' state does not copy the trees; a training while
    /// it is shared replaces it.
    model: Option<Arc<IsolationForest>>,
    /// The batch whose journal holds the model this one replaced (0: none): a retraining
    /// in that batch may refit this one in place.
    model_from: u64,
    scratch: TrainingScratch,
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
            model_from: 0,
            scratch: TrainingScratch::default(),
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

    /// Adds a point, then trains if it is time to (see [`retrain`](Self::retrain) for
    /// `pool` and `journal`).
    pub(crate) fn push(
        &mut self,
        point: &[f64],
        config: &ForestConfig,
        pool: &mut ForestPool,
        mut journal: Option<&mut Journal>,
    ) {
        let capacity = config.window * self.dims;
        let narrowed = point.iter().map(|&v| narrow(v));
        if self.rows.len() < capacity {
            self.rows.extend(narrowed);
            if let Some(journal) = journal.as_deref_mut() {
                journal.push(0);
            }
        } else {
            let row = &mut self.rows[self.next..self.next + self.dims];
            if let Some(journal) = journal.as_deref_mut() {
                row.iter()
                    .for_each(|v| journal.push(u64::from(v.to_bits())));
                journal.push_usize(self.next);
                journal.push(1);
            }
            if self.model.is_some() {
                self.displaced.extend_from_slice(row);
            }
            for (to, from) in row.iter_mut().zip(narrowed) {
                *to = from;
            }
            self.next = (self.next + self.dims) % capacity;
        }
        if let Some(journal) = journal.as_deref_mut() {
            journal.push_usize(self.since_training);
        }
        self.since_training += 1;
        let due = match self.model {
            None => self.rows.len() >= self.first_training * self.dims,
            Some(_) => self.since_training >= config.retrain_every.min(self.trained_on),
        };
        let retrained = due && self.retrain(config, pool, journal.as_deref_mut());
        if let Some(journal) = journal {
            journal.push(u64::from(retrained));
        }
    }

    /// Takes back the last [`push`](Self::push) recorded in `journal`; a model it trained
    /// goes to `pool`.
    pub(crate) fn undo_push(&mut self, journal: &mut Journal, pool: &mut ForestPool) {
        if journal.pop() != 0 {
            self.undo_retrain(journal, pool);
        }
        self.since_training = journal.pop_usize();
        if journal.pop() == 0 {
            let len = self.rows.len().saturating_sub(self.dims);
            self.rows.truncate(len);
        } else {
            self.next = journal.pop_usize();
            if let Some(row) = self.rows.get_mut(self.next..self.next + self.dims) {
                journal.pop_into_f32(row);
            }
            if self.model.is_some() {
                let len = self.displaced.len().saturating_sub(self.dims);
                self.displaced.truncate(len);
            }
        }
    }

    /// Trains on the points held now; false when there are fewer than two, or when a point
    /// has more values than a forest can index ([`IsolationForest::MAX_DIMS`], far beyond
    /// any sensible `max_metrics`). The forest is trained in place unless a copy of this
    /// state shares it, or a journal must keep it (the first retraining in a batch); then in
    /// one from `pool`, which keeps its buffers' capacity so that it can be refit without
    /// allocating once back in the pool.
    pub(crate) fn retrain(
        &mut self,
        config: &ForestConfig,
        pool: &mut ForestPool,
        journal: Option<&mut Journal>,
    ) -> bool {
        if self.rows.len() < 2 * self.dims || self.dims > IsolationForest::MAX_DIMS {
            return false;
        }
        match journal {
            Some(journal) => {
                let replaced = self.model_from != journal.batch();
                journal.forests.push(ForestUndo {
                    model: if replaced { self.model.take() } else { None },
                    replaced,
                    model_from: self.model_from,
                    rng: self.rng.clone(),
                    since_training: self.since_training,
                    trained_on: self.trained_on,
                    trained_from: self.trained_from,
                    displaced: std::mem::take(&mut self.displaced),
                });
                self.model_from = journal.batch();
            }
            None => self.displaced.clear(),
        }
        self.trained_from = self.rng.get_word_pos();
        let mut fresh = None;
        let model = match self.model.as_mut().and_then(Arc::get_mut) {
            Some(model) => model,
            None => fresh.insert(pool.take()),
        };
        model.refit_checked(
            &self.rows,
            self.dims,
            config.trees,
            config.subsample,
            &mut self.rng,
            &mut self.scratch,
        );
        if let Some(model) = fresh {
            // The old model stays with the copies that share it, or in the journal.
            self.model = Some(Arc::new(model));
        }
        self.since_training = 0;
        self.trained_on = self.rows.len() / self.dims;
        true
    }

    /// Takes back the last [`retrain`](Self::retrain) recorded in `journal`: the model it
    /// replaced comes back, the one it trained goes to `pool`.
    pub(crate) fn undo_retrain(&mut self, journal: &mut Journal, pool: &mut ForestPool) {
        let Some(undo) = journal.forests.pop() else {
            return;
        };
        if undo.replaced {
            if let Some(model) = std::mem::replace(&mut self.model, undo.model) {
                pool.give_back(model);
            }
        }
        self.model_from = undo.model_from;
        self.rng = undo.rng;
        self.since_training = undo.since_training;
        self.trained_on = undo.trained_on;
        self.trained_from = undo.trained_from;
        self.displaced = undo.displaced;
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
                &mut self.scratch,
            );
            if self.rng.get_word_pos() != word {
                return Err(Unreadable("the forest grown again is not the one saved"));
            }
            self.model = Some(Arc::new(model));
            self.trained_from = trained_from;
            self.displaced = displaced;
        }
        self.rng.set_word_pos(word);
        Ok(())
    }

    /// The model, for the pool, when this state is dropped.
    pub(crate) fn take_model(&mut self) -> Option<Arc<IsolationForest>> {
        self.model.take()
    }

    /// Upper bound of the heap bytes of a forest over `dims` values (the struct itself is
    /// counted where it is held).
    pub(crate) fn heap_bytes_for(dims: usize, config: &ForestConfig) -> usize {
        // The window, and at most as many rows overwritten since the last training.
        2 * config.window * dims * std::mem::size_of::<f32>()
            + Self::model_bytes(config)
            + TrainingScratch::bytes_for(config.window, config.subsample.min(config.window))
    }

    /// Upper bound of the bytes of one trained model, in a forest or in a [`ForestPool`]
    /// (a pooled model was trained under the same configuration).
    pub(crate) fn model_bytes(config: &ForestConfig) -> usize {
        IsolationForest::bytes_for(config.trees, config.subsample.min(config.window))
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
        let pool = &mut ForestPool::default();
        forest.push(&[1.0], &config, pool, None);
        forest.push(&[2.0], &config, pool, None);
        assert!(forest.score(&[1.0]).is_none());
        forest.push(&[3.0], &config, pool, None);
        assert!(forest.is_trained());
        for i in 0..20 {
            forest.push(&[f64::from(i)], &config, pool, None);
        }
        assert_eq!(forest.rows.len(), 8, "the window is bounded");
        assert!(forest.since_training < 4);
        assert_eq!(forest.trained_on, 8);
    }

    #[test]
    fn a_shared_model_is_replaced_by_one_from_the_pool() {
        let config = ForestConfig {
            window: 64,
            retrain_every: 1_000,
            trees: 10,
            subsample: 32,
            ..ForestConfig::default()
        };
        let point = |i: usize| [(i as f64 * 0.7).sin(), (i as f64 * 0.3).cos()];
        let mut forest = OnlineForest::new(2, 50, ChaCha8Rng::seed_from_u64(3));
        let pool = &mut ForestPool::default();
        for i in 0..60 {
            forest.push(&point(i), &config, pool, None);
        }
        // A forest trained on other data waits in the pool.
        let mut other = OnlineForest::new(3, 40, ChaCha8Rng::seed_from_u64(4));
        for i in 0..40 {
            other.push(&[i as f64, 0.5, -(i as f64)], &config, pool, None);
        }
        pool.give_back(other.take_model().unwrap());
        assert_eq!((pool.len(), pool.allocated, pool.reused), (1, 2, 0));
        let mut unshared = forest.clone();
        unshared.model = forest.model.as_deref().cloned().map(Arc::new);
        let copy = forest.clone();
        let probe = [0.2, -0.9];
        let before = copy.score(&probe);

        assert!(forest.retrain(&config, pool, None));
        assert!(unshared.retrain(&config, pool, None));
        assert_eq!((pool.len(), pool.allocated, pool.reused), (0, 2, 1));
        // The copy keeps the old trees; the new ones are those of a retraining in place.
        assert_eq!(copy.score(&probe), before);
        for i in 0..60 {
            assert_eq!(forest.score(&point(i)), unshared.score(&point(i)), "{i}");
        }
        assert_ne!(forest.score(&probe), before);
        // A model something else still holds is not kept.
        pool.give_back(Arc::clone(copy.model.as_ref().unwrap()));
        assert_eq!(pool.len(), 0);
        drop(copy);
        pool.give_back(forest.take_model().unwrap());
        assert_eq!(pool.len(), 1);
    }
}
