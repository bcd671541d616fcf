//! One running Jupyter kernel process and our ZMQ connection to it.
//!
//! The kernel runs as the sandbox user in its own process group, with a clean environment
//! (PATH, HOME, USER, LANG and the sandbox's global envs), its context's working directory,
//! and a connection file in a private directory under [`KERNELS_DIR`] naming either `ipc`
//! sockets in that directory or TCP ports on the sandbox's own loopback (see
//! [`Transport`]). Our ZMQ sockets reach those endpoints through size-filtering relays
//! (`relay.rs`): the kernel runs user code, so its messages are bounded before the `zeromq`
//! crate buffers them. Its original stderr goes to a pipe of which we keep only the tail (for
//! startup errors); kernels forward user output over iopub themselves.

use std::collections::VecDeque;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use super::catalog::{InterruptMode, Launch, Transport, CONNECTION_FILE};
use super::relay::{Relay, Target};
use super::wire::{self, Incoming, Session, WireError};
use crate::agent::reaper::{describe_status, Reaper};

/// Parent of every kernel's private directory (on the sandbox's `/run` tmpfs).
pub const KERNELS_DIR: &str = "/run/agent/kernels";
/// Our IPython startup code and its directory (readable by the user; see
/// `ipython_startup.py`).
const IPYTHON_DIR: &str = "/run/agent/ipython";
const IPYTHON_STARTUP: &str = "/run/agent/ipython/e2b_startup.py";
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on undelivered messages per channel; beyond it we stop reading the socket and the
/// kernel's own high-water mark applies.
const CHANNEL_DEPTH: usize = 64;
const STDERR_TAIL: usize = 8192;
/// Bytes of iopub messages a kernel may have in flight inside the agent (read from the
/// socket but not yet written to a client). A message larger than this takes the whole
/// budget. Together with the channel depths this bounds the agent's memory under a print
/// loop by bytes, not only by message count (ipykernel batches output into messages of
/// arbitrary size).
const OUTPUT_BUDGET: usize = 8 << 20;

/// What every kernel of this sandbox shares.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    pub python: PathBuf,
    pub has_ipykernel: bool,
    /// Other kernels the Python environment offers.
    pub catalog: super::catalog::KernelCatalog,
    pub envs: Vec<(String, String)>,
    pub user_ids: Option<(u32, u32)>,
}

/// A started kernel. Dropping it kills the kernel's process group.
pub struct Kernel {
    pub pid: i32,
    /// The kernel's exit, once reaped.
    pub exit: ExitWatch,
    pub session: Session,
    shell_tx: zeromq::DealerSendHalf,
    /// Control channel, for kernels interrupted by message.
    control_tx: Option<zeromq::DealerSendHalf>,
    interrupt_mode: InterruptMode,
    /// The size filters our sockets connect through (see `relay.rs`).
    relays: Relays,
    /// Sizes of kernel messages dropped for being too large (by a relay or the decoder).
    pub dropped_rx: mpsc::Receiver<u64>,
    dropped_tx: mpsc::Sender<u64>,
    /// Replies on the shell channel.
    pub shell_rx: mpsc::Receiver<Incoming>,
    /// Broadcasts on the iopub channel.
    pub iopub_rx: mpsc::Receiver<Incoming>,
    dir: PathBuf,
    /// "the Python kernel (ipykernel)", for messages.
    pub display: String,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    tasks: Vec<JoinHandle<()>>,
    iopub_task: Option<JoinHandle<()>>,
    killed: bool,
}

impl Kernel {
    /// Starts a kernel named `name` (its directory) in `cwd` and waits until it answers on
    /// shell and publishes on iopub.
    pub async fn start(
        spec: &KernelSpec,
        launch: &Launch,
        reaper: &Reaper,
        name: &str,
        cwd: &str,
    ) -> Result<Kernel, String> {
        if launch.ipython && !spec.has_ipykernel {
            return Err(missing_ipykernel(&spec.python));
        }
        let dir = Path::new(KERNELS_DIR).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(KERNELS_DIR)
            .map_err(|e| format!("cannot create {KERNELS_DIR}: {e}"))?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let key = wire::random_key();
        let (conn, endpoints) = connection(&dir, launch.transport, &key, &launch.kernel_name)?;
        let conn_path = dir.join("kernel.json");
        std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&conn_path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, conn.to_string().as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", conn_path.display()))?;
        if let Some((uid, gid)) = spec.user_ids {
            for p in [&dir, &conn_path] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .map_err(|e| format!("cannot chown {}: {e}", p.display()))?;
            }
        }

