//! The `e2b-local` command line (design §3): `serve` runs the per-user daemon in the
//! foreground; `status`, `list`, `kill`, `stop`, `env` and `logs` manage a running one
//! through its state file and its API.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use e2b_wire::api::ListedSandbox;
use e2b_wire::headers::{API_KEY, NEXT_TOKEN};
use e2b_wire::local::{LocalState, LOG_FILE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use crate::daemon::{self, state};
use crate::sandbox::AgentLauncher;

/// What the caller of [`main`] knows about its environment.
#[derive(Debug, Clone)]
pub struct CliContext {
    /// Python interpreter for the sandboxes' kernels when neither `--python` nor
    /// `E2B_LOCAL_PYTHON` names one (the Python binding passes `sys.executable`); `None` →
    /// `python3` on `PATH`.
    pub python: Option<PathBuf>,
    /// How the daemon starts the in-sandbox agent.
    pub agent: AgentLauncher,
}

#[derive(Parser, Debug)]
#[command(
    name = "e2b-local",
    version,
    about = "Manage the local E2B sandbox runtime (sandboxd) of the current user",
    after_help = "Use it from a shell with: eval \"$(e2b-local env)\""
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon in the foreground (logs go to stderr).
    Serve {
        /// TCP port on 127.0.0.1 (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Python interpreter whose environment provides the kernels (ipykernel).
        #[arg(long, env = "E2B_LOCAL_PYTHON")]
        python: Option<PathBuf>,
        /// Sandboxes of the default template kept ready, kernel started (0 = no warm pool).
        #[arg(long, env = "E2B_LOCAL_POOL_SIZE", default_value_t = 1)]
        pool_size: usize,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Show whether the daemon runs (exit code 0 if it does, 1 if not).
    Status,
    /// List running sandboxes.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Kill sandboxes by id.
    Kill {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Stop the daemon (kills its sandboxes) and wait until it has exited.
    Stop,
    /// Print E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY for `eval "$(e2b-local env)"`.
    Env,
    /// Print the end of the daemon's log.
    Logs {
        /// Number of lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
}

/// Default limits of every sandbox (one sandbox can set its own with the metadata keys
/// `e2b-local:memory-mb`, `e2b-local:cpus`, `e2b-local:pids`, `e2b-local:disk-mb`).
#[derive(clap::Args, Debug)]
struct LimitArgs {
    /// Memory limit per sandbox in MiB (its writable layer counts toward it).
    #[arg(long, env = "E2B_LOCAL_MEMORY_MB", default_value_t = 1024)]
    memory_mb: u64,
    /// CPUs per sandbox (CFS quota; fractions allowed).
    #[arg(long, env = "E2B_LOCAL_CPUS", default_value_t = 2.0)]
    cpus: f64,
    /// Maximum number of processes and threads per sandbox.
    #[arg(long, env = "E2B_LOCAL_PIDS", default_value_t = 512)]
    pids: u64,
    /// Size of each sandbox's writable layer in MiB.
    #[arg(long, env = "E2B_LOCAL_DISK_MB", default_value_t = 1024)]
    disk_mb: u64,
    /// Parent cgroup of the sandboxes, relative to each hierarchy's root (default
    /// `e2b-local/<hash of the state directory>`); must be writable (delegated) for a
    /// non-root daemon, and used by one daemon only.
    #[arg(long, env = "E2B_LOCAL_CGROUP_PARENT")]
    cgroup_parent: Option<String>,
}

/// Runs the CLI. `args` is the whole command line, program name first (as `std::env::args`
/// or Python's `sys.argv`). Returns the process exit code.
pub fn main(args: Vec<String>, ctx: CliContext) -> i32 {
    let cli = match Cli::try_parse_from(args.into_iter().map(OsString::from)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli.command, ctx) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("e2b-local: {e:#}");
            1
        }
    }
}

fn run(command: Command, ctx: CliContext) -> Result<i32> {
    match command {
        Command::Serve {
            port,
            python,
            limits,
            pool_size,
        } => serve(port, python, limits, pool_size, ctx),
        Command::Status => status(),
        Command::List { json } => list(json),
        Command::Kill { ids } => kill(&ids),
        Command::Stop => stop(),
        Command::Env => env(),
        Command::Logs { lines } => logs(lines),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("E2B_LOCAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn serve(
    port: u16,
    python: Option<PathBuf>,
    limits: LimitArgs,
    pool_size: usize,
    ctx: CliContext,
) -> Result<i32> {
    init_logging();
    let python = python
        .or(ctx.python)
        .or_else(|| find_on_path("python3"))
        .ok_or_else(|| {
            anyhow!(
                "no Python interpreter found for the sandboxes' kernels: pass --python PATH or \
                 set E2B_LOCAL_PYTHON (it needs ipykernel installed)"
            )
        })?;
    let mut config = daemon::DaemonConfig::new(python, ctx.agent);
    config.port = port;
    config.pool_size = pool_size;
    if limits.memory_mb < 16 || limits.pids < 8 || limits.disk_mb == 0 || limits.cpus < 0.01 {
        bail!("limits too small: --memory-mb ≥ 16, --pids ≥ 8, --disk-mb ≥ 1, --cpus ≥ 0.01");
    }
    config.limits = daemon::SandboxLimits {
        memory_mb: limits.memory_mb,
        cpus: limits.cpus,
        pids: limits.pids,
        disk_mb: limits.disk_mb,
    };
    config.cgroup_parent = limits.cgroup_parent;
    daemon::serve_blocking(config)?;
    Ok(0)
}

/// The daemon according to the state file, if its pid is alive.
fn running_daemon() -> Result<Option<LocalState>> {
    let dir = e2b_wire::local::state_dir();
    Ok(state::read_state(&dir).filter(|s| state::pid_alive(s.pid as i32)))
}

/// The daemon according to the state file, if it answers `GET /health`.
fn require_daemon() -> Result<LocalState> {
    let healthy = running_daemon()?.filter(|s| {
        block_on(async {
            tokio::time::timeout(Duration::from_secs(3), call(s, Method::GET, "/health")).await
        })
        .is_ok_and(|r| r.is_ok_and(|r| r.status == StatusCode::NO_CONTENT))
    });
    healthy.ok_or_else(|| {
        anyhow!(
            "the local E2B runtime is not running (no live daemon in {}); start it with \
             `e2b-local serve` or by creating a sandbox from the SDK",
            e2b_wire::local::state_dir().display()
        )
    })
}

struct HttpResponse {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start a tokio runtime")
        .block_on(f)
}

/// One request to the daemon's API (HTTP/1.1, no body).
async fn call(state: &LocalState, method: Method, path_and_query: &str) -> Result<HttpResponse> {
    let authority = state
        .url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("unexpected daemon URL {}", state.url))?
        .trim_end_matches('/')
        .to_string();
    let stream = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(&authority),
    )
    .await
    .map_err(|_| anyhow!("timed out connecting to {}", state.url))?
    .with_context(|| format!("cannot connect to the daemon at {}", state.url))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(http::header::HOST, &authority)
        .header(API_KEY, &state.api_key)
        .body(Empty::<Bytes>::new())?;
    let resp = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
        .await
        .map_err(|_| anyhow!("the daemon did not answer within 60 s"))??;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(HttpResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

fn error_message(resp: &HttpResponse) -> String {
    serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).into_owned())
}

fn status() -> Result<i32> {
    let dir = e2b_wire::local::state_dir();
    let Some(state) = state::read_state(&dir) else {
        println!("not running (no state file in {})", dir.display());
        return Ok(1);
    };
    if !state::pid_alive(state.pid as i32) {
        println!(
            "not running (stale state file of pid {} in {})",
            state.pid,
            dir.display()
        );
        return Ok(1);
    }
    let resp = match block_on(call(&state, Method::GET, "/local/status")) {
        Ok(resp) if resp.status == StatusCode::OK => resp,
        Ok(resp) => {
            println!(
                "pid {} is alive but {} answered {}: {}",
                state.pid,
                state.url,
                resp.status,
                error_message(&resp)
            );
            return Ok(1);
        }
        Err(e) => {
            println!(
                "pid {} is alive but does not answer at {}: {e:#}",
                state.pid, state.url
            );
            return Ok(1);
        }
    };
    let info: serde_json::Value = serde_json::from_slice(&resp.body)?;
    println!("running");
    println!("  pid:        {}", state.pid);
    println!("  url:        {}", state.url);
    println!(
        "  version:    {}",
        info["version"].as_str().unwrap_or(&state.version)
    );
    println!("  sandboxes:  {}", info["sandboxes"].as_u64().unwrap_or(0));
    println!(
        "  uptime:     {}",
        human_duration(Duration::from_secs(
            info["uptimeSeconds"].as_u64().unwrap_or(0)
        ))
    );
    println!("  state dir:  {}", dir.display());
    Ok(0)
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn fetch_all(state: &LocalState) -> Result<Vec<ListedSandbox>> {
    block_on(async {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = String::from("/v2/sandboxes?limit=100");
            if let Some(t) = &token {
                path.push_str("&nextToken=");
                path.extend(form_urlencoded::byte_serialize(t.as_bytes()));
            }
            let resp = call(state, Method::GET, &path).await?;
            if resp.status != StatusCode::OK {
                bail!(
                    "listing sandboxes failed: {} {}",
                    resp.status,
                    error_message(&resp)
                );
            }
            let page: Vec<ListedSandbox> = serde_json::from_slice(&resp.body)?;
            out.extend(page);
            token = resp
                .headers
                .get(NEXT_TOKEN)
                .and_then(|v| v.to_str().ok())
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    })
}

fn list(json: bool) -> Result<i32> {
    let state = require_daemon()?;
    let sandboxes = fetch_all(&state)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sandboxes)?);
        return Ok(0);
    }
    if sandboxes.is_empty() {
        println!("no running sandboxes");
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let rows: Vec<[String; 5]> = sandboxes
        .iter()
        .map(|s| {
            let age = chrono::DateTime::parse_from_rfc3339(&s.started_at)
                .ok()
                .and_then(|t| (now - t.with_timezone(&chrono::Utc)).to_std().ok())
                .map(human_duration)
                .unwrap_or_else(|| "?".into());
            let mut meta: Vec<String> = s
                .metadata
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            meta.sort();
            [
                s.sandbox_id.clone(),
                s.template_id.clone(),
                s.state.as_str().to_string(),
                age,
                meta.join(","),
            ]
        })
        .collect();
    let header = ["SANDBOX ID", "TEMPLATE", "STATE", "AGE", "METADATA"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print_row = |cells: [&str; 5]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print_row(header);
    for row in &rows {
        print_row([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    Ok(0)
}

fn kill(ids: &[String]) -> Result<i32> {
    let state = require_daemon()?;
    let mut code = 0;
    for id in ids {
        let path = format!(
            "/sandboxes/{}",
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let resp = block_on(call(&state, Method::DELETE, &path))?;
        match resp.status {
            StatusCode::NO_CONTENT => println!("killed {id}"),
            StatusCode::NOT_FOUND => {
                eprintln!("sandbox {id} not found");
                code = 1;
            }
            other => {
                eprintln!("killing {id} failed: {other} {}", error_message(&resp));
                code = 1;
            }
        }
    }
    Ok(code)
}

fn stop() -> Result<i32> {
    let Some(state) = running_daemon()? else {
        println!("the local E2B runtime is not running");
        return Ok(0);
    };
    let pid = state.pid as i32;
    let asked = matches!(
        block_on(call(&state, Method::POST, "/local/shutdown")),
        Ok(resp) if resp.status.is_success()
    );
    if !asked {
        // The API does not answer: fall back to the signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while state::pid_alive(pid) && !is_zombie(pid) {
        if Instant::now() > deadline {
            eprintln!("daemon pid {pid} did not exit within 30 s");
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("stopped the local E2B runtime (pid {pid})");
    Ok(0)
}

/// A daemon started by this very process (tests) lingers as a zombie until reaped.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn env() -> Result<i32> {
    let state = require_daemon()?;
    println!("E2B_API_URL={}", state.url);
    println!("E2B_SANDBOX_URL={}", state.url);
    println!("E2B_API_KEY={}", state.api_key);
    Ok(0)
}

fn logs(lines: usize) -> Result<i32> {
    let path = e2b_wire::local::state_dir().join(LOG_FILE);
    print_tail(&path, lines)?;
    Ok(0)
}

fn print_tail(path: &Path, lines: usize) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let all: Vec<&str> = text.lines().collect();
    for line in &all[all.len().saturating_sub(lines)..] {
        println!("{line}");
    }
    Ok(())
}
