//! The fork-safe part of sandbox creation: `clone3` into fresh namespaces and, in the child, a
//! fixed list of prepared steps ([`Step`]) ending in `exec` of the agent.
//!
//! The daemon is multi-threaded, so between `clone3` and `exec` the child may only make raw
//! system calls: everything it touches (paths, file contents, argv/envp arrays, fds) is built
//! by [`ChildPlan`] before the clone, and the child never allocates, locks or panics. A failing
//! step writes `(step index, errno)` to a close-on-exec pipe and `_exit`s; the parent turns
//! that into a message naming the step. A successful `exec` closes the pipe (EOF).
//!
//! All clones happen on one long-lived thread ([`launcher`]): `PR_SET_PDEATHSIG` fires when
//! the *thread* that created the child exits, so a short-lived (e.g. tokio blocking-pool)
//! thread would take its sandboxes down with it.

use std::ffi::{c_char, CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc as std_mpsc;
use std::sync::{Mutex, OnceLock};

/// One prepared step of the child's setup. Paths are absolute in the child's view at the time
/// the step runs (before `PivotRoot`: the host tree with the staging root mounted over
/// [`super::rootfs::STAGING`]).
#[derive(Debug)]
pub(crate) enum Step {
    /// `mount --make-rprivate /`: nothing we mount propagates back to the host.
    MakeRprivate,
    /// Creates a directory with exactly `mode`; an existing one keeps its mode, plus search
    /// permission for everyone when `traversable` (a path leading to a bind).
    Mkdir {
        path: CString,
        mode: u32,
        traversable: bool,
    },
    /// Creates an empty regular file (a bind target).
    Touch {
        path: CString,
    },
    Symlink {
        target: CString,
        path: CString,
    },
    /// Bind mount of the path opened as `opens[slot]` (see [`ChildPlan::opens`]).
    BindSlot {
        slot: usize,
        target: CString,
    },
    /// Bind mount of a path of the child's own view (e.g. a directory onto itself, to make it a
    /// mount point that keeps its own flags).
    BindPath {
        source: CString,
        target: CString,
    },
    /// Attaches a detached mount (an fd from `open_tree`, inherited through the clone) at
    /// `target`.
    MoveMount {
        fd: RawFd,
        target: CString,
    },
    Chown {
        path: CString,
        uid: u32,
        gid: u32,
    },
    Mount {
        source: CString,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
        /// Failure is ignored (e.g. sysfs where the kernel refuses it).
        optional: bool,
    },
    /// Sets mount attributes (`MOUNT_ATTR_*`), recursively, on the mount at `path`.
    SetAttr {
        path: CString,
        attr_set: u64,
    },
    WriteFile {
        path: CString,
        contents: Vec<u8>,
        mode: u32,
    },
    /// Writes `value` to an existing `/proc/sys` file; one this kernel does not have (ENOENT)
    /// is skipped, since it cannot be drawn on either.
    Sysctl {
        path: CString,
        value: Vec<u8>,
    },
    /// `pivot_root(new, new)` then detach the old root, the trick from pivot_root(2).
    PivotRoot {
        new_root: CString,
    },
    Chdir {
        path: CString,
    },
    Hostname {
        name: CString,
    },
    LoopbackUp,
}

impl Step {
    fn describe(&self) -> String {
        fn s(c: &CStr) -> String {
            c.to_string_lossy().into_owned()
        }
        match self {
            Step::MakeRprivate => "make / private".into(),
            Step::Mkdir { path, .. } => format!("mkdir {}", s(path)),
            Step::Touch { path } => format!("create {}", s(path)),
            Step::Symlink { target, path } => format!("symlink {} -> {}", s(path), s(target)),
            Step::Mount {
                source,
                target,
                fstype,
                ..
            } => format!(
                "mount {} on {} ({})",
                s(source),
                s(target),
                fstype.as_deref().map(s).unwrap_or_else(|| "bind".into())
            ),
            Step::BindSlot { slot, target } => format!("bind host path #{slot} on {}", s(target)),
            Step::BindPath { source, target } => format!("bind {} on {}", s(source), s(target)),
            Step::MoveMount { target, .. } => format!("attach the idmapped /usr at {}", s(target)),
            Step::Chown { path, .. } => format!("chown {}", s(path)),
            Step::SetAttr { path, .. } => format!("set mount attributes of {}", s(path)),
            Step::WriteFile { path, .. } => format!("write {}", s(path)),
            Step::Sysctl { path, value } => {
                format!("set {} to {}", s(path), String::from_utf8_lossy(value))
            }
            Step::PivotRoot { new_root } => format!("pivot_root into {}", s(new_root)),
            Step::Chdir { path } => format!("chdir {}", s(path)),
            Step::Hostname { .. } => "sethostname".into(),
            Step::LoopbackUp => "bring up lo".into(),
        }
    }
}

/// How the child becomes the sandbox's root (or user) before its setup steps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdMode {
    /// The daemon is root: sandbox ids 0..count map to host base..base+count. The child must
    /// switch to (mapped) 0 itself: until then its fsuid is host 0, unmapped in the new user
    /// namespace, and creating files there fails with EOVERFLOW.
    Root { base: u32, count: u32 },
    /// The daemon is an ordinary user: only sandbox uid/gid `inside` exists, mapped to the
    /// daemon's own ids. The child is mapped automatically.
    Unprivileged { inside: u32, uid: u32, gid: u32 },
}

