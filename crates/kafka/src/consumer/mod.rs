//! The one building block of every Kafka consumer of the stack.
//!
//! * [`ConsumerSettings`]: group membership or manual assignment, isolation level, the
//!   component's tuning, `kafka.properties` overrides, and the settings correctness depends
//!   on (never auto-commit, never auto-create topics), in one place;
//! * [`TrackedContext`]: counts rebalances and keeps the assignment in the shared
//!   [`ConsumerState`], with [`ConsumerHooks`] for what a component adds (waiting for a
//!   transaction before a revocation, reading librdkafka's statistics);
//! * [`ConsumerThread`]: the consumer's own OS thread (librdkafka's calls block, and must
//!   not stall the async runtime) behind one handle type: stop, join, running, status with
//!   the last error and the rebalance counts, and a component's own progress;
//! * [`PartitionReader`]: one partition, or a whole topic, read to its end, outside every
//!   group (a stage rebuilding a newly assigned partition's state);
//! * [`follower`]: a view's reader, every partition of its topics from the beginning,
//!   outside every group.

mod context;
pub mod follower;
mod partition_reader;
mod settings;
mod state;
mod thread;

pub use context::{ConsumerHooks, TrackedConsumer, TrackedContext};
pub use partition_reader::{PartitionRead, PartitionReader, ReadStart, TopicRead};
pub use settings::{instance_id, ConsumerSettings, Isolation};
pub use state::{ConsumerState, ConsumerStatus, LastError, TopicPartition};
pub use thread::{spawn_consumer, ConsumerThread, Control, Progress};
