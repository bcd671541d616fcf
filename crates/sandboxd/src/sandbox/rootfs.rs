//! The sandbox's root filesystem, as a list of [`Step`]s for the fork-safe child.
//!
//! Layout (docs/platform.md#filesystem): one tmpfs, **the writable layer**, sized by the disk limit, holds everything the
//! sandbox can write — the root directory with `/tmp`, `/home/user`, `/root`, `/etc`, `/var`,
//! `/run`, `/dev` with `/dev/shm`, … and, for a root daemon, the upper layer of the `/usr`
//! overlay — so one quota covers every write and all of it vanishes with the sandbox's mount
//! namespace. No other writable file system is mounted: a writable place that must stay
//! writable under a read-only `/` is a bind of a directory of the layer onto itself.
//!
//! * root daemon: `/` stays writable; `/usr` is an overlay whose lower layer is an idmapped,
//!   read-only view of the host `/usr` ([`super::idmap`]), so `pip install` and writes
//!   anywhere succeed inside and never reach the host.
//! * unprivileged daemon: `/usr` is bound read-only and `/` is remounted read-only; `/tmp`
//!   and `/home/user` (with `~/.local`, i.e. user site-packages) stay writable.
//!
//! Also: a filtered `/etc` (a few host files bound read-only plus generated `passwd`, `group`,
//! `hosts`, `hostname`, `nsswitch.conf`); a fresh `/proc` whose `/proc/sys` is read-only,
//! after the per-sandbox caps of `/proc/sys/user` are written in the sandbox's own user
//! namespace ([`super::pools`]); read-only `/sys`; a minimal `/dev` with its own devpts
//! instance of at most [`super::pools::PTY_MAX`] ptys; `/run` (with `/run/e2b` markers); the
//! Python environment bound read-only at its host paths.
//!
//! Every host path the sandbox gets is opened here (`O_PATH`) by the daemon and bound from
//! `/proc/self/fd/N`: the child runs as the sandbox's root (an unprivileged host uid) and
//! could not even traverse a 0700 `/root` to reach a pyenv interpreter. Nothing else of the
//! host is reachable after `pivot_root`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::launch::{Step, MAX_OPENS};
use super::pools;
use super::SpawnError;

/// Sandbox uid/gid of `user`.
pub const USER_ID: u32 = 1000;
/// Hostname inside every sandbox.
pub const HOSTNAME: &str = "sandbox";

/// Host `/etc` entries the sandbox sees (read-only), if they exist.
const ETC_KEEP: &[&str] = &[
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "alternatives",
    "localtime",
    "timezone",
    "mime.types",
    "os-release",
    "debian_version",
    "protocols",
    "services",
    "shells",
    "bash.bashrc",
    "profile",
    "inputrc",
    "terminfo",
    "fonts",
    "locale.alias",
    "gai.conf",
    "matplotlibrc",
    "python3",
];

const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
user:x:1000:1000:user:/home/user:/bin/bash\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\ntty:x:5:\nusers:x:100:user\nuser:x:1000:\nnogroup:x:65534:\n";
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
127.0.1.1\tsandbox\n";
const NSSWITCH: &str = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n\
networks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n";

/// Inputs of the layout.
pub struct RootfsSpec<'a> {
    pub sandbox_id: &'a str,
    pub template_id: &'a str,
    /// Host paths to bind read-only at the same path (the Python environment).
    pub python_binds: &'a [PathBuf],
    /// Sandbox root (uid/gid 0) exists, i.e. the full id range is mapped (root daemon). In
    /// unprivileged mode only the user's id is mapped, so no mount may name another id.
    pub full_id_range: bool,
    /// Size of the writable layer in MiB.
    pub layer_mb: u64,
    /// An fd (inherited through the clone) of a detached idmapped `/usr` to use as the
    /// overlay lower layer; `None` binds `/usr` read-only.
    pub usr_lower_fd: Option<std::os::fd::RawFd>,
}

/// The steps plus the host paths the child opens for its binds (see `ChildPlan::opens`).
pub struct RootfsPlan {
    pub steps: Vec<Step>,
    pub opens: Vec<CString>,
}

/// Where the child builds the new root in its private mount namespace, before `pivot_root`.
/// Any existing host directory will do: the mount hides it only inside the new namespace, and
/// every bind source is opened beforehand.
pub fn staging_dir() -> &'static str {
    ["/tmp", "/mnt", "/media", "/srv"]
        .into_iter()
        .find(|d| Path::new(d).is_dir())
        .unwrap_or("/tmp")
}

