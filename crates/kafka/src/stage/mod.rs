//! The one consume-transform-produce loop of the stack, used by standardization and
//! processing: exactly once through Kafka transactions.
//!
//! A [`Transform`] turns each input record into output records. The loop gathers them into
//! batches (up to `batch_max_records` or `batch_max_ms`) and commits each batch as one
//! transaction together with the consumed offsets (`send_offsets_to_transaction`, next
//! offset = last processed + 1; no auto-commit), so after a crash at any instant every
//! input's outputs are visible exactly once to `read_committed` readers.
//!
//! * Transactions run on a commit thread of their own (`committer`) while the loop
//!   gathers the next batch; one at a time, in order.
//! * An abortable error aborts the transaction; a fatal one (fenced producer) rebuilds the
//!   producer. Either way the failed batch and the one gathered behind it are dropped and
//!   their partitions rewound to the failed batch's start.
//! * A rebalance waits for the transaction in flight, then drops the batch being gathered
//!   (nothing of it was produced yet); the eager assignment strategy makes the new
//!   assignment start from the committed offsets.
//! * The transactional id is stable per instance, so a restarted instance aborts the
//!   transaction its predecessor left open instead of stalling readers until it times out.
//!
//! librdkafka's transactional calls block, so the loop runs on its own threads, never on
//! the async runtime.
//!
//! Files: `config` (batching and identity), `input` and `transform` (the API a stage
//! implements), `outputs` (the batch's output buffer), `worker` (the loop),
//! `batches` (the transform's per-batch state, kept in step with the transactions),
//! `committer` (the transactions, on their own thread), `context` (rebalances wait for
//! the transaction in flight; lag from librdkafka's statistics), `metrics`, `status`.

mod batches;
mod committer;
mod config;
mod context;
mod input;
mod metrics;
mod outputs;
mod status;
mod transform;
mod worker;

pub use config::StageConfig;
pub use input::InputRecord;
pub use metrics::StageMetrics;
pub use outputs::{Output, OutputWriter, Outputs};
pub use status::{StageProgress, StageStatus};
pub use transform::Transform;
pub use worker::{spawn_stage, StageHandle};
