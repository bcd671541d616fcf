//! The `e2b-local` command line (docs/design.md#the-per-user-daemon): `serve` runs the per-user
//! daemon in the foreground; `status`, `list`, `kill`, `stop`, `env` and `logs` manage a running
//! one through its state file and its API; `template` lists and defines local templates. Every
//! command takes `--json` for machine-readable output on stdout.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use e2b_wire::headers::API_KEY;
use e2b_wire::local::{LocalState, LOG_FILE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::daemon::{self, state, UserTemplate};
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
    after_help = "Point the official SDK (or the JS SDK) at it with: eval \"$(e2b-local env)\""
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon in the foreground (progress and logs go to stderr).
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
        /// A template defined as a Python environment for this daemon only, NAME=PATH
        /// (PATH: a virtualenv's or any interpreter's `bin/python`); repeatable. See also
        /// `e2b-local template add`.
        #[arg(long = "template", value_name = "NAME=PATH")]
        templates: Vec<String>,
        /// Also serve the SDKs' debug mode (E2B_DEBUG=true): envd on 127.0.0.1:49983, the
        /// code interpreter on :49999 and the API on :3000, with `debug_sandbox_id` standing
        /// for one sandbox of the default template. Development only: that sandbox needs no
        /// access token.
        #[arg(long)]
        debug: bool,
        /// Print one JSON object (pid, url, state dir) on stdout once the daemon listens.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Show whether the daemon runs (exit code 0 if it does, 1 if not).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List sandboxes: id, template, state, age, CPU time, memory, metadata.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Kill sandboxes by id.
    Kill {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop the daemon (kills its sandboxes) and wait until it has exited.
    Stop {
        #[arg(long)]
        json: bool,
    },
    /// Print E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY for `eval "$(e2b-local env)"`.
    Env {
        #[arg(long)]
        json: bool,
    },
    /// Print the end of a sandbox's agent log (with ID) or of the daemon's log (without).
    Logs {
        /// Sandbox id; without it, the daemon's log.
        id: Option<String>,
        /// Number of lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        #[arg(long)]
        json: bool,
    },
    /// Local templates: list them, or define one as a Python environment.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TemplateCommand {
    /// List the templates `Sandbox.create(template=...)` accepts here.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Define (or redefine) a template as a Python environment: its sandboxes run that
    /// interpreter's environment, read-only. Kept in the state directory; a running daemon
    /// picks it up at the next create.
    Add {
        /// Template name (lowercase letters, digits, '-', '_', '.').
        name: String,
        /// The interpreter, e.g. /path/to/venv/bin/python.
        #[arg(long)]
        python: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Remove a template defined with `template add`.
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
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
            templates,
            debug,
            json,
        } => serve(
            ServeArgs {
                port,
                python,
                limits,
                pool_size,
                templates,
                debug,
                json,
            },
            ctx,
        ),
        Command::Status { json } => status(json),
        Command::List { json } => list(json),
        Command::Kill { ids, json } => kill(&ids, json),
        Command::Stop { json } => stop(json),
        Command::Env { json } => env(json),
        Command::Logs { id, lines, json } => logs(id.as_deref(), lines, json),
        Command::Template { command } => match command {
            TemplateCommand::List { json } => template_list(&ctx, json),
            TemplateCommand::Add { name, python, json } => template_add(&name, &python, json),
            TemplateCommand::Remove { name, json } => template_remove(&name, json),
        },
    }
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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

struct ServeArgs {
    port: u16,
    python: Option<PathBuf>,
    limits: LimitArgs,
    pool_size: usize,
    templates: Vec<String>,
    debug: bool,
    json: bool,
}

/// `NAME=PATH` of `serve --template`.
fn parse_template_arg(arg: &str) -> Result<(String, UserTemplate)> {
    let (name, path) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--template {arg:?}: expected NAME=PATH"))?;
    daemon::validate_template_name(name).map_err(|e| anyhow!("--template: {e}"))?;
    let python = std::path::absolute(path)
        .with_context(|| format!("--template {name}: bad path {path:?}"))?;
    if !python.is_file() {
        bail!(
            "--template {name}: {} is not a file (give the interpreter, e.g. \
             /path/to/venv/bin/python)",
            python.display()
        );
    }
    Ok((name.to_string(), UserTemplate { python }))
}

/// Progress line of `serve` on stderr (the daemon's own log lines follow the same stream).
fn progress(line: &str) {
    eprintln!("e2b-local: {line}");
}

fn describe_env(env: &crate::sandbox::PythonEnv) -> String {
    let mut kernels = Vec::new();
    if env.has_ipykernel {
        kernels.push("python (ipykernel)".to_string());
    }
    if env.kernels.deno.is_some() {
        kernels.push("javascript/typescript (deno)".to_string());
    }
    if env.kernels.bash_kernel {
        kernels.push("bash (bash_kernel)".to_string());
    }
    for spec in &env.kernels.kernelspecs {
        kernels.push(format!("{} (kernelspec {})", spec.language, spec.name));
    }
    format!(
        "Python {}; kernels: {}",
        env.version,
        if kernels.is_empty() {
            "none".to_string()
        } else {
            kernels.join(", ")
        }
    )
}

/// Checks what sandboxes need before the daemon starts, printing what it finds and the exact
/// fix for what is missing. Errors only for what makes every sandbox fail.
async fn preflight(python: &Path, templates: &BTreeMap<String, UserTemplate>) -> Result<()> {
    progress(&format!(
        "checking the sandbox Python {} …",
        python.display()
    ));
    let env = crate::sandbox::preflight(python)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    progress(&format!("  {}", describe_env(&env)));
    if !env.has_ipykernel {
        progress(&format!(
            "  warning: ipykernel is not installed there, so run_code and the code-interpreter \
             template fail; fix: {} -m pip install 'e2b[local]'",
            python.display()
        ));
    } else {
        if env.kernels.deno.is_none() {
            progress(
                "  note: no JavaScript/TypeScript kernel; fix: pip install deno (part of \
                 'e2b[local]')",
            );
        }
        if !env.kernels.bash_kernel {
            progress("  note: no bash kernel; fix: pip install bash_kernel (part of 'e2b[local]')");
        }
    }
    for (name, def) in templates {
        progress(&format!(
            "preparing template {name}: Python environment {} …",
            def.python.display()
        ));
        match crate::sandbox::describe_python(&def.python).await {
            Ok(env) => {
                progress(&format!("  {}", describe_env(&env)));
                if !env.has_ipykernel {
                    progress(&format!(
                        "  note: no ipykernel there: its sandboxes run commands and files but \
                         not run_code; fix: {} -m pip install ipykernel",
                        def.python.display()
                    ));
                }
            }
            Err(e) => progress(&format!("  warning: template {name} will not work: {e}")),
        }
    }
    Ok(())
}

fn serve(args: ServeArgs, ctx: CliContext) -> Result<i32> {
    init_logging();
    let python = args
        .python
        .or(ctx.python)
        .or_else(|| find_on_path("python3"))
        .ok_or_else(|| {
            anyhow!(
                "no Python interpreter found for the sandboxes' kernels: pass --python PATH or \
                 set E2B_LOCAL_PYTHON (it needs ipykernel: pip install 'e2b[local]')"
            )
        })?;
    let mut config = daemon::DaemonConfig::new(python.clone(), ctx.agent);
    config.port = args.port;
    config.pool_size = args.pool_size;
    let limits = args.limits;
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
    for arg in &args.templates {
        let (name, def) = parse_template_arg(arg)?;
        config.templates.insert(name, def);
    }
    if args.debug {
        config.debug = Some(daemon::debug::DebugPorts::default());
    }
    let json = args.json;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sandboxd")
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(async move {
        let mut all_templates = daemon::read_user_templates(&config.state_dir);
        all_templates.extend(config.templates.clone());
        preflight(&python, &all_templates).await?;
        if config.pool_size > 0 {
            progress(&format!(
                "starting; the warm pool prepares {} sandbox(es) of code-interpreter-v1 in \
                 the background (Python kernel started)",
                config.pool_size
            ));
        }
        let handle = daemon::start(config).await?;
        progress(&format!(
            "ready: {} (pid {}); point an SDK at it with: eval \"$(e2b-local env)\"",
            handle.url(),
            std::process::id()
        ));
        if json {
            println!(
                "{}",
                json!({
                    "pid": std::process::id(),
                    "url": handle.url(),
                    "stateDir": e2b_wire::local::state_dir().display().to_string(),
                })
            );
        }
        handle.wait().await
    })?;
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
    body: Bytes,
}

impl HttpResponse {
    fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).context("unexpected answer from the daemon")
    }
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
        body,
    })
}

