//! Finding — and if need be starting — the per-user local runtime
//! (docs/design.md#the-per-user-daemon).
//!
//! The daemon publishes `state.json` (URL, API key, pid) in [`e2b_wire::local::state_dir`].
//! A client trusts it only once `GET /health` answers; otherwise it starts the daemon
//! (`start.rs`, race-free across processes). Only a build with the local runtime
//! (`cfg(local_runtime)`: x86-64 Linux, see build.rs) has that part; elsewhere [`ensure`]
//! says that there is none, and the rest (the endpoint type and cache) stays portable.
//!
//! The endpoint found is cached for the process; [`invalidate`] drops it after a connection
//! failure so that the next call looks again.

use std::sync::Mutex;

use e2b_wire::local::{LocalState, STATE_FILE};

use crate::error::Result;
#[cfg(not(local_runtime))]
use crate::error::{Error, ErrorKind};

#[cfg(local_runtime)]
mod start;
#[cfg(local_runtime)]
use start::discover_or_start;

/// Where a running local runtime listens, and the API key it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpoint {
    pub url: String,
    pub api_key: String,
}

static ENDPOINT: Mutex<Option<LocalEndpoint>> = Mutex::new(None);
static LAUNCHER: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sets the command that runs the daemon in the foreground (the Python layer passes
/// `[sys.executable, "-m", "e2b._local", "serve"]`).
pub fn set_launcher(argv: Vec<String>) {
    *LAUNCHER.lock().unwrap_or_else(|p| p.into_inner()) = argv;
}

/// Forgets the cached endpoint (after a connection failure to it).
pub fn invalidate() {
    *ENDPOINT.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

fn cached() -> Option<LocalEndpoint> {
    ENDPOINT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The daemon this process last found, else the one the state file names — without I/O
/// beyond reading that file, and without checking that it answers (for naming URLs only).
pub fn known() -> Option<LocalEndpoint> {
    if let Some(endpoint) = cached() {
        return Some(endpoint);
    }
    let raw = std::fs::read(e2b_wire::local::state_dir().join(STATE_FILE)).ok()?;
    let state: LocalState = serde_json::from_slice(&raw).ok()?;
    Some(LocalEndpoint {
        url: state.url.trim_end_matches('/').to_owned(),
        api_key: state.api_key,
    })
}

/// The running daemon, started if needed.
pub async fn ensure() -> Result<LocalEndpoint> {
    if let Some(endpoint) = cached() {
        return Ok(endpoint);
    }
    let endpoint = discover_or_start().await?;
    *ENDPOINT.lock().unwrap_or_else(|p| p.into_inner()) = Some(endpoint.clone());
    Ok(endpoint)
}

/// A build without the local runtime never resolves a config to it (`config.rs`); this
/// answers any other caller.
#[cfg(not(local_runtime))]
async fn discover_or_start() -> Result<LocalEndpoint> {
    Err(Error::new(
        ErrorKind::SandboxException,
        format!(
            "Local sandbox runtime unavailable: {} Set E2B_API_KEY to use the E2B cloud.",
            crate::config::LOCAL_RUNTIME_UNAVAILABLE
        ),
    ))
}
