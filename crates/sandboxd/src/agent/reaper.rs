//! Child reaping for the agent, which is pid 1 of its sandbox: every orphan in the sandbox is
//! re-parented to it. One task reaps *all* children on SIGCHLD (`waitpid(-1)`) and hands the
//! statuses of the ones we started (kernels) to whoever [`Reaper::watch`]es them.
//!
//! Consequence: the agent must not use `tokio::process` (its per-child `waitpid` would race
//! with ours); children are started with `std::process::Command` and watched here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Reaper {
    waiters: Mutex<HashMap<i32, oneshot::Sender<i32>>>,
}

impl Reaper {
    /// Starts the reaping task (on the current runtime).
    pub fn start() -> std::io::Result<Arc<Reaper>> {
        let reaper = Arc::new(Reaper::default());
        let mut sigchld = signal(SignalKind::child())?;
        let r = reaper.clone();
        tokio::spawn(async move {
            loop {
                r.reap_all();
                if sigchld.recv().await.is_none() {
                    break;
                }
            }
        });
        Ok(reaper)
    }

    /// Resolves with the `waitpid` status of `pid`. Call right after starting the child, with
    /// no `.await` in between (the agent runs on one thread, so the reaper cannot have
    /// collected it yet).
    pub fn watch(&self, pid: i32) -> oneshot::Receiver<i32> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(pid, tx);
        rx
    }

    fn reap_all(&self) {
        loop {
            let mut status = 0;
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if let Some(tx) = self.waiters.lock().unwrap().remove(&pid) {
                let _ = tx.send(status);
            }
        }
    }
}

/// A `waitpid` status in words.
pub fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    }
}
