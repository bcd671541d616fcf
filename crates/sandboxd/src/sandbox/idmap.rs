//! The idmapped, read-only view of the host `/usr` that a root daemon gives every sandbox as
//! the lower layer of its `/usr` overlay (docs/platform.md#idmapped-mounts).
//!
//! Sandbox ids 0.. map to a host range from [`super::SUBID_BASE`] on, so host root's files
//! would show as `nobody` inside and the overlay could not copy them up: writes under `/usr`
//! would fail. An idmapped mount shifts ownership in the view only (host 0 appears as the
//! range's first id, which is sandbox root), so copy-ups and `pip install` into `/usr/local`
//! work and land in the sandbox's own upper layer; the host `/usr` stays untouched (the mount
//! is read-only).
//!
//! A helper user namespace with the sandbox's mapping is created for each sandbox (its id
//! range is its own) and only lives on in the idmapped mount: each sandbox gets its own
//! detached clone of the mount (`open_tree(OPEN_TREE_CLONE)` of an idmapped tree), attached by
//! the launch child inside its own mount namespace — nothing is ever mounted in the host's
//! namespace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A user namespace with `0 base count` maps, held open by fd.
fn helper_userns(base: u32, count: u32) -> io::Result<OwnedFd> {
    // ready: child → parent once unshared; done: EOF tells the child to exit.
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: the child only makes async-signal-safe calls (close, unshare, write, read,
    // _exit).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::close(ready_r.as_raw_fd());
            libc::close(done_w.as_raw_fd());
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                libc::_exit(1);
            }
            let x = 1u8;
            libc::write(ready_w.as_raw_fd(), (&x as *const u8).cast(), 1);
            let mut b = 0u8;
            libc::read(done_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop((ready_w, done_r));
    let result = (|| {
        let mut b = 0u8;
        if unsafe { libc::read(ready_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1) } != 1 {
            return Err(io::Error::other("the idmap helper did not start"));
        }
        let map = format!("0 {base} {count}\n");
        std::fs::write(format!("/proc/{pid}/uid_map"), &map)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), &map)?;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))?;
        Ok(OwnedFd::from(f))
    })();
    drop(done_w);
    unsafe {
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    result
}

/// A detached, read-only, idmapped clone of host `/usr` for one sandbox (close-on-exec; the
/// launch child attaches it with `move_mount` before it execs).
pub fn idmapped_usr(base: u32, count: u32) -> Result<OwnedFd, String> {
    // One per sandbox (each has its own range); the idmapped mount keeps the namespace
    // alive, the daemon keeps nothing.
    let ns = helper_userns(base, count)
        .map_err(|e| format!("cannot create the idmap user namespace: {e}"))?;
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/usr".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(format!(
            "open_tree(/usr) failed: {}",
            io::Error::last_os_error()
        ));
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: libc::MOUNT_ATTR_IDMAP
            | libc::MOUNT_ATTR_RDONLY
            | libc::MOUNT_ATTR_NOSUID
            | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: ns.as_raw_fd() as u64,
    };
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(format!(
            "cannot idmap /usr (mount_setattr MOUNT_ATTR_IDMAP): {}; the file system of /usr \
             must support idmapped mounts (ext4, xfs, btrfs, tmpfs …)",
            io::Error::last_os_error()
        ));
    }
    Ok(fd)
}
