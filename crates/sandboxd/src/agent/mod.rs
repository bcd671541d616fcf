//! The in-sandbox agent (see lib.rs): pid 1 of its sandbox, serving HTTP/1.1 on the listening
//! socket the daemon passed in ([`config::LISTEN_FD`]). Requests arrive through the daemon's
//! proxy, already authenticated; the `E2b-Sandbox-Port` header picks the service: `49999` →
//! code interpreter, `49983` (or none) → envd.
//!
//! Entry points: [`main`] for `sandboxd __agent`, [`run_agent`] for the Python extension's
//! `agent_main()`. Both read their configuration from the inherited fds.

mod bounded;
pub mod config;
mod envd;
mod http;
mod interpreter;
pub mod oom;
mod reaper;

use std::convert::Infallible;
use std::os::fd::FromRawFd;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use config::AgentConfig;
use e2b_wire::headers::{ENVD_PORT, JUPYTER_PORT, SANDBOX_PORT};
use envd::Envd;
use interpreter::{Interpreter, KernelSpec};

use crate::route::{self, Route};

/// `sandboxd __agent`: runs the agent and exits with its status.
pub fn main() -> ! {
    std::process::exit(run_agent())
}

/// Runs the agent until its listener fails; returns the process exit code. Blocks the calling
/// thread (a Python binding should release the GIL around it).
pub fn run_agent() -> i32 {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    // What the launcher passed (listener, config, memory events) stays ours: no child may
    // inherit it, whichever way it is started (`crate::fds`).
    if let Err(e) = crate::fds::cloexec_from(config::LISTEN_FD) {
        eprintln!("sandbox agent: cannot mark its descriptors close-on-exec: {e}");
        return 2;
    }
    let config = match AgentConfig::from_inherited_fd() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sandbox agent: {e}");
            return 2;
        }
    };
    // Keep sandbox code (even with the same uid, in unprivileged mode) from ptrace-ing us.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // Before any thread or child exists, so that all of them inherit it.
    let landlock = crate::sandbox::landlock::restrict_self();
    oom::init(config.memory_limit_mb);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sandbox agent: cannot start its runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve(config, landlock)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("sandbox agent stopped: {e}");
            1
        }
    }
}

/// The agent's services.
struct Agent {
    envd: Envd,
    interpreter: Interpreter,
}

async fn serve(config: AgentConfig, landlock: String) -> std::io::Result<()> {
    // SAFETY: the launcher installs LISTEN_FD (a listening unix socket) for us.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(config::LISTEN_FD) };
    std_listener.set_nonblocking(true)?;
    let listener = tokio::net::UnixListener::from_std(std_listener)?;
    let reaper = reaper::Reaper::start()?;
    let spec = KernelSpec {
        python: config.python.clone(),
        has_ipykernel: config.python_has_ipykernel,
        catalog: config.kernels.clone(),
        envs: config
            .envs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        user_ids: config.user_ids,
    };
    let agent = Arc::new(Agent {
        envd: Envd::new(config.envs.clone(), reaper.clone()),
        interpreter: Interpreter::new(spec, reaper),
    });
    tracing::info!(
        "agent of sandbox {} (template {}) ready; {landlock}",
        config.sandbox_id,
        config.template_id
    );
    if config.start_kernel {
        let a = agent.clone();
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            match a
                .interpreter
                .default_context(interpreter::Language::python())
                .await
            {
                Ok(c) => tracing::info!(
                    "default python context {} ready in {} ms",
                    c.info.id,
                    t0.elapsed().as_millis()
                ),
                Err(e) => tracing::error!("starting the default python context failed: {e}"),
            }
        });
    }
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) if is_transient(&e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let agent = agent.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let agent = agent.clone();
                async move { Ok::<_, Infallible>(agent.route(req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE)
            | Some(libc::ENFILE)
            | Some(libc::ENOBUFS)
            | Some(libc::ENOMEM)
            | Some(libc::ECONNABORTED)
            | Some(libc::EINTR)
    )
}

impl Agent {
    /// Parses the request once ([`crate::route`], the same parser the daemon authorised it
    /// with) and hands the route to its service.
    async fn route(&self, req: Request<Incoming>) -> http::Res {
        let port = req
            .headers()
            .get(SANDBOX_PORT)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("49983");
        let port = port.parse::<u16>().unwrap_or(0);
        match route::parse(port, req.method(), req.uri()) {
            Ok(Route::Envd(r)) => self.envd.handle(r, req).await,
            Ok(Route::Interpreter(r)) => self.interpreter.handle(r, req).await,
            Err(refusal) if port == ENVD_PORT => Envd::refuse(refusal),
            Err(refusal) if port == JUPYTER_PORT => http::text(refusal.status, refusal.message),
            Err(_) => http::text(
                StatusCode::BAD_GATEWAY,
                format!("The sandbox is running but port {port} is not open"),
            ),
        }
    }
}
