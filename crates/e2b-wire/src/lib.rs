//! Wire types of the E2B protocol, shared by the client (`e2b-client`) and the local runtime
//! (`sandboxd`) so that there is exactly one definition of every message. No I/O lives here.
//!
//! * [`api`]: control-plane REST models (protocol.md §2).
//! * [`envd`]: envd's process and filesystem messages (protocol.md §4–5) in proto3 JSON.
//! * [`connect`]: the Connect envelope codec, error codes and their HTTP statuses (§3).
//! * [`execution`]: the code-interpreter NDJSON stream of `POST /execute` (protocol.md §8).
//! * [`headers`]: header names and the fixed ports / error texts both sides agree on.
//! * [`local`]: where the local runtime keeps its per-user state, and the state file format.

pub mod api;
pub mod connect;
pub mod envd;
pub mod execution;
pub mod headers;
pub mod local;