        let conn_str = conn_path.to_string_lossy();
        let mut argv = launch
            .argv
            .iter()
            .map(|a| a.replace(CONNECTION_FILE, &conn_str));
        let program = argv.next().ok_or("empty kernel command line")?;
        let mut cmd = std::process::Command::new(&program);
        cmd.args(argv);
        if launch.ipython {
            cmd.args([
                "--IPKernelApp.quiet=True",
                "--InteractiveShell.colors=NoColor",
                "--PlainTextFormatter.max_seq_length=0",
                "--HistoryManager.enabled=False",
            ]);
            if let Some(line) = ipython_startup_line() {
                cmd.arg(format!("--IPKernelApp.exec_lines={line}"));
            }
        }
        cmd.env_clear()
            .envs(base_env(&spec.python, cwd))
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .envs(spec.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = spec.user_ids {
            cmd.uid(uid).gid(gid);
        }
        // Only stdin/stdout/stderr reach the kernel (and the user code it runs).
        crate::fds::inherit_only(&mut cmd, 3);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && !Path::new(cwd).is_dir() {
                format!(
                    "cannot start {} in {cwd}: no such directory",
                    launch.display
                )
            } else {
                format!("cannot start {} ({program}) in {cwd}: {e}", launch.display)
            }
        })?;
        let pid = child.id() as i32;
        // No await between spawn and watch (see Reaper::watch).
        let mut exit = reaper.watch(pid);
        let mut guard = StartGuard {
            pid: Some(pid),
            dir: Some(dir.clone()),
        };
        let stderr: Arc<Mutex<VecDeque<u8>>> = Default::default();
        let mut tasks = Vec::new();
        if let Some(pipe) = child.stderr.take() {
            tasks.push(tokio::spawn(keep_tail(pipe, stderr.clone())));
        }
        let session = Session::new(key.into_bytes());
        let tail = |stderr: &Arc<Mutex<VecDeque<u8>>>| {
            let t = stderr.lock().unwrap();
            let (a, b) = t.as_slices();
            String::from_utf8_lossy(&[a, b].concat()).trim().to_string()
        };
        let (dropped_tx, dropped_rx) = mpsc::channel(8);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let with_control = launch.interrupt == InterruptMode::Message;
        let connected = tokio::select! {
            r = connect_and_handshake(&endpoints, &session, with_control, &dropped_tx) => r,
            status = &mut exit => {
                guard.pid = None; // already gone
                // Let the stderr reader drain what the kernel printed on its way out.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let tail = tail(&stderr);
                return Err(if launch.ipython && tail.contains("No module named ipykernel") {
                    missing_ipykernel(&spec.python)
                } else {
                    format!(
                        "{} exited during startup ({}): {tail}",
                        launch.display,
                        describe_status(status.unwrap_or(0)),
                    )
                });
            }
            _ = tokio::time::sleep_until(deadline) => Err(format!(
                "{} did not start within {} s: {}",
                launch.display,
                START_TIMEOUT.as_secs(),
                tail(&stderr)
            )),
        };
        let c = connected?;
        tasks.extend(c.tasks);
        guard.pid = None;
        guard.dir = None;
        Ok(Kernel {
            pid,
            exit: ExitWatch {
                rx: exit,
                status: None,
            },
            session,
            shell_tx: c.shell_tx,
            control_tx: c.control_tx,
            interrupt_mode: launch.interrupt,
            relays: c.relays,
            dropped_rx,
            dropped_tx,
            shell_rx: c.shell_rx,
            iopub_rx: c.iopub_rx,
            dir,
            display: launch.display.clone(),
            stderr,
            tasks,
            iopub_task: Some(c.iopub_task),
            killed: false,
        })
    }

    /// Sends a request on the shell channel; returns its msg_id.
    pub async fn send_shell(
        &mut self,
        msg_type: &str,
        content: &(impl serde::Serialize + ?Sized),
    ) -> Result<String, String> {
        let (id, frames) = self.session.request(msg_type, content);
        let msg = ZmqMessage::try_from(frames).expect("frames are never empty");
        self.shell_tx
            .send(msg)
            .await
            .map_err(|e| format!("cannot send to the kernel: {e}"))?;
        Ok(id)
    }

    /// Sends `execute_request`.
    pub async fn execute(&mut self, code: &str, silent: bool) -> Result<String, String> {
        // Serialised straight from the borrowed code (a `json!` value would copy it once more).
        #[derive(serde::Serialize)]
        struct ExecuteRequest<'a> {
            code: &'a str,
            silent: bool,
            store_history: bool,
            user_expressions: serde_json::Map<String, Value>,
            allow_stdin: bool,
            stop_on_error: bool,
        }
        let content = ExecuteRequest {
            code,
            silent,
            store_history: !silent,
            user_expressions: serde_json::Map::new(),
            allow_stdin: false,
            stop_on_error: !silent,
        };
        self.send_shell("execute_request", &content).await
    }

    /// Interrupts the running cell: SIGINT (ipykernel turns it into KeyboardInterrupt and
    /// ignores it while idle) or an `interrupt_request` on the control channel, as the kernel
    /// wants.
    pub async fn interrupt(&mut self) {
        if self.killed || self.exit.has_exited() {
            return;
        }
        match (self.interrupt_mode, self.control_tx.as_mut()) {
            (InterruptMode::Message, Some(control)) => {
                let (_, frames) = self.session.request("interrupt_request", &json!({}));
                let msg = ZmqMessage::try_from(frames).expect("frames are never empty");
                let send = control.send(msg);
                if !matches!(
                    tokio::time::timeout(Duration::from_secs(1), send).await,
                    Ok(Ok(()))
                ) {
                    tracing::warn!("cannot send interrupt_request to {}", self.display);
                }
            }
            _ => unsafe {
                libc::kill(self.pid, libc::SIGINT);
            },
        }
    }

    /// Replaces the iopub subscription. Closing the old one makes the kernel discard whatever
    /// it still had queued for us (up to its high-water mark of messages), so after an
    /// abandoned print loop the next execution does not first wade through its backlog.
    pub async fn resubscribe(&mut self) -> Result<(), String> {
        if let Some(t) = self.iopub_task.take() {
            t.abort();
        }
        let (rx, task) = open_iopub(
            &self.relays.iopub.endpoint,
            &self.session,
            self.dropped_tx.clone(),
        )
        .await?;
        self.iopub_rx = rx;
        self.iopub_task = Some(task);
        let sync = sync_channels(
            &self.session,
            &mut self.shell_tx,
            &mut self.shell_rx,
            &mut self.iopub_rx,
        );
        match tokio::time::timeout(Duration::from_secs(10), sync).await {
            Ok(r) => r,
            Err(_) => Err("the kernel did not answer after resubscribing".into()),
        }
    }

    /// Kills the kernel without waiting: used when its channels break, so that its exit
    /// (observed through [`ExitWatch`]) ends whatever was waiting on it.
    pub fn terminate(&mut self) {
        self.kill_now();
    }

    /// Kills the kernel's process group and waits (briefly) for it to be reaped.
    pub async fn kill(mut self) {
        self.kill_now();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.exit.wait()).await;
    }

    fn kill_now(&mut self) {
        if self.exit.has_exited() {
            // Its children may live on in the group; the pid itself may be recycled.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
            self.killed = true;
        }
        if !self.killed {
            self.killed = true;
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }

    /// The end of what the kernel wrote to its original stderr.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap();
        let (a, b) = tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }
}

