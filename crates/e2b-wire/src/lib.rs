//! Wire types of the E2B protocol, shared by the client (`e2b-client`) and the local runtime
//! (`sandboxd`) so that there is exactly one definition of every message. No I/O lives here.
//!
//! * [`api`]: control-plane REST models (docs/protocol.md#control-plane).
//! * [`envd`]: envd's process and filesystem messages (docs/protocol.md#process-service,
//!   docs/protocol.md#filesystem-service) in proto3 JSON.
//! * [`connect`]: the Connect envelope codec, error codes and their HTTP statuses
//!   (docs/protocol.md#connect-transport).
//! * [`execution`]: the code-interpreter NDJSON stream of `POST /execute`
//!   (docs/protocol.md#execution-stream).
//! * [`headers`]: header names and the fixed ports / error texts both sides agree on.
//! * [`local`]: where the local runtime keeps its per-user state, and the state file format.

pub mod api;
pub mod connect;
pub mod envd;
pub mod execution;
pub mod headers;
pub mod local;
