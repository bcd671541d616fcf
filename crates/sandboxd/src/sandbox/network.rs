//! Outbound network for sandboxes that ask for it (`allow_internet_access`,
//! docs/design.md#invariant-4-network). Every sandbox has its own network namespace with only `lo`;
//! with internet access and a root daemon, `slirp4netns` attaches a user-mode TCP/IP stack to it (a
//! `tap0` device, 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) — hardened as
//! docs/platform.md#network explains, because by default it forwards 10.0.2.2 to the host's
//! 127.0.0.1: `--disable-host-loopback --enable-sandbox --enable-seccomp`.
//!
//! Without root (`/dev/net/tun` is root-only on these machines) or without slirp4netns the
//! sandbox has no network; [`Network::unavailable_reason`] says why, for the WARNING and the
//! sandbox's `localNotes`. pasta is not used: the Debian 12 build cannot attach to a
//! root-owned namespace and forwards host ports by default (docs/platform.md#network).

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// What this daemon can offer.
#[derive(Debug, Clone)]
pub enum Network {
    /// slirp4netns at this path, run as root.
    Slirp(PathBuf),
    /// No outbound network is possible; the reason.
    Unavailable(String),
}

impl Network {
    pub fn detect() -> Network {
        let Some(slirp) = find_on_path("slirp4netns") else {
            return Network::Unavailable(
                "no user-mode network stack is installed (install the `slirp4netns` package); \
                 the sandbox has no network"
                    .into(),
            );
        };
        if unsafe { libc::geteuid() } != 0 {
            return Network::Unavailable(
                "outbound network needs the daemon to run as root (slirp4netns needs \
                 /dev/net/tun, which is root-only here); the sandbox has no network"
                    .into(),
            );
        }
        Network::Slirp(slirp)
    }

    pub fn unavailable_reason(&self) -> Option<&str> {
        match self {
            Network::Slirp(_) => None,
            Network::Unavailable(r) => Some(r),
        }
    }

    /// Attaches the stack to the network namespace of `init_pid`.
    pub fn attach(&self, init_pid: i32) -> io::Result<Option<SlirpHandle>> {
        let Network::Slirp(path) = self else {
            return Ok(None);
        };
        SlirpHandle::start(path, init_pid).map(Some)
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A running slirp4netns. It exits when the daemon closes `exit_w` (on kill, or when the
/// daemon dies: the kernel closes the fd), so it never outlives its sandbox's owner.
#[derive(Debug)]
pub struct SlirpHandle {
    child: Mutex<Option<Child>>,
    exit_w: Mutex<Option<OwnedFd>>,
}

impl SlirpHandle {
    fn start(path: &Path, pid: i32) -> io::Result<SlirpHandle> {
        let (exit_r, exit_w) = pipe()?;
        let (ready_r, ready_w) = pipe()?;
        let (er, rw) = (exit_r.as_raw_fd(), ready_w.as_raw_fd());
        let mut cmd = Command::new(path);
        cmd.args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            "--enable-seccomp",
            "--exit-fd=3",
            "--ready-fd=4",
        ])
        .arg(pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only dup2 (async-signal-safe) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(er, 3) < 0 || libc::dup2(rw, 4) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Its exit and ready fds, nothing else of the daemon's.
        crate::fds::inherit_only(&mut cmd, 5);
        let child = cmd.spawn()?;
        drop((exit_r, ready_w));
        let handle = SlirpHandle {
            child: Mutex::new(Some(child)),
            exit_w: Mutex::new(Some(exit_w)),
        };
        // slirp4netns writes "1" to the ready fd once tap0 is configured.
        let mut ready = std::fs::File::from(ready_r);
        let deadline = Instant::now() + READY_TIMEOUT;
        unsafe {
            libc::fcntl(ready.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
        }
        let mut buf = [0u8; 1];
        loop {
            match ready.read(&mut buf) {
                Ok(1) => return Ok(handle),
                Ok(_) => {
                    handle.stop();
                    return Err(io::Error::other(
                        "slirp4netns exited before configuring the sandbox network",
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    handle.stop();
                    return Err(e);
                }
            }
            if Instant::now() >= deadline {
                handle.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "slirp4netns did not configure the sandbox network within 5 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Host pid of the slirp4netns process.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().unwrap().as_ref().map(|c| c.id())
    }

    /// Stops it and reaps it. Idempotent.
    pub fn stop(&self) {
        drop(self.exit_w.lock().unwrap().take());
        if let Some(mut child) = self.child.lock().unwrap().take() {
            // Closing the exit fd makes it quit; SIGKILL if it does not within 1 s.
            let deadline = Instant::now() + Duration::from_secs(1);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
    }
}

impl Drop for SlirpHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
