//! Creating and destroying sandboxes. The daemon calls [`SandboxProcess::spawn`] and then only
//! talks HTTP/1.1 to the agent over [`SandboxProcess::agent_socket`]; it never resolves a path
//! inside the sandbox itself.
//!
//! INTERFACE CONTRACT (shared between the daemon and this module — change both together).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How to start the in-sandbox agent process (exec'd inside the sandbox after pivot_root).
#[derive(Debug, Clone)]
pub enum AgentLauncher {
    /// A standalone executable that runs the agent when given the argument `__agent`
    /// (the `sandboxd` binary itself: `std::env::current_exe()`).
    Executable(PathBuf),
    /// A Python interpreter plus the path of the `e2b._native` extension module; the agent is
    /// started as a minimal Python process that loads the extension and calls its agent entry.
    PythonExtension { python: PathBuf, extension: PathBuf },
}

/// Daemon-wide runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Python interpreter whose environment provides the kernels (`ipykernel`) — normally the
    /// interpreter of the SDK that started the daemon (a virtualenv's `bin/python` is fine).
    pub python: PathBuf,
    /// How to start the agent.
    pub agent: AgentLauncher,
    /// Host directory (0700) under which each sandbox gets a private runtime directory.
    pub run_dir: PathBuf,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// 20 characters of `[a-z0-9]`.
    pub sandbox_id: String,
    pub template_id: String,
    /// Global environment of the sandbox: create-time `envVars` plus `E2B_SANDBOX=true`,
    /// `E2B_SANDBOX_ID`, `E2B_TEMPLATE_ID` (the daemon fills those in).
    pub envs: HashMap<String, String>,
    pub allow_internet_access: bool,
    /// Start the default Python kernel right away (code-interpreter templates), so the first
    /// `run_code` does not pay the kernel start.
    pub start_kernel: bool,
}

/// Why a sandbox could not be created; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The host lacks something (user namespaces, ipykernel, …).
    #[error("{0}")]
    Unsupported(String),
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running sandbox.
#[derive(Debug)]
pub struct SandboxProcess {
    init_pid: i32,
    agent_socket: PathBuf,
}

impl SandboxProcess {
    /// Creates the sandbox and returns once its agent accepts connections on `agent_socket`.
    pub async fn spawn(
        _rt: &RuntimeConfig,
        _req: SpawnRequest,
    ) -> Result<SandboxProcess, SpawnError> {
        Err(SpawnError::Unsupported(
            "sandbox spawning is not implemented yet".into(),
        ))
    }

    /// Host pid of the sandbox's init (pid 1 inside).
    pub fn init_pid(&self) -> i32 {
        self.init_pid
    }

    /// Unix socket (host path) on which the agent serves HTTP/1.1. Requests carry the
    /// `E2b-Sandbox-Port` header (49983 envd, 49999 code interpreter) to select the service.
    pub fn agent_socket(&self) -> &Path {
        &self.agent_socket
    }

    /// Kills every process of the sandbox and removes its mounts and runtime files.
    /// Idempotent.
    pub async fn kill(&self) {}

    /// Resolves when the sandbox's init has exited (killed, crashed or OOM).
    pub async fn exited(&self) {}
}
