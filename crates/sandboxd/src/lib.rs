//! `sandboxd`: the local E2B-compatible runtime.
//!
//! * [`daemon`]: the per-user daemon — one loopback HTTP listener serving the control-plane
//!   API and, routed by `E2b-Sandbox-Id` / `E2b-Sandbox-Port`, each sandbox's data plane;
//!   the sandbox registry, timeouts, the state file.
//! * [`sandbox`]: creating and destroying isolated sandboxes (namespaces, root filesystem,
//!   uid mapping) and launching the in-sandbox agent.
//! * [`agent`]: the process that runs *inside* a sandbox and operates it from there (envd's
//!   role in E2B): code-interpreter API over Jupyter kernels, and later files/commands.
//! * [`fds`]: what descriptors a started process may inherit (only those its spawn path names).
//! * [`cli`]: the `e2b-local` command line (`serve`, `status`, `list`, `kill`, `stop`, `env`).
//! * [`route`]: the one parser of data-plane requests, shared by the daemon's proxy and the
//!   agent.

pub mod agent;
pub mod cli;
pub mod daemon;
pub mod fds;
pub mod route;
pub mod sandbox;
