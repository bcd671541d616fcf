//! Creating and destroying sandboxes. The daemon calls [`SandboxProcess::spawn`] and then only
//! talks HTTP/1.1 to the agent over [`SandboxProcess::agent_socket`]; it never resolves a path
//! inside the sandbox itself.
//!
//! INTERFACE CONTRACT (shared between the daemon and this module — change both together).
//!
//! A sandbox is a process tree in fresh user, mount, pid, net, ipc, uts and cgroup namespaces
//! whose pid 1 is the agent ([`crate::agent`]). As root, sandbox uids/gids 0..65535 map to
//! host [`SUBID_BASE`]..; as an ordinary user, only sandbox uid/gid 1000 exists, mapped to the
//! daemon's own ids (everything, agent included, runs as `user` then). The root file system is
//! built by [`rootfs`]; the fork-safe launch is in [`launch`].

mod launch;
mod python_env;
mod rootfs;

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::agent::config::{self as agent_config, AgentConfig};
use launch::{ChildPlan, ExecSpec, IdMode, LaunchError};

pub use python_env::PythonEnv;
pub use rootfs::{HOSTNAME, USER_ID};

/// First host uid/gid of the range sandbox ids 0..[`SUBID_COUNT`] map to when the daemon is
/// root. Every sandbox shares the range: they cannot reach each other's processes, files or
/// sockets (separate pid, mount, net and ipc namespaces), and none of these ids is a real
/// host user.
pub const SUBID_BASE: u32 = 100_000;
/// Size of that range.
pub const SUBID_COUNT: u32 = 65_536;

/// How long the agent may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start the in-sandbox agent process (exec'd inside the sandbox after pivot_root).
#[derive(Debug, Clone)]
pub enum AgentLauncher {
    /// A standalone executable that runs the agent when given the argument `__agent`
    /// (the `sandboxd` binary itself: `std::env::current_exe()`).
    Executable(PathBuf),
    /// A Python interpreter plus the path of the `e2b._native` extension module; the agent is
    /// started as a minimal Python process that loads the extension and calls its agent entry.
    PythonExtension { python: PathBuf, extension: PathBuf },
}

/// Daemon-wide runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Python interpreter whose environment provides the kernels (`ipykernel`) — normally the
    /// interpreter of the SDK that started the daemon (a virtualenv's `bin/python` is fine).
    pub python: PathBuf,
    /// How to start the agent.
    pub agent: AgentLauncher,
    /// Host directory (0700) under which each sandbox gets a private runtime directory.
    pub run_dir: PathBuf,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// 20 characters of `[a-z0-9]`.
    pub sandbox_id: String,
    pub template_id: String,
    /// Global environment of the sandbox: create-time `envVars` plus `E2B_SANDBOX=true`,
    /// `E2B_SANDBOX_ID`, `E2B_TEMPLATE_ID` (the daemon fills those in).
    pub envs: HashMap<String, String>,
    pub allow_internet_access: bool,
    /// Start the default Python kernel right away (code-interpreter templates), so the first
    /// `run_code` does not pay the kernel start.
    pub start_kernel: bool,
}

