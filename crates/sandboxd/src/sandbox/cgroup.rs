//! Per-sandbox cgroups: resource limits (memory, pids, cpu), pause/resume by freezing, OOM
//! accounting and kill-all. Plain file writes under `/sys/fs/cgroup` (it is just files).
//!
//! Two backends, chosen at runtime ([`Cgroups::detect`]):
//! * **v1** (the supported hosts, docs/platform.md#cgroups): one directory per controller hierarchy
//!   — `memory`, `pids`, `cpu`, `freezer` — plus, when the hybrid `unified` v2 mount exists, a v2
//!   directory for `cgroup.kill` / `cgroup.freeze`.
//! * **v2** (modern distributions): one directory in the unified hierarchy with `memory.max`,
//!   `pids.max`, `cpu.max`, `cgroup.freeze`, `cgroup.kill`.
//!
//! Every sandbox cgroup lives under a configurable parent (`--cgroup-parent`), never inside the
//! daemon's own cgroup: the machine's supervisor owns that subtree. A controller whose parent
//! cannot be created (an unprivileged daemon without delegation, a v2 controller bound to v1) is
//! reported as unavailable — never pretended.

use std::fs;
use std::io::{self, Read, Seek};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CFS_PERIOD_US: u64 = 100_000;

/// Resource limits of one sandbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_mb: u64,
    pub pids: u64,
    /// CPUs worth of time per period (fractions allowed).
    pub cpus: f64,
    /// Size of the writable layer.
    pub disk_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 1024,
            pids: 512,
            cpus: 2.0,
            disk_mb: 1024,
        }
    }
}

/// A controller directory kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// v1 hierarchies.
    Memory,
    Pids,
    Cpu,
    Freezer,
    /// A v2 directory: in the hybrid layout only core files (kill, freeze, events); in the
    /// unified layout also the resource controllers.
    Unified,
}

/// The cgroup layout of this host and what the daemon can use of it.
#[derive(Debug, Clone)]
pub struct Cgroups {
    version: Version,
    /// Parent cgroup path relative to each hierarchy's root.
    parent: PathBuf,
    /// Usable hierarchies: (kind, absolute parent directory).
    usable: Vec<(Kind, PathBuf)>,
    /// Why a wanted controller is not usable, for logs and `localNotes`.
    missing: Vec<String>,
    /// Directories this daemon created for `parent` (outermost first), removed again on a
    /// clean shutdown; a parent that existed before (e.g. delegated by an admin) stays.
    created: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
    None,
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC }
}

impl Cgroups {
    /// Looks at `/sys/fs/cgroup` and creates `parent` in every hierarchy the daemon needs.
    pub fn detect(parent: &str) -> Cgroups {
        Self::detect_at(Path::new(CGROUP_ROOT), parent)
    }

    fn detect_at(root: &Path, parent: &str) -> Cgroups {
        let parent = PathBuf::from(parent.trim_matches('/'));
        let mut me = Cgroups {
            version: Version::None,
            parent: parent.clone(),
            usable: Vec::new(),
            missing: Vec::new(),
            created: Vec::new(),
        };
        if is_cgroup2(root) {
            me.version = Version::V2;
            let dir = root.join(&parent);
            if !can_migrate_v2(&parent) {
                me.missing.push(format!(
                    "cgroup v2 {}: a non-root daemon may only move processes within a \
                     delegated subtree that contains itself (start it inside one, e.g. with \
                     `systemd-run --user --scope -p Delegate=yes`)",
                    dir.display()
                ));
                return me;
            }
            let controllers =
                fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            match enable_v2_controllers(root, &parent) {
                Ok(()) => me.usable.push((Kind::Unified, dir)),
                Err(e) => me.missing.push(format!(
                    "cgroup v2 parent {} is not usable: {e}",
                    dir.display()
                )),
            }
            for c in ["memory", "pids", "cpu"] {
                if !controllers.split_whitespace().any(|x| x == c) {
                    me.missing.push(format!(
                        "the cgroup v2 {c} controller is not available (not in {}/cgroup.controllers)",
                        root.display()
                    ));
                }
            }
            return me;
        }
        if !root.join("memory").is_dir() && !root.join("pids").is_dir() {
            me.missing.push(format!(
                "no cgroup hierarchy found under {}",
                root.display()
            ));
            return me;
        }
        me.version = Version::V1;
        for (kind, name) in [
            (Kind::Memory, "memory"),
            (Kind::Pids, "pids"),
            (Kind::Cpu, "cpu"),
            (Kind::Freezer, "freezer"),
        ] {
            let hierarchy = root.join(name);
            if !hierarchy.is_dir() {
                me.missing
                    .push(format!("the cgroup v1 {name} controller is not mounted"));
                continue;
            }
            let dir = hierarchy.join(&parent);
            match create_dirs(&dir, &mut me.created) {
                Ok(()) => me.usable.push((kind, dir)),
                Err(e) => me.missing.push(format!(
                    "cgroup {} is not writable ({e}); delegate it to this user or run as root",
                    dir.display()
                )),
            }
        }
        let unified = root.join("unified");
        if is_cgroup2(&unified) {
            let dir = unified.join(&parent);
            if !can_migrate_v2(&parent) {
                me.missing.push(format!(
                    "cgroup v2 {}: a non-root daemon may only move processes within a \
                     delegated subtree that contains itself; kill and freeze use the v1 \
                     fallbacks",
                    dir.display()
                ));
            } else {
                match create_dirs(&dir, &mut me.created) {
                    Ok(()) => me.usable.push((Kind::Unified, dir)),
                    Err(e) => me.missing.push(format!(
                        "cgroup {} is not writable ({e}); kill and freeze use the v1 fallbacks",
                        dir.display()
                    )),
                }
            }
        }
        me
    }

