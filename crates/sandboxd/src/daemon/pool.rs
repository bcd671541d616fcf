//! The warm pool (docs/design.md#warm-pool): a few sandboxes of the default template
//! (`code-interpreter-v1`) kept ready with their Python kernel started, so that
//! `Sandbox.create()` + the first `run_code` cost milliseconds.
//!
//! * Size: [`super::DaemonConfig::pool_size`] (`e2b-local serve --pool-size N`,
//!   `E2B_LOCAL_POOL_SIZE`; default 1, 0 turns it off).
//! * A pooled sandbox is made exactly as a create request without options would make it
//!   ([`super::Daemon::warm_request`]), and counts as ready once its agent answers
//!   `GET /ready` on the code-interpreter port (the default Python context is up).
//! * A create request takes one only when it asks for nothing a pooled sandbox lacks: the
//!   default template, no `envs` (they are the environment its processes were started with),
//!   internet access on, default limits ([`super::Daemon::poolable`]). Everything the daemon
//!   keeps itself — metadata, timeout, access tokens — is applied on take, when the sandbox
//!   enters the registry: until then it is in no listing and no `get_info`.
//! * A background task refills the pool after each take; failures back off. On shutdown the
//!   pool is emptied and its sandboxes killed with the others.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use super::backend::LiveSandbox;
use super::registry::{self, Template};
use super::{ids, Daemon};
use e2b_wire::headers::{JUPYTER_PORT, SANDBOX_ID, SANDBOX_PORT};

/// The template the pool keeps warm.
pub const POOL_TEMPLATE: &str = "code-interpreter-v1";
/// How long a new pooled sandbox may take to have its kernel ready.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a pooled sandbox may take to answer the liveness check at take time.
const TAKE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait after a failed refill, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A ready sandbox waiting to be taken.
pub(crate) struct Warm {
    pub id: String,
    pub process: Box<dyn LiveSandbox>,
}

/// The pool of one daemon.
pub(crate) struct Pool {
    size: usize,
    ready: Mutex<VecDeque<Warm>>,
    /// Wakes the refill task (after a take, and at shutdown).
    wake: Notify,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Arc<Pool> {
        Arc::new(Pool {
            size,
            ready: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        })
    }

    /// The template pooled sandboxes are made from.
    pub fn template() -> &'static Template {
        registry::resolve_template(POOL_TEMPLATE).expect("the pool template exists")
    }

    /// Number of sandboxes ready now.
    pub fn ready_count(&self) -> usize {
        self.ready.lock().unwrap().len()
    }

    /// A ready sandbox (checked alive), if there is one; starts a refill either way.
    pub(crate) async fn take(&self, daemon: &Daemon) -> Option<Warm> {
        loop {
            let warm = self.ready.lock().unwrap().pop_front();
            self.wake.notify_one();
            let warm = warm?;
            if agent_get(
                warm.process.as_ref(),
                &warm.id,
                "/health",
                TAKE_CHECK_TIMEOUT,
            )
            .await
            .is_ok()
            {
                return Some(warm);
            }
            tracing::warn!(
                "pooled sandbox {} stopped answering; discarding it",
                warm.id
            );
            discard(daemon, warm).await;
        }
    }

    /// Removes every ready sandbox (shutdown) and wakes the refill task so it stops.
    pub(crate) fn drain(&self) -> Vec<Warm> {
        self.wake.notify_one();
        self.ready.lock().unwrap().drain(..).collect()
    }

    /// Keeps the pool full until the daemon shuts down.
    pub(crate) async fn run(self: Arc<Self>, daemon: Arc<Daemon>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if daemon.is_shutting_down() {
                return;
            }
            if self.ready_count() >= self.size {
                self.wake.notified().await;
                continue;
            }
            match self.make_one(&daemon).await {
                Ok(warm) => {
                    backoff = FIRST_BACKOFF;
                    if daemon.is_shutting_down() {
                        discard(&daemon, warm).await;
                        return;
                    }
                    self.ready.lock().unwrap().push_back(warm);
                }
                Err(e) => {
                    tracing::warn!(
                        "warm pool: cannot prepare a sandbox ({e}); retrying in {} s",
                        backoff.as_secs()
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.wake.notified() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn make_one(&self, daemon: &Daemon) -> Result<Warm, String> {
        let t0 = std::time::Instant::now();
        let id = loop {
            let id = ids::sandbox_id();
            if !daemon.registry.contains(&id) {
                break id;
            }
        };
        let request = daemon.warm_request(&id);
        tracing::info!(
            "warm pool: preparing sandbox {id} ({} of {}, starting its Python kernel)…",
            self.ready_count() + 1,
            self.size
        );
        let process = daemon
            .backend
            .spawn(&daemon.runtime, request)
            .await
            .map_err(|e| e.to_string())?;
        daemon.state.record_sandbox(&id, process.init_pid());
        let warm = Warm { id, process };
        let mut shutdown = daemon.shutdown_tx.subscribe();
        let ready = tokio::select! {
            r = agent_get(warm.process.as_ref(), &warm.id, "/ready", READY_TIMEOUT) => r,
            _ = super::stopped(&mut shutdown) => Err("the daemon is shutting down".to_string()),
        };
        match ready {
            Ok(()) => {
                tracing::info!(
                    "warm pool: sandbox {} ready in {} ms",
                    warm.id,
                    t0.elapsed().as_millis()
                );
                Ok(warm)
            }
            Err(e) => {
                discard(daemon, warm).await;
                Err(e)
            }
        }
    }
}

/// Kills a pooled sandbox that will not be used.
pub(crate) async fn discard(daemon: &Daemon, warm: Warm) {
    warm.process.kill().await;
    daemon.state.forget_sandbox(&warm.id);
}

/// `GET <path>` on the agent's code-interpreter port; Ok on 200.
async fn agent_get(
    process: &dyn LiveSandbox,
    id: &str,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let call = async {
        let stream = tokio::net::UnixStream::connect(process.agent_socket())
            .await
            .map_err(|e| format!("cannot reach the agent: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("agent handshake failed: {e}"))?;
        let conn = tokio::spawn(conn);
        let req = Request::get(path)
            .header(http::header::HOST, "localhost")
            .header(SANDBOX_ID, id)
            .header(SANDBOX_PORT, JUPYTER_PORT.to_string())
            .body(Empty::<Bytes>::new())
            .expect("valid request");
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| format!("agent request failed: {e}"))?;
            let status = resp.status();
            // The agent is inside the sandbox: its answer is read with a bound.
            let body = http_body_util::Limited::new(resp.into_body(), 64 << 10)
                .collect()
                .await
                .map(|b| b.to_bytes());
            if status == StatusCode::OK {
                Ok(())
            } else {
                Err(format!(
                    "agent answered {status}: {}",
                    String::from_utf8_lossy(&body.unwrap_or_default())
                ))
            }
        }
        .await;
        conn.abort();
        result
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(r) => r,
        Err(_) => Err(format!("agent did not answer {path} within {timeout:?}")),
    }
}