fn cstr(s: impl AsRef<[u8]>) -> CString {
    CString::new(s.as_ref()).expect("paths never contain NUL")
}

struct Builder {
    root: String,
    steps: Vec<Step>,
    opens: Vec<CString>,
}

const RO: u64 = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;

impl Builder {
    fn p(&self, inside: &str) -> CString {
        cstr(format!("{}{}", self.root, inside))
    }

    fn mkdir(&mut self, inside: &str, mode: u32) {
        let path = self.p(inside);
        self.steps.push(Step::Mkdir {
            path,
            mode,
            traversable: false,
        });
    }

    /// Creates every missing ancestor of `inside` (0755) and makes existing ones searchable.
    fn mkdir_parents(&mut self, inside: &Path) {
        let mut cur = PathBuf::from("/");
        let comps: Vec<_> = inside.components().skip(1).collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(c);
            let path = self.p(&cur.to_string_lossy());
            self.steps.push(Step::Mkdir {
                path,
                mode: 0o755,
                traversable: true,
            });
        }
    }

    fn symlink(&mut self, target: &str, inside: &str) {
        let path = self.p(inside);
        self.steps.push(Step::Symlink {
            target: cstr(target),
            path,
        });
    }

    fn write(&mut self, inside: &str, contents: &[u8], mode: u32) {
        let path = self.p(inside);
        self.steps.push(Step::WriteFile {
            path,
            contents: contents.to_vec(),
            mode,
        });
    }

    fn set_attr(&mut self, inside: &str, attr_set: u64) {
        let path = self.p(inside);
        self.steps.push(Step::SetAttr { path, attr_set });
    }

    /// Binds host `src` at `inside` (creating the mount point), read-only unless `rw`.
    /// Returns false if `src` does not exist.
    fn bind(&mut self, src: &Path, inside: &str, rw: bool) -> Result<bool, SpawnError> {
        let is_dir = match std::fs::metadata(src) {
            Ok(m) => m.is_dir(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(SpawnError::Setup(format!(
                    "cannot use {} for the sandbox: {e}",
                    src.display()
                )))
            }
        };
        if self.opens.len() >= MAX_OPENS {
            return Err(SpawnError::Setup(format!(
                "too many host paths to bind (more than {MAX_OPENS})"
            )));
        }
        let target = self.p(inside);
        if is_dir {
            self.steps.push(Step::Mkdir {
                path: target.clone(),
                mode: 0o755,
                traversable: false,
            });
        } else {
            self.steps.push(Step::Touch {
                path: target.clone(),
            });
        }
        self.steps.push(Step::BindSlot {
            slot: self.opens.len(),
            target,
        });
        self.opens.push(cstr(src.as_os_str().as_bytes()));
        if !rw {
            self.set_attr(inside, RO);
        }
        Ok(true)
    }
}

