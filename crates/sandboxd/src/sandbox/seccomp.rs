//! The seccomp filter every sandbox process runs under (docs/design.md#invariant-6-confinement),
//! compiled with `seccompiler` (rust-vmm's BPF compiler) in the daemon and installed by the launch
//! child right before it execs the agent, after `PR_SET_NO_NEW_PRIVS`; the agent, kernels and
//! commands inherit it and cannot remove it.
//!
//! It is a deny-list on top of the namespaces: the kernel surface a sandbox never needs once
//! its root is built — mounting, new namespaces (nested user namespaces are the usual first
//! step of kernel exploits), kexec, modules, BPF, perf, userfaultfd, io_uring, keyrings,
//! ptrace, handle-based opens (`open_by_handle_at`, the classic container escape), clock and
//! swap changes, vsock (not namespaced) and `TIOCSTI` terminal injection. Everything else is
//! allowed, so ordinary programs run unchanged. Foreign architectures are killed (the
//! compiler checks `AUDIT_ARCH_X86_64`); x32 numbers of the denied calls are denied too.
//!
//! A deny-list only covers the calls it names, and kernels keep adding calls (`open_tree_attr`
//! in 6.15 clones a mount like `open_tree`). So every number above [`MAX_REVIEWED`], the
//! highest one reviewed here, answers ENOSYS, as on a kernel without it: a newer kernel never
//! widens the surface unreviewed, and glibc falls back as it would on an older kernel. That
//! also refuses every x32 call (bit 30 set) and out-of-range numbers.
//!
//! The review of the calls since the mount API (424..=469, x86_64): denied are `open_tree_attr`
//! (467, a clone of a mount tree with new attributes) and `quotactl_fd` (443, as `quotactl`),
//! with the io_uring (425-427) and mount calls (428-433, 442) above; `io_setup` (older) answers
//! ENOSYS: its `fs.aio-max-nr` is one host-wide pool. Allowed, as Docker's
//! default profile does: `pidfd_open`/`pidfd_send_signal`, `close_range`, `openat2`,
//! `faccessat2`, `process_madvise`, `epoll_pwait2`, Landlock (444-446, it only restricts),
//! `memfd_secret`, `process_mrelease`, `futex_waitv`, `set_mempolicy_home_node`, `cachestat`,
//! `fchmodat2`, `map_shadow_stack`, `futex_wake/wait/requeue`, `statmount`/`listmount` (457,
//! 458: what `/proc/self/mountinfo` shows; another namespace's mounts need CAP_SYS_ADMIN over
//! its owner), `lsm_get_self_attr`/`lsm_set_self_attr`/`lsm_list_modules` (459-461: the
//! `/proc/self/attr` interface), `mseal` (462, it only restricts), `setxattrat`, `getxattrat`,
//! `listxattrat`, `removexattrat` (463-466: the `*xattr` calls with a directory fd),
//! `file_getattr`/`file_setattr` (468, 469: the `FS_IOC_FS[GS]ETXATTR` ioctls as calls).

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

/// x86_64 numbers the `libc` crate does not name yet (`arch/x86/entry/syscalls/syscall_64.tbl`).
const SYS_OPEN_TREE_ATTR: i64 = 467;

/// The highest x86_64 system call number reviewed for this filter (`file_setattr`, Linux
/// 6.17); everything above answers ENOSYS.
pub const MAX_REVIEWED: u32 = 469;

/// Denied outright (EPERM).
const DENIED: &[(&str, i64)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("open_tree", libc::SYS_open_tree),
    ("open_tree_attr", SYS_OPEN_TREE_ATTR),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("setns", libc::SYS_setns),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("syslog", libc::SYS_syslog),
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("uselib", libc::SYS_uselib),
    ("ustat", libc::SYS_ustat),
    ("sysfs", libc::SYS_sysfs),
    ("vhangup", libc::SYS_vhangup),
    ("fanotify_init", libc::SYS_fanotify_init),
];

/// x32 ABI numbers share the x86_64 audit arch; the bit marks them.
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// Namespace flags a sandbox process may not use with `clone` / `unshare`.
const NS_FLAGS: &[u64] = &[
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
    0x80, // CLONE_NEWTIME
];

const AF_VSOCK: u64 = 40;

