//! The `sandboxd` binary as a user drives it: `serve` in the foreground, `status`, `env`,
//! `list`, `kill`, `stop`, single-instance refusal, and a clean exit on SIGTERM.

mod daemon_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use daemon_common::test_python;

const BIN: &str = env!("CARGO_BIN_EXE_sandboxd");

/// A `sandboxd serve` child, killed by pid if the test fails.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            unsafe { libc::kill(self.0.id() as i32, libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
}

fn cli(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("E2B_LOCAL_STATE_DIR", state_dir)
        .output()
        .unwrap()
}

fn serve(state_dir: &Path, log: &Path) -> Served {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--python"])
        .arg(test_python())
        .env("E2B_LOCAL_STATE_DIR", state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let served = Served(child);
    let state = state_dir.join(e2b_wire::local::STATE_FILE);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state.exists() {
        assert!(Instant::now() < deadline, "daemon did not write state.json");
        std::thread::sleep(Duration::from_millis(20));
    }
    served
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn serve_status_env_and_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("state");
    let mut daemon = serve(&dir, &tmp.path().join("daemon.log"));
    let pid = daemon.0.id();

    let status = cli(&dir, &["status"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}{}",
        stdout(&status),
        stderr(&status)
    );
    assert!(stdout(&status).contains(&pid.to_string()));
    assert!(stdout(&status).contains("sandboxes:  0"));

    let env = cli(&dir, &["env"]);
    assert_eq!(env.status.code(), Some(0));
    let lines: Vec<String> = stdout(&env).lines().map(str::to_string).collect();
    let state: e2b_wire::local::LocalState =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        lines,
        vec![
            format!("export E2B_API_URL={}", state.url),
            format!("export E2B_SANDBOX_URL={}", state.url),
            format!("export E2B_API_KEY={}", state.api_key),
        ]
    );
    assert_eq!(state.pid, pid);

    let list = cli(&dir, &["list"]);
    assert_eq!(list.status.code(), Some(0));
    assert!(stdout(&list).contains("no running sandboxes"));
    let list = cli(&dir, &["list", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&list.stdout).unwrap(),
        serde_json::json!([])
    );
    let kill = cli(&dir, &["kill", "nosuchsandbox0000000"]);
    assert_eq!(kill.status.code(), Some(1));
    assert!(stderr(&kill).contains("not found"));

    // A second daemon for the same user is refused and says why.
    let second = Command::new(BIN)
        .args(["serve", "--python"])
        .arg(test_python())
        .env("E2B_LOCAL_STATE_DIR", &dir)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("already running"),
        "{}",
        stderr(&second)
    );
    assert!(
        dir.join("state.json").exists(),
        "the refused daemon left the state alone"
    );

    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let exit = wait_exit(&mut daemon.0, Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    assert!(!dir.join("state.json").exists());
    let log = std::fs::read_to_string(tmp.path().join("daemon.log")).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");

    let status = cli(&dir, &["status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(stdout(&status).contains("not running"));
    let env = cli(&dir, &["env"]);
    assert_eq!(env.status.code(), Some(1));
    assert!(env.stdout.is_empty());
    assert!(stderr(&env).contains("not running"));
    let stop = cli(&dir, &["stop"]);
    assert_eq!(stop.status.code(), Some(0));
    assert!(stdout(&stop).contains("not running"));
}

#[test]
fn stop_shuts_the_daemon_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let mut daemon = serve(&dir, &tmp.path().join("daemon.log"));
    let stop = cli(&dir, &["stop"]);
    assert_eq!(
        stop.status.code(),
        Some(0),
        "{}{}",
        stdout(&stop),
        stderr(&stop)
    );
    let exit = wait_exit(&mut daemon.0, Duration::from_secs(10));
    assert!(exit.success());
    assert!(!dir.join("state.json").exists());
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("serve"));
}