/// Why a sandbox could not be created; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The host lacks something (user namespaces, ipykernel, …).
    #[error("{0}")]
    Unsupported(String),
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running sandbox. Dropping it kills the sandbox (as [`SandboxProcess::kill`], without
/// waiting).
#[derive(Debug)]
pub struct SandboxProcess {
    init_pid: i32,
    agent_socket: PathBuf,
    sandbox_dir: PathBuf,
    pidfd: Arc<OwnedFd>,
    exit: watch::Receiver<Option<i32>>,
    removed: Mutex<bool>,
}

impl SandboxProcess {
    /// Creates the sandbox and returns once its agent accepts connections on `agent_socket`.
    pub async fn spawn(
        rt: &RuntimeConfig,
        req: SpawnRequest,
    ) -> Result<SandboxProcess, SpawnError> {
        check_id(&req.sandbox_id)?;
        let ids = id_mode()?;
        let py = python_env::discover(&rt.python).await?;
        if req.start_kernel && !py.has_ipykernel {
            return Err(missing_ipykernel(&rt.python));
        }
        let mut python_binds = py.binds.clone();
        if let AgentLauncher::PythonExtension { python, .. } = &rt.agent {
            if python != &rt.python {
                python_binds.extend(python_env::discover(python).await?.binds.iter().cloned());
                python_binds = python_env::minimal_binds(python_binds.iter().map(|p| p.as_path()))?;
            }
        }

        let sandbox_dir = rt.run_dir.join(&req.sandbox_id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&sandbox_dir)
            .map_err(|e| {
                SpawnError::Setup(format!(
                    "cannot create the sandbox directory {}: {e}",
                    sandbox_dir.display()
                ))
            })?;
        let guard = DirGuard(Some(sandbox_dir.clone()));
        let agent_socket = sandbox_dir.join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&agent_socket).map_err(|e| {
            SpawnError::Setup(format!(
                "cannot listen on {} ({e}); unix socket paths are limited to 107 bytes, so \
                 the run directory needs a shorter path",
                agent_socket.display()
            ))
        })?;

        let config = AgentConfig {
            sandbox_id: req.sandbox_id.clone(),
            template_id: req.template_id.clone(),
            envs: req.envs.into_iter().collect(),
            start_kernel: req.start_kernel,
            python: rt.python.clone(),
            python_has_ipykernel: py.has_ipykernel,
            user_ids: match ids {
                IdMode::Root { .. } => Some((USER_ID, USER_ID)),
                IdMode::Unprivileged { .. } => None,
            },
        };
        let config_fd = memfd_with(&serde_json::to_vec(&config).expect("config serialises"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(sandbox_dir.join("agent.log"))?;
        let devnull = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/null")?;

        let root = rootfs::plan(&rootfs::RootfsSpec {
            sandbox_id: &req.sandbox_id,
            template_id: &req.template_id,
            python_binds: &python_binds,
            full_id_range: matches!(ids, IdMode::Root { .. }),
        })?;

        let mut keep: Vec<OwnedFd> = Vec::new();
        let mut fds: Vec<(RawFd, RawFd)> = vec![
            (devnull.as_raw_fd(), 0),
            (devnull.as_raw_fd(), 1),
            (log.as_raw_fd(), 2),
            (listener.as_raw_fd(), agent_config::LISTEN_FD),
            (config_fd.as_raw_fd(), agent_config::CONFIG_FD),
        ];
        let mut envp = vec![
            cstring("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            cstring("LANG=C.UTF-8"),
            cstring("HOME=/root"),
            cstring(format!("{}=1", agent_config::AGENT_ENV)),
        ];
        if let Some(filter) = std::env::var_os("RUST_LOG") {
            let mut v = b"RUST_LOG=".to_vec();
            v.extend_from_slice(filter.as_bytes());
            envp.push(cstring(v));
        }
        let exec = match &rt.agent {
            AgentLauncher::Executable(path) => {
                let file = open_flags(path, libc::O_PATH | libc::O_CLOEXEC).map_err(|e| {
                    SpawnError::Unsupported(format!(
                        "cannot open the agent executable {}: {e}",
                        path.display()
                    ))
                })?;
                let fd = file.as_raw_fd();
                keep.push(file);
                ExecSpec {
                    fd: Some(fd),
                    path: cstring(path.as_os_str().as_bytes()),
                    argv: vec![cstring("sandboxd"), cstring("__agent")],
                    envp,
                }
            }
            AgentLauncher::PythonExtension { python, extension } => {
                let file =
                    open_flags(extension, libc::O_RDONLY | libc::O_CLOEXEC).map_err(|e| {
                        SpawnError::Unsupported(format!(
                            "cannot open the extension module {}: {e}",
                            extension.display()
                        ))
                    })?;
                fds.push((file.as_raw_fd(), agent_config::EXTENSION_FD));
                keep.push(file);
                ExecSpec {
                    fd: None,
                    path: cstring(python.as_os_str().as_bytes()),
                    argv: vec![
                        cstring(python.as_os_str().as_bytes()),
                        cstring("-I"),
                        cstring("-S"),
                        cstring("-c"),
                        cstring(python_bootstrap()),
                    ],
                    envp,
                }
            }
        };
        let plan = ChildPlan {
            ids,
            opens: root.opens,
            steps: root.steps,
            fds,
            exec,
        };
        let launched = launch::launch(plan).await.map_err(launch_error)?;
        // The child has its own copies now.
        drop((keep, listener, config_fd, log, devnull));

        let (exit_tx, exit) = watch::channel(None);
        let pidfd = Arc::new(launched.pidfd);
        tokio::spawn(reap_when_exited(pidfd.clone(), launched.pid, exit_tx));
        let sandbox = SandboxProcess {
            init_pid: launched.pid,
            agent_socket,
            sandbox_dir,
            pidfd,
            exit,
            removed: Mutex::new(false),
        };
        let mut guard = guard;
        guard.0 = None; // `sandbox` owns the directory now (its Drop removes it).
        if let Err(e) = sandbox.wait_ready().await {
            let log = sandbox.agent_log_tail();
            sandbox.kill().await;
            return Err(SpawnError::Setup(if log.is_empty() {
                e
            } else {
                format!("{e}; agent log: {log}")
            }));
        }
        Ok(sandbox)
    }

    /// Host pid of the sandbox's init (pid 1 inside).
    pub fn init_pid(&self) -> i32 {
        self.init_pid
    }

    /// Unix socket (host path) on which the agent serves HTTP/1.1. Requests carry the
    /// `E2b-Sandbox-Port` header (49983 envd, 49999 code interpreter) to select the service.
    pub fn agent_socket(&self) -> &Path {
        &self.agent_socket
    }

    /// The sandbox's private host directory (agent socket, agent log).
    pub fn sandbox_dir(&self) -> &Path {
        &self.sandbox_dir
    }

    /// Exit status of the init (`waitpid` encoding), once it has exited.
    pub fn exit_status(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    /// Kills every process of the sandbox and removes its mounts and runtime files.
    /// Idempotent.
    pub async fn kill(&self) {
        self.signal_kill();
        self.exited().await;
        self.remove_dir();
    }

    /// Resolves when the sandbox's init has exited (killed, crashed or OOM).
    pub async fn exited(&self) {
        let mut rx = self.exit.clone();
        let _ = rx.wait_for(|s| s.is_some()).await;
    }

    /// The end of the agent's log (for error messages).
    pub fn agent_log_tail(&self) -> String {
        let raw = std::fs::read(self.sandbox_dir.join("agent.log")).unwrap_or_default();
        let start = raw.len().saturating_sub(2000);
        String::from_utf8_lossy(&raw[start..]).trim().to_string()
    }

    fn signal_kill(&self) {
        // Killing pid 1 of a pid namespace kills every process in it. The pidfd cannot hit a
        // recycled pid.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }

    fn remove_dir(&self) {
        let mut removed = self.removed.lock().unwrap();
        if !*removed {
            *removed = true;
            if let Err(e) = std::fs::remove_dir_all(&self.sandbox_dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cannot remove {}: {e}", self.sandbox_dir.display());
                }
            }
        }
    }

    /// Sends `GET /health` to the agent until it answers (or the sandbox dies).
    async fn wait_ready(&self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        tokio::select! {
            r = health_check(&self.agent_socket) => r,
            _ = self.exited() => Err(format!(
                "the sandbox agent exited during startup ({})",
                describe_status(self.exit_status().unwrap_or(0))
            )),
            _ = tokio::time::sleep_until(deadline) => Err(format!(
                "the sandbox agent did not answer within {} s",
                READY_TIMEOUT.as_secs()
            )),
        }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        self.signal_kill();
        self.remove_dir();
    }
}

/// Removes a half-created sandbox directory on early return.
struct DirGuard(Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn reap_when_exited(pidfd: Arc<OwnedFd>, pid: i32, tx: watch::Sender<Option<i32>>) {
    // SAFETY: the Arc keeps the pidfd open for as long as the AsyncFd lives.
    match unsafe { AsyncFd::register_with_interest(pidfd.clone(), tokio::io::Interest::READABLE) } {
        Ok(afd) => {
            let _ = afd.readable().await;
        }
        Err(e) => {
            // Cannot happen with a pidfd; fall back to polling.
            tracing::warn!("cannot watch sandbox init {pid}: {e}");
            while unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let mut status = 0;
    // The init has exited, so this does not block.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    let _ = tx.send(Some(if r == pid { status } else { 0 }));
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    }
}

async fn health_check(socket: &Path) -> Result<(), String> {
    let mut stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot connect to the agent socket: {e}"))?;
    stream
        .write_all(
            b"GET /health HTTP/1.1\r\nHost: sandbox\r\nE2b-Sandbox-Port: 49983\r\nConnection: close\r\n\r\n",
        )
        .await
        .map_err(|e| format!("cannot talk to the agent: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    stream
        .read_to_end(&mut buf)
        .await
        .map_err(|e| format!("cannot read the agent's answer: {e}"))?;
    if buf.starts_with(b"HTTP/1.1 204") || buf.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer from the agent: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ))
    }
}

fn cstring(s: impl Into<Vec<u8>>) -> CString {
    CString::new(s).expect("no NUL in arguments")
}

fn open_flags(path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    Ok(f.into())
}

fn memfd_with(contents: &[u8]) -> std::io::Result<std::fs::File> {
    let fd = unsafe { libc::memfd_create(c"e2b-agent-config".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(contents)?;
    f.rewind()?;
    Ok(f)
}

/// The `python -I -S -c` program that loads `e2b._native` from the inherited fd and runs the
/// agent (see `agent::run_agent`).
fn python_bootstrap() -> String {
    format!(
        "import sys\n\
         from importlib.machinery import ExtensionFileLoader\n\
         from importlib.util import spec_from_loader, module_from_spec\n\
         loader = ExtensionFileLoader('e2b._native', '/proc/self/fd/{fd}')\n\
         module = module_from_spec(spec_from_loader('e2b._native', loader))\n\
         loader.exec_module(module)\n\
         sys.exit(module.agent_main())\n",
        fd = agent_config::EXTENSION_FD
    )
}

fn check_id(id: &str) -> Result<(), SpawnError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SpawnError::Setup(format!("invalid sandbox id {id:?}")))
    }
}

fn missing_ipykernel(python: &Path) -> SpawnError {
    SpawnError::Unsupported(format!(
        "ipykernel is not installed for {}; install it with `pip install 'e2b[local]'` \
         (or `pip install ipykernel`) in that environment",
        python.display()
    ))
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Decides the id mapping and checks, once, that user namespaces can work here.
fn id_mode() -> Result<IdMode, SpawnError> {
    let euid = unsafe { libc::geteuid() };
    let egid = unsafe { libc::getegid() };
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err(SpawnError::Unsupported(
            "user namespaces are disabled on this host (user.max_user_namespaces = 0); enable \
             them with `sysctl -w user.max_user_namespaces=15000`"
                .into(),
        ));
    }
    if euid == 0 {
        return Ok(IdMode::Root {
            base: SUBID_BASE,
            count: SUBID_COUNT,
        });
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(SpawnError::Unsupported(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); \
             enable them with `sysctl -w kernel.unprivileged_userns_clone=1`, or run the \
             daemon as root"
                .into(),
        ));
    }
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return Err(SpawnError::Unsupported(
            "AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns = 1); allow them with \
             `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run the daemon as \
             root"
                .into(),
        ));
    }
    Ok(IdMode::Unprivileged {
        inside: USER_ID,
        uid: euid,
        gid: egid,
    })
}

fn launch_error(e: LaunchError) -> SpawnError {
    match &e {
        LaunchError::Clone(io)
            if matches!(
                io.raw_os_error(),
                Some(libc::EPERM) | Some(libc::ENOSPC) | Some(libc::EINVAL) | Some(libc::EUSERS)
            ) =>
        {
            SpawnError::Unsupported(format!(
                "{e}. This host does not let the daemon create user namespaces: check \
                 `sysctl user.max_user_namespaces` (must be > 0), \
                 `kernel.unprivileged_userns_clone` (1) and \
                 `kernel.apparmor_restrict_unprivileged_userns` (0), or that no seccomp \
                 profile (e.g. a container's) blocks clone3/unshare"
            ))
        }
        _ => SpawnError::Setup(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("abc123").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("../etc").is_err());
        assert!(check_id("a/b").is_err());
    }

    #[test]
    fn bootstrap_uses_the_extension_fd() {
        let b = python_bootstrap();
        assert!(b.contains("/proc/self/fd/5"));
        assert!(b.contains("agent_main()"));
    }
}
