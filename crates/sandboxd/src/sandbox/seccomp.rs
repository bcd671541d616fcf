//! The seccomp filter every sandbox process runs under (design §4.2 invariant 6), compiled
//! with `seccompiler` (rust-vmm's BPF compiler) in the daemon and installed by the launch
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

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Denied outright (EPERM).
const DENIED: &[(&str, i64)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("open_tree", libc::SYS_open_tree),
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
    // clone3 passes its flags in memory, where a filter cannot look: answer ENOSYS so libc
    // falls back to clone(2), whose flags the filter above checks (Docker does the same).
    let mut c3 = BTreeMap::new();
    c3.insert(libc::SYS_clone3, vec![]);
    let clone3 = SeccompFilter::new(
        c3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        BpfProgram::try_from(clone3).map_err(err)?,
        BpfProgram::try_from(deny).map_err(err)?,
    ])
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
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| !p.is_empty() && p.len() < 4096));
        assert!(denied_names().any(|n| n == "open_by_handle_at"));
    }

    /// Installs the filter in a forked child and checks a harmless and a denied call.
    #[test]
    fn denies_mount_allows_getpid() {
        let progs = programs().unwrap();
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
                libc::_exit(0);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            assert!(libc::WIFEXITED(status), "status {status}");
            assert_eq!(libc::WEXITSTATUS(status), 0);
        }
    }
}
