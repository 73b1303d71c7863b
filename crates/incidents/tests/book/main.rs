//! The incident book through its public API: each rule, the commands, the bounds, the
//! JSON shapes, and determinism (also across a restore).

mod common;
mod determinism;
mod rules;
mod shapes;
