//! Checks of the workspace's source that the compiler does not make.
//!
//! * [`module_graph`]: the import graph between a crate's files, and its cycles.

pub mod module_graph;
