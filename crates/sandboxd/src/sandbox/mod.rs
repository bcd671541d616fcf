//! Creating and destroying sandboxes. The daemon calls [`SandboxProcess::spawn`] and then only
//! talks HTTP/1.1 to the agent over [`SandboxProcess::agent_socket`]; it never resolves a path
//! inside the sandbox itself.
//!
//! INTERFACE CONTRACT (shared between the daemon and this module — change both together).
//!
//! A sandbox is a process tree in fresh user, mount, pid, net, ipc, uts and cgroup namespaces
//! whose pid 1 is the agent ([`crate::agent`]). As root, sandbox uids/gids 0..65535 map to
//! a host range of their own from [`SUBID_BASE`] on; as an ordinary user, only sandbox
//! uid/gid 1000 exists, mapped to the daemon's own ids (everything, agent included, runs as
//! `user` then). The root file system is
//! built by [`rootfs`] (with [`idmap`] for a root daemon's writable `/usr`); the fork-safe
//! launch is in [`launch`]. Confinement: [`cgroup`] (limits, freeze, kill), [`seccomp`]
//! (installed before the agent's exec), [`landlock`] (applied by the agent), [`network`]
//! (optional user-mode outbound stack). `docs/security.md` says what each one protects.

pub mod cgroup;
mod idmap;
pub mod landlock;
mod launch;
pub mod network;
pub mod pools;
mod python_env;
mod rootfs;
pub mod seccomp;

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
use cgroup::{Cgroups, SandboxCgroup};
use launch::{ChildPlan, ExecSpec, IdMode, LaunchError};
use network::{Network, SlirpHandle};

pub use cgroup::Limits;
pub use python_env::{discover as describe_python, PythonEnv};
pub use rootfs::{HOSTNAME, USER_ID};

/// First host uid/gid of the ranges sandbox ids 0..[`SUBID_COUNT`] map to when the daemon is
/// root: each live sandbox has a range of its own, `SUBID_BASE + k × SUBID_COUNT`
/// ([`pools::IdRange`]), so the kernel's per-uid accounting is per sandbox; none of these ids
/// is a real host user.
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
    /// Limits of a sandbox whose request names none.
    pub limits: Limits,
    /// What this host offers for confinement, detected once per daemon.
    pub isolation: Arc<Isolation>,
}

impl RuntimeConfig {
    /// Default limits; cgroups under `e2b-local/test` (for tests and embedders).
    pub fn new(python: PathBuf, agent: AgentLauncher, run_dir: PathBuf) -> RuntimeConfig {
        RuntimeConfig {
            python,
            agent,
            run_dir,
            limits: Limits::default(),
            isolation: Arc::new(Isolation::detect("e2b-local/test")),
        }
    }
}

/// The host's confinement facilities, as far as this daemon can use them.
#[derive(Debug)]
pub struct Isolation {
    pub cgroups: Cgroups,
    pub network: Network,
}

impl Isolation {
    /// Detects cgroups (creating `cgroup_parent` in each usable hierarchy) and the network
    /// stack, and logs what is not available.
    pub fn detect(cgroup_parent: &str) -> Isolation {
        let iso = Isolation {
            cgroups: Cgroups::detect(cgroup_parent),
            network: Network::detect(),
        };
        for m in iso.cgroups.missing() {
            tracing::warn!("sandbox limits: {m}");
        }
        iso
    }

    /// Sentences for `localNotes` about what this host cannot enforce for every sandbox.
    fn notes(&self) -> Vec<String> {
        let (memory, pids, cpu, freeze) = self.cgroups.enforced();
        let mut out = Vec::new();
        let mut not = Vec::new();
        for (ok, what) in [(memory, "memory"), (pids, "pids"), (cpu, "cpu")] {
            if !ok {
                not.push(what);
            }
        }
        if !not.is_empty() {
            out.push(format!(
                "{} limits are not enforced on this host: {}",
                not.join(", "),
                self.cgroups.missing().join("; ")
            ));
        }
        if !freeze {
            out.push("pause is not available (no freezer cgroup)".into());
        }
        out
    }
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
    /// Resource limits; `None` = [`RuntimeConfig::limits`].
    pub limits: Option<Limits>,
    /// Python interpreter whose environment the sandbox's kernels use (a local template
    /// defined as a Python environment); `None` = [`RuntimeConfig::python`].
    pub python: Option<PathBuf>,
}