/// What to exec at the end.
#[derive(Debug)]
pub(crate) struct ExecSpec {
    /// `execveat(fd, "", AT_EMPTY_PATH)` of a file opened before the clone (the agent binary may
    /// live where the sandbox cannot see), or `execve(path)` when `None`.
    pub fd: Option<RawFd>,
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

/// Everything the child needs, prepared in the parent.
#[derive(Debug)]
pub(crate) struct ChildPlan {
    pub ids: IdMode,
    /// Host paths the child opens (`O_PATH`) right after the clone, while its fsuid is still
    /// the daemon's (so it can traverse e.g. a 0700 `/root`), for `BindSlot` steps. They must
    /// be opened in the child: a bind source has to be a mount of the caller's own (new) mount
    /// namespace, which an fd opened by the parent is not.
    pub opens: Vec<CString>,
    pub steps: Vec<Step>,
    /// `(source fd, target fd)`: after setup the child makes these its fds 0, 1, 2, 3, …
    /// (inherited by the agent); every other fd is closed on exec.
    pub fds: Vec<(RawFd, RawFd)>,
    /// `cgroup.procs` files the parent writes the child's pid into before the child starts
    /// its setup, so that everything it ever runs is accounted and limited.
    pub cgroup_procs: Vec<std::path::PathBuf>,
    /// seccomp programs (see [`super::seccomp`]) installed, in order, right before `exec`.
    pub seccomp: Vec<seccompiler::BpfProgram>,
    /// `(resource, limit)`: soft and hard limits set right before `exec` ([`super::pools`]).
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    /// Root daemon: the host uid that owns the sandbox's user namespace (its ucounts roll up
    /// to it, see [`super::pools::IdRange`]) instead of the daemon's root.
    pub userns_owner: Option<u32>,
    pub exec: ExecSpec,
}

/// Result of a successful launch.
#[derive(Debug)]
pub(crate) struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Why a launch failed.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// `clone3` itself failed (namespaces unavailable, limits…).
    Clone(io::Error),
    /// Writing the id maps failed.
    IdMap(String, io::Error),
    /// A setup step in the child failed.
    Step(String, io::Error),
    Other(io::Error),
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::Clone(e) => write!(f, "clone3 into new namespaces failed: {e}"),
            LaunchError::IdMap(what, e) => write!(f, "writing {what} failed: {e}"),
            LaunchError::Step(what, e) => write!(f, "{what}: {e}"),
            LaunchError::Other(e) => write!(f, "{e}"),
        }
    }
}

const NS_FLAGS: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

/// Step indices past the plan's steps, for the fixed parts of the child's work.
const STEP_SYNC: u32 = u32::MAX;
const STEP_SETID: u32 = u32::MAX - 1;
const STEP_FDS: u32 = u32::MAX - 2;
const STEP_PRCTL: u32 = u32::MAX - 3;
const STEP_EXEC: u32 = u32::MAX - 4;
const STEP_SECCOMP: u32 = u32::MAX - 5;
const STEP_RLIMIT: u32 = u32::MAX - 6;
/// `STEP_OPEN | i`: opening `opens[i]`.
const STEP_OPEN: u32 = 0x8000_0000;
/// Most host paths one sandbox binds.
pub(crate) const MAX_OPENS: usize = 128;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

type Job = (
    ChildPlan,
    tokio::sync::oneshot::Sender<Result<Launched, LaunchError>>,
);

