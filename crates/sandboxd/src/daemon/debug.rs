//! `e2b-local serve --debug`: the SDKs' debug mode (docs/protocol.md#debug-mode) against the local
//! runtime. With `E2B_DEBUG=true` an SDK makes no API call on create, calls the sandbox
//! `debug_sandbox_id`, and talks to envd at `http://localhost:49983` and to the code
//! interpreter at `http://localhost:49999` (plain HTTP, no access token); `get_info`, `list`
//! and `pause` still go to the API at `http://localhost:3000`.
//!
//! The daemon then also listens on 127.0.0.1 at those three ports and keeps one sandbox of
//! the default template (created at start, and again whenever it is gone) that
//! `debug_sandbox_id` stands for:
//!
//! * on the envd and code-interpreter ports, a request whose `E2b-Sandbox-Id` is missing or
//!   `debug_sandbox_id` is routed to that sandbox, with its access token added (the SDK has
//!   none in debug mode) and `E2b-Sandbox-Port` set from the listener when missing; a request
//!   naming another sandbox id goes through unchanged (its own token is still required);
//! * on the API port, the regular API (the daemon's key is still required:
//!   `eval "$(e2b-local env)"` sets it), with `debug_sandbox_id` in a path replaced by the
//!   real id.
//!
//! Like upstream's debug setup, this makes one sandbox reachable without a token by every
//! local process: use it for development only.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use e2b_wire::api::NewSandbox;
use e2b_wire::headers::{ACCESS_TOKEN, ENVD_PORT, JUPYTER_PORT, SANDBOX_ID, SANDBOX_PORT};
use http::header::HeaderValue;
use http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::api::{self, ApiErr};
use super::http::Body;
use super::{proxy, stopped, Daemon};

/// The sandbox id an SDK in debug mode uses.
pub const DEBUG_SANDBOX_ID: &str = "debug_sandbox_id";
/// The template of the debug sandbox (the code interpreter's, as in upstream's debug setup).
const DEBUG_TEMPLATE: &str = "code-interpreter-v1";

/// Where the debug listeners are (127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugPorts {
    /// envd (the SDK's `http://localhost:49983`).
    pub envd: u16,
    /// Code interpreter (`http://localhost:49999`).
    pub code_interpreter: u16,
    /// Control-plane API (`http://localhost:3000`).
    pub api: u16,
}

impl Default for DebugPorts {
    fn default() -> Self {
        DebugPorts {
            envd: ENVD_PORT,
            code_interpreter: JUPYTER_PORT,
            api: 3000,
        }
    }
}

#[derive(Clone, Copy)]
enum Role {
    /// A data-plane port: the `E2b-Sandbox-Port` it stands for.
    Sandbox(u16),
    Api,
}

/// The bound debug listeners, before the daemon serves them.
pub(crate) struct Listeners(Vec<(Role, TcpListener)>);

/// Binds the three listeners (so a busy port fails the start, before anything is advertised).
pub(crate) fn bind(ports: DebugPorts) -> Result<Listeners> {
    let mut out = Vec::new();
    for (role, port) in [
        (Role::Sandbox(ENVD_PORT), ports.envd),
        (Role::Sandbox(JUPYTER_PORT), ports.code_interpreter),
        (Role::Api, ports.api),
    ] {
        let l = std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
            format!(
                "--debug needs 127.0.0.1:{port} (the SDKs' debug mode uses ports 49983, 49999 \
                 and 3000); is another e2b-local serve --debug or envd running?"
            )
        })?;
        l.set_nonblocking(true)?;
        out.push((role, TcpListener::from_std(l)?));
    }
    Ok(Listeners(out))
}

