//! The local runtime's discovery contract, shared by the SDK (which finds or starts the
//! daemon) and `sandboxd` (which writes it): where the per-user state lives and what the
//! state file says. Path computation only reads environment variables; no I/O.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Contents of `state.json` (mode 0600), written by the daemon once it listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LocalState {
    /// Daemon process id.
    pub pid: u32,
    /// Base URL of the single loopback listener, e.g. `http://127.0.0.1:41234`. Serves the
    /// control-plane API and, routed by `E2b-Sandbox-Id`/`E2b-Sandbox-Port`, every sandbox.
    pub url: String,
    /// Control-plane API key (`e2b_<hex>`), required on every API request.
    pub api_key: String,
    /// Version of the runtime that wrote the file.
    pub version: String,
}

/// Directory holding `state.json`, `daemon.lock`, `start.lock` and `daemon.log`:
/// `$E2B_LOCAL_STATE_DIR` if set, else `$XDG_RUNTIME_DIR/e2b-local`, else `~/.cache/e2b-local`
/// (home: `$HOME`, else `%USERPROFILE%`, else the temporary directory).
pub fn state_dir() -> PathBuf {
    if let Some(dir) = non_empty_env("E2B_LOCAL_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty_env("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("e2b-local");
    }
    // USERPROFILE: Windows' home, where HOME is usually unset.
    let home = non_empty_env("HOME")
        .or_else(|| non_empty_env("USERPROFILE"))
        .map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("e2b-local")
}

pub const STATE_FILE: &str = "state.json";
/// Held (flock, exclusive) by the running daemon for its whole life.
pub const DAEMON_LOCK: &str = "daemon.lock";
/// Held by a client while it checks for, and if needed starts, the daemon.
pub const START_LOCK: &str = "start.lock";
pub const LOG_FILE: &str = "daemon.log";

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}
