//! The per-batch state of a transform, kept by the loop in step with its transactions.

use std::collections::VecDeque;

/// The [`super::Transform::Batch`] of the batch being gathered and of the sealed ones
/// awaiting their commit, oldest first.
#[derive(Debug, Default)]
pub(super) struct Batches<B> {
    gathering: B,
    sealed: VecDeque<B>,
}

impl<B: Default> Batches<B> {
    /// The state of the batch being gathered.
    pub(super) fn gathering(&mut self) -> &mut B {
        &mut self.gathering
    }

    /// The batch being gathered goes to its transaction; the next records start another.
    pub(super) fn seal(&mut self) {
        let sealed = std::mem::take(&mut self.gathering);
        self.sealed.push_back(sealed);
    }

    /// The state of the batch that committed: the oldest sealed one.
    pub(super) fn commit(&mut self) -> Option<B> {
        self.sealed.pop_front()
    }

    /// Every batch not committed yet, sealed or being gathered, oldest first.
    pub(super) fn discard(&mut self) -> Vec<B> {
        let mut dropped: Vec<B> = self.sealed.drain(..).collect();
        dropped.push(std::mem::take(&mut self.gathering));
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::Batches;

    #[test]
    fn batch_state_follows_seal_commit_and_discard() {
        let mut batches: Batches<Vec<u32>> = Batches::default();
        batches.gathering().push(1);
        batches.seal();
        batches.gathering().push(2);
        assert_eq!(
            batches.commit(),
            Some(vec![1]),
            "the sealed batch, not the open one"
        );
        assert_eq!(batches.commit(), None);
        batches.seal();
        batches.gathering().push(3);
        assert_eq!(
            batches.discard(),
            vec![vec![2], vec![3]],
            "sealed then gathering, oldest first"
        );
        batches.seal();
        assert_eq!(
            batches.commit(),
            Some(vec![]),
            "discard left nothing behind"
        );
        assert_eq!(batches.commit(), None);
    }
}
