//! Starting the local runtime when none answers: an exclusive `flock` on `start.lock`, a
//! second look (another process may have started the daemon while we waited), and only then
//! the daemon, detached — new session, stdin from `/dev/null`, output appended to
//! `daemon.log` — polled until it is healthy. Every process that races to start it therefore
//! ends up using the same daemon. Unix APIs throughout: compiled only with the local runtime
//! (`cfg(local_runtime)`, x86-64 Linux).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2b_wire::local::{LocalState, LOG_FILE, START_LOCK, STATE_FILE};

use super::{LocalEndpoint, LAUNCHER};
use crate::config::HttpVersion;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, ClientKey};

/// How long a healthy daemon may take to answer `/health`.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a freshly started daemon may take to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

fn health_client() -> Result<reqwest::Client> {
    http::client(&ClientKey {
        http_version: HttpVersion::Http1,
        proxy: None,
        direct: true,
        connect_timeout: Some(HEALTH_TIMEOUT),
    })
}

/// The running daemon from the state file, else one started now (see the module comment).
pub(super) async fn discover_or_start() -> Result<LocalEndpoint> {
    let dir = e2b_wire::local::state_dir();
    let client = health_client()?;
    if let Some(endpoint) = healthy_state(&client, &dir).await {
        return Ok(endpoint);
    }
    let launcher = LAUNCHER.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if launcher.is_empty() {
        return Err(local_error(
            "the local sandbox runtime is not running and this process has no command to start it",
        ));
    }

    let lock_dir = dir.clone();
    let lock = tokio::task::spawn_blocking(move || StartLock::acquire(&lock_dir))
        .await
        .map_err(|e| local_error(&format!("waiting for the start lock failed: {e}")))??;

    // Another process may have started it while we waited for the lock.
    if let Some(endpoint) = healthy_state(&client, &dir).await {
        drop(lock);
        return Ok(endpoint);
    }

    let mut child = spawn_daemon(&launcher, &dir)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let result = loop {
        if let Some(endpoint) = healthy_state(&client, &dir).await {
            break Ok(endpoint);
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(start_failure(
                &dir,
                &format!("the local sandbox runtime exited during startup ({status})"),
            ));
        }
        if Instant::now() >= deadline {
            break Err(start_failure(
                &dir,
                &format!(
                    "the local sandbox runtime did not become ready within {} s",
                    START_TIMEOUT.as_secs()
                ),
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    drop(lock);
    // Reap the daemon whenever it exits, so that it never lingers as a zombie of ours.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    result
}

fn local_error(detail: &str) -> Error {
    Error::new(
        ErrorKind::SandboxException,
        format!(
            "Local sandbox runtime unavailable: {detail}. Set E2B_API_KEY to use the E2B cloud instead."
        ),
    )
}

fn start_failure(dir: &Path, detail: &str) -> Error {
    let log = dir.join(LOG_FILE);
    let tail = read_tail(&log, 4096);
    let mut message = format!(
        "Local sandbox runtime unavailable: {detail}. Set E2B_API_KEY to use the E2B cloud instead."
    );
    if !tail.trim().is_empty() {
        message.push_str(&format!(
            "\nLast lines of {}:\n{}",
            log.display(),
            tail.trim_end()
        ));
    }
    Error::new(ErrorKind::SandboxException, message)
}

/// The last `max` bytes of a file, starting at a line boundary.
fn read_tail(path: &Path, max: usize) -> String {
    let Ok(bytes) = e2b_wire::local::read_tail(path, max as u64) else {
        return String::new();
    };
    let whole = std::fs::metadata(path).is_ok_and(|m| m.len() <= max as u64);
    let mut slice = &bytes[..];
    if !whole {
        if let Some(nl) = slice.iter().position(|&b| b == b'\n') {
            slice = &slice[nl + 1..];
        }
    }
    String::from_utf8_lossy(slice).into_owned()
}

/// Reads `state.json` (if any) and returns its endpoint if the daemon answers `/health`.
async fn healthy_state(client: &reqwest::Client, dir: &Path) -> Option<LocalEndpoint> {
    let raw = e2b_wire::local::read_state_file(&dir.join(STATE_FILE)).ok()?;
    let state: LocalState = serde_json::from_slice(&raw).ok()?;
    let url = state.url.trim_end_matches('/').to_owned();
    let response = client
        .get(format!("{url}/health"))
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await
        .ok()?;
    if response.status().is_success() {
        Some(LocalEndpoint {
            url,
            api_key: state.api_key,
        })
    } else {
        None
    }
}

/// An exclusive `flock` on `start.lock`, released on drop (when the file closes).
struct StartLock {
    _file: std::fs::File,
}

impl StartLock {
    fn acquire(dir: &Path) -> Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        use std::os::unix::io::AsRawFd;

        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| local_error(&format!("cannot create {}: {e}", dir.display())))?;
        let path: PathBuf = dir.join(START_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| local_error(&format!("cannot open {}: {e}", path.display())))?;
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(local_error(&format!(
                    "cannot lock {}: {err}",
                    path.display()
                )));
            }
        }
        Ok(StartLock { _file: file })
    }
}

/// Starts the daemon detached: new session, stdin `/dev/null`, stdout and stderr appended to
/// `daemon.log`.
fn spawn_daemon(launcher: &[String], dir: &Path) -> Result<std::process::Child> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;

    let log_path = dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| local_error(&format!("cannot open {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| local_error(&format!("cannot open {}: {e}", log_path.display())))?;
    let mut command = std::process::Command::new(&launcher[0]);
    command
        .args(&launcher[1..])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our session and
    // controlling terminal so that it survives this process and its terminal.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().map_err(|e| {
        local_error(&format!(
            "cannot start the local sandbox runtime ({}): {e}",
            launcher.join(" ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_starts_at_a_line() {
        let dir = std::env::temp_dir().join(format!("e2b-client-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        std::fs::write(&path, "first line\nsecond line\nthird\n").unwrap();
        assert_eq!(read_tail(&path, 15), "third\n");
        assert_eq!(read_tail(&path, 1000), "first line\nsecond line\nthird\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
