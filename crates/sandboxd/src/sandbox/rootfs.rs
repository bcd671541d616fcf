//! The sandbox's root filesystem, as a list of [`Step`]s for the fork-safe child.
//!
//! Layout (platform-notes §2): a tmpfs root (read-only once built) with merged-/usr symlinks;
//! `/usr` bound read-only; a filtered, read-only `/etc` (a few host files plus generated
//! `passwd`, `group`, `hosts`, `hostname`, `nsswitch.conf`); a fresh `/proc` and read-only
//! `/sys`; a minimal `/dev`; tmpfs `/tmp`, `/home/user` (owned by the sandbox user) and `/run`
//! (with `/run/e2b` markers); the Python environment bound read-only at its host paths.
//!
//! Every host path the sandbox gets is opened here (`O_PATH`) by the daemon and bound from
//! `/proc/self/fd/N`: the child runs as the sandbox's root (an unprivileged host uid) and
//! could not even traverse a 0700 `/root` to reach a pyenv interpreter. Nothing else of the
//! host is reachable after `pivot_root`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::launch::{Step, MAX_OPENS};
use super::SpawnError;

/// Sandbox uid/gid of `user`.
pub const USER_ID: u32 = 1000;
/// Hostname inside every sandbox.
pub const HOSTNAME: &str = "sandbox";

/// tmpfs sizes (hard caps on what each can hold; memory limits come with cgroups).
const TMP_SIZE: &str = "1g";
const HOME_SIZE: &str = "1g";
const SHM_SIZE: &str = "64m";

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

    fn tmpfs(&mut self, inside: &str, flags: libc::c_ulong, data: &str) {
        let target = self.p(inside);
        self.steps.push(Step::Mount {
            source: cstr("tmpfs"),
            target,
            fstype: Some(cstr("tmpfs")),
            flags,
            data: Some(cstr(data)),
            optional: false,
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
    let mut b = Builder {
        root: staging_dir().to_string(),
        steps: Vec::new(),
        opens: Vec::new(),
    };
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    b.steps.push(Step::MakeRprivate);
    b.tmpfs("", nosuid_nodev, "mode=0755,size=1m");

    // Merged /usr.
    b.bind(Path::new("/usr"), "/usr", false)?;
    for dir in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
        if Path::new("/usr").join(dir).is_dir() {
            b.symlink(&format!("usr/{dir}"), &format!("/{dir}"));
        }
    }

    // /etc: a tmpfs with a few host entries and generated identity files.
    b.mkdir("/etc", 0o755);
    b.tmpfs("/etc", nosuid_nodev, "mode=0755,size=1m");
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
    b.set_attr("/etc", RO);

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
    b.mkdir("/sys", 0o555);
    b.steps.push(Step::Mount {
        source: cstr("sysfs"),
        target: b.p("/sys"),
        fstype: Some(cstr("sysfs")),
        flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: None,
        optional: true,
    });

    // Minimal /dev.
    b.mkdir("/dev", 0o755);
    b.tmpfs(
        "/dev",
        libc::MS_NOSUID | libc::MS_NOEXEC,
        "mode=0755,size=64k",
    );
    for dev in DEVICES {
        b.bind(&Path::new("/dev").join(dev), &format!("/dev/{dev}"), true)?;
    }
    b.mkdir("/dev/pts", 0o755);
    b.steps.push(Step::Mount {
        source: cstr("devpts"),
        target: b.p("/dev/pts"),
        fstype: Some(cstr("devpts")),
        flags: libc::MS_NOSUID | libc::MS_NOEXEC,
        data: Some(cstr(if spec.full_id_range {
            "newinstance,ptmxmode=0666,mode=0620,gid=5"
        } else {
            "newinstance,ptmxmode=0666,mode=0620"
        })),
        optional: false,
    });
    b.symlink("pts/ptmx", "/dev/ptmx");
    b.symlink("/proc/self/fd", "/dev/fd");
    b.symlink("/proc/self/fd/0", "/dev/stdin");
    b.symlink("/proc/self/fd/1", "/dev/stdout");
    b.symlink("/proc/self/fd/2", "/dev/stderr");
    b.mkdir("/dev/shm", 0o1777);
    b.tmpfs(
        "/dev/shm",
        nosuid_nodev,
        &format!("mode=1777,size={SHM_SIZE}"),
    );

    // Writable places.
    b.mkdir("/tmp", 0o1777);
    b.tmpfs("/tmp", nosuid_nodev, &format!("mode=1777,size={TMP_SIZE}"));
    b.mkdir("/home", 0o755);
    b.mkdir("/home/user", 0o755);
    b.tmpfs(
        "/home/user",
        nosuid_nodev,
        &format!("mode=0755,uid={USER_ID},gid={USER_ID},size={HOME_SIZE}"),
    );
    b.mkdir("/root", 0o700);
    b.mkdir("/var", 0o755);
    b.symlink("/tmp", "/var/tmp");
    b.mkdir("/run", 0o755);
    b.tmpfs("/run", nosuid_nodev, "mode=0755,size=8m");
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
    b.steps.push(Step::Mount {
        source: cstr("none"),
        target: cstr("/"),
        fstype: None,
        flags: libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | nosuid_nodev,
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
        })
        .unwrap();
        let d = describe(&plan.steps);
        let root = staging_dir();
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
        assert!(pos(&format!("{root}/usr/lib/python3\"")) > pos("uid=1000"));
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