/// Hands `plan` to the launcher thread and waits for the child to exec (or fail).
pub(crate) async fn launch(plan: ChildPlan) -> Result<Launched, LaunchError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    launcher()
        .lock()
        .unwrap()
        .send((plan, tx))
        .map_err(|_| LaunchError::Other(io::Error::other("the sandbox launcher thread is gone")))?;
    rx.await
        .map_err(|_| LaunchError::Other(io::Error::other("the sandbox launcher thread died")))?
}

fn launcher() -> &'static Mutex<std_mpsc::Sender<Job>> {
    static LAUNCHER: OnceLock<Mutex<std_mpsc::Sender<Job>>> = OnceLock::new();
    LAUNCHER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sandbox-launcher".into())
            .spawn(move || {
                // No signal handler may run in a child between clone and exec.
                unsafe {
                    let mut all: libc::sigset_t = std::mem::zeroed();
                    libc::sigfillset(&mut all);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
                }
                for (plan, reply) in rx {
                    if let Err(Ok(orphan)) = reply.send(launch_now(&plan)) {
                        // The spawn was cancelled while we cloned: nobody owns this sandbox.
                        unsafe {
                            libc::kill(orphan.pid, libc::SIGKILL);
                            libc::waitpid(orphan.pid, std::ptr::null_mut(), 0);
                        }
                    }
                }
            })
            .expect("cannot start the sandbox launcher thread");
        Mutex::new(tx)
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_proc(pid: i32, file: &str, contents: &str) -> Result<(), LaunchError> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, contents).map_err(|e| LaunchError::IdMap(path, e))
}

