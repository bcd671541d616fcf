//! The seam between the daemon and whatever makes sandboxes. In production that is
//! [`crate::sandbox::SandboxProcess`]; the daemon's own tests plug in a stand-in whose "agent"
//! is a plain HTTP server on a unix socket, so the control plane and the proxy can be tested
//! without namespaces or kernels.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use crate::sandbox::{Limits, RuntimeConfig, SandboxProcess, SpawnError, SpawnRequest};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A running sandbox as the daemon sees it (mirrors [`SandboxProcess`]).
pub trait LiveSandbox: Send + Sync + std::fmt::Debug {
    /// Host pid of the sandbox's init; recorded so that a later daemon can kill it after a
    /// crash of this one.
    fn init_pid(&self) -> i32;
    /// Unix socket on which the agent serves HTTP/1.1.
    fn agent_socket(&self) -> &Path;
    /// Kills everything of the sandbox and waits for its teardown (exit, mounts, cgroups,
    /// files). Idempotent.
    fn kill(&self) -> BoxFuture<'_, ()>;
    /// Sends SIGKILL to every process of the sandbox without waiting; [`LiveSandbox::kill`]
    /// then finishes the teardown. Idempotent.
    fn signal_kill(&self) {}
    /// Resolves when the sandbox's init has exited.
    fn exited(&self) -> BoxFuture<'_, ()>;
    /// The limits it runs with (`None`: the daemon's defaults apply).
    fn limits(&self) -> Option<Limits> {
        None
    }
    /// Where it is less isolated or connected than asked (for `localNotes`).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// Freezes (pause) or thaws (resume) all its processes, keeping their memory.
    fn set_frozen(&self, _frozen: bool) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Err("this sandbox backend cannot pause".to_string()) })
    }
    /// Memory in use now, in bytes (its cgroup's), when known.
    fn memory_bytes(&self) -> Option<u64> {
        None
    }
    /// CPU time used so far, in nanoseconds (its cgroup's), when known.
    fn cpu_usage_ns(&self) -> Option<u64> {
        None
    }
    /// The last `max_bytes` of the in-sandbox agent's log, when there is one.
    fn agent_log(&self, _max_bytes: u64) -> Option<String> {
        None
    }
}

/// Creates sandboxes.
pub trait SandboxBackend: Send + Sync {
    fn spawn<'a>(
        &'a self,
        runtime: &'a RuntimeConfig,
        request: SpawnRequest,
    ) -> BoxFuture<'a, Result<Box<dyn LiveSandbox>, SpawnError>>;
}

/// Real, isolated sandboxes ([`SandboxProcess`]).
#[derive(Debug, Default)]
pub struct IsolatedSandboxes;

impl SandboxBackend for IsolatedSandboxes {
    fn spawn<'a>(
        &'a self,
        runtime: &'a RuntimeConfig,
        request: SpawnRequest,
    ) -> BoxFuture<'a, Result<Box<dyn LiveSandbox>, SpawnError>> {
        Box::pin(async move {
            let process = SandboxProcess::spawn(runtime, request).await?;
            Ok(Box::new(process) as Box<dyn LiveSandbox>)
        })
    }
}

impl LiveSandbox for SandboxProcess {
    fn init_pid(&self) -> i32 {
        SandboxProcess::init_pid(self)
    }
    fn agent_socket(&self) -> &Path {
        SandboxProcess::agent_socket(self)
    }
    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(SandboxProcess::kill(self))
    }
    fn signal_kill(&self) {
        SandboxProcess::signal_kill(self)
    }
    fn exited(&self) -> BoxFuture<'_, ()> {
        Box::pin(SandboxProcess::exited(self))
    }
    fn limits(&self) -> Option<Limits> {
        Some(SandboxProcess::limits(self))
    }
    fn notes(&self) -> Vec<String> {
        SandboxProcess::notes(self).to_vec()
    }
    fn set_frozen(&self, frozen: bool) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(SandboxProcess::set_frozen(self, frozen))
    }
    fn memory_bytes(&self) -> Option<u64> {
        SandboxProcess::memory_bytes(self)
    }
    fn cpu_usage_ns(&self) -> Option<u64> {
        SandboxProcess::cpu_usage_ns(self)
    }
    fn agent_log(&self, max_bytes: u64) -> Option<String> {
        Some(SandboxProcess::agent_log(self, max_bytes))
    }
}
