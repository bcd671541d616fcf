//! `process.Process` (docs/protocol.md#process-service): starting commands and PTYs as a user,
//! streaming their output to any number of subscribers, input, signals, resize, and the 30 s exit
//! record.
//!
//! Each process has a driver task that reads its pipes (or PTY master) in 32 KiB (16 KiB)
//! chunks and hands every chunk to the current subscribers — awaiting each, so a slow client
//! slows the process down instead of growing a buffer; with no subscriber the output is
//! dropped (envd keeps no replay buffer). The exit status comes from the agent's reaper
//! (the agent is pid 1 and reaps every child). The end event is sent once the process has
//! exited and its output has ended (or was cut by a kill), as envd does.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use e2b_wire::connect::{message_envelope, Code, ConnectError};
use e2b_wire::envd::{
    DataEvent, EndEvent, ProcessConfig, ProcessEventResponse, ProcessInfo, ProcessInput,
    ProcessSelector, PtySize, Signal, StartRequest,
};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::rpc::{async_fd, os_error_text, StreamFrame, STREAM_BUFFER};
use super::users::{resolve_path, Creds, User, Users};
use crate::agent::reaper::Reaper;

/// How long the exit of a process stays available to `Connect`.
const EXIT_RETENTION: Duration = Duration::from_secs(30);
const PIPE_CHUNK: usize = 32 << 10;
const PTY_CHUNK: usize = 16 << 10;

/// Every process started through envd.
pub struct Processes {
    table: Mutex<Table>,
    reaper: Arc<Reaper>,
    users: Arc<Users>,
    envs: BTreeMap<String, String>,
    path_env: String,
}

#[derive(Default)]
struct Table {
    live: HashMap<u32, Arc<Proc>>,
    exited: HashMap<u32, Retained>,
}

struct Retained {
    end: EndEvent,
    tag: Option<String>,
    expires: Instant,
}

impl Table {
    fn purge(&mut self) {
        let now = Instant::now();
        self.exited.retain(|_, r| r.expires > now);
    }
}

enum Io {
    Pipes {
        stdin: tokio::sync::Mutex<Option<Arc<AsyncFd<OwnedFd>>>>,
    },
    Pty {
        master: Arc<AsyncFd<OwnedFd>>,
    },
}

/// One started process.
pub struct Proc {
    pid: u32,
    tag: Option<String>,
    config: ProcessConfig,
    io: Io,
    out: Mutex<OutState>,
    stop_output: watch::Sender<bool>,
}

#[derive(Default)]
struct OutState {
    subscribers: Vec<mpsc::Sender<StreamFrame>>,
    end: Option<EndEvent>,
}

fn err(code: Code, message: impl Into<String>) -> ConnectError {
    ConnectError::new(code, message)
}

fn set_nonblocking_cloexec(fd: RawFd, nonblocking: bool) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fdflags = libc::fcntl(fd, libc::F_GETFD);
        libc::fcntl(fd, libc::F_SETFD, fdflags | libc::FD_CLOEXEC);
        if nonblocking {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors that we take ownership of.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn winsize(size: PtySize) -> libc::winsize {
    libc::winsize {
        ws_row: size.rows.min(u16::MAX as u32) as u16,
        ws_col: size.cols.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

fn openpty(size: PtySize) -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (0, 0);
    let ws = winsize(size);
    // SAFETY: openpty fills two descriptors; name and termios may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nobody else.
    let (m, s) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    set_nonblocking_cloexec(m.as_raw_fd(), true);
    set_nonblocking_cloexec(s.as_raw_fd(), false);
    Ok((m, s))
}

/// Go's name of a signal (`os.ProcessState.String()`).
fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        16 => "stack fault",
        17 => "child exited",
        18 => "continued",
        19 => "stopped (signal)",
        20 => "stopped",
        21 => "stopped (tty input)",
        22 => "stopped (tty output)",
        23 => "urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "file size limit exceeded",
        26 => "virtual timer expired",
        27 => "profiling timer expired",
        28 => "window changed",
        29 => "I/O possible",
        30 => "power failure",
        31 => "bad system call",
        n => return format!("signal {n}"),
    };
    name.to_string()
}

