//! Per-sandbox caps on the kernel's shared pools: every kernel-wide counter sandbox code can
//! draw on gets a cap of its own in the sandbox, so one sandbox cannot take what the host,
//! the daemon's user or another sandbox needs. (`docs/security.md` lists each with its test.)
//!
//! * **ptys**: the sandbox's own devpts instance is mounted with `max=` [`PTY_MAX`]
//!   (`rootfs.rs`); the host keeps `kernel.pty.reserve` for its own instance in any case.
//! * **`/proc/sys/user/max_*`** (inotify instances and watches, fanotify groups and marks,
//!   every namespace kind): ucounts, per user namespace and hierarchical. The launch child,
//!   which holds CAP_SYS_RESOURCE in the sandbox's new user namespace, writes
//!   [`USER_SYSCTLS`] there before `/proc/sys` turns read-only; each value caps each sandbox
//!   uid. Every charge also rolls up to the namespace's *owner* in the host namespace, where
//!   the host's per-user limit (`fs.inotify.max_user_instances`, …) applies:
//!   * root daemon: every sandbox gets a host id range of its own ([`IdRange`]) and its user
//!     namespace is owned by the first id of it (the host uid of sandbox root), never by host
//!     root, so all the sandbox's uids together stay within one host per-user limit that
//!     nothing else uses. The kernel's per-host-uid pools (`fs.epoll.max_user_watches`, pipe
//!     pages, descriptors in flight) are then per sandbox as well;
//!   * unprivileged daemon: the owner can only be the daemon's user, whose per-user limits
//!     the sandboxes share with that user (each sandbox has a single uid, capped here).
//! * **rlimits** ([`RLIMITS`], soft and hard, set by the launch child for the agent and all
//!   it starts; raising a hard limit needs CAP_SYS_RESOURCE in the host namespace): POSIX
//!   message queue bytes and pending signals (both ucounts as well), locked memory (SysV
//!   `SHM_LOCK`, `mlock`), open files per process.
//! * keys (`keyctl`, `add_key`, `request_key`) and fanotify (`fanotify_init`) are refused by
//!   seccomp; pids, memory and CPU are cgroup limits (`cgroup.rs`).

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Most ptys a sandbox may have open at once (its devpts `max=`).
pub const PTY_MAX: u32 = 64;

/// `/proc/sys/user/<name>` values written in the sandbox's user namespace (per sandbox uid).
pub const USER_SYSCTLS: &[(&str, u64)] = &[
    ("max_inotify_instances", 32),
    ("max_inotify_watches", 16384),
    // fanotify_init is refused by seccomp; these hold if that ever changes.
    ("max_fanotify_groups", 0),
    ("max_fanotify_marks", 0),
    // New namespaces are refused by seccomp too (nested user namespaces are the usual first
    // step of a kernel exploit); 0 here holds without it.
    ("max_user_namespaces", 0),
    ("max_mnt_namespaces", 0),
    ("max_pid_namespaces", 0),
    ("max_net_namespaces", 0),
    ("max_ipc_namespaces", 0),
    ("max_uts_namespaces", 0),
    ("max_cgroup_namespaces", 0),
    ("max_time_namespaces", 0),
];

/// `(resource, limit)` set as soft and hard limit; a lower limit the daemon already has
/// stays.
pub const RLIMITS: &[(libc::__rlimit_resource_t, u64)] = &[
    (libc::RLIMIT_MSGQUEUE, 256 << 10),
    (libc::RLIMIT_SIGPENDING, 4096),
    (libc::RLIMIT_MEMLOCK, 8 << 20),
    (libc::RLIMIT_NOFILE, 65536),
];

/// The limits to apply: [`RLIMITS`], each at most the daemon's own hard limit (raising one
/// would fail).
pub fn rlimits() -> Vec<(libc::__rlimit_resource_t, u64)> {
    RLIMITS
        .iter()
        .map(|&(res, want)| {
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit fills the struct we pass.
            let max = if unsafe { libc::getrlimit(res, &mut cur) } == 0 {
                cur.rlim_max
            } else {
                want
            };
            (res, want.min(max))
        })
        .collect()
}

/// Most root-mode sandboxes one daemon runs at once (each needs an id range of its own).
pub const MAX_RANGES: u32 = 4096;

/// The host ids one root-mode sandbox's ids `0..count` map to: `first + slot × count ..`, a
/// range no other live sandbox of this daemon has. Its first id (sandbox root) also owns the
/// sandbox's user namespace, so the sandbox's ucounts roll up to it and not to host root. A
/// namespace owner has privileges only over processes of its *parent* namespace with that
/// euid; there are none, since every process with such a host uid lives inside the sandbox's
/// own namespace. Released (for a later sandbox) on drop.
#[derive(Debug)]
pub struct IdRange {
    pub base: u32,
    slot: u32,
}

static SLOTS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

impl IdRange {
    /// The lowest free range; `None` when [`MAX_RANGES`] are taken.
    pub fn take(first: u32, count: u32) -> Option<IdRange> {
        let mut used = SLOTS.lock().unwrap();
        let slot = (0..MAX_RANGES).find(|s| !used.contains(s))?;
        let base = first.checked_add(slot.checked_mul(count)?)?;
        base.checked_add(count)?;
        used.insert(slot);
        Some(IdRange { base, slot })
    }
}

impl Drop for IdRange {
    fn drop(&mut self) {
        SLOTS.lock().unwrap().remove(&self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_disjoint_and_reused() {
        let a = IdRange::take(100_000, 65_536).unwrap();
        let b = IdRange::take(100_000, 65_536).unwrap();
        assert!(a.base.abs_diff(b.base) >= 65_536, "{a:?} {b:?}");
        for r in [&a, &b] {
            assert!(
                r.base >= 100_000 && (r.base - 100_000) % 65_536 == 0,
                "{r:?}"
            );
        }
        let freed = a.base;
        drop(a);
        let c = IdRange::take(100_000, 65_536).unwrap();
        assert_eq!(c.base, freed);
        // No range past the end of the id space.
        assert!(IdRange::take(u32::MAX - 10, 65_536).is_none());
    }

    #[test]
    fn rlimits_never_exceed_the_daemons() {
        for (res, lim) in rlimits() {
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            assert_eq!(unsafe { libc::getrlimit(res, &mut cur) }, 0);
            assert!(lim <= cur.rlim_max);
        }
    }
}