impl Default for SpawnRequest {
    fn default() -> Self {
        SpawnRequest {
            sandbox_id: String::new(),
            template_id: "base".into(),
            envs: HashMap::new(),
            allow_internet_access: false,
            start_kernel: false,
            limits: None,
            python: None,
        }
    }
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
    cgroup: Option<Arc<SandboxCgroup>>,
    slirp: Option<Arc<SlirpHandle>>,
    /// Its host id range (root daemon), free for another sandbox once this is gone.
    _ids: Option<pools::IdRange>,
    limits: Limits,
    notes: Vec<String>,
}

impl SandboxProcess {
    /// Creates the sandbox and returns once its agent accepts connections on `agent_socket`.
    pub async fn spawn(
        rt: &RuntimeConfig,
        req: SpawnRequest,
    ) -> Result<SandboxProcess, SpawnError> {
        check_id(&req.sandbox_id)?;
        let t0 = std::time::Instant::now();
        let mut ids = id_mode()?;
        // Root daemon: a host id range of its own, whose first id owns the sandbox's user
        // namespace (`pools::IdRange`).
        let range = match ids {
            IdMode::Root { base, count } => {
                let range = pools::IdRange::take(base, count).ok_or_else(|| {
                    SpawnError::Setup(format!(
                        "too many sandboxes: each needs a host id range of its own, and all {} \
                         are in use",
                        pools::MAX_RANGES
                    ))
                })?;
                ids = IdMode::Root {
                    base: range.base,
                    count,
                };
                Some(range)
            }
            IdMode::Unprivileged { .. } => None,
        };
        let limits = req.limits.unwrap_or(rt.limits);
        let mut notes = rt.isolation.notes();
        let sandbox_python = req.python.clone().unwrap_or_else(|| rt.python.clone());
        let py = python_env::discover(&sandbox_python).await?;
        if req.start_kernel && !py.has_ipykernel {
            return Err(missing_ipykernel(&sandbox_python));
        }
        let mut python_binds = py.binds.clone();
        if let AgentLauncher::PythonExtension { python, .. } = &rt.agent {
            if python != &sandbox_python {
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
        let cgroup = if rt.isolation.cgroups.enforced() == (false, false, false, false) {
            None
        } else {
            Some(Arc::new(
                rt.isolation
                    .cgroups
                    .create(&req.sandbox_id, &limits)
                    .map_err(|e| SpawnError::Setup(e.to_string()))?,
            ))
        };
        let mut cgroup_guard = CgroupGuard(cgroup.clone());
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
            python: sandbox_python.clone(),
            python_has_ipykernel: py.has_ipykernel,
            kernels: py.kernels.clone(),
            user_ids: match ids {
                IdMode::Root { .. } => Some((USER_ID, USER_ID)),
                IdMode::Unprivileged { .. } => None,
            },
            memory_limit_mb: None,
        };
        let memory_events = cgroup.as_ref().and_then(|c| c.open_memory_events());
        let config = AgentConfig {
            memory_limit_mb: memory_events.as_ref().map(|_| limits.memory_mb),
            ..config
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

        // Root daemon: an idmapped /usr under a writable overlay; unprivileged: read-only.
        let usr_lower = match ids {
            IdMode::Root { base, count } => match idmap::idmapped_usr(base, count) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    tracing::warn!("sandbox {}: /usr stays read-only: {e}", req.sandbox_id);
                    notes.push(format!("/usr is read-only in this sandbox: {e}"));
                    None
                }
            },
            IdMode::Unprivileged { .. } => None,
        };
        let root = rootfs::plan(&rootfs::RootfsSpec {
            sandbox_id: &req.sandbox_id,
            template_id: &req.template_id,
            python_binds: &python_binds,
            full_id_range: matches!(ids, IdMode::Root { .. }),
            layer_mb: limits.disk_mb,
            usr_lower_fd: usr_lower.as_ref().map(|f| f.as_raw_fd()),
        })?;

        let mut keep: Vec<OwnedFd> = Vec::new();
        let mut fds: Vec<(RawFd, RawFd)> = vec![
            (devnull.as_raw_fd(), 0),
            (devnull.as_raw_fd(), 1),
            (log.as_raw_fd(), 2),
            (listener.as_raw_fd(), agent_config::LISTEN_FD),
            (config_fd.as_raw_fd(), agent_config::CONFIG_FD),
        ];
        if let Some(f) = &memory_events {
            fds.push((f.as_raw_fd(), agent_config::MEMORY_EVENTS_FD));
        }
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
            cgroup_procs: cgroup
                .as_ref()
                .map(|c| c.paths().iter().map(|p| p.join("cgroup.procs")).collect())
                .unwrap_or_default(),
            seccomp: seccomp_programs()?,
            rlimits: pools::rlimits(),
            userns_owner: range.as_ref().map(|r| r.base),
        };
        let t_setup = t0.elapsed();
        let launched = launch::launch(plan).await.map_err(launch_error)?;
        let t_launch = t0.elapsed();
        // The child has its own copies now.
        drop((
            keep,
            listener,
            config_fd,
            log,
            devnull,
            memory_events,
            usr_lower,
        ));