    /// `"v1"`, `"v2"` or `"none"`.
    pub fn version(&self) -> &'static str {
        match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::None => "none",
        }
    }

    /// What is not enforced, one sentence each (empty when every limit is).
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// Whether limits of each kind are enforced: (memory, pids, cpu, freeze).
    pub fn enforced(&self) -> (bool, bool, bool, bool) {
        let has = |k| self.usable.iter().any(|(kind, _)| *kind == k);
        match self.version {
            Version::V2 => {
                let u = has(Kind::Unified);
                let m = self.missing.is_empty();
                (u && m, u && m, u && m, u)
            }
            Version::V1 => (
                has(Kind::Memory),
                has(Kind::Pids),
                has(Kind::Cpu),
                has(Kind::Freezer) || has(Kind::Unified),
            ),
            Version::None => (false, false, false, false),
        }
    }

    /// Parent path relative to the hierarchies (for messages and tests).
    pub fn parent(&self) -> &Path {
        &self.parent
    }

    /// Creates the cgroups of sandbox `id` with `limits`.
    pub fn create(&self, id: &str, limits: &Limits) -> io::Result<SandboxCgroup> {
        let mut cg = SandboxCgroup {
            dirs: Vec::new(),
            v2_resources: self.version == Version::V2,
        };
        for (kind, parent) in &self.usable {
            let dir = parent.join(id);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    cg.remove_now();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot create cgroup {}: {e}", dir.display()),
                    ));
                }
            }
            cg.dirs.push((*kind, dir));
        }
        if let Err(e) = cg.apply(limits) {
            cg.remove_now();
            return Err(e);
        }
        Ok(cg)
    }

    /// Removes the parent cgroup directories this daemon created (once empty), so a stopped
    /// daemon leaves none behind.
    pub fn remove_parents(&self) {
        for dir in self.created.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }

    /// Removes sandbox cgroups a crashed daemon left under the parent (killing what is left
    /// in them). Returns one line per removed cgroup.
    pub fn reap_leftovers(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for (_, parent) in &self.usable {
            if let Ok(rd) = fs::read_dir(parent) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if !ids.contains(&name) {
                            ids.push(name);
                        }
                    }
                }
            }
        }
        let mut report = Vec::new();
        for id in ids {
            let cg = SandboxCgroup {
                dirs: self
                    .usable
                    .iter()
                    .map(|(k, p)| (*k, p.join(&id)))
                    .filter(|(_, d)| d.is_dir())
                    .collect(),
                v2_resources: self.version == Version::V2,
            };
            cg.kill_all();
            if cg.remove_blocking(Duration::from_secs(3)) {
                report.push(format!("removed leftover cgroup of sandbox {id}"));
            } else {
                report.push(format!("cannot remove leftover cgroup of sandbox {id}"));
            }
        }
        report
    }
}