/// Builds the steps that turn the child's private mount namespace into the sandbox's root and
/// `pivot_root` into it.
pub fn plan(spec: &RootfsSpec<'_>) -> Result<RootfsPlan, SpawnError> {
    let staging = staging_dir();
    let mut b = Builder {
        root: format!("{staging}/root"),
        steps: Vec::new(),
        opens: Vec::new(),
    };
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    let writable_root = spec.usr_lower_fd.is_some();
    b.steps.push(Step::MakeRprivate);
    // The writable layer, mounted over the staging dir of the child's private namespace: the
    // new root is its `root/` subdirectory; the overlay's upper/work dirs sit beside it,
    // invisible once the old root is detached.
    b.steps.push(Step::Mount {
        source: cstr("e2b-layer"),
        target: cstr(staging),
        fstype: Some(cstr("tmpfs")),
        flags: nosuid_nodev,
        data: Some(cstr(format!("mode=0755,size={}m", spec.layer_mb.max(1)))),
        optional: false,
    });
    b.steps.push(Step::Mkdir {
        path: cstr(format!("{staging}/root")),
        mode: 0o755,
        traversable: false,
    });
    // pivot_root needs the new root to be a mount point.
    b.steps.push(Step::BindPath {
        source: b.p(""),
        target: b.p(""),
    });

    // Merged /usr.
    if let Some(fd) = spec.usr_lower_fd {
        for d in ["usr-lower", "usr-upper", "usr-work"] {
            b.steps.push(Step::Mkdir {
                path: cstr(format!("{staging}/{d}")),
                mode: 0o755,
                traversable: false,
            });
        }
        b.steps.push(Step::MoveMount {
            fd,
            target: cstr(format!("{staging}/usr-lower")),
        });
        b.mkdir("/usr", 0o755);
        b.steps.push(Step::Mount {
            source: cstr("overlay"),
            target: b.p("/usr"),
            fstype: Some(cstr("overlay")),
            flags: nosuid_nodev,
            data: Some(cstr(format!(
                "lowerdir={staging}/usr-lower,upperdir={staging}/usr-upper,\
                 workdir={staging}/usr-work,userxattr"
            ))),
            optional: false,
        });
    } else {
        b.bind(Path::new("/usr"), "/usr", false)?;
    }
    for dir in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
        if Path::new("/usr").join(dir).is_dir() {
            b.symlink(&format!("usr/{dir}"), &format!("/{dir}"));
        }
    }

    // /etc: a few host entries (read-only binds) and generated identity files.
    b.mkdir("/etc", 0o755);
    let mut etc_entries: Vec<String> = ETC_KEEP.iter().map(|s| s.to_string()).collect();
    if let Ok(rd) = std::fs::read_dir("/etc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("python3.") {
                etc_entries.push(name);
            }
        }
    }
    for name in &etc_entries {
        let src = Path::new("/etc").join(name);
        if !src.exists() {
            continue;
        }
        b.mkdir_parents(&Path::new("/etc").join(name));
        b.bind(&src, &format!("/etc/{name}"), false)?;
    }
    b.write("/etc/passwd", PASSWD.as_bytes(), 0o644);
    b.write("/etc/group", GROUP.as_bytes(), 0o644);
    b.write("/etc/hosts", HOSTS.as_bytes(), 0o644);
    b.write("/etc/hostname", format!("{HOSTNAME}\n").as_bytes(), 0o644);
    b.write("/etc/nsswitch.conf", NSSWITCH.as_bytes(), 0o644);
    if spec.full_id_range {
        // DNS of the user-mode network stack, when there is one (harmless without).
        b.write("/etc/resolv.conf", b"nameserver 10.0.2.3\n", 0o644);
    }

    // Kernel interfaces.
    b.mkdir("/proc", 0o555);
    b.steps.push(Step::Mount {
        source: cstr("proc"),
        target: b.p("/proc"),
        fstype: Some(cstr("proc")),
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: None,
        optional: false,
    });
    // The per-sandbox caps of the kernel's shared pools (scoped to the sandbox's own user
    // namespace, including no nested namespaces), then /proc/sys read-only: sandbox root
    // owns its namespaces' sysctls.
    for (name, value) in pools::USER_SYSCTLS {
        b.steps.push(Step::Sysctl {
            path: b.p(&format!("/proc/sys/user/{name}")),
            value: value.to_string().into_bytes(),
        });
    }
    b.steps.push(Step::BindPath {
        source: b.p("/proc/sys"),
        target: b.p("/proc/sys"),
    });
    b.set_attr("/proc/sys", RO | libc::MOUNT_ATTR_NOEXEC);
    b.mkdir("/sys", 0o555);
    b.steps.push(Step::Mount {
        source: cstr("sysfs"),
        target: b.p("/sys"),
        fstype: Some(cstr("sysfs")),
        flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: None,
        optional: true,
    });

    // Minimal /dev, a directory of the layer.
    b.mkdir("/dev", 0o755);
    for dev in DEVICES {
        b.bind(&Path::new("/dev").join(dev), &format!("/dev/{dev}"), true)?;
    }
    b.mkdir("/dev/pts", 0o755);
    b.steps.push(Step::Mount {
        source: cstr("devpts"),
        target: b.p("/dev/pts"),
        fstype: Some(cstr("devpts")),
        flags: libc::MS_NOSUID | libc::MS_NOEXEC,
        data: Some(cstr(format!(
            "newinstance,ptmxmode=0666,mode=0620,max={}{}",
            pools::PTY_MAX,
            if spec.full_id_range { ",gid=5" } else { "" }
        ))),
        optional: false,
    });
    b.symlink("pts/ptmx", "/dev/ptmx");
    b.symlink("/proc/self/fd", "/dev/fd");
    b.symlink("/proc/self/fd/0", "/dev/stdin");
    b.symlink("/proc/self/fd/1", "/dev/stdout");
    b.symlink("/proc/self/fd/2", "/dev/stderr");
    b.mkdir("/dev/shm", 0o1777);

    // Writable places, all on the layer.
    b.mkdir("/tmp", 0o1777);
    b.mkdir("/home", 0o755);
    b.mkdir("/home/user", 0o755);
    if spec.full_id_range {
        let path = b.p("/home/user");
        b.steps.push(Step::Chown {
            path,
            uid: USER_ID,
            gid: USER_ID,
        });
    }
    b.mkdir("/run", 0o755);
    if !writable_root {
        // Mount points of their own, so they stay writable when `/` turns read-only; binds of
        // the layer's directories, so they share its one size limit.
        for d in ["/tmp", "/home/user", "/dev/shm", "/run"] {
            b.steps.push(Step::BindPath {
                source: b.p(d),
                target: b.p(d),
            });
        }
    }
    b.mkdir("/root", 0o700);
    for d in ["/opt", "/srv", "/mnt", "/var", "/var/lib", "/var/cache"] {
        b.mkdir(d, 0o755);
    }
    b.symlink("/tmp", "/var/tmp");
    b.mkdir("/run/e2b", 0o755);
    b.write("/run/e2b/.E2B_SANDBOX", b"true", 0o644);
    b.write(
        "/run/e2b/.E2B_SANDBOX_ID",
        spec.sandbox_id.as_bytes(),
        0o644,
    );
    b.write(
        "/run/e2b/.E2B_TEMPLATE_ID",
        spec.template_id.as_bytes(),
        0o644,
    );

    // The Python environment, read-only at its host paths (after the tmpfs mounts above, so
    // a venv under /tmp or /home/user lands on top of them).
    for path in spec.python_binds {
        b.mkdir_parents(path);
        let inside = String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned();
        if !b.bind(path, &inside, false)? {
            return Err(SpawnError::Unsupported(format!(
                "{} (needed by the sandbox Python) disappeared",
                path.display()
            )));
        }
    }

    let new_root = b.p("");
    b.steps.push(Step::PivotRoot { new_root });
    let ro = if writable_root { 0 } else { libc::MS_RDONLY };
    b.steps.push(Step::Mount {
        source: cstr("none"),
        target: cstr("/"),
        fstype: None,
        flags: libc::MS_REMOUNT | libc::MS_BIND | ro | nosuid_nodev,
        data: None,
        optional: false,
    });
    b.steps.push(Step::Hostname {
        name: cstr(HOSTNAME),
    });
    b.steps.push(Step::LoopbackUp);
    b.steps.push(Step::Chdir { path: cstr("/") });
    Ok(RootfsPlan {
        steps: b.steps,
        opens: b.opens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(steps: &[Step]) -> Vec<String> {
        steps.iter().map(|s| format!("{s:?}")).collect()
    }

    #[test]
    fn plan_has_the_expected_shape() {
        let binds = vec![PathBuf::from("/usr/lib/python3")];
        let plan = plan(&RootfsSpec {
            sandbox_id: "abc",
            template_id: "base",
            python_binds: &binds,
            full_id_range: true,
            layer_mb: 64,
            usr_lower_fd: None,
        })
        .unwrap();
        let d = describe(&plan.steps);
        let root = format!("{}/root", staging_dir());
        assert!(matches!(plan.steps[0], Step::MakeRprivate));
        assert!(matches!(plan.steps.last(), Some(Step::Chdir { .. })));
        let pos = |needle: &str| {
            d.iter()
                .position(|s| s.contains(needle))
                .unwrap_or_else(|| panic!("no step with {needle}: {d:#?}"))
        };
        // tmpfs /home/user is mounted before the python binds land on top of it, and
        // everything happens before pivot_root.
        assert!(pos(&format!("{root}/home/user\"")) < pos("PivotRoot"));
        assert!(pos(&format!("{root}/usr/lib/python3\"")) > pos("Chown"));
        // One writable layer (the disk quota) is mounted first, sized by the disk limit.
        assert!(pos("size=64m") < pos("PivotRoot"));
        assert!(pos("E2B_SANDBOX_ID") < pos("PivotRoot"));
        // Every bind has its source path; nothing of /root, /work or the host /tmp is bound.
        let binds = d.iter().filter(|s| s.starts_with("BindSlot")).count();
        assert_eq!(binds, plan.opens.len());
        for p in &plan.opens {
            let p = p.to_str().unwrap();
            assert!(
                ["/usr", "/etc/", "/dev/"]
                    .iter()
                    .any(|ok| p.starts_with(ok)),
                "unexpected host path {p}"
            );
        }
    }
}
