//! The stage's logic, and the exactly-once batch protocol it takes part in.

use super::input::InputRecord;
use super::outputs::Outputs;

/// The stage's logic: pure per record, told the fate of each batch it produced.
///
/// The loop keeps one [`Transform::Batch`] per batch of input records, from the first
/// record until the batch's transaction ends, and hands each to the transform exactly once:
/// to [`Transform::committed`] when its outputs and input offsets committed, or to
/// [`Transform::discarded`] when its records will be consumed again. The transform never
/// sees the batch boundaries, so it cannot get them out of step with the transactions;
/// whatever it must apply per batch when it commits (business counters, the checkpoints it
/// wrote) lives in its `Batch`.
pub trait Transform: Send + 'static {
    /// What the transform keeps per batch until its transaction ends.
    type Batch: Default + Send;

    /// Writes the outputs of one input record to `out`; `batch` is the state of the batch
    /// the record belongs to.
    fn transform(&mut self, input: &InputRecord<'_>, batch: &mut Self::Batch, out: &mut Outputs);

    /// The batch committed: its records are done, counted here so each is counted once.
    /// Batches commit in the order they were gathered.
    fn committed(&mut self, batch: Self::Batch);

    /// These batches, oldest first, were dropped (an aborted transaction, a rebalance):
    /// their records will be consumed again.
    fn discarded(&mut self, batches: Vec<Self::Batch>);

    /// The batch is complete and about to go into its transaction: a transform that keeps
    /// outputs back to write each once per batch (the latest state of a key, when only
    /// the latest matters) writes them here.
    fn seal(&mut self, _batch: &mut Self::Batch, _out: &mut Outputs) {}

    /// The group's assignment changed (after the batches it dropped were discarded, before
    /// the next record); `assigned` is the input partitions it holds now. A transform whose
    /// state follows its partitions rebuilds it from what the previous owners committed.
    fn rebalanced(&mut self, _assigned: &[i32]) {}
}