/// Whether this process may move its children into `parent` of the v2 hierarchy: root may;
/// others only when their own cgroup is inside `parent` (the delegation containment rule).
fn can_migrate_v2(parent: &Path) -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    own.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .is_some_and(|p| Path::new(p.trim()).starts_with(Path::new("/").join(parent)))
}

/// Enables memory, pids and cpu for the children of every ancestor of `parent` (best effort:
/// a controller the root lacks is reported by the caller) and creates it.
fn enable_v2_controllers(root: &Path, parent: &Path) -> io::Result<()> {
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<&str> = ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|c| available.split_whitespace().any(|x| x == *c))
        .collect();
    let mut dir = root.to_path_buf();
    for comp in parent.components() {
        for c in &wanted {
            // EBUSY/EINVAL when already on or impossible; the check below tells.
            let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
        }
        dir.push(comp);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for c in &wanted {
        let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
    }
    Ok(())
}

/// The cgroup directories of one sandbox.
#[derive(Debug)]
pub struct SandboxCgroup {
    dirs: Vec<(Kind, PathBuf)>,
    /// Unified hierarchy with the resource controllers (v2 backend).
    v2_resources: bool,
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(file), value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot write {value:?} to {}: {e}",
                dir.join(file).display()
            ),
        )
    })
}