/// Runs on the launcher thread.
fn launch_now(plan: &ChildPlan) -> Result<Launched, LaunchError> {
    // Pointer arrays for execve, built before the clone.
    let argv: Vec<*const c_char> = plan
        .exec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const c_char> = plan
        .exec
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let (sync_r, sync_w) = pipe().map_err(LaunchError::Other)?;
    let (err_r, err_w) = pipe().map_err(LaunchError::Other)?;
    // The child checks this (readable = this process exited) once its parent-death signal is
    // armed for good, so a daemon dying mid-launch never leaves a sandbox behind.
    let me = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if me < 0 {
        return Err(LaunchError::Other(io::Error::last_os_error()));
    }
    let me = unsafe { OwnedFd::from_raw_fd(me as RawFd) };

    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: NS_FLAGS | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM this is a fork: the child gets a copy of this thread only and
    // runs `child_main`, which only makes raw system calls on memory prepared above.
    let mut ret = unsafe { clone3_owned_by(plan.userns_owner, &args) };
    if ret < 0 && plan.userns_owner.is_some() {
        // A host that lets only root create user namespaces: root owns this one, and its
        // ucounts roll up to host root (within the sandbox's own caps).
        let e = io::Error::last_os_error();
        tracing::warn!("a user namespace owned by a sandbox uid was refused ({e}); root owns it");
        // SAFETY: as above.
        ret = unsafe { clone3_owned_by(None, &args) };
    }
    if ret < 0 {
        return Err(LaunchError::Clone(io::Error::last_os_error()));
    }
    if ret == 0 {
        unsafe {
            child_main(
                plan,
                ChildFds {
                    sync_r: sync_r.as_raw_fd(),
                    sync_w: sync_w.as_raw_fd(),
                    err_w: err_w.as_raw_fd(),
                    parent: me.as_raw_fd(),
                },
                argv.as_ptr(),
                envp.as_ptr(),
            )
        }
    }
    let pid = ret as i32;
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    drop(sync_r);
    drop(err_w);

    let result = (|| {
        match plan.ids {
            IdMode::Root { base, count } => {
                write_proc(pid, "uid_map", &format!("0 {base} {count}\n"))?;
                write_proc(pid, "gid_map", &format!("0 {base} {count}\n"))?;
            }
            IdMode::Unprivileged { inside, uid, gid } => {
                write_proc(pid, "setgroups", "deny")?;
                write_proc(pid, "uid_map", &format!("{inside} {uid} 1\n"))?;
                write_proc(pid, "gid_map", &format!("{inside} {gid} 1\n"))?;
            }
        }
        for procs in &plan.cgroup_procs {
            std::fs::write(procs, pid.to_string()).map_err(|e| {
                LaunchError::Other(io::Error::new(
                    e.kind(),
                    format!("cannot move the sandbox into {}: {e}", procs.display()),
                ))
            })?;
        }
        let n = unsafe { libc::write(sync_w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        if n != 1 {
            return Err(LaunchError::Other(io::Error::last_os_error()));
        }
        drop(sync_w);
        // EOF: the child exec'd. Otherwise (step, errno).
        let mut buf = [0u8; 8];
        let mut got = 0;
        while got < buf.len() {
            let n = unsafe {
                libc::read(
                    err_r.as_raw_fd(),
                    buf[got..].as_mut_ptr().cast(),
                    buf.len() - got,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(LaunchError::Other(e));
            }
            if n == 0 {
                break;
            }
            got += n as usize;
        }
        if got == 0 {
            return Ok(());
        }
        let step = u32::from_ne_bytes(buf[..4].try_into().unwrap());
        let errno = i32::from_ne_bytes(buf[4..].try_into().unwrap());
        let what = match step {
            STEP_SYNC => "waiting for the id maps".to_string(),
            STEP_SETID => "switching to the sandbox's root ids".to_string(),
            STEP_FDS => "passing file descriptors to the agent".to_string(),
            STEP_PRCTL => "setting no_new_privs / parent-death signal".to_string(),
            STEP_EXEC => format!("exec of the agent {}", plan.exec.path.to_string_lossy()),
            STEP_SECCOMP => "installing the seccomp filter".to_string(),
            STEP_RLIMIT => "setting the sandbox's resource limits".to_string(),
            i if i & STEP_OPEN != 0 => format!(
                "opening {}",
                plan.opens
                    .get((i & !STEP_OPEN) as usize)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            i => plan
                .steps
                .get(i as usize)
                .map(Step::describe)
                .unwrap_or_else(|| format!("step {i}")),
        };
        Err(LaunchError::Step(what, io::Error::from_raw_os_error(errno)))
    })();
    match result {
        Ok(()) => Ok(Launched { pid, pidfd }),
        Err(e) => {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            Err(e)
        }
    }
}

fn raw_clone3(args: &CloneArgs) -> libc::c_long {
    // SAFETY: see `clone3_owned_by`.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

/// `clone3` with the calling (launcher) thread's effective uid set to `owner` for the call,
/// so the new user namespace is owned by `owner` (`create_user_ns` takes the creator's euid).
/// Raw system calls: credentials are per thread in the kernel, and only this thread changes.
/// The filesystem uid stays 0, so the child can still open host paths as before; the saved
/// uid stays 0, so the thread always gets root back. (A change of euid also makes the daemon
/// process non-dumpable, as setuid programs are: harmless, and stricter, for a root daemon.)
/// Returns what `clone3` returned (0 in the child, which keeps the borrowed ids until it sets
/// its own).
///
/// # Safety
/// `args` must describe a fork-like clone whose child never returns to Rust code that
/// allocates or locks (see `child_main`).
unsafe fn clone3_owned_by(owner: Option<u32>, args: &CloneArgs) -> libc::c_long {
    let Some(owner) = owner else {
        return raw_clone3(args);
    };
    const KEEP: libc::uid_t = libc::uid_t::MAX;
    if libc::syscall(libc::SYS_setresuid, KEEP, owner, KEEP) != 0 {
        return raw_clone3(args);
    }
    libc::syscall(libc::SYS_setfsuid, 0);
    let ret = raw_clone3(args);
    if ret == 0 {
        return 0;
    }
    let errno = *libc::__errno_location();
    if libc::syscall(libc::SYS_setresuid, KEEP, 0, KEEP) != 0 {
        // Cannot happen (the saved uid is 0); a launcher that is not root must not go on.
        panic!("the sandbox launcher cannot become root again");
    }
    *libc::__errno_location() = errno;
    ret
}

/// Reports `(step, errno)` and exits. Async-signal-safe.
unsafe fn fail(err_fd: RawFd, step: u32) -> ! {
    let errno = *libc::__errno_location();
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&step.to_ne_bytes());
    buf[4..].copy_from_slice(&errno.to_ne_bytes());
    libc::write(err_fd, buf.as_ptr().cast(), buf.len());
    libc::_exit(127)
}

fn opt_ptr(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// The pipe ends and the parent's pidfd, as the child sees them.
struct ChildFds {
    sync_r: RawFd,
    sync_w: RawFd,
    err_w: RawFd,
    parent: RawFd,
}

/// The child between `clone3` and `exec`. Only raw system calls from here on.
unsafe fn child_main(
    plan: &ChildPlan,
    fds: ChildFds,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> ! {
    let mut err_fd = fds.err_w;
    // Only the parent may hold the sync pipe's write end: if it dies before writing, the
    // read below sees EOF instead of blocking forever. Until the id switch clears it, the
    // parent-death signal also covers that wait.
    libc::close(fds.sync_w);
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    // Wait until the parent has written our id maps.
    let mut b = 0u8;
    if libc::read(fds.sync_r, (&mut b as *mut u8).cast(), 1) != 1 {
        fail(err_fd, STEP_SYNC);
    }
    let mut slots = [-1 as RawFd; MAX_OPENS];
    if plan.opens.len() > MAX_OPENS {
        *libc::__errno_location() = libc::E2BIG;
        fail(err_fd, STEP_OPEN);
    }
    for (i, path) in plan.opens.iter().enumerate() {
        slots[i] = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if slots[i] < 0 {
            fail(err_fd, STEP_OPEN | i as u32);
        }
    }
    if let IdMode::Root { .. } = plan.ids {
        // Raw system calls: glibc's wrappers run its "setxid" broadcast to the threads it
        // believes exist (the parent's, copied state) and can wait forever on a futex.
        if libc::syscall(libc::SYS_setresgid, 0, 0, 0) != 0
            || libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
            || libc::syscall(libc::SYS_setresuid, 0, 0, 0) != 0
        {
            fail(err_fd, STEP_SETID);
        }
    }
    for (i, step) in plan.steps.iter().enumerate() {
        if run_step(step, &slots) != 0 {
            let optional = matches!(step, Step::Mount { optional: true, .. });
            if !optional {
                fail(err_fd, i as u32);
            }
        }
    }
    // File descriptors: move the error pipe out of the way, then install 0, 1, 2, 3, … from
    // temporary copies (a source may sit on a target number), and mark all the rest CLOEXEC.
    let high = (plan.fds.len() as RawFd + 3).max(64);
    err_fd = libc::fcntl(err_fd, libc::F_DUPFD_CLOEXEC, high);
    if err_fd < 0 {
        libc::_exit(126);
    }
    let mut tmp = [0 as RawFd; 16];
    if plan.fds.len() > tmp.len() {
        *libc::__errno_location() = libc::E2BIG;
        fail(err_fd, STEP_FDS);
    }
    for (i, (src, _)) in plan.fds.iter().enumerate() {
        tmp[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, high);
        if tmp[i] < 0 {
            fail(err_fd, STEP_FDS);
        }
    }
    for (i, (_, dst)) in plan.fds.iter().enumerate() {
        if libc::dup2(tmp[i], *dst) < 0 {
            fail(err_fd, STEP_FDS);
        }
    }
    let first_free = plan.fds.iter().map(|(_, d)| *d + 1).max().unwrap_or(3);
    if crate::fds::cloexec_from(first_free).is_err() {
        fail(err_fd, STEP_FDS);
    }
    for (resource, limit) in &plan.rlimits {
        let lim = libc::rlimit64 {
            rlim_cur: *limit,
            rlim_max: *limit,
        };
        if libc::syscall(
            libc::SYS_prlimit64,
            0,
            *resource,
            &lim as *const libc::rlimit64,
            std::ptr::null_mut::<libc::rlimit64>(),
        ) != 0
        {
            fail(err_fd, STEP_RLIMIT);
        }
    }
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0
    {
        fail(err_fd, STEP_PRCTL);
    }
    // The signal is armed for good now; if the daemon already died, it never will be sent.
    let mut parent = libc::pollfd {
        fd: fds.parent,
        events: libc::POLLIN,
        revents: 0,
    };
    if libc::poll(&mut parent, 1, 0) != 0 {
        libc::_exit(1);
    }
    for prog in &plan.seccomp {
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            fail(err_fd, STEP_SECCOMP);
        }
    }
    // The launcher thread blocks every signal; the agent starts with none blocked.
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    match plan.exec.fd {
        Some(fd) => {
            libc::syscall(
                libc::SYS_execveat,
                fd,
                c"".as_ptr(),
                argv,
                envp,
                libc::AT_EMPTY_PATH,
            );
        }
        None => {
            libc::execve(plan.exec.path.as_ptr(), argv, envp);
        }
    }
    fail(err_fd, STEP_EXEC)
}

/// Writes `/proc/self/fd/<fd>\0` into `buf` without allocating.
fn fd_path(fd: RawFd, buf: &mut [u8; 32]) {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[PREFIX.len() + i] = digits[len - 1 - i];
    }
    buf[PREFIX.len() + len] = 0;
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// One step; returns 0 or -1 with errno set.
unsafe fn run_step(step: &Step, slots: &[RawFd]) -> libc::c_int {
    match step {
        Step::MakeRprivate => libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ),
        Step::Mkdir {
            path,
            mode,
            traversable,
        } => {
            if libc::mkdir(path.as_ptr(), *mode) != 0 {
                if *libc::__errno_location() != libc::EEXIST {
                    return -1;
                }
                // An existing directory keeps its mode (`/tmp` stays 1777); one on the way to
                // a bind (e.g. `/root` above a pyenv Python) only gains o+x, never listing.
                if !*traversable {
                    return 0;
                }
                let mut st: libc::stat = std::mem::zeroed();
                if libc::stat(path.as_ptr(), &mut st) != 0 {
                    return -1;
                }
                return libc::chmod(path.as_ptr(), (st.st_mode & 0o7777) | 0o111);
            }
            // mkdir applies the umask; make the mode exact.
            libc::chmod(path.as_ptr(), *mode)
        }
        Step::Touch { path } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return -1;
            }
            libc::close(fd);
            0
        }
        Step::Symlink { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()),
        Step::Mount {
            source,
            target,
            fstype,
            flags,
            data,
            ..
        } => libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            opt_ptr(fstype),
            *flags,
            opt_ptr(data).cast(),
        ),
        Step::BindSlot { slot, target } => {
            let mut source = [0u8; 32];
            fd_path(slots[*slot], &mut source);
            libc::mount(
                source.as_ptr().cast(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        }
        Step::BindPath { source, target } => libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ),
        Step::MoveMount { fd, target } => libc::syscall(
            libc::SYS_move_mount,
            *fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        ) as libc::c_int,
        Step::Chown { path, uid, gid } => libc::chown(path.as_ptr(), *uid, *gid),
        Step::SetAttr { path, attr_set } => {
            let attr = MountAttr {
                attr_set: *attr_set,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::AT_RECURSIVE as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            ) as libc::c_int
        }
        Step::WriteFile {
            path,
            contents,
            mode,
        } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                *mode,
            );
            if fd < 0 {
                return -1;
            }
            let mut off = 0;
            while off < contents.len() {
                let n = libc::write(fd, contents[off..].as_ptr().cast(), contents.len() - off);
                if n <= 0 {
                    libc::close(fd);
                    return -1;
                }
                off += n as usize;
            }
            libc::fchmod(fd, *mode);
            libc::close(fd)
        }
        Step::Sysctl { path, value } => {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return if *libc::__errno_location() == libc::ENOENT {
                    0
                } else {
                    -1
                };
            }
            let n = libc::write(fd, value.as_ptr().cast(), value.len());
            libc::close(fd);
            if n == value.len() as isize {
                0
            } else {
                -1
            }
        }
        Step::PivotRoot { new_root } => {
            if libc::chdir(new_root.as_ptr()) != 0 {
                return -1;
            }
            if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
                return -1;
            }
            // The old root is now stacked on top of the new one at "/": detach it.
            if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0 {
                return -1;
            }
            libc::chdir(c"/".as_ptr())
        }
        Step::Chdir { path } => libc::chdir(path.as_ptr()),
        Step::Hostname { name } => libc::sethostname(name.as_ptr(), name.as_bytes().len()),
        Step::LoopbackUp => {
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return -1;
            }
            let mut ifr: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo\0".iter().enumerate() {
                ifr.ifr_name[i] = *b as c_char;
            }
            // `as _`: the request is a c_ulong in glibc, a c_int in musl.
            if libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut ifr) != 0 {
                libc::close(s);
                return -1;
            }
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            let r = libc::ioctl(s, libc::SIOCSIFFLAGS as _, &ifr);
            libc::close(s);
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths() {
        let mut buf = [0xffu8; 32];
        fd_path(1234, &mut buf);
        assert_eq!(
            CStr::from_bytes_until_nul(&buf).unwrap(),
            c"/proc/self/fd/1234"
        );
        fd_path(0, &mut buf);
        assert_eq!(
            CStr::from_bytes_until_nul(&buf).unwrap(),
            c"/proc/self/fd/0"
        );
    }
}
