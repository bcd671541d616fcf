//! The daemon's per-user state directory: the single-instance lock, the discovery file
//! (`state.json`) the SDK and the CLI read, and the records of running sandboxes that let the
//! next daemon clean up after one that crashed.
//!
//! Layout (`e2b_wire::local`): `daemon.lock` (flock held for the daemon's life), `state.json`
//! (0600, written atomically once the listener is bound, removed on clean shutdown),
//! `sandboxes/<id>.json` (init pid + its start time, one per live sandbox), `run/` (the
//! sandboxes' runtime directories, [`crate::sandbox::RuntimeConfig::run_dir`]).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use e2b_wire::local::{LocalState, DAEMON_LOCK, STATE_FILE};
use serde::{Deserialize, Serialize};

const SANDBOX_RECORDS: &str = "sandboxes";

/// Creates `dir` (and parents) with mode 0700, or checks an existing one: it must belong to
/// us; group/other permission bits are removed.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let meta = fs::metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?;
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        bail!(
            "{} belongs to uid {}, not to the current user (uid {uid}); remove it or set \
             E2B_LOCAL_STATE_DIR to a directory of your own",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot chmod 0700 {}", dir.display()))?;
    }
    Ok(())
}

/// The state directory, owned by the running daemon (the exclusive lock is held while this
/// value lives).
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    lock: std::sync::Mutex<Option<File>>,
}

impl StateDir {
    /// Creates the directory (0700) and takes the exclusive, non-blocking `daemon.lock`.
    /// Fails with a message naming the running daemon if another one holds it.
    pub fn acquire(path: &Path) -> Result<StateDir> {
        ensure_private_dir(path)?;
        let lock_path = path.join(DAEMON_LOCK);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        // std opens files O_CLOEXEC, so sandboxes started later do not inherit the lock.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let who = match read_state(path) {
                    Some(s) => format!(" (pid {}, {})", s.pid, s.url),
                    None => String::new(),
                };
                bail!(
                    "another sandboxd is already running for this user{who}: {} is locked. \
                     Use `e2b-local status` / `e2b-local stop`.",
                    lock_path.display()
                );
            }
            return Err(err).with_context(|| format!("cannot lock {}", lock_path.display()));
        }
        let _ = lock.set_len(0);
        let _ = writeln!(&lock, "{}", std::process::id());
        Ok(StateDir {
            path: path.to_path_buf(),
            lock: std::sync::Mutex::new(Some(lock)),
        })
    }

    /// Releases `daemon.lock` (at the end of shutdown; tasks may still hold this value).
    pub fn release(&self) {
        if let Some(file) = self.lock.lock().unwrap().take() {
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `state.json` atomically (temporary file created 0600, then renamed).
    pub fn write_state(&self, state: &LocalState) -> Result<()> {
        let data = serde_json::to_vec_pretty(state)?;
        write_private_atomic(&self.path.join(STATE_FILE), &data)
    }

    pub fn remove_state(&self) {
        let path = self.path.join(STATE_FILE);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }

    fn records_dir(&self) -> PathBuf {
        self.path.join(SANDBOX_RECORDS)
    }

    /// Remembers a live sandbox's init so that a later daemon can kill it if this one dies.
    pub fn record_sandbox(&self, id: &str, init_pid: i32) {
        let record = SandboxRecord {
            id: id.to_string(),
            init_pid,
            start_time: process_start_time(init_pid),
        };
        let dir = self.records_dir();
        let result = ensure_private_dir(&dir).and_then(|()| {
            write_private_atomic(
                &dir.join(format!("{id}.json")),
                &serde_json::to_vec(&record)?,
            )
        });
        if let Err(e) = result {
            tracing::warn!("cannot record sandbox {id}: {e:#}");
        }
    }

    pub fn forget_sandbox(&self, id: &str) {
        let _ = fs::remove_file(self.records_dir().join(format!("{id}.json")));
    }

    /// Kills the sandboxes a previous daemon left behind (it crashed or was SIGKILLed) and
    /// removes their leftover runtime directories. Returns one line per action, for the log.
    pub fn reap_leftovers(&self, run_dir: &Path) -> Vec<String> {
        let mut report = Vec::new();
        if let Ok(entries) = fs::read_dir(self.records_dir()) {
            for entry in entries.flatten() {
                let path = entry.path();
                let record = e2b_wire::local::read_state_file(&path)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<SandboxRecord>(&raw).ok());
                if let Some(rec) = record {
                    let alive = rec.init_pid > 1
                        && rec.start_time.is_some()
                        && process_start_time(rec.init_pid) == rec.start_time;
                    if alive {
                        unsafe { libc::kill(rec.init_pid, libc::SIGKILL) };
                        let gone = wait_gone(rec.init_pid, rec.start_time, Duration::from_secs(3));
                        report.push(format!(
                            "killed sandbox {} left running by a previous daemon (init pid {}{})",
                            rec.id,
                            rec.init_pid,
                            if gone { "" } else { ", still exiting" }
                        ));
                    } else {
                        report.push(format!(
                            "sandbox {} of a previous daemon is no longer running",
                            rec.id
                        ));
                    }
                }
                let _ = fs::remove_file(&path);
            }
        }
        if let Ok(entries) = fs::read_dir(run_dir) {
            let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            for entry in entries.flatten() {
                let path = entry.path();
                if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                // Never delete through a mount: a bind mount could lead to host files.
                if has_mount_under(&mounts, &path) {
                    report.push(format!(
                        "left {} in place: something is still mounted under it",
                        path.display()
                    ));
                    continue;
                }
                match fs::remove_dir_all(&path) {
                    Ok(()) => report.push(format!(
                        "removed leftover sandbox directory {}",
                        path.display()
                    )),
                    Err(e) => report.push(format!("cannot remove {}: {e}", path.display())),
                }
            }
        }
        report
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SandboxRecord {
    id: String,
    #[serde(rename = "initPid")]
    init_pid: i32,
    /// Start time of the process in clock ticks since boot (`/proc/<pid>/stat` field 22), to
    /// tell the sandbox's init from an unrelated process that reused its pid.
    #[serde(rename = "startTime")]
    start_time: Option<u64>,
}

/// Reads `state.json` from `dir`; `None` if it is missing or unreadable.
pub fn read_state(dir: &Path) -> Option<LocalState> {
    let raw = e2b_wire::local::read_state_file(&dir.join(STATE_FILE)).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Whether a process with this pid exists (signal 0).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts with field 3 (state); starttime is field 22.
    let state = rest.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn wait_gone(pid: i32, start_time: Option<u64>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if process_start_time(pid) != start_time {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn has_mount_under(mountinfo: &str, dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    mountinfo.lines().any(|line| {
        // Field 5 is the mount point, with spaces etc. octal-escaped.
        line.split(' ').nth(4).is_some_and(|mp| {
            let mp = mp.replace("\\040", " ");
            mp == dir || mp.starts_with(&format!("{dir}/"))
        })
    })
}

pub(crate) fn write_private_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, path).with_context(|| format!("cannot rename to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert!(pid_alive(me));
    }

    #[test]
    fn mount_detection() {
        let info = "36 35 98:0 / /mnt/run/abc/root rw - ext3 /dev/root rw\n";
        assert!(has_mount_under(info, Path::new("/mnt/run/abc")));
        assert!(!has_mount_under(info, Path::new("/mnt/run/ab")));
    }
}
