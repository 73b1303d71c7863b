//! Checks of the workspace's source that the compiler does not make.
//!
//! * [`module_graph`]: the import graph between a crate's files, and its cycles;
//! * [`api_client`]: the bench tools' HTTP client, sending the API key of the bench.

pub mod api_client;
pub mod module_graph;
