//! Shared helpers for the `sandbox_*` integration tests: they start REAL sandboxes (root, user
//! namespaces, a Python with ipykernel) and talk HTTP/1.1 to the agent socket. Every sandbox
//! a test starts is killed by its own handle ([`SandboxProcess::kill`]), never by name.
#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use e2b_wire::execution::OutputLine;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sandboxd::sandbox::{AgentLauncher, RuntimeConfig, SandboxProcess, SpawnRequest};

pub const ENVD: &str = "49983";
pub const INTERPRETER: &str = "49999";

/// A runtime configuration for tests, or `None` (after printing why) when this machine cannot
/// run real sandboxes.
pub struct TestEnv {
    pub rt: RuntimeConfig,
    pub has_ipykernel: bool,
    _dir: tempfile::TempDir,
}

fn skip(reason: &str) -> Option<TestEnv> {
    eprintln!("SKIPPED: {reason}");
    None
}

/// The agent executable: `E2B_TEST_AGENT_EXE`, else this package's `sandboxd` binary.
fn agent_exe() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("E2B_TEST_AGENT_EXE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    option_env!("CARGO_BIN_EXE_sandboxd").map(PathBuf::from)
}

pub fn test_env(need_kernel: bool) -> Option<TestEnv> {
    if unsafe { libc::geteuid() } != 0 {
        return skip("sandbox tests run as root (the daemon's CI mode)");
    }
    let python = std::env::var_os("E2B_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/main/.venv/bin/python"));
    if !python.exists() {
        return skip(&format!(
            "no test Python at {} (set E2B_TEST_PYTHON)",
            python.display()
        ));
    }
    let Some(exe) = agent_exe() else {
        return skip("no agent executable (set E2B_TEST_AGENT_EXE)");
    };
    // The `sandboxd` binary must route `__agent` to `sandboxd::agent::main()`.
    let probe = std::process::Command::new(&exe)
        .arg("__agent")
        .env_remove("E2B_SANDBOX_AGENT")
        .stderr(std::process::Stdio::piped())
        .output();
    match probe {
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("not meant to be run by hand") => {
        }
        Ok(out) => {
            return skip(&format!(
                "{} does not run the agent for `__agent` yet ({}); set E2B_TEST_AGENT_EXE",
                exe.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
        Err(e) => return skip(&format!("cannot run {}: {e}", exe.display())),
    }
    let has_ipykernel = std::process::Command::new(&python)
        .args(["-c", "import ipykernel"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if need_kernel && !has_ipykernel {
        return skip(&format!("{} cannot import ipykernel", python.display()));
    }
    let dir = tempfile::Builder::new()
        .prefix("sandboxd-test-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    Some(TestEnv {
        rt: RuntimeConfig::new(
            python,
            AgentLauncher::Executable(exe),
            dir.path().to_path_buf(),
        ),
        has_ipykernel,
        _dir: dir,
    })
}

pub fn request(id: &str, start_kernel: bool) -> SpawnRequest {
    let mut envs = HashMap::new();
    envs.insert("E2B_SANDBOX".to_string(), "true".to_string());
    envs.insert("E2B_SANDBOX_ID".to_string(), id.to_string());
    envs.insert("E2B_TEMPLATE_ID".to_string(), "test-template".to_string());
    envs.insert("GLOBAL_VAR".to_string(), "global 'value'".to_string());
    SpawnRequest {
        sandbox_id: id.to_string(),
        template_id: "test-template".to_string(),
        envs,
        allow_internet_access: false,
        start_kernel,
        limits: None,
        python: None,
    }
}

pub fn unique_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}{}{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn spawn(env: &TestEnv, tag: &str, start_kernel: bool) -> SandboxProcess {
    SandboxProcess::spawn(&env.rt, request(&unique_id(tag), start_kernel))
        .await
        .unwrap_or_else(|e| panic!("spawn failed: {e}"))
}

/// Sends one request on a fresh connection; returns the response with its body unread and
/// the connection task (abort it to drop the connection).
pub async fn send(
    sbx: &SandboxProcess,
    method: &str,
    path: &str,
    port: &str,
    body: Option<serde_json::Value>,
) -> (Response<Incoming>, tokio::task::JoinHandle<()>) {
    let stream = tokio::net::UnixStream::connect(sbx.agent_socket())
        .await
        .expect("connect to the agent");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "sandbox")
        .header("e2b-sandbox-port", port)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let res = sender.send_request(req).await.expect("request");
    (res, task)
}

/// A whole request: status and body text.
pub async fn call(
    sbx: &SandboxProcess,
    method: &str,
    path: &str,
    port: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let (res, _task) = send(sbx, method, path, port, body).await;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Runs code and collects every NDJSON line (the last must be `end_of_execution`).
pub async fn execute(
    sbx: &SandboxProcess,
    code: &str,
    context_id: Option<&str>,
    env_vars: Option<serde_json::Value>,
) -> Vec<OutputLine> {
    let body = serde_json::json!({
        "code": code,
        "context_id": context_id,
        "language": null,
        "env_vars": env_vars,
    });
    let (res, _task) = send(sbx, "POST", "/execute", INTERPRETER, Some(body)).await;
    assert_eq!(res.status(), 200, "execute of {code:?}");
    let bytes = tokio::time::timeout(Duration::from_secs(60), res.into_body().collect())
        .await
        .expect("execution finished within 60 s")
        .unwrap()
        .to_bytes();
    let lines: Vec<OutputLine> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("valid NDJSON line"))
        .collect();
    assert_eq!(lines.last(), Some(&OutputLine::EndOfExecution), "{lines:?}");
    lines
}

/// The `text` of the main result, if any.
pub fn main_text(lines: &[OutputLine]) -> Option<String> {
    lines.iter().find_map(|l| match l {
        OutputLine::Result(r) if r.is_main_result => r.text.clone(),
        _ => None,
    })
}

pub fn stdout(lines: &[OutputLine]) -> String {
    lines
        .iter()
        .filter_map(|l| match l {
            OutputLine::Stdout { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub fn error(lines: &[OutputLine]) -> Option<(String, String, String)> {
    lines.iter().find_map(|l| match l {
        OutputLine::Error {
            name,
            value,
            traceback,
        } => Some((name.clone(), value.clone(), traceback.clone())),
        _ => None,
    })
}

/// Evaluates a Python expression in the default context and returns its text result,
/// panicking with the output on error.
pub async fn eval(sbx: &SandboxProcess, code: &str) -> String {
    let lines = execute(sbx, code, None, None).await;
    main_text(&lines).unwrap_or_else(|| panic!("no result for {code:?}: {lines:?}"))
}

pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}