        let mut slirp = None;
        if req.allow_internet_access {
            if let Some(reason) = rt.isolation.network.unavailable_reason() {
                tracing::warn!(
                    "sandbox {} asked for internet access: {reason}",
                    req.sandbox_id
                );
                notes.push(format!("allow_internet_access was requested but {reason}"));
            } else {
                let network = rt.isolation.network.clone();
                let pid = launched.pid;
                match tokio::task::spawn_blocking(move || network.attach(pid)).await {
                    Ok(Ok(handle)) => slirp = handle.map(Arc::new),
                    Ok(Err(e)) => {
                        kill_and_reap(launched.pid);
                        return Err(SpawnError::Setup(format!(
                            "cannot attach the user-mode network (slirp4netns): {e}"
                        )));
                    }
                    Err(e) => {
                        kill_and_reap(launched.pid);
                        return Err(SpawnError::Setup(format!("network task failed: {e}")));
                    }
                }
            }
        }

        let t_network = t0.elapsed();
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
            cgroup,
            slirp,
            _ids: range,
            limits,
            notes,
        };
        let mut guard = guard;
        guard.0 = None; // `sandbox` owns the directory now (its Drop removes it).
        cgroup_guard.0 = None; // … and the cgroup.
        if let Err(e) = sandbox.wait_ready().await {
            let log = sandbox.agent_log_tail();
            sandbox.kill().await;
            return Err(SpawnError::Setup(if log.is_empty() {
                e
            } else {
                format!("{e}; agent log: {log}")
            }));
        }
        tracing::debug!(
            "sandbox {}: setup {:?}, launched at {:?}, network at {:?}, agent ready at {:?}",
            req.sandbox_id,
            t_setup,
            t_launch,
            t_network,
            t0.elapsed()
        );
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

    /// Kills every process of the sandbox and removes its mounts, cgroups, network helper
    /// and runtime files. Idempotent.
    pub async fn kill(&self) {
        self.signal_kill();
        self.exited().await;
        let cgroup = self.cgroup.clone();
        let slirp = self.slirp.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(s) = slirp {
                s.stop();
            }
            if let Some(c) = cgroup {
                if !c.remove_blocking(Duration::from_secs(5)) {
                    tracing::warn!("cannot remove cgroups {:?}", c.paths());
                }
            }
        })
        .await;
        self.remove_dir();
    }

    /// Resource limits this sandbox runs with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What this sandbox lacks compared with the full isolation (for `localNotes`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The sandbox's cgroup directories on the host (empty without cgroups).
    pub fn cgroup_paths(&self) -> Vec<PathBuf> {
        self.cgroup.as_ref().map(|c| c.paths()).unwrap_or_default()
    }

    /// Host pid of its slirp4netns, if it has outbound network.
    pub fn network_helper_pid(&self) -> Option<u32> {
        self.slirp.as_ref().and_then(|s| s.pid())
    }

    /// OOM kills in the sandbox so far (`None` without a memory cgroup).
    pub fn oom_kills(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(|c| c.oom_kills())
    }

    /// Freezes (pause) or thaws (resume) every process of the sandbox; memory is kept.
    pub async fn set_frozen(&self, frozen: bool) -> Result<(), String> {
        let Some(cg) = self.cgroup.clone() else {
            return Err("pausing needs a freezer cgroup, which this host does not offer".into());
        };
        tokio::task::spawn_blocking(move || cg.set_frozen(frozen))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Resolves when the sandbox's init has exited (killed, crashed or OOM).
    pub async fn exited(&self) {
        let mut rx = self.exit.clone();
        let _ = rx.wait_for(|s| s.is_some()).await;
    }

    /// The end of the agent's log (for error messages).
    pub fn agent_log_tail(&self) -> String {
        self.agent_log(2000).trim().to_string()
    }

    /// The last `max_bytes` of the agent's log (`e2b-local logs ID`).
    pub fn agent_log(&self, max_bytes: u64) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(self.sandbox_dir.join("agent.log")) else {
            return String::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(max_bytes)));
        let mut raw = Vec::new();
        let _ = f.take(max_bytes).read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// Current memory use of the sandbox's cgroup in bytes (`None` without a memory cgroup).
    pub fn memory_bytes(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(|c| c.memory_bytes())
    }

    /// CPU time its processes have used so far, in nanoseconds (`None` without cgroups).
    pub fn cpu_usage_ns(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(|c| c.cpu_usage_ns())
    }

    /// Sends SIGKILL to every process of the sandbox and returns at once; [`Self::kill`]
    /// waits for the exit and removes the rest. Idempotent.
    pub fn signal_kill(&self) {
        // v2 cgroup.kill, or SIGKILL to every member and a thaw (frozen tasks die only once
        // thawed).
        if let Some(c) = &self.cgroup {
            c.kill_all();
        }
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
        let cgroup = self.cgroup.take();
        let slirp = self.slirp.take();
        if cgroup.is_some() || slirp.is_some() {
            // Exiting tasks keep a cgroup busy for a moment; do not block the dropping thread.
            std::thread::spawn(move || {
                drop(slirp);
                if let Some(c) = cgroup {
                    c.remove_blocking(Duration::from_secs(5));
                }
            });
        }
    }
}