/// The end event of a `waitpid` status, as envd reports it (Go `os.ProcessState`).
pub fn end_event(status: i32) -> EndEvent {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        let text = format!("exit status {code}");
        EndEvent {
            exit_code: code,
            exited: true,
            error: (code != 0).then(|| text.clone()),
            status: text,
        }
    } else if libc::WIFSIGNALED(status) {
        let mut text = format!("signal: {}", signal_name(libc::WTERMSIG(status)));
        if libc::WCOREDUMP(status) {
            text.push_str(" (core dumped)");
        }
        EndEvent {
            exit_code: -1,
            exited: false,
            error: Some(text.clone()),
            status: text,
        }
    } else {
        EndEvent {
            exit_code: -1,
            exited: false,
            error: Some(format!("status {status}")),
            status: format!("status {status}"),
        }
    }
}

fn not_found(sel: &ProcessSelector) -> ConnectError {
    match (&sel.pid, &sel.tag) {
        (Some(pid), _) => err(Code::NotFound, format!("process with pid {pid} not found")),
        (None, Some(tag)) => err(Code::NotFound, format!("process with tag {tag} not found")),
        (None, None) => err(Code::Unimplemented, "invalid input type <nil>"),
    }
}

async fn write_all(fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut guard = fd.writable().await?;
        // SAFETY: writes at most data.len() bytes from a live slice.
        let n = unsafe { libc::write(fd.get_ref().as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

impl Processes {
    pub fn new(reaper: Arc<Reaper>, users: Arc<Users>, envs: BTreeMap<String, String>) -> Self {
        Processes {
            table: Mutex::new(Table::default()),
            reaper,
            users,
            envs,
            path_env: std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()
            }),
        }
    }

    fn find(&self, sel: &ProcessSelector) -> Option<Arc<Proc>> {
        let table = self.table.lock().unwrap();
        if let Some(pid) = sel.pid {
            return table.live.get(&pid).cloned();
        }
        let tag = sel.tag.as_ref()?;
        table
            .live
            .values()
            .find(|p| p.tag.as_ref() == Some(tag))
            .cloned()
    }

    fn get(&self, sel: &ProcessSelector) -> Result<Arc<Proc>, ConnectError> {
        self.find(sel).ok_or_else(|| not_found(sel))
    }

    /// `Start`: spawns the process as `user` and returns the stream of its events (starting
    /// with `start{pid}`). `deadline` is the process's lifetime (`Connect-Timeout-Ms`).
    pub fn start(
        self: &Arc<Self>,
        user: &User,
        req: StartRequest,
        deadline: Option<Instant>,
    ) -> Result<mpsc::Receiver<StreamFrame>, ConnectError> {
        let config = req.process.clone();
        let cwd = resolve_path(config.cwd.as_deref().unwrap_or(""), user)
            .map_err(|e| err(Code::InvalidArgument, e))?;
        if let Err(e) = std::fs::metadata(&cwd) {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Err(err(
                    Code::InvalidArgument,
                    format!("cwd '{}' does not exist", cwd.to_string_lossy()),
                ));
            }
        }
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), self.path_env.clone()),
            ("HOME".into(), user.home.to_string_lossy().into_owned()),
            ("USER".into(), user.name.clone()),
            ("LOGNAME".into(), user.name.clone()),
        ];
        env.extend(self.envs.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(config.envs.iter().map(|(k, v)| (k.clone(), v.clone())));
        let creds = self.users.creds(user);
        let pty_size = req.pty.map(|p| p.size.unwrap_or_default());
        let user_cmd = std::iter::once(config.cmd.as_str())
            .chain(config.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let start_error = |e: std::io::Error| {
            err(
                Code::InvalidArgument,
                format!("error starting process '{user_cmd}': {}", os_error_text(&e)),
            )
        };

        let mut cmd = std::process::Command::new(&config.cmd);
        cmd.args(&config.args).env_clear();
        // Later duplicates win, as in envd (request envs override the global ones).
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (k, v) in env {
            if merged.insert(k.clone(), v).is_none() {
                order.push(k);
            }
        }
        for k in order {
            cmd.env(&k, &merged[&k]);
        }
        let cwd_c = CString::new(cwd.as_os_str().as_bytes())
            .map_err(|_| err(Code::InvalidArgument, "cwd contains a NUL byte"))?;

        let mut readers: Vec<(Arc<AsyncFd<OwnedFd>>, OutKind)> = Vec::new();
        let io;
        let mut slave_keep: Option<OwnedFd> = None;
        if let Some(size) = pty_size {
            let (master, slave) = openpty(size).map_err(|e| {
                err(
                    Code::InvalidArgument,
                    format!(
                        "error starting pty with command '{user_cmd}' in dir '{}' with '{}' cols and '{}' rows: {}",
                        cwd.to_string_lossy(),
                        size.cols,
                        size.rows,
                        os_error_text(&e)
                    ),
                )
            })?;
            if let Some(c) = &creds {
                // The terminal belongs to whoever uses it (as a login would arrange).
                // SAFETY: fchown on a descriptor we own.
                unsafe { libc::fchown(slave.as_raw_fd(), c.uid, u32::MAX) };
            }
            let dup = |fd: &OwnedFd| fd.try_clone().map_err(start_error);
            cmd.stdin(dup(&slave)?)
                .stdout(dup(&slave)?)
                .stderr(dup(&slave)?);
            slave_keep = Some(slave);
            let master = Arc::new(async_fd(master).map_err(start_error)?);
            readers.push((master.clone(), OutKind::Pty));
            io = Io::Pty { master };
        } else {
            let (out_r, out_w) = pipe().map_err(start_error)?;
            let (err_r, err_w) = pipe().map_err(start_error)?;
            cmd.stdout(out_w).stderr(err_w);
            set_nonblocking_cloexec(out_r.as_raw_fd(), true);
            set_nonblocking_cloexec(err_r.as_raw_fd(), true);
            readers.push((
                Arc::new(async_fd(out_r).map_err(start_error)?),
                OutKind::Stdout,
            ));
            readers.push((
                Arc::new(async_fd(err_r).map_err(start_error)?),
                OutKind::Stderr,
            ));
            let stdin = if req.stdin == Some(false) {
                cmd.stdin(std::process::Stdio::null());
                None
            } else {
                let (in_r, in_w) = pipe().map_err(start_error)?;
                cmd.stdin(in_r);
                set_nonblocking_cloexec(in_w.as_raw_fd(), true);
                Some(Arc::new(async_fd(in_w).map_err(start_error)?))
            };
            io = Io::Pipes {
                stdin: tokio::sync::Mutex::new(stdin),
            };
        }
        let is_pty = pty_size.is_some();
        let child_creds = creds.clone();
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || child_setup(is_pty, child_creds.as_ref(), &cwd_c));
        }
        let child = cmd.spawn().map_err(start_error)?;
        let pid = child.id();
        // Registered before any `.await`: the reaper runs on this same thread, so it cannot
        // have collected the child yet.
        let exit = self.reaper.watch(pid as i32);
        drop(child); // never waited on here: the reaper collects it
        drop(cmd); // closes our copies of the child's ends
        drop(slave_keep);

        let (stop_output, _) = watch::channel(false);
        let proc = Arc::new(Proc {
            pid,
            tag: req.tag.clone(),
            config,
            io,
            out: Mutex::new(OutState::default()),
            stop_output,
        });
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let _ = tx.try_send(StreamFrame::Message(message_envelope(
            &ProcessEventResponse::start(pid),
        )));
        proc.out.lock().unwrap().subscribers.push(tx);
        {
            let mut table = self.table.lock().unwrap();
            table.purge();
            table.exited.remove(&pid);
            table.live.insert(pid, proc.clone());
        }
        tokio::spawn(drive(self.clone(), proc, readers, exit, deadline));
        Ok(rx)
    }

    /// `Connect`: a new subscription to a live process (or its retained exit).
    pub fn connect(
        &self,
        sel: &ProcessSelector,
    ) -> Result<mpsc::Receiver<StreamFrame>, ConnectError> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let send_end = |pid: u32, end: &EndEvent| {
            let _ = tx.try_send(StreamFrame::Message(message_envelope(
                &ProcessEventResponse::start(pid),
            )));
            let _ = tx.try_send(StreamFrame::Message(message_envelope(
                &ProcessEventResponse::end(end.clone()),
            )));
            let _ = tx.try_send(StreamFrame::End(None));
        };
        if let Some(proc) = self.find(sel) {
            let mut out = proc.out.lock().unwrap();
            if let Some(end) = &out.end {
                send_end(proc.pid, end);
            } else {
                let _ = tx.try_send(StreamFrame::Message(message_envelope(
                    &ProcessEventResponse::start(proc.pid),
                )));
                out.subscribers.push(tx.clone());
            }
            return Ok(rx);
        }
        let mut table = self.table.lock().unwrap();
        table.purge();
        let retained = match (&sel.pid, &sel.tag) {
            (Some(pid), _) => table.exited.get(pid).map(|r| (*pid, r)),
            (None, Some(tag)) => table
                .exited
                .iter()
                .find(|(_, r)| r.tag.as_ref() == Some(tag))
                .map(|(pid, r)| (*pid, r)),
            _ => None,
        };
        match retained {
            Some((pid, r)) => {
                send_end(pid, &r.end);
                Ok(rx)
            }
            None => Err(not_found(sel)),
        }
    }

    /// `List`: live processes with their configuration as requested.
    pub fn list(&self) -> Vec<ProcessInfo> {
        let table = self.table.lock().unwrap();
        let mut out: Vec<ProcessInfo> = table
            .live
            .values()
            .map(|p| ProcessInfo {
                config: Some(p.config.clone()),
                pid: p.pid,
                tag: p.tag.clone(),
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        out
    }

    /// `SendSignal` (SIGKILL or SIGTERM).
    pub fn signal(&self, sel: &ProcessSelector, signal: Signal) -> Result<(), ConnectError> {
        let proc = self.get(sel)?;
        let sig = match signal {
            Signal::Sigkill => libc::SIGKILL,
            Signal::Sigterm => libc::SIGTERM,
            other => {
                return Err(err(
                    Code::Unimplemented,
                    format!("invalid signal: {}", other.as_str()),
                ))
            }
        };
        // Like envd: a kill also stops reading the output, so the end event is not held
        // back by children that keep the pipes open.
        let _ = proc.stop_output.send(true);
        // SAFETY: kill with a pid of a child we started and have not reaped (it is live).
        if unsafe { libc::kill(proc.pid as i32, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(err(
                Code::Internal,
                format!("error sending signal: {}", os_error_text(&e)),
            ));
        }
        Ok(())
    }

    /// `SendInput` / one `StreamInput` data message.
    pub async fn input(
        &self,
        sel: &ProcessSelector,
        input: &ProcessInput,
    ) -> Result<(), ConnectError> {
        let proc = self.get(sel)?;
        proc.input(input).await
    }

    /// The process a `StreamInput` call feeds.
    pub fn lookup(&self, sel: &ProcessSelector) -> Result<Arc<Proc>, ConnectError> {
        self.get(sel)
    }

    /// `CloseStdin`.
    pub async fn close_stdin(&self, sel: &ProcessSelector) -> Result<(), ConnectError> {
        let proc = self.get(sel)?;
        match &proc.io {
            Io::Pty { .. } => Err(err(
                Code::Unknown,
                "error closing stdin: cannot close stdin for PTY process — send Ctrl+D (0x04) instead",
            )),
            Io::Pipes { stdin } => {
                stdin.lock().await.take();
                Ok(())
            }
        }
    }

    /// `Update`: resizes the PTY.
    pub fn resize(&self, sel: &ProcessSelector, size: Option<PtySize>) -> Result<(), ConnectError> {
        let proc = self.get(sel)?;
        let Some(size) = size else { return Ok(()) };
        match &proc.io {
            Io::Pty { master } => {
                let ws = winsize(size);
                // SAFETY: TIOCSWINSZ on our PTY master with a valid winsize.
                let rc =
                    unsafe { libc::ioctl(master.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
                if rc != 0 {
                    let e = std::io::Error::last_os_error();
                    return Err(err(
                        Code::Internal,
                        format!("error resizing tty: {}", os_error_text(&e)),
                    ));
                }
                Ok(())
            }
            Io::Pipes { .. } => Err(err(
                Code::Internal,
                "error resizing tty: tty not assigned to process",
            )),
        }
    }

    fn finished(&self, proc: &Arc<Proc>, end: &EndEvent) {
        let mut table = self.table.lock().unwrap();
        if table
            .live
            .get(&proc.pid)
            .is_some_and(|p| Arc::ptr_eq(p, proc))
        {
            table.live.remove(&proc.pid);
        }
        table.purge();
        table.exited.insert(
            proc.pid,
            Retained {
                end: end.clone(),
                tag: proc.tag.clone(),
                expires: Instant::now() + EXIT_RETENTION,
            },
        );
    }
}

impl Proc {
    /// Writes one input message (stdin or PTY bytes).
    pub async fn input(&self, input: &ProcessInput) -> Result<(), ConnectError> {
        if let Some(data) = &input.pty {
            let Io::Pty { master } = &self.io else {
                return Err(err(
                    Code::Internal,
                    "error writing to tty: tty not assigned to process — input should be written to the stdin, not the tty",
                ));
            };
            return write_all(master, data).await.map_err(|e| {
                err(
                    Code::Internal,
                    format!(
                        "error writing to tty: error writing to tty of process '{}': {}",
                        self.pid,
                        os_error_text(&e)
                    ),
                )
            });
        }
        if let Some(data) = &input.stdin {
            let Io::Pipes { stdin } = &self.io else {
                return Err(err(
                    Code::Internal,
                    "error writing to stdin: tty assigned to process — input should be written to the pty, not the stdin",
                ));
            };
            let guard = stdin.lock().await;
            let Some(fd) = guard.as_ref() else {
                return Err(err(
                    Code::Internal,
                    "error writing to stdin: stdin not enabled or closed",
                ));
            };
            return write_all(fd, data).await.map_err(|e| {
                err(
                    Code::Internal,
                    format!(
                        "error writing to stdin: error writing to stdin of process '{}': {}",
                        self.pid,
                        os_error_text(&e)
                    ),
                )
            });
        }
        Err(err(Code::Unimplemented, "invalid input type <nil>"))
    }

    async fn broadcast(&self, frame: Bytes) {
        let subscribers: Vec<_> = self.out.lock().unwrap().subscribers.clone();
        if subscribers.is_empty() {
            return;
        }
        let mut gone = false;
        for s in &subscribers {
            if s.send(StreamFrame::Message(frame.clone())).await.is_err() {
                gone = true;
            }
        }
        if gone {
            self.out
                .lock()
                .unwrap()
                .subscribers
                .retain(|s| !s.is_closed());
        }
    }
}

#[derive(Clone, Copy)]
enum OutKind {
    Stdout,
    Stderr,
    Pty,
}

async fn read_output(proc: Arc<Proc>, fd: Arc<AsyncFd<OwnedFd>>, kind: OutKind) {
    let mut stop = proc.stop_output.subscribe();
    let size = match kind {
        OutKind::Pty => PTY_CHUNK,
        _ => PIPE_CHUNK,
    };
    let mut buf = vec![0u8; size];
    loop {
        if *stop.borrow() {
            return;
        }
        let mut guard = tokio::select! {
            g = fd.readable() => match g { Ok(g) => g, Err(_) => return },
            _ = stop.changed() => return,
        };
        // SAFETY: reads at most buf.len() bytes into the buffer.
        let n = unsafe { libc::read(fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    continue;
                }
                std::io::ErrorKind::Interrupted => continue,
                // EIO: the PTY's last slave descriptor closed.
                _ => return,
            }
        }
        if n == 0 {
            return;
        }
        let chunk = Bytes::copy_from_slice(&buf[..n as usize]);
        let data = match kind {
            OutKind::Stdout => DataEvent {
                stdout: Some(chunk),
                ..Default::default()
            },
            OutKind::Stderr => DataEvent {
                stderr: Some(chunk),
                ..Default::default()
            },
            OutKind::Pty => DataEvent {
                pty: Some(chunk),
                ..Default::default()
            },
        };
        proc.broadcast(message_envelope(&ProcessEventResponse::data(data)))
            .await;
    }
}

async fn drive(
    processes: Arc<Processes>,
    proc: Arc<Proc>,
    readers: Vec<(Arc<AsyncFd<OwnedFd>>, OutKind)>,
    exit: tokio::sync::oneshot::Receiver<i32>,
    deadline: Option<Instant>,
) {
    let output = futures_util::future::join_all(
        readers
            .into_iter()
            .map(|(fd, kind)| read_output(proc.clone(), fd, kind)),
    );
    let pid = proc.pid as i32;
    let stop = proc.stop_output.clone();
    let status = async move {
        let mut exit = exit;
        if let Some(d) = deadline {
            tokio::select! {
                s = &mut exit => return (s.unwrap_or(0), false),
                _ = tokio::time::sleep_until(d) => {
                    // The call's deadline is the process's lifetime (docs/protocol.md#deadlines).
                    let _ = stop.send(true);
                    // SAFETY: kill of our own unreaped child.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        (exit.await.unwrap_or(0), true)
    };
    let ((status, timed_out), _) = tokio::join!(status, output);
    let timed_out = timed_out && deadline.is_some();
    let end = end_event(status);
    processes.finished(&proc, &end);
    let subscribers = {
        let mut out = proc.out.lock().unwrap();
        out.end = Some(end.clone());
        std::mem::take(&mut out.subscribers)
    };
    let frame = message_envelope(&ProcessEventResponse::end(end));
    // The stream that started the process ends with `deadline_exceeded` when its deadline
    // killed the process; the others end normally.
    let deadline_error = ConnectError::new(
        Code::DeadlineExceeded,
        "the deadline of the call (Connect-Timeout-Ms) passed",
    );
    for (i, s) in subscribers.into_iter().enumerate() {
        if s.send(StreamFrame::Message(frame.clone())).await.is_ok() {
            let error = (timed_out && i == 0).then(|| deadline_error.clone());
            let _ = s.send(StreamFrame::End(error)).await;
        }
    }
    // Drop the stdin pipe / PTY master with the process.
    if let Io::Pipes { stdin } = &proc.io {
        stdin.lock().await.take();
    }
}

/// Runs in the forked child: new session (and the PTY as controlling terminal), the user's
/// ids, the working directory, and every inherited descriptor above stderr marked
/// close-on-exec (`crate::fds`: nothing of the agent's may reach user code).
fn child_setup(is_pty: bool, creds: Option<&Creds>, cwd: &CString) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: async-signal-safe syscalls in the child between fork and exec.
    unsafe {
        check(libc::setsid())?;
        if is_pty {
            check(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
        }
        if let Some(c) = creds {
            check(libc::setgroups(c.groups.len(), c.groups.as_ptr()))?;
            check(libc::setgid(c.gid))?;
            check(libc::setuid(c.uid))?;
        }
        check(libc::chdir(cwd.as_ptr()))?;
    }
    crate::fds::cloexec_from(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_events_follow_go() {
        let e = end_event(0);
        assert_eq!(
            (e.exit_code, e.exited, e.status.as_str()),
            (0, true, "exit status 0")
        );
        assert_eq!(e.error, None);
        let e = end_event(3 << 8);
        assert_eq!(e.exit_code, 3);
        assert_eq!(e.error.as_deref(), Some("exit status 3"));
        let e = end_event(libc::SIGKILL);
        assert_eq!(
            (e.exit_code, e.exited, e.status.as_str()),
            (-1, false, "signal: killed")
        );
        let e = end_event(libc::SIGTERM);
        assert_eq!(e.status, "signal: terminated");
    }
}