/// Serves the listeners until shutdown and prepares the debug sandbox.
pub(crate) fn serve(daemon: Arc<Daemon>, listeners: Listeners) {
    for (role, listener) in listeners.0 {
        tokio::spawn(accept_loop(daemon.clone(), role, listener));
    }
    tokio::spawn(async move {
        match ensure_sandbox(&daemon).await {
            Ok(id) => tracing::info!(
                "debug mode: sandbox {id} answers as {DEBUG_SANDBOX_ID} (envd \
                 http://localhost:{}, code interpreter http://localhost:{}, API \
                 http://localhost:{})",
                daemon.config.debug.unwrap_or_default().envd,
                daemon.config.debug.unwrap_or_default().code_interpreter,
                daemon.config.debug.unwrap_or_default().api,
            ),
            Err(e) => tracing::error!("debug mode: cannot create the debug sandbox: {}", e.message),
        }
    });
}

async fn accept_loop(daemon: Arc<Daemon>, role: Role, listener: TcpListener) {
    let mut shutdown = daemon.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(stream) = super::peer::admit(daemon.peers, stream, peer) else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(daemon.clone(), role, stream));
                }
                Err(e) => {
                    tracing::warn!("debug listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

async fn serve_connection(daemon: Arc<Daemon>, role: Role, stream: tokio::net::TcpStream) {
    let mut shutdown = daemon.shutdown_tx.subscribe();
    let service = service_fn(move |req| {
        let daemon = daemon.clone();
        async move { Ok::<_, Infallible>(route(&daemon, role, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// The id of the debug sandbox, created now if there is none (or it is gone).
async fn ensure_sandbox(daemon: &Arc<Daemon>) -> Result<String, ApiErr> {
    let mut current = daemon.debug_sandbox.lock().await;
    if let Some(id) = current.as_ref() {
        if daemon.registry.contains(id) {
            return Ok(id.clone());
        }
    }
    let req = NewSandbox {
        template_id: DEBUG_TEMPLATE.to_string(),
        timeout: Some(daemon.config.max_timeout.as_secs() as i64),
        ..NewSandbox::default()
    };
    let entry = daemon.create_sandbox(req, true, None).await?;
    *current = Some(entry.id.clone());
    Ok(entry.id.clone())
}

async fn route(daemon: &Arc<Daemon>, role: Role, mut req: Request<Incoming>) -> Response<Body> {
    match role {
        Role::Sandbox(port) => {
            let headers = req.headers();
            let names_debug = headers
                .get(SANDBOX_ID)
                .is_none_or(|v| v.as_bytes() == DEBUG_SANDBOX_ID.as_bytes());
            if names_debug {
                let id = match ensure_sandbox(daemon).await {
                    Ok(id) => id,
                    Err(e) => return e.into_response(),
                };
                let token = daemon
                    .registry
                    .get(&id)
                    .and_then(|e| e.access_token.clone());
                let headers = req.headers_mut();
                headers.insert(
                    SANDBOX_ID,
                    HeaderValue::from_str(&id).expect("ids are ASCII"),
                );
                if !headers.contains_key(ACCESS_TOKEN) {
                    if let Some(t) = token.and_then(|t| HeaderValue::from_str(&t).ok()) {
                        headers.insert(ACCESS_TOKEN, t);
                    }
                }
            }
            if !req.headers().contains_key(SANDBOX_PORT) {
                req.headers_mut()
                    .insert(SANDBOX_PORT, HeaderValue::from(port));
            }
            proxy::handle(daemon, req).await
        }
        Role::Api => {
            let path = req.uri().path();
            if path.split('/').any(|seg| seg == DEBUG_SANDBOX_ID) {
                let id = match ensure_sandbox(daemon).await {
                    Ok(id) => id,
                    Err(e) => return e.into_response(),
                };
                let new_path: Vec<&str> = path
                    .split('/')
                    .map(|seg| {
                        if seg == DEBUG_SANDBOX_ID {
                            id.as_str()
                        } else {
                            seg
                        }
                    })
                    .collect();
                let mut pq = new_path.join("/");
                if let Some(q) = req.uri().query() {
                    pq.push('?');
                    pq.push_str(q);
                }
                match Uri::builder().path_and_query(pq).build() {
                    Ok(uri) => *req.uri_mut() = uri,
                    Err(_) => {
                        return ApiErr::new(StatusCode::BAD_REQUEST, "invalid path").into_response()
                    }
                }
            }
            api::handle(daemon, req).await
        }
    }
}
