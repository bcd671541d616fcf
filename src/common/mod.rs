//! Classes and functions Python sees (besides the CLI entry points in `runtime.rs`).

pub mod connection;
pub mod envd;
pub mod execution;
pub mod sandbox;
