//! The seam between the daemon and whatever makes sandboxes. In production that is
//! [`crate::sandbox::SandboxProcess`]; the daemon's own tests plug in a stand-in whose "agent"
//! is a plain HTTP server on a unix socket, so the control plane and the proxy can be tested
//! without namespaces or kernels.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use crate::sandbox::{RuntimeConfig, SandboxProcess, SpawnError, SpawnRequest};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A running sandbox as the daemon sees it (mirrors [`SandboxProcess`]).
pub trait LiveSandbox: Send + Sync + std::fmt::Debug {
    /// Host pid of the sandbox's init; recorded so that a later daemon can kill it after a
    /// crash of this one.
    fn init_pid(&self) -> i32;
    /// Unix socket on which the agent serves HTTP/1.1.
    fn agent_socket(&self) -> &Path;
    /// Kills everything of the sandbox. Idempotent.
    fn kill(&self) -> BoxFuture<'_, ()>;
    /// Resolves when the sandbox's init has exited.
    fn exited(&self) -> BoxFuture<'_, ()>;
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
    fn exited(&self) -> BoxFuture<'_, ()> {
        Box::pin(SandboxProcess::exited(self))
    }
}
