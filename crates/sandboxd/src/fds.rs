//! Descriptor hygiene: nothing but what a spawn path names reaches a process the runtime
//! starts. Every spawn — the sandbox's agent (`sandbox/launch.rs`), kernels, commands and
//! PTYs (`agent/`), slirp4netns and the daemon's probes (`sandbox/`) — marks every
//! descriptor above the ones it passes close-on-exec in the child, right before `exec`, with
//! [`cloexec_from`]; [`inherit_only`] installs that as a `std::process::Command` hook. The
//! agent also marks what it inherited close-on-exec as soon as it starts
//! ([`cloexec_from`]`(3)`), so even a path that forgot would not leak its listening socket.
//!
//! `CLOSE_RANGE_CLOEXEC` rather than closing: std's exec-error pipe is already close-on-exec
//! and must stay open until `exec` so that a failed `exec` is still reported.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Marks every descriptor `>= first` close-on-exec. Only raw system calls, no allocation:
/// safe between `fork`/`clone` and `exec` of a multi-threaded parent.
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    let first = first.max(0) as libc::c_uint;
    // SAFETY: close_range only changes descriptor flags of this process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL)) {
        return Err(err);
    }
    // Kernels before 5.11 (no CLOSE_RANGE_CLOEXEC): every possible descriptor in turn.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let end = lim.rlim_cur.min(1 << 20) as libc::c_uint;
    for fd in first..end {
        // SAFETY: fcntl on a number that may or may not be open; EBADF is fine.
        unsafe {
            let flags = libc::fcntl(fd as RawFd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd as RawFd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Makes `cmd`'s child keep only descriptors `0..keep` across `exec` (`keep` = 3: stdin,
/// stdout, stderr). Hooks run in the order they were added, so add this after any hook that
/// installs descriptors the child should keep (e.g. a `dup2` to fd 3).
pub fn inherit_only(cmd: &mut Command, keep: RawFd) -> &mut Command {
    // SAFETY: the hook runs in the forked child before exec and only makes raw system calls
    // (see `cloexec_from`).
    unsafe { cmd.pre_exec(move || cloexec_from(keep)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn inheritable_pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// A descriptor left inheritable by mistake does not reach the child; a child that
    /// installs a descriptor before the hook keeps it; a failing exec is still reported.
    #[test]
    fn only_the_named_descriptors_reach_the_child() {
        let (r, _w) = inheritable_pipe();
        let leaked = r.as_raw_fd();
        let out = inherit_only(
            Command::new("/bin/sh").args(["-c", &format!("ls /proc/self/fd/{leaked}")]),
            3,
        )
        .output()
        .unwrap();
        assert!(!out.status.success(), "fd {leaked} reached the child");

        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "ls /proc/self/fd/3"]);
        // SAFETY: dup2 only.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(leaked, 3) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        assert!(inherit_only(&mut cmd, 4).output().unwrap().status.success());

        let e = inherit_only(&mut Command::new("/nonexistent/program"), 3)
            .status()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
