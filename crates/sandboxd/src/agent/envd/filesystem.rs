//! `filesystem.Filesystem` unary RPCs (docs/protocol.md#filesystem-calls): `Stat`, `ListDir`,
//! `MakeDir`, `Move`, `Remove`, and the `EntryInfo` they return (docs/protocol.md#entry-info).
//! Every function here is blocking and is called on a blocking-pool thread already switched to the
//! request's user ([`super::users::as_user`]), so the kernel checks permissions as that user.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use e2b_wire::connect::{Code, ConnectError};
use e2b_wire::envd::{EntryInfo, FileType, Timestamp};

use super::rpc::{io_error, os_error_text};
use super::users::Users;

/// Prefix of the extended attributes that hold file metadata (`X-Metadata-*` on upload).
pub const METADATA_XATTR_PREFIX: &str = "user.e2b.";

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Go's `FileMode.String()` of a raw `st_mode` (`-rw-r--r--`, `drwxr-xr-x`, `Lrwxrwxrwx`,
/// `dtrwxrwxrwx` for a sticky directory, `urwxr-xr-x` for setuid).
pub fn go_mode_string(mode: u32) -> String {
    let fmt = mode & libc::S_IFMT;
    let mut out = String::with_capacity(12);
    let flags = [
        ('d', fmt == libc::S_IFDIR),
        ('L', fmt == libc::S_IFLNK),
        ('D', fmt == libc::S_IFBLK || fmt == libc::S_IFCHR),
        ('p', fmt == libc::S_IFIFO),
        ('S', fmt == libc::S_IFSOCK),
        ('u', mode & libc::S_ISUID != 0),
        ('g', mode & libc::S_ISGID != 0),
        ('c', fmt == libc::S_IFCHR),
        ('t', mode & libc::S_ISVTX != 0),
    ];
    for (c, set) in flags {
        if set {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    let rwx = b"rwxrwxrwx";
    for (i, c) in rwx.iter().enumerate() {
        if mode & (1 << (8 - i)) != 0 {
            out.push(*c as char);
        } else {
            out.push('-');
        }
    }
    out
}

fn file_type_of(ft: std::fs::FileType) -> FileType {
    if ft.is_file() {
        FileType::File
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::Unspecified
    }
}

/// The `user.e2b.*` extended attributes of `path` (following symlinks), prefix stripped.
pub fn read_metadata(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return out;
    };
    let mut names = vec![0u8; 4096];
    // SAFETY: listxattr writes at most `names.len()` bytes into the buffer.
    let n = unsafe { libc::listxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return out;
    }
    names.truncate(n as usize);
    for raw in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(raw) else {
            continue;
        };
        let Some(key) = name.strip_prefix(METADATA_XATTR_PREFIX) else {
            continue;
        };
        let Ok(cname) = CString::new(raw) else {
            continue;
        };
        let mut value = vec![0u8; 4096];
        // SAFETY: getxattr writes at most `value.len()` bytes into the buffer.
        let len = unsafe {
            libc::getxattr(
                cpath.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if len >= 0 {
            value.truncate(len as usize);
            out.insert(
                key.to_string(),
                String::from_utf8_lossy(&value).into_owned(),
            );
        }
    }
    out
}

/// Replaces the `user.e2b.*` attributes of an open file with `metadata`.
pub fn write_metadata(fd: i32, metadata: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut names = vec![0u8; 4096];
    // SAFETY: flistxattr writes at most `names.len()` bytes into the buffer.
    let n = unsafe { libc::flistxattr(fd, names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOTSUP) {
            return Err(err);
        }
    } else {
        names.truncate(n as usize);
        for raw in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            if raw.starts_with(METADATA_XATTR_PREFIX.as_bytes()) {
                let name = CString::new(raw).expect("xattr names have no NUL");
                // SAFETY: valid fd and NUL-terminated name.
                unsafe { libc::fremovexattr(fd, name.as_ptr()) };
            }
        }
    }
    for (k, v) in metadata {
        let name = CString::new(format!("{METADATA_XATTR_PREFIX}{k}"))
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: valid fd, NUL-terminated name, value pointer/length from a live String.
        let rc = unsafe { libc::fsetxattr(fd, name.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The `EntryInfo` of `path` (not following a final symlink, whose target's type and mode
/// are reported instead, with `isSymlink` set).
pub fn entry_info(path: &Path, users: &Users) -> Result<EntryInfo, ConnectError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ConnectError::new(
                Code::NotFound,
                format!(
                    "file not found: lstat {}: {}",
                    display(path),
                    os_error_text(&e)
                ),
            )
        } else {
            io_error(
                &format!("error getting file info: lstat {}", display(path)),
                &e,
            )
        }
    })?;
    let is_symlink = meta.file_type().is_symlink();
    let (file_type, mode, symlink_target) = if is_symlink {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match std::fs::metadata(&target) {
            Ok(t) => (
                file_type_of(t.file_type()),
                t.permissions().mode() & 0o777,
                Some(display(&target)),
            ),
            Err(_) => (FileType::Unspecified, 0, Some(display(&target))),
        }
    } else {
        (file_type_of(meta.file_type()), meta.mode() & 0o777, None)
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".to_string());
    let modified_time = (meta.mtime() != 0 || meta.mtime_nsec() != 0).then(|| Timestamp {
        seconds: meta.mtime(),
        nanos: meta.mtime_nsec() as u32,
    });
    Ok(EntryInfo {
        name,
        file_type,
        path: display(path),
        size: meta.size() as i64,
        mode,
        permissions: go_mode_string(meta.mode()),
        owner: users.user_name(meta.uid()),
        group: users.group_name(meta.gid()),
        modified_time,
        symlink_target,
        metadata: read_metadata(path),
        is_symlink,
    })
}

/// Creates `dir` and its missing ancestors (0755, owned by the acting user).
pub fn ensure_dirs(dir: &Path) -> Result<(), ConnectError> {
    let mut cur = PathBuf::from("/");
    for comp in dir.components().skip(1) {
        cur.push(comp);
        match std::fs::metadata(&cur) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(ConnectError::new(
                    Code::Internal,
                    format!("path is a file: {}", display(&cur)),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::DirBuilder::new().mode(0o755).create(&cur) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(io_error(
                            &format!("failed to create directory: mkdir {}", display(&cur)),
                            &e,
                        ))
                    }
                }
            }
            Err(e) => {
                return Err(io_error(
                    &format!("failed to stat directory: stat {}", display(&cur)),
                    &e,
                ))
            }
        }
    }
    Ok(())
}

/// `Stat`.
pub fn stat(path: &Path, users: &Users) -> Result<EntryInfo, ConnectError> {
    entry_info(path, users)
}

/// `MakeDir`: creates the directory and its parents; `already_exists` if it is there.
pub fn make_dir(path: &Path, users: &Users) -> Result<EntryInfo, ConnectError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(ConnectError::new(
                Code::AlreadyExists,
                format!("directory already exists: {}", display(path)),
            ))
        }
        Ok(_) => {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                format!(
                    "path already exists but it is not a directory: {}",
                    display(path)
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {}
        Err(e) => return Err(io_error("error getting file info", &e)),
    }
    ensure_dirs(path)?;
    entry_info(path, users)
}

