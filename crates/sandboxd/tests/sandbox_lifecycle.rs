//! Sandbox creation and destruction without kernels: the agent answers on its socket, envd's
//! endpoints work, kill removes everything, and spawn is fast.

mod sandbox_support;

use std::time::{Duration, Instant};

use sandbox_support::*;

#[tokio::test]
async fn agent_serves_envd_and_interpreter_health() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "health", false).await;
    let (status, body) = call(&sbx, "GET", "/health", ENVD, None).await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, body) = call(&sbx, "GET", "/envs", ENVD, None).await;
    assert_eq!(status, 200);
    let envs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envs["GLOBAL_VAR"], "global 'value'");
    assert_eq!(envs["E2B_SANDBOX"], "true");
    let (status, body) = call(&sbx, "GET", "/health", INTERPRETER, None).await;
    assert_eq!((status, body.as_str()), (200, "\"OK\""));
    let (status, _) = call(&sbx, "GET", "/nope", ENVD, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&sbx, "GET", "/health", "8080", None).await;
    assert_eq!(status, 502);
    sbx.kill().await;
}

#[tokio::test]
async fn kill_removes_processes_and_files() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "kill", false).await;
    let pid = sbx.init_pid();
    let dir = sbx.sandbox_dir().to_path_buf();
    assert!(sbx.agent_socket().exists());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // The init runs as the sandbox's root: the first host uid of its range (100000 + k × 65536),
    // not 0.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let uids: Vec<u32> = uid_line
        .split_whitespace()
        .skip(1)
        .map(|u| u.parse().unwrap())
        .collect();
    assert!(
        uids.iter()
            .all(|u| *u >= 100_000 && (u - 100_000) % 65_536 == 0),
        "{uid_line}"
    );
    sbx.kill().await;
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(sbx.exit_status().is_some());
    // Idempotent.
    tokio::time::timeout(Duration::from_secs(5), sbx.kill())
        .await
        .expect("second kill returns");
    tokio::time::timeout(Duration::from_secs(5), sbx.exited())
        .await
        .expect("exited resolves after kill");
}

#[tokio::test]
async fn exited_resolves_when_init_dies() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "exited", false).await;
    unsafe { libc::kill(sbx.init_pid(), libc::SIGKILL) };
    tokio::time::timeout(Duration::from_secs(5), sbx.exited())
        .await
        .expect("exited resolves");
    sbx.kill().await;
}

#[tokio::test]
async fn bad_ids_are_refused() {
    let Some(env) = test_env(false) else { return };
    let err = sandboxd::sandbox::SandboxProcess::spawn(&env.rt, request("../x", false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid sandbox id"), "{err}");
}

/// Spawn → agent ready latency (printed; asserted loosely).
#[tokio::test]
async fn spawn_latency() {
    let Some(env) = test_env(false) else { return };
    let mut samples = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let sbx = spawn(&env, "lat", false).await;
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
        sbx.kill().await;
    }
    let p50 = percentile(&mut samples, 0.5);
    let p90 = percentile(&mut samples, 0.9);
    eprintln!("spawn -> agent ready: p50 {p50:.1} ms, p90 {p90:.1} ms (n=20)");
    assert!(p50 < 1000.0, "spawn p50 {p50} ms");
}
