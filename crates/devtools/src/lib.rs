//! Checks of the workspace's source that the compiler does not make.
//!
//! * [`module_graph`]: the import graph between a crate's files, and its cycles;
//! * [`chaos`]: the pure parts of `make chaos` (schedule, ledger, recovery figures);
//! * [`api_client`]: the bench tools' HTTP client, sending the API key of the bench;
//! * [`bulk_producer`]: the bench tools' producer, to fill topics fast;
//! * [`replay_args`]: the arguments of the `dead-letter-replay` command.

pub mod api_client;
pub mod bulk_producer;
pub mod chaos;
pub mod module_graph;
pub mod replay_args;