/// The compiled filters, in installation order.
pub fn programs() -> Result<Vec<BpfProgram>, String> {
    let arch = TargetArch::x86_64;
    let err = |e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}");
    // Dword for `int` arguments, whose upper register half is unspecified.
    let cond = |arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, val: u64| {
        SeccompCondition::new(arg, len, op, val).map_err(err)
    };
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in DENIED {
        deny.insert(*nr, vec![]);
        deny.insert(*nr | X32_SYSCALL_BIT, vec![]);
    }
    // clone(flags, …) / unshare(flags) with any namespace flag.
    for (nr, len) in [
        (libc::SYS_clone, SeccompCmpArgLen::Qword),
        (libc::SYS_unshare, SeccompCmpArgLen::Dword),
    ] {
        let mut rules = Vec::new();
        for flag in NS_FLAGS {
            rules.push(
                SeccompRule::new(vec![cond(
                    0,
                    len.clone(),
                    SeccompCmpOp::MaskedEq(*flag),
                    *flag,
                )?])
                .map_err(err)?,
            );
        }
        deny.insert(nr, rules);
    }
    deny.insert(
        libc::SYS_socket,
        vec![SeccompRule::new(vec![cond(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            AF_VSOCK,
        )?])
        .map_err(err)?],
    );
    // `as _`: the ioctl numbers are c_ulong in glibc, c_int in musl.
    deny.insert(
        libc::SYS_ioctl,
        vec![
            SeccompRule::new(vec![cond(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                libc::TIOCSTI as _,
            )?])
            .map_err(err)?,
            SeccompRule::new(vec![cond(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                libc::TIOCLINUX as _,
            )?])
            .map_err(err)?,
        ],
    );
    let deny = SeccompFilter::new(
        deny,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    // ENOSYS, as from a kernel without the call, so callers fall back. clone3 passes its
    // flags in memory, where a filter cannot look: libc falls back to clone(2), whose flags
    // the filter above checks (Docker does the same). io_setup draws on `fs.aio-max-nr`, one
    // host-wide pool no namespace or cgroup divides (a sandbox could take all of it from the
    // host's databases); libaio users fall back to threads, POSIX aio never used it.
    let mut c3 = BTreeMap::new();
    c3.insert(libc::SYS_clone3, vec![]);
    c3.insert(libc::SYS_io_setup, vec![]);
    c3.insert(libc::SYS_io_setup | X32_SYSCALL_BIT, vec![]);
    let clone3 = SeccompFilter::new(
        c3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        newer_than_reviewed(),
        BpfProgram::try_from(clone3).map_err(err)?,
        BpfProgram::try_from(deny).map_err(err)?,
    ])
}

/// ENOSYS for every number above [`MAX_REVIEWED`]. seccompiler compiles per-number maps and
/// has no range rule, so this is a small program of our own; soundness: it reads only
/// `seccomp_data.arch` (offset 4) and `.nr` (offset 0), both 32-bit and always present; it
/// kills foreign architectures (as the compiled filters do), compares `nr` unsigned (so
/// negative numbers and the x32 bit count as "above"), and every path ends in a `RET`.
fn newer_than_reviewed() -> BpfProgram {
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            AUDIT_ARCH_X86_64,
            1,
            0,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jump(
            libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K,
            MAX_REVIEWED,
            0,
            1,
        ),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Names of the denied system calls (for docs and tests).
pub fn denied_names() -> impl Iterator<Item = &'static str> {
    DENIED.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles() {
        let p = programs().unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| !p.is_empty() && p.len() < 4096));
        assert!(denied_names().any(|n| n == "open_by_handle_at"));
    }

    /// Installs the filter in a forked child and checks a harmless and a denied call.
    #[test]
    fn denies_mount_allows_getpid() {
        let progs = programs().unwrap();
        // Decided before the fork: the child must not allocate.
        let has_file_setattr = kernel_at_least(6, 17);
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(10);
                }
                for p in &progs {
                    let prog = libc::sock_fprog {
                        len: p.len() as u16,
                        filter: p.as_ptr() as *mut libc::sock_filter,
                    };
                    if libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0,
                        &prog as *const libc::sock_fprog,
                    ) != 0
                    {
                        libc::_exit(11);
                    }
                }
                if libc::getpid() <= 0 {
                    libc::_exit(12);
                }
                let r = libc::syscall(libc::SYS_umount2, c"/nonexistent".as_ptr(), 0);
                if r == 0 || *libc::__errno_location() != libc::EPERM {
                    libc::_exit(13);
                }
                let r = libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER);
                if r == 0 || *libc::__errno_location() != libc::EPERM {
                    libc::_exit(14);
                }
                let r = libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0);
                if r == 0 || *libc::__errno_location() != libc::ENOSYS {
                    libc::_exit(15);
                }
                // A call newer than the review, an x32 call, a nonsense number: ENOSYS.
                for nr in [
                    MAX_REVIEWED as i64 + 1,
                    X32_SYSCALL_BIT | libc::SYS_getpid,
                    -1,
                ] {
                    let r = libc::syscall(nr);
                    if r != -1 || *libc::__errno_location() != libc::ENOSYS {
                        libc::_exit(16);
                    }
                }
                let r = libc::syscall(SYS_OPEN_TREE_ATTR, libc::AT_FDCWD, c"/".as_ptr(), 1, 0, 0);
                if r == 0 || *libc::__errno_location() != libc::EPERM {
                    libc::_exit(17);
                }
                // The reviewed maximum itself reaches the kernel (file_setattr with bad
                // arguments: EFAULT/EINVAL/EBADF, or ENOSYS only from a kernel before 6.17).
                let r = libc::syscall(MAX_REVIEWED as i64, -1, 0, 0, 0, 0);
                let e = *libc::__errno_location();
                if r == 0 || e == libc::EPERM || (e == libc::ENOSYS && has_file_setattr) {
                    libc::_exit(18);
                }
                let mut st: libc::statx = std::mem::zeroed();
                if libc::statx(
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    0,
                    libc::STATX_BASIC_STATS,
                    &mut st,
                ) != 0
                {
                    libc::_exit(19);
                }
                libc::_exit(0);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            assert!(libc::WIFEXITED(status), "status {status}");
            assert_eq!(libc::WEXITSTATUS(status), 0);
        }
    }

    fn kernel_at_least(major: u32, minor: u32) -> bool {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut parts = release
            .trim()
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (a, b) >= (major, minor)
    }
}