/// Removes a half-created sandbox's cgroups on early return.
struct CgroupGuard(Option<Arc<SandboxCgroup>>);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            std::thread::spawn(move || {
                c.kill_all();
                c.remove_blocking(Duration::from_secs(5));
            });
        }
    }
}

/// For a sandbox given up during creation: its init dies at once (SIGKILL), so the wait is
/// short.
fn kill_and_reap(pid: i32) {
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn seccomp_programs() -> Result<Vec<seccompiler::BpfProgram>, SpawnError> {
    static PROGRAMS: std::sync::OnceLock<Result<Vec<seccompiler::BpfProgram>, String>> =
        std::sync::OnceLock::new();
    PROGRAMS
        .get_or_init(seccomp::programs)
        .clone()
        .map_err(SpawnError::Setup)
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

/// The `python -I -S -c` program that loads `e2b._native` from the inherited fd, closes the
/// fd (the loaded module no longer needs it, and nothing the agent starts may reach the file)
/// and runs the agent (see `agent::run_agent`).
fn python_bootstrap() -> String {
    format!(
        "import os, sys\n\
         from importlib.machinery import ExtensionFileLoader\n\
         from importlib.util import spec_from_loader, module_from_spec\n\
         loader = ExtensionFileLoader('e2b._native', '/proc/self/fd/{fd}')\n\
         module = module_from_spec(spec_from_loader('e2b._native', loader))\n\
         loader.exec_module(module)\n\
         os.close({fd})\n\
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

/// What `e2b-local serve` checks before it starts: that sandboxes can be created on this
/// host (user namespaces) and what `python`'s environment offers. An error says what to fix.
pub async fn preflight(python: &Path) -> Result<Arc<PythonEnv>, SpawnError> {
    id_mode()?;
    python_env::discover(python).await
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
        assert!(b.find("os.close(5)") < b.find("agent_main()"));
    }
}