impl SandboxCgroup {
    fn dir(&self, kind: Kind) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d.as_path())
    }

    fn apply(&self, l: &Limits) -> io::Result<()> {
        let bytes = l.memory_mb.saturating_mul(1 << 20);
        let quota = ((l.cpus * CFS_PERIOD_US as f64).round() as u64).max(1000);
        if self.v2_resources {
            if let Some(d) = self.dir(Kind::Unified) {
                // Missing controller files are reported by Cgroups::missing.
                let _ = write(d, "memory.max", &bytes.to_string());
                let _ = write(d, "memory.swap.max", "0");
                let _ = write(d, "pids.max", &l.pids.to_string());
                let _ = write(d, "cpu.max", &format!("{quota} {CFS_PERIOD_US}"));
            }
            return Ok(());
        }
        if let Some(d) = self.dir(Kind::Memory) {
            write(d, "memory.limit_in_bytes", &bytes.to_string())?;
            if d.join("memory.memsw.limit_in_bytes").exists() {
                write(d, "memory.memsw.limit_in_bytes", &bytes.to_string())?;
            }
        }
        if let Some(d) = self.dir(Kind::Pids) {
            write(d, "pids.max", &l.pids.to_string())?;
        }
        if let Some(d) = self.dir(Kind::Cpu) {
            write(d, "cpu.cfs_period_us", &CFS_PERIOD_US.to_string())?;
            write(d, "cpu.cfs_quota_us", &quota.to_string())?;
        }
        Ok(())
    }

    /// Moves `pid` (the sandbox's init, before it runs anything) into every cgroup.
    pub fn add_pid(&self, pid: i32) -> io::Result<()> {
        for (_, d) in &self.dirs {
            write(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// The file whose `oom_kill N` line counts OOM kills (v1 `memory.oom_control`, v2
    /// `memory.events`), opened read-only for the agent.
    pub fn open_memory_events(&self) -> Option<OwnedFd> {
        let path = if self.v2_resources {
            self.dir(Kind::Unified)?.join("memory.events")
        } else {
            self.dir(Kind::Memory)?.join("memory.oom_control")
        };
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .ok()
            .map(OwnedFd::from)
    }

    /// OOM kills so far.
    pub fn oom_kills(&self) -> Option<u64> {
        let path = if self.v2_resources {
            self.dir(Kind::Unified)?.join("memory.events")
        } else {
            self.dir(Kind::Memory)?.join("memory.oom_control")
        };
        parse_oom_kills(&fs::read_to_string(path).ok()?)
    }

    /// Current memory use in bytes.
    pub fn memory_bytes(&self) -> Option<u64> {
        let path = if self.v2_resources {
            self.dir(Kind::Unified)?.join("memory.current")
        } else {
            self.dir(Kind::Memory)?.join("memory.usage_in_bytes")
        };
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// CPU time used so far by every process of the sandbox, in nanoseconds (v2
    /// `cpu.stat` `usage_usec`, v1 `cpuacct.usage`, which the `cpu` hierarchy carries when it
    /// is co-mounted with `cpuacct`).
    pub fn cpu_usage_ns(&self) -> Option<u64> {
        if let Some(d) = self.dir(Kind::Unified) {
            if let Ok(text) = fs::read_to_string(d.join("cpu.stat")) {
                return parse_cpu_stat_usec(&text).map(|us| us.saturating_mul(1000));
            }
        }
        let d = self.dir(Kind::Cpu)?;
        fs::read_to_string(d.join("cpuacct.usage"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Host paths of the sandbox's cgroup directories (for tests and logs).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    /// Freezes (`true`) or thaws every process; waits until the kernel confirms.
    pub fn set_frozen(&self, frozen: bool) -> io::Result<()> {
        if let Some(d) = self.dir(Kind::Unified) {
            write(d, "cgroup.freeze", if frozen { "1" } else { "0" })?;
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            return wait_for(|| {
                fs::read_to_string(d.join("cgroup.events"))
                    .map(|s| s.lines().any(|l| l == want))
                    .unwrap_or(false)
            });
        }
        if let Some(d) = self.dir(Kind::Freezer) {
            let state = if frozen { "FROZEN" } else { "THAWED" };
            write(d, "freezer.state", state)?;
            return wait_for(|| {
                fs::read_to_string(d.join("freezer.state"))
                    .map(|s| s.trim() == state)
                    .unwrap_or(false)
            });
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no freezer cgroup is available (cgroup v1 freezer or v2 cgroup.freeze)",
        ))
    }

    /// Kills every process in the cgroups (v2 `cgroup.kill`; otherwise SIGKILL to each listed
    /// pid, thawing first so that frozen tasks can die).
    pub fn kill_all(&self) {
        if let Some(d) = self.dir(Kind::Unified) {
            if fs::write(d.join("cgroup.kill"), "1").is_ok() {
                return;
            }
        }
        for _ in 0..3 {
            let mut any = false;
            for (_, d) in &self.dirs {
                for pid in read_pids(d) {
                    any = true;
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if let Some(d) = self.dir(Kind::Freezer) {
                let _ = fs::write(d.join("freezer.state"), "THAWED");
            }
            if !any {
                break;
            }
        }
    }

    fn populated(&self) -> bool {
        self.dirs.iter().any(|(_, d)| !read_pids(d).is_empty())
    }

    fn remove_now(&mut self) {
        for (_, d) in &self.dirs {
            let _ = fs::remove_dir(d);
        }
    }

    /// Removes the directories, retrying while exiting tasks still hold them; true when all
    /// are gone.
    pub fn remove_blocking(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let mut left = false;
            for (_, d) in &self.dirs {
                match fs::remove_dir(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => left = true,
                }
            }
            if !left {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if self.populated() {
                self.kill_all();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `create_dir_all` that records each directory it had to create, outermost first.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.is_dir()).collect();
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => created.push(d.to_path_buf()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn read_pids(dir: &Path) -> Vec<i32> {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(dir.join("cgroup.procs")) {
        let _ = f.read_to_string(&mut s);
    }
    s.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn wait_for(mut done: impl FnMut() -> bool) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the cgroup freezer did not settle within 5 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Parses the `oom_kill N` line of `memory.oom_control` / `memory.events`.
/// `usage_usec N` of a v2 `cpu.stat`.
pub fn parse_cpu_stat_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

pub fn parse_oom_kills(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some("oom_kill"))
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// Reads the OOM-kill count through an fd opened by [`SandboxCgroup::open_memory_events`]
/// (the agent does this from inside the sandbox, where no cgroup file system is mounted).
pub fn read_oom_kills_fd(file: &mut fs::File) -> Option<u64> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut s).ok()?;
    parse_oom_kills(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_stat() {
        let text = "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n";
        assert_eq!(parse_cpu_stat_usec(text), Some(1234));
        assert_eq!(parse_cpu_stat_usec("nr_periods 0\n"), None);
    }

    #[test]
    fn parses_oom_kills() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_oom_kills(v1), Some(3));
        let v2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_oom_kills(v2), Some(1));
        assert_eq!(parse_oom_kills("nothing"), None);
    }

    #[test]
    fn missing_hierarchies_are_reported_not_faked() {
        let dir = tempfile::tempdir().unwrap();
        let cg = Cgroups::detect_at(dir.path(), "e2b-test");
        assert_eq!(cg.version(), "none");
        assert!(!cg.missing().is_empty());
        assert_eq!(cg.enforced(), (false, false, false, false));
    }
}