/// `GET path` on a healthy daemon; an error unless it answers 200.
fn get_ok(state: &LocalState, path: &str) -> Result<HttpResponse> {
    let resp = block_on(call(state, Method::GET, path))?;
    if resp.status != StatusCode::OK {
        bail!("{path}: {} {}", resp.status, error_message(&resp));
    }
    Ok(resp)
}

fn error_message(resp: &HttpResponse) -> String {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).into_owned())
}

fn status(json: bool) -> Result<i32> {
    let dir = e2b_wire::local::state_dir();
    let not_running = |reason: String| -> Result<i32> {
        if json {
            print_json(
                &json!({"running": false, "reason": reason, "stateDir": dir.display().to_string()}),
            )?;
        } else {
            println!("not running ({reason})");
        }
        Ok(1)
    };
    let Some(state) = state::read_state(&dir) else {
        return not_running(format!("no state file in {}", dir.display()));
    };
    if !state::pid_alive(state.pid as i32) {
        return not_running(format!(
            "stale state file of pid {} in {}",
            state.pid,
            dir.display()
        ));
    }
    let resp = match block_on(call(&state, Method::GET, "/local/status")) {
        Ok(resp) if resp.status == StatusCode::OK => resp,
        Ok(resp) => {
            return not_running(format!(
                "pid {} is alive but {} answered {}: {}",
                state.pid,
                state.url,
                resp.status,
                error_message(&resp)
            ))
        }
        Err(e) => {
            return not_running(format!(
                "pid {} is alive but does not answer at {}: {e:#}",
                state.pid, state.url
            ))
        }
    };
    let mut info = resp.json()?;
    if json {
        info["running"] = Value::Bool(true);
        print_json(&info)?;
        return Ok(0);
    }
    println!("running");
    println!("  pid:        {}", state.pid);
    println!("  url:        {}", state.url);
    println!(
        "  version:    {}",
        info["version"].as_str().unwrap_or(&state.version)
    );
    println!("  sandboxes:  {}", info["sandboxes"].as_u64().unwrap_or(0));
    println!(
        "  warm pool:  {} of {} ready",
        info["warmPool"].as_u64().unwrap_or(0),
        info["poolSize"].as_u64().unwrap_or(0)
    );
    if let Some(p) = info["python"].as_str() {
        println!("  python:     {p}");
    }
    if let Some(d) = info["debug"].as_object() {
        println!(
            "  debug mode: envd :{}, code interpreter :{}, API :{}",
            d["envdPort"], d["codeInterpreterPort"], d["apiPort"]
        );
    }
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

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_cpu(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.2}s")
    } else {
        human_duration(Duration::from_secs_f64(secs))
    }
}

