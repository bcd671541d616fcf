//! Async Rust client for E2B, with no Python in it: the bindings in `src/` translate.
//!
//! * [`config`]: option/environment resolution, cloud vs local runtime, and every URL
//!   (API, sandbox ports, signed files, `get_host`) derived from that one decision.
//! * [`api`]: the control-plane REST API (create, connect, kill, list, …) with 2.63.0's
//!   retry policy and error mapping.
//! * [`sandbox`]: one sandbox's data plane — envd `/health` and the code interpreter.
//! * [`envd`]: envd's Connect RPCs (filesystem, processes, PTYs) and `/files` transfers.
//! * [`local`]: finding or starting the per-user local runtime.
//! * [`http`]: the process-wide HTTP clients (connection pools).
//! * [`ndjson`]: incremental decoding of the `/execute` output stream.
//! * [`error`]: the error type, whose kinds name the Python exceptions to raise.

pub mod api;
pub mod config;
pub mod envd;
pub mod error;
pub mod http;
pub mod local;
pub mod ndjson;
pub mod sandbox;

pub use config::{
    ConnectionConfig, ConnectionOpts, HttpVersion, LocalMode, SandboxAddress, Target,
};
pub use error::{Error, ErrorKind, Result};

/// The SDK version this client implements (e2b 2.63.0).
pub const SDK_VERSION: &str = "2.63.0";