/// `Move`: `rename(2)` after creating the destination's parents.
pub fn rename(source: &Path, destination: &Path, users: &Users) -> Result<EntryInfo, ConnectError> {
    if let Some(parent) = destination.parent() {
        ensure_dirs(parent)?;
    }
    std::fs::rename(source, destination).map_err(|e| {
        let context = format!("rename {} {}", display(source), display(destination));
        if e.kind() == std::io::ErrorKind::NotFound {
            ConnectError::new(
                Code::NotFound,
                format!("source file not found: {context}: {}", os_error_text(&e)),
            )
        } else {
            io_error(&format!("error renaming: {context}"), &e)
        }
    })?;
    entry_info(destination, users)
}

/// `Remove`: recursive, and no error when nothing is there. A symlink is removed itself,
/// never followed.
pub fn remove(path: &Path) -> Result<(), ConnectError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("error removing file or directory", &e)),
    };
    let result = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(
            &format!(
                "error removing file or directory: unlinkat {}",
                display(path)
            ),
            &e,
        )),
    }
}

/// `ListDir`: entries under `requested` (following it if it is a symlink to a directory) up
/// to `depth` levels, in lexical depth-first order, paths spelled under `requested`.
pub fn list_dir(
    requested: &Path,
    depth: u32,
    users: &Users,
) -> Result<Vec<EntryInfo>, ConnectError> {
    let depth = depth.max(1);
    let resolved = std::fs::canonicalize(requested).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => ConnectError::new(
            Code::NotFound,
            format!(
                "path not found: lstat {}: {}",
                display(requested),
                os_error_text(&e)
            ),
        ),
        Some(libc::ELOOP) => ConnectError::new(
            Code::FailedPrecondition,
            format!(
                "cyclic symlink or chain >255 links at {:?}",
                display(requested)
            ),
        ),
        _ => io_error("error resolving symlink", &e),
    })?;
    match std::fs::metadata(&resolved) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                format!("path is not a directory: {}", display(&resolved)),
            ))
        }
        Err(e) => return Err(io_error("directory not found", &e)),
    }
    let mut entries = Vec::new();
    walk(
        &resolved,
        requested,
        Path::new(""),
        1,
        depth,
        users,
        &mut entries,
    )?;
    Ok(entries)
}