/// Prints rows as an aligned table (like `docker ps`).
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("   ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn list(json: bool) -> Result<i32> {
    let state = require_daemon()?;
    let rows = get_ok(&state, "/local/sandboxes")?.json()?;
    let rows = rows.as_array().cloned().unwrap_or_default();
    if json {
        print_json(&Value::Array(rows))?;
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no running sandboxes");
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            let age = s["startedAt"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| (now - t.with_timezone(&chrono::Utc)).to_std().ok())
                .map(human_duration)
                .unwrap_or_else(|| "?".into());
            let cpu = s["cpuUsageSeconds"]
                .as_f64()
                .map(human_cpu)
                .unwrap_or_else(|| "-".into());
            let memory = match (s["memoryBytes"].as_u64(), s["memoryMB"].as_u64()) {
                (Some(used), Some(limit)) => {
                    format!("{} / {}", human_bytes(used), human_bytes(limit << 20))
                }
                (Some(used), None) => human_bytes(used),
                _ => "-".into(),
            };
            let mut meta: Vec<String> = s["metadata"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            meta.sort();
            vec![
                s["sandboxID"].as_str().unwrap_or("?").to_string(),
                s["templateID"].as_str().unwrap_or("?").to_string(),
                s["state"].as_str().unwrap_or("?").to_string(),
                age,
                cpu,
                memory,
                meta.join(","),
            ]
        })
        .collect();
    print_table(
        &[
            "SANDBOX ID",
            "TEMPLATE",
            "STATE",
            "AGE",
            "CPU TIME",
            "MEMORY",
            "METADATA",
        ],
        &table,
    );
    Ok(0)
}