/// The kernel's exit status, awaitable any number of times (cancel-safe).
pub struct ExitWatch {
    rx: oneshot::Receiver<i32>,
    status: Option<i32>,
}

impl ExitWatch {
    /// Resolves with the wait status once the kernel has exited.
    pub async fn wait(&mut self) -> i32 {
        if let Some(s) = self.status {
            return s;
        }
        let s = (&mut self.rx).await.unwrap_or(0);
        self.status = Some(s);
        s
    }

    pub fn has_exited(&self) -> bool {
        self.status.is_some()
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.kill_now();
        for t in self.tasks.iter().chain(&self.iopub_task) {
            t.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn missing_ipykernel(python: &Path) -> String {
    format!(
        "ipykernel is not installed for {}; install it with `pip install 'e2b[local]'` (or \
         `pip install ipykernel`) in that environment",
        python.display()
    )
}

fn base_env(python: &Path, cwd: &str) -> Vec<(String, String)> {
    let mut path = String::new();
    if let Some(bin) = python.parent() {
        path.push_str(&bin.to_string_lossy());
        path.push(':');
    }
    path.push_str("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    [
        ("PATH", path.as_str()),
        ("HOME", "/home/user"),
        ("USER", "user"),
        ("LOGNAME", "user"),
        ("SHELL", "/bin/bash"),
        ("LANG", "C.UTF-8"),
        ("PWD", cwd),
        ("PYDEVD_DISABLE_FILE_VALIDATION", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Where the kernel listens, and how to tell that it does.
#[derive(Debug, Clone)]
struct Endpoints {
    shell: Target,
    iopub: Target,
    control: Target,
    /// Shell and iopub, which must both be listening before we connect.
    probes: [Probe; 2],
}

/// Our relays to the kernel's sockets (control only for kernels interrupted by message).
struct Relays {
    shell: Relay,
    iopub: Relay,
    control: Option<Relay>,
}

#[derive(Debug, Clone)]
enum Probe {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// The connection file's JSON and our endpoints for it.
fn connection(
    dir: &Path,
    transport: Transport,
    key: &str,
    kernel_name: &str,
) -> Result<(Value, Endpoints), String> {
    match transport {
        Transport::Ipc => {
            // libzmq kernels bind `ipc://{ip}-{port}`.
            let ip = dir.join("k");
            let at = |port: u16| Target::Unix(dir.join(format!("k-{port}")));
            let conn = json!({
                "transport": "ipc",
                "ip": ip,
                "shell_port": 1,
                "iopub_port": 2,
                "stdin_port": 3,
                "control_port": 4,
                "hb_port": 5,
                "key": key,
                "signature_scheme": "hmac-sha256",
                "kernel_name": kernel_name,
            });
            let endpoints = Endpoints {
                shell: at(1),
                iopub: at(2),
                control: at(4),
                probes: [Probe::Unix(dir.join("k-1")), Probe::Unix(dir.join("k-2"))],
            };
            Ok((conn, endpoints))
        }
        Transport::Tcp => {
            // Free ports of the sandbox's own loopback: hold all five listeners at once so
            // they differ, then release them for the kernel to bind.
            let listeners = (0..5)
                .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| format!("cannot reserve loopback ports for a kernel: {e}"))?;
            let ports = listeners
                .iter()
                .map(|l| l.local_addr().map(|a| a.port()))
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| format!("cannot reserve loopback ports for a kernel: {e}"))?;
            drop(listeners);
            let at = |port: u16| Target::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            let conn = json!({
                "transport": "tcp",
                "ip": "127.0.0.1",
                "shell_port": ports[0],
                "iopub_port": ports[1],
                "stdin_port": ports[2],
                "control_port": ports[3],
                "hb_port": ports[4],
                "key": key,
                "signature_scheme": "hmac-sha256",
                "kernel_name": kernel_name,
            });
            let endpoints = Endpoints {
                shell: at(ports[0]),
                iopub: at(ports[1]),
                control: at(ports[3]),
                probes: [0, 1]
                    .map(|i| Probe::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], ports[i])))),
            };
            Ok((conn, endpoints))
        }
    }
}

/// Waits until the kernel accepts connections on its shell socket (zeromq's own retry backs
/// off for over a second; a kernel binds within milliseconds once it gets there).
async fn wait_listening(probe: &Probe) {
    loop {
        let up = match probe {
            Probe::Unix(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            Probe::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
        };
        if up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Writes our IPython startup file (once per agent) and returns the `exec_lines` entry that
/// runs it in a private namespace; `None` if it cannot be written (the kernel then starts
/// without the customisations).
fn ipython_startup_line() -> Option<String> {
    static WRITTEN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *WRITTEN.get_or_init(|| {
        let write = || -> std::io::Result<()> {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(IPYTHON_DIR)?;
            std::fs::write(IPYTHON_STARTUP, include_str!("ipython_startup.py"))?;
            std::fs::set_permissions(
                IPYTHON_STARTUP,
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )
        };
        match write() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("cannot write {IPYTHON_STARTUP}: {e}");
                false
            }
        }
    });
    ok.then(|| {
        format!(
            "exec(compile(open({p:?}).read(), {p:?}, 'exec'), {{'__name__': '__e2b_startup__'}})",
            p = IPYTHON_STARTUP
        )
    })
}

/// Reads, verifies and forwards messages, holding each message's size in `budget` (capped at
/// the whole budget) until the message is dropped downstream. A message too large to decode
/// is reported on `dropped`.
async fn read_loop<S: SocketRecv>(
    mut socket: S,
    session: Session,
    tx: mpsc::Sender<Incoming>,
    budget: Arc<tokio::sync::Semaphore>,
    dropped: mpsc::Sender<u64>,
) {
    let mut bad = 0u32;
    loop {
        let msg = match socket.recv().await {
            Ok(m) => m,
            Err(_) => return,
        };
        let frames: Vec<Bytes> = msg.into_vec();
        let size: usize = frames.iter().map(|f| f.len()).sum();
        let n = size.clamp(1, OUTPUT_BUDGET) as u32;
        let Ok(permit) = budget.clone().acquire_many_owned(n).await else {
            return;
        };
        match session.decode(&frames) {
            Ok(mut m) => {
                m.budget = Some(permit);
                if tx.send(m).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                if matches!(e, WireError::TooLarge(_)) {
                    let _ = dropped.try_send(size as u64);
                }
                // Code in the kernel knows the key and can send anything; keep the log small.
                bad += 1;
                if bad <= 10 {
                    tracing::warn!("dropping a kernel message: {e}");
                }
            }
        }
    }
}

async fn keep_tail(pipe: std::process::ChildStderr, tail: Arc<Mutex<VecDeque<u8>>>) {
    let fd: std::os::fd::OwnedFd = pipe.into();
    let Ok(mut rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut buf = [0u8; 4096];
    loop {
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut t = tail.lock().unwrap();
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..excess);
            }
        }
    }
}