fn walk(
    dir: &Path,
    requested: &Path,
    rel: &Path,
    level: u32,
    depth: u32,
    users: &Users,
    out: &mut Vec<EntryInfo>,
) -> Result<(), ConnectError> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| io_error(&format!("error reading directory {}", display(dir)), &e))?;
    let mut children: Vec<(std::ffi::OsString, bool)> = Vec::new();
    for item in read {
        let item =
            item.map_err(|e| io_error(&format!("error reading directory {}", display(dir)), &e))?;
        let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
        children.push((item.file_name(), is_dir));
    }
    children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (name, is_dir) in children {
        let full = dir.join(&name);
        let child_rel = rel.join(&name);
        match entry_info(&full, users) {
            Ok(mut info) => {
                info.path = display(&requested.join(&child_rel));
                out.push(info);
            }
            // Entries that vanish during the walk are skipped.
            Err(e) if e.code == Code::NotFound => continue,
            Err(e) => return Err(e),
        }
        if is_dir && level < depth {
            walk(&full, requested, &child_rel, level + 1, depth, users, out)?;
        }
    }
    Ok(())
}

/// Whether `path` is on a network or FUSE file system (which watches refuse by default).
pub fn is_network_mount(path: &Path) -> std::io::Result<bool> {
    const NFS: i64 = 0x6969;
    const CIFS: i64 = 0xFF53_4D42;
    const SMB: i64 = 0x517B;
    const SMB2: i64 = 0xFE53_4D42;
    const FUSE: i64 = 0x6573_5546;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: statfs fills the zeroed struct for a NUL-terminated path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(cpath.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let t = st.f_type as i64;
    Ok([NFS, CIFS, SMB, SMB2, FUSE].contains(&t))
}

/// A C string of a path (for raw syscalls).
pub fn c_path(path: &Path) -> Result<CString, ConnectError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ConnectError::new(Code::InvalidArgument, "path contains a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings_match_go() {
        assert_eq!(go_mode_string(libc::S_IFREG | 0o644), "-rw-r--r--");
        assert_eq!(go_mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(go_mode_string(libc::S_IFLNK | 0o777), "Lrwxrwxrwx");
        assert_eq!(
            go_mode_string(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            "dtrwxrwxrwx"
        );
        assert_eq!(
            go_mode_string(libc::S_IFREG | libc::S_ISUID | 0o755),
            "urwxr-xr-x"
        );
        assert_eq!(go_mode_string(libc::S_IFCHR | 0o666), "Dcrw-rw-rw-");
        assert_eq!(go_mode_string(libc::S_IFIFO | 0o600), "prw-------");
    }

    #[test]
    fn filesystem_operations_on_a_temp_dir() {
        let users = Users::parse("root:x:0:0::/root:/bin/sh\n", "root:x:0:\n", false);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let d = root.join("a/b");
        let info = make_dir(&d, &users).unwrap();
        assert_eq!(info.file_type, FileType::Directory);
        assert_eq!(make_dir(&d, &users).unwrap_err().code, Code::AlreadyExists);
        std::fs::write(root.join("a/f.txt"), b"hello").unwrap();
        assert_eq!(
            make_dir(&root.join("a/f.txt"), &users).unwrap_err().code,
            Code::InvalidArgument
        );
        std::os::unix::fs::symlink(root.join("a/f.txt"), root.join("a/link")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("a/dangling")).unwrap();
        let l = stat(&root.join("a/link"), &users).unwrap();
        assert!(l.is_symlink);
        assert_eq!(l.file_type, FileType::File);
        assert_eq!(l.permissions.chars().next(), Some('L'));
        assert_eq!(
            l.symlink_target.as_deref(),
            Some(display(&root.join("a/f.txt")).as_str())
        );
        let d = stat(&root.join("a/dangling"), &users).unwrap();
        assert_eq!(d.file_type, FileType::Unspecified);
        let listed = list_dir(&root.join("a"), 1, &users).unwrap();
        let names: Vec<_> = listed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b", "dangling", "f.txt", "link"]);
        let deep = list_dir(&root.join("a"), 2, &users).unwrap();
        assert_eq!(deep.len(), 4);
        std::fs::write(root.join("a/b/c"), b"").unwrap();
        let deep = list_dir(&root.join("a"), 2, &users).unwrap();
        assert_eq!(deep[1].path, display(&root.join("a/b/c")));
        assert_eq!(
            list_dir(&root.join("a/f.txt"), 1, &users).unwrap_err().code,
            Code::InvalidArgument
        );
        assert_eq!(
            list_dir(&root.join("zz"), 1, &users).unwrap_err().code,
            Code::NotFound
        );
        let moved = rename(&root.join("a/f.txt"), &root.join("x/y/g.txt"), &users).unwrap();
        assert_eq!(moved.size, 5);
        assert_eq!(
            rename(&root.join("a/f.txt"), &root.join("q"), &users)
                .unwrap_err()
                .code,
            Code::NotFound
        );
        remove(&root.join("a")).unwrap();
        remove(&root.join("a")).unwrap();
        assert!(!root.join("a").exists());
        assert_eq!(
            stat(&root.join("a"), &users).unwrap_err().code,
            Code::NotFound
        );
    }
}