fn kill(ids: &[String], json: bool) -> Result<i32> {
    let state = require_daemon()?;
    let mut code = 0;
    let mut killed = Vec::new();
    let mut failed = serde_json::Map::new();
    for id in ids {
        let path = format!(
            "/sandboxes/{}",
            form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let resp = block_on(call(&state, Method::DELETE, &path))?;
        let problem = match resp.status {
            StatusCode::NO_CONTENT => {
                killed.push(id.clone());
                if !json {
                    println!("killed {id}");
                }
                continue;
            }
            StatusCode::NOT_FOUND => format!("sandbox {id} not found"),
            other => format!("killing {id} failed: {other} {}", error_message(&resp)),
        };
        code = 1;
        if !json {
            eprintln!("{problem}");
        }
        failed.insert(id.clone(), Value::String(problem));
    }
    if json {
        print_json(&json!({"killed": killed, "failed": failed}))?;
    }
    Ok(code)
}

fn stop(json: bool) -> Result<i32> {
    let Some(state) = running_daemon()? else {
        if json {
            print_json(&json!({"stopped": false, "running": false}))?;
        } else {
            println!("the local E2B runtime is not running");
        }
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
            if json {
                print_json(&json!({"stopped": false, "running": true, "pid": pid}))?;
            } else {
                eprintln!("daemon pid {pid} did not exit within 30 s");
            }
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if json {
        print_json(&json!({"stopped": true, "pid": pid}))?;
    } else {
        println!("stopped the local E2B runtime (pid {pid})");
    }
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

fn env(json: bool) -> Result<i32> {
    let state = require_daemon()?;
    if json {
        print_json(&json!({
            "E2B_API_URL": state.url,
            "E2B_SANDBOX_URL": state.url,
            "E2B_API_KEY": state.api_key,
        }))?;
        return Ok(0);
    }
    println!("export E2B_API_URL={}", state.url);
    println!("export E2B_SANDBOX_URL={}", state.url);
    println!("export E2B_API_KEY={}", state.api_key);
    Ok(0)
}

fn last_lines(text: &str, n: usize) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(n)..].to_vec()
}

fn logs(id: Option<&str>, lines: usize, json: bool) -> Result<i32> {
    let (source, text) = match id {
        Some(id) => {
            let state = require_daemon()?;
            let path = format!(
                "/local/sandboxes/{}/logs?bytes={}",
                form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
                (lines.max(1) * 512).min(16 << 20)
            );
            let resp = block_on(call(&state, Method::GET, &path))?;
            match resp.status {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND => bail!("sandbox {id} not found"),
                other => bail!(
                    "cannot read the log of {id}: {other} {}",
                    error_message(&resp)
                ),
            }
            (
                format!("sandbox {id} (agent log)"),
                String::from_utf8_lossy(&resp.body).into_owned(),
            )
        }
        None => {
            let path = e2b_wire::local::state_dir().join(LOG_FILE);
            let max = (lines.max(1) * 512).min(16 << 20) as u64;
            let text = e2b_wire::local::read_tail(&path, max).with_context(|| {
                format!(
                    "cannot read {} (a daemon started by `e2b-local serve` logs to its \
                     terminal instead)",
                    path.display()
                )
            })?;
            (
                format!("daemon ({})", path.display()),
                String::from_utf8_lossy(&text).into_owned(),
            )
        }
    };
    let tail = last_lines(&text, lines);
    if json {
        print_json(&json!({"source": source, "sandboxID": id, "lines": tail}))?;
    } else {
        for line in tail {
            println!("{line}");
        }
    }
    Ok(0)
}

/// Runs `python` to learn its version and whether it has ipykernel.
fn probe_python(python: &Path) -> Result<(String, bool)> {
    let out = std::process::Command::new(python)
        .args([
            "-s",
            "-c",
            "import sys, importlib.util; print(sys.version.split()[0]); \
             print(importlib.util.find_spec('ipykernel') is not None)",
        ])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} does not run as a Python interpreter ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.lines();
    let version = it.next().unwrap_or("?").to_string();
    let ipykernel = it.next() == Some("True");
    Ok((version, ipykernel))
}