/// Kills a kernel that failed to start and removes its directory.
struct StartGuard {
    pid: Option<i32>,
    dir: Option<PathBuf>,
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

struct Connected {
    shell_tx: zeromq::DealerSendHalf,
    control_tx: Option<zeromq::DealerSendHalf>,
    shell_rx: mpsc::Receiver<Incoming>,
    iopub_rx: mpsc::Receiver<Incoming>,
    iopub_task: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    relays: Relays,
}

/// Starts the relays, connects shell, iopub (and control) through them, then makes sure the
/// iopub subscription is live.
async fn connect_and_handshake(
    endpoints: &Endpoints,
    session: &Session,
    with_control: bool,
    dropped: &mpsc::Sender<u64>,
) -> Result<Connected, String> {
    for probe in &endpoints.probes {
        wait_listening(probe).await;
    }
    let relay = |target: &Target| {
        Relay::start(target.clone(), dropped.clone())
            .map_err(|e| format!("cannot start a relay to the kernel: {e}"))
    };
    let relays = Relays {
        shell: relay(&endpoints.shell)?,
        iopub: relay(&endpoints.iopub)?,
        control: with_control
            .then(|| relay(&endpoints.control))
            .transpose()?,
    };
    let (mut iopub_rx, iopub_task) =
        open_iopub(&relays.iopub.endpoint, session, dropped.clone()).await?;
    let mut shell = zeromq::DealerSocket::new();
    shell
        .connect(&relays.shell.endpoint)
        .await
        .map_err(|e| format!("cannot connect to the kernel's shell socket: {e}"))?;
    let (mut shell_tx, shell_read) = shell.split();
    let (tx, mut shell_rx) = mpsc::channel(CHANNEL_DEPTH);
    // Replies are small, but the kernel decides: they get a byte budget of their own.
    let shell_budget = Arc::new(tokio::sync::Semaphore::new(OUTPUT_BUDGET));
    let mut tasks = vec![tokio::spawn(read_loop(
        shell_read,
        session.clone(),
        tx,
        shell_budget,
        dropped.clone(),
    ))];
    let control_tx = match &relays.control {
        Some(relay) => {
            let mut control = zeromq::DealerSocket::new();
            control
                .connect(&relay.endpoint)
                .await
                .map_err(|e| format!("cannot connect to the kernel's control socket: {e}"))?;
            let (control_tx, mut control_read) = control.split();
            // Replies (interrupt_reply) are of no interest; keep the socket drained.
            tasks.push(tokio::spawn(async move {
                while control_read.recv().await.is_ok() {}
            }));
            Some(control_tx)
        }
        None => None,
    };
    sync_channels(session, &mut shell_tx, &mut shell_rx, &mut iopub_rx).await?;
    Ok(Connected {
        shell_tx,
        control_tx,
        shell_rx,
        iopub_rx,
        iopub_task,
        tasks,
        relays,
    })
}

/// A new iopub subscription with its reader task and a fresh output budget.
async fn open_iopub(
    endpoint: &str,
    session: &Session,
    dropped: mpsc::Sender<u64>,
) -> Result<(mpsc::Receiver<Incoming>, JoinHandle<()>), String> {
    let mut iopub = zeromq::SubSocket::new();
    iopub
        .connect(endpoint)
        .await
        .map_err(|e| format!("cannot connect to the kernel's iopub socket: {e}"))?;
    iopub
        .subscribe("")
        .await
        .map_err(|e| format!("cannot subscribe to iopub: {e}"))?;
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let budget = Arc::new(tokio::sync::Semaphore::new(OUTPUT_BUDGET));
    let task = tokio::spawn(read_loop(iopub, session.clone(), tx, budget, dropped));
    Ok((rx, task))
}

/// Sends `kernel_info_request` until the kernel answers on shell *and* we see iopub traffic:
/// PUB/SUB drops whatever is published before the subscription reaches the kernel.
async fn sync_channels(
    session: &Session,
    shell_tx: &mut zeromq::DealerSendHalf,
    shell_in: &mut mpsc::Receiver<Incoming>,
    iopub_in: &mut mpsc::Receiver<Incoming>,
) -> Result<(), String> {
    let mut got_reply = false;
    let mut got_iopub = false;
    while !(got_reply && got_iopub) {
        let (_, frames) = session.request("kernel_info_request", &json!({}));
        shell_tx
            .send(ZmqMessage::try_from(frames).expect("frames are never empty"))
            .await
            .map_err(|e| format!("cannot send to the kernel: {e}"))?;
        let tick = tokio::time::sleep(Duration::from_millis(250));
        tokio::pin!(tick);
        while !(got_reply && got_iopub) {
            tokio::select! {
                m = shell_in.recv() => match m {
                    Some(m) if m.msg_type == "kernel_info_reply" => {
                        got_reply = true;
                        // The kernel publishes on iopub around each reply: if nothing came
                        // by shortly after, our subscription was late; ask again soon.
                        if !got_iopub {
                            let soon = tokio::time::Instant::now() + Duration::from_millis(20);
                            let at = soon.min(tick.deadline());
                            tick.as_mut().reset(at);
                        }
                    }
                    Some(_) => {}
                    None => return Err("the kernel's shell channel closed".into()),
                },
                m = iopub_in.recv() => match m {
                    Some(_) => got_iopub = true,
                    None => return Err("the kernel's iopub channel closed".into()),
                },
                _ = &mut tick => break,
            }
        }
    }
    Ok(())
}
