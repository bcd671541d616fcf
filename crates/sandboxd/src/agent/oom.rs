//! Telling an out-of-memory kill from other deaths, so an execution killed by the sandbox's
//! memory limit is reported as such (docs/design.md#invariant-5-limits: a typed error, not a hang
//! or a "timeout"). The daemon passes the sandbox's memory-cgroup event file as an fd
//! ([`super::config::MEMORY_EVENTS_FD`]); no cgroup file system is mounted inside.

use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::Mutex;

use super::config::MEMORY_EVENTS_FD;
use crate::sandbox::cgroup::read_oom_kills_fd;

/// The `name` of the execution error for a kill by the memory limit.
pub const ERROR_NAME: &str = "MemoryLimitExceeded";

struct State {
    events: File,
    seen: u64,
    limit_mb: u64,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Takes over the inherited event fd (when the daemon passed one).
pub fn init(limit_mb: Option<u64>) {
    let Some(limit_mb) = limit_mb else { return };
    // SAFETY: the launcher installs MEMORY_EVENTS_FD when it sets memory_limit_mb.
    let mut events = unsafe { File::from_raw_fd(MEMORY_EVENTS_FD) };
    unsafe { libc::fcntl(MEMORY_EVENTS_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    let seen = read_oom_kills_fd(&mut events).unwrap_or(0);
    *STATE.lock().unwrap() = Some(State {
        events,
        seen,
        limit_mb,
    });
}

/// For a process that died with wait status `status`: `Some(message)` when it was SIGKILLed
/// and the memory cgroup counted a new OOM kill since the last call, i.e. the memory limit
/// killed it.
pub fn killed_by_memory_limit(status: i32) -> Option<String> {
    let mut guard = STATE.lock().unwrap();
    let state = guard.as_mut()?;
    let now = read_oom_kills_fd(&mut state.events)?;
    let new = now > state.seen;
    state.seen = now;
    (new && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL).then(|| {
        format!(
            "The process was killed for exceeding the sandbox's memory limit ({} MiB); the \
             context was restarted and its state is lost. Use less memory, or raise the limit \
             (`e2b-local serve --memory-mb`, or metadata {{\"e2b-local:memory-mb\": \"…\"}} at \
             creation).",
            state.limit_mb
        )
    })
}