fn template_list(ctx: &CliContext, json: bool) -> Result<i32> {
    // A running daemon knows its `serve --template` ones too, and probes each environment.
    let rows: Vec<Value> = match running_daemon()? {
        Some(state) => get_ok(&state, "/local/templates")?
            .json()?
            .as_array()
            .cloned()
            .unwrap_or_default(),
        None => {
            let default_python = ctx
                .python
                .clone()
                .or_else(|| find_on_path("python3"))
                .map(|p| p.display().to_string());
            let mut rows: Vec<Value> = daemon::TEMPLATES
                .iter()
                .map(|t| {
                    json!({
                        "name": t.id,
                        "aliases": t.aliases,
                        "source": "builtin",
                        "python": default_python,
                        "startsKernel": t.start_kernel,
                    })
                })
                .collect();
            for (name, def) in daemon::read_user_templates(&e2b_wire::local::state_dir()) {
                let mut row = json!({
                    "name": name,
                    "aliases": [],
                    "source": "state",
                    "python": def.python.display().to_string(),
                });
                match probe_python(&def.python) {
                    Ok((version, ipykernel)) => {
                        row["pythonVersion"] = json!(version);
                        row["ipykernel"] = json!(ipykernel);
                        row["startsKernel"] = json!(ipykernel);
                    }
                    Err(e) => row["error"] = json!(format!("{e:#}")),
                }
                rows.push(row);
            }
            rows
        }
    };
    if json {
        print_json(&Value::Array(rows))?;
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut name = r["name"].as_str().unwrap_or("?").to_string();
            let aliases: Vec<&str> = r["aliases"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !aliases.is_empty() {
                name = format!("{name} (alias {})", aliases.join(", "));
            }
            let kernel = match (r.get("error").and_then(Value::as_str), &r["startsKernel"]) {
                (Some(e), _) => format!("error: {e}"),
                (None, Value::Bool(true)) => "python kernel at create".into(),
                (None, Value::Bool(false)) => "no kernel at create".into(),
                _ => "-".into(),
            };
            vec![
                name,
                r["source"].as_str().unwrap_or("?").to_string(),
                r["python"].as_str().unwrap_or("-").to_string(),
                r["pythonVersion"].as_str().unwrap_or("-").to_string(),
                kernel,
            ]
        })
        .collect();
    print_table(
        &["TEMPLATE", "SOURCE", "PYTHON", "VERSION", "KERNEL"],
        &table,
    );
    Ok(0)
}

fn template_add(name: &str, python: &Path, json: bool) -> Result<i32> {
    daemon::validate_template_name(name).map_err(|e| anyhow!(e))?;
    let python =
        std::path::absolute(python).with_context(|| format!("bad path {}", python.display()))?;
    if !python.is_file() {
        bail!(
            "{} is not a file: give the interpreter, e.g. /path/to/venv/bin/python",
            python.display()
        );
    }
    let (version, ipykernel) = probe_python(&python)?;
    let dir = e2b_wire::local::state_dir();
    let mut all = daemon::read_user_templates(&dir);
    all.insert(
        name.to_string(),
        UserTemplate {
            python: python.clone(),
        },
    );
    daemon::write_user_templates(&dir, &all)?;
    if json {
        print_json(&json!({
            "name": name,
            "python": python.display().to_string(),
            "pythonVersion": version,
            "ipykernel": ipykernel,
        }))?;
    } else {
        println!(
            "template {name}: {} (Python {version}); use it with Sandbox.create(template=\"{name}\")",
            python.display()
        );
        if !ipykernel {
            println!(
                "note: ipykernel is not installed there, so its sandboxes run commands and \
                 files but not run_code; fix: {} -m pip install ipykernel",
                python.display()
            );
        }
    }
    Ok(0)
}

fn template_remove(name: &str, json: bool) -> Result<i32> {
    let dir = e2b_wire::local::state_dir();
    let mut all = daemon::read_user_templates(&dir);
    if all.remove(name).is_none() {
        if daemon::TEMPLATES
            .iter()
            .any(|t| t.id == name || t.aliases.contains(&name))
        {
            bail!("'{name}' is a built-in template and cannot be removed");
        }
        bail!("no template '{name}' was added with `e2b-local template add`");
    }
    daemon::write_user_templates(&dir, &all)?;
    if json {
        print_json(&json!({"removed": name}))?;
    } else {
        println!("removed template {name}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes_and_lines() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_cpu(1.234), "1.23s");
        assert_eq!(human_cpu(125.0), "2m05s");
        assert_eq!(last_lines("a\nb\nc\n", 2), vec!["b", "c"]);
        assert_eq!(last_lines("a", 5), vec!["a"]);
    }

    #[test]
    fn template_args_parse() {
        let (name, def) = parse_template_arg("my-env=/bin/sh").unwrap();
        assert_eq!(name, "my-env");
        assert_eq!(def.python, PathBuf::from("/bin/sh"));
        assert!(parse_template_arg("noequals").is_err());
        assert!(parse_template_arg("base=/bin/sh").is_err());
        assert!(parse_template_arg("x=/does/not/exist").is_err());
    }

    #[test]
    fn every_command_takes_json() {
        for args in [
            vec!["status", "--json"],
            vec!["list", "--json"],
            vec!["kill", "abc", "--json"],
            vec!["stop", "--json"],
            vec!["env", "--json"],
            vec!["logs", "--json"],
            vec!["logs", "abc", "-n", "5", "--json"],
            vec!["serve", "--json", "--debug", "--template", "a=/bin/sh"],
            vec!["template", "list", "--json"],
            vec!["template", "add", "a", "--python", "/bin/sh", "--json"],
            vec!["template", "remove", "a", "--json"],
        ] {
            let argv = std::iter::once("e2b-local").chain(args.iter().copied());
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
