//! What the daemon tells the agent at start: the sandbox's identity and settings, serialised as
//! JSON into a memfd the agent inherits as [`CONFIG_FD`], next to the listening socket
//! ([`LISTEN_FD`]). Neither is visible in the sandbox's file system.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::interpreter::{KernelCatalog, KERNEL_PROBE_DEFS};

/// The agent's listening unix socket (HTTP/1.1), bound by the daemon.
pub const LISTEN_FD: RawFd = 3;
/// A memfd holding [`AgentConfig`] as JSON.
pub const CONFIG_FD: RawFd = 4;
/// For the Python launcher: the `e2b._native` extension module, opened before `pivot_root`.
pub const EXTENSION_FD: RawFd = 5;
/// The sandbox's memory-cgroup event file (`oom_kill N`), read-only, when it has one.
pub const MEMORY_EVENTS_FD: RawFd = 6;
/// Set (to "1") in the agent's environment by the launcher; without it the agent refuses to run.
pub const AGENT_ENV: &str = "E2B_SANDBOX_AGENT";

/// The agent's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentConfig {
    pub sandbox_id: String,
    pub template_id: String,
    /// Global environment of the sandbox (create-time envs plus `E2B_SANDBOX*`).
    pub envs: BTreeMap<String, String>,
    /// Start the default Python context at once.
    pub start_kernel: bool,
    /// Interpreter for Python kernels (bound at the same path inside).
    pub python: PathBuf,
    /// Whether `python` can import ipykernel (probed by the daemon).
    pub python_has_ipykernel: bool,
    /// Other kernels `python`'s environment offers (probed by the daemon).
    #[serde(default)]
    pub kernels: KernelCatalog,
    /// uid/gid that user code runs as; `None` when the agent itself already runs as the user
    /// (unprivileged mode).
    pub user_ids: Option<(u32, u32)>,
    /// Memory limit of the sandbox when [`MEMORY_EVENTS_FD`] is open, so the agent can tell an
    /// OOM kill from another death.
    #[serde(default)]
    pub memory_limit_mb: Option<u64>,
}

impl AgentConfig {
    /// Reads the configuration from [`CONFIG_FD`] (and closes it).
    pub fn from_inherited_fd() -> Result<AgentConfig, String> {
        if std::env::var_os(AGENT_ENV).is_none() {
            return Err(
                "this is the sandbox agent, started by sandboxd inside a sandbox; it is not meant \
                 to be run by hand"
                    .into(),
            );
        }
        // SAFETY: the launcher installs CONFIG_FD for us; we take ownership exactly once.
        let mut file = unsafe { std::fs::File::from_raw_fd(CONFIG_FD) };
        let mut raw = String::new();
        file.read_to_string(&mut raw)
            .map_err(|e| format!("cannot read the agent configuration (fd {CONFIG_FD}): {e}"))?;
        serde_json::from_str(&raw).map_err(|e| format!("bad agent configuration: {e}"))
    }
}
