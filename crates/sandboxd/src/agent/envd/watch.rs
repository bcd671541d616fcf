//! Directory watches on inotify (docs/protocol.md#watches): the `WatchDir` stream and the polled
//! watchers of `CreateWatcher` / `GetWatcherEvents` / `RemoveWatcher`.
//!
//! Events map as fsnotify maps them for envd: `IN_CREATE`/`IN_MOVED_TO` → create,
//! `IN_MOVED_FROM`/`IN_MOVE_SELF` → rename, `IN_ATTRIB` → chmod, `IN_MODIFY` → write,
//! `IN_DELETE`/`IN_DELETE_SELF` → remove; one inotify event can give several, in the order
//! create, rename, chmod, write, remove. Names are relative to the watched directory. A
//! recursive watch adds every subdirectory, including ones created later; what a newly
//! created subdirectory already holds when its watch is added is reported as created.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2b_wire::connect::{Code, ConnectError};
use e2b_wire::envd::{EventType, FilesystemEvent};
use tokio::io::unix::AsyncFd;

use super::filesystem::{c_path, entry_info, is_network_mount};
use super::rpc::{async_fd, io_error, os_error_text};
use super::users::{as_user, Creds, Users};

const WATCH_MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_DELETE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

/// Most events a polled watcher keeps between two `GetWatcherEvents` calls, and most bytes
/// they may take (names can be 4 KiB paths); more is an overflow error, like the kernel
/// queue's.
const MAX_BUFFERED_EVENTS: usize = 100_000;
const MAX_BUFFERED_BYTES: usize = 16 << 20;
/// Most entries of a new subdirectory reported as created when its watch is added (what it
/// held before the watch existed; upstream reports none of them).
const MAX_APPEARED: usize = 10_000;

/// Validates a watch request (the directory exists, is a directory, and is not on a network
/// mount unless allowed). Runs as the request's user.
pub fn validate(path: &Path, allow_network_mounts: bool) -> Result<(), ConnectError> {
    let p = path.to_string_lossy();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                format!("path {p} not a directory"),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConnectError::new(
                Code::NotFound,
                format!("path {p} not found: stat {p}: {}", os_error_text(&e)),
            ))
        }
        Err(e) => return Err(io_error(&format!("error statting path {p}"), &e)),
    }
    if !allow_network_mounts {
        match is_network_mount(path) {
            Ok(false) => {}
            Ok(true) => {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    format!("cannot watch path on network filesystem: {p}"),
                ))
            }
            Err(e) => return Err(io_error("error checking mount status", &e)),
        }
    }
    Ok(())
}

/// An inotify instance watching one directory (and, if recursive, its subdirectories).
pub struct Watcher {
    fd: AsyncFd<OwnedFd>,
    root: PathBuf,
    recursive: bool,
    include_entry: bool,
    creds: Option<Creds>,
    users: Arc<Users>,
    dirs: HashMap<i32, PathBuf>,
    root_wd: i32,
}

impl Watcher {
    /// Starts watching `root` (already validated). Watches are added as the user, who must
    /// be able to read the directories.
    pub fn new(
        root: PathBuf,
        recursive: bool,
        include_entry: bool,
        creds: Option<Creds>,
        users: Arc<Users>,
    ) -> Result<Watcher, ConnectError> {
        // SAFETY: inotify_init1 returns a new descriptor we own, or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io_error(
                "error creating watcher",
                &std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        let fd = async_fd(owned).map_err(|e| io_error("error creating watcher", &e))?;
        let mut w = Watcher {
            fd,
            root: root.clone(),
            recursive,
            include_entry,
            creds,
            users,
            dirs: HashMap::new(),
            root_wd: -1,
        };
        w.root_wd = w.add(&root).map_err(|e| {
            io_error(
                &format!("error adding path {} to watcher", root.to_string_lossy()),
                &e,
            )
        })?;
        if recursive {
            w.add_tree(&root, 0);
        }
        Ok(w)
    }

    fn add(&mut self, dir: &Path) -> std::io::Result<i32> {
        let cpath = c_path(dir).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: valid inotify fd and NUL-terminated path.
        let wd = as_user(self.creds.as_ref(), || unsafe {
            libc::inotify_add_watch(fd, cpath.as_ptr(), WATCH_MASK | libc::IN_ONLYDIR)
        });
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.dirs.insert(wd, dir.to_path_buf());
        Ok(wd)
    }

    /// Adds watches for every directory below `dir` (not following symlinks) and returns the
    /// first `report` entries found below it, each directory before its contents.
    fn add_tree(&mut self, dir: &Path, report: usize) -> Vec<PathBuf> {
        let creds = self.creds.clone();
        let (dirs, entries) = as_user(creds.as_ref(), || {
            let (mut dirs, mut entries) = (Vec::new(), Vec::new());
            let mut stack = vec![dir.to_path_buf()];
            while let Some(d) = stack.pop() {
                let Ok(rd) = std::fs::read_dir(&d) else {
                    continue;
                };
                for e in rd.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        stack.push(e.path());
                        dirs.push(e.path());
                    }
                    if entries.len() < report {
                        entries.push(e.path());
                    }
                }
            }
            (dirs, entries)
        });
        for d in &dirs {
            let _ = self.add(d);
        }
        entries
    }

    /// `path` relative to the watched directory, as events name it.
    fn relative(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        }
    }

    fn event(&self, path: &Path, event_type: EventType) -> FilesystemEvent {
        let carries_entry = matches!(
            event_type,
            EventType::Create | EventType::Write | EventType::Chmod
        );
        let entry = if self.include_entry && carries_entry {
            as_user(self.creds.as_ref(), || entry_info(path, &self.users).ok())
        } else {
            None
        };
        FilesystemEvent {
            name: self.relative(path),
            event_type,
            entry,
        }
    }

    /// Waits for the next batch of events.
    pub async fn next(&mut self) -> Result<Vec<FilesystemEvent>, ConnectError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| io_error("watcher error", &e))?;
            let fd = self.fd.get_ref().as_raw_fd();
            // SAFETY: reads at most buf.len() bytes into the buffer.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::WouldBlock {
                    guard.clear_ready();
                    continue;
                }
                return Err(io_error("watcher error", &err));
            }
            let events = self.parse(&buf[..n as usize])?;
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }

    fn parse(&mut self, mut raw: &[u8]) -> Result<Vec<FilesystemEvent>, ConnectError> {
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut out = Vec::new();
        while raw.len() >= header {
            // SAFETY: the kernel writes whole inotify_event records; read_unaligned copes
            // with the byte buffer's alignment.
            let ev: libc::inotify_event = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
            let len = ev.len as usize;
            let name_bytes = &raw[header..(header + len).min(raw.len())];
            raw = &raw[(header + len).min(raw.len())..];
            let name_end = name_bytes
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(name_bytes.len());
            let name = std::ffi::OsStr::from_bytes(&name_bytes[..name_end]).to_os_string();
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                return Err(ConnectError::new(
                    Code::Internal,
                    "watcher error: fsnotify: queue or buffer overflow",
                ));
            }
            if ev.mask & libc::IN_IGNORED != 0 {
                self.dirs.remove(&ev.wd);
                continue;
            }
            let Some(dir) = self.dirs.get(&ev.wd).cloned() else {
                continue;
            };
            let is_self = ev.mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0;
            // A subdirectory's own removal is already reported by its parent's watch.
            if is_self && ev.wd != self.root_wd {
                continue;
            }
            let path = if name.is_empty() {
                dir.clone()
            } else {
                dir.join(&name)
            };
            let mut appeared = Vec::new();
            if self.recursive
                && ev.mask & libc::IN_ISDIR != 0
                && ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0
            {
                let _ = self.add(&path);
                let below = self.add_tree(&path, MAX_APPEARED);
                // What was made in a new directory before its watch existed has no event of
                // its own (`mkdir d && touch d/f`): report it as created, after `d`. (A
                // directory moved in keeps upstream's behaviour: only the move is reported.)
                if ev.mask & libc::IN_CREATE != 0 {
                    appeared = below;
                }
            }
            let mut ops = Vec::with_capacity(2);
            if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                ops.push(EventType::Create);
            }
            if ev.mask & (libc::IN_MOVED_FROM | libc::IN_MOVE_SELF) != 0 {
                ops.push(EventType::Rename);
            }
            if ev.mask & libc::IN_ATTRIB != 0 {
                ops.push(EventType::Chmod);
            }
            if ev.mask & libc::IN_MODIFY != 0 {
                ops.push(EventType::Write);
            }
            if ev.mask & (libc::IN_DELETE | libc::IN_DELETE_SELF) != 0 {
                ops.push(EventType::Remove);
            }
            for op in ops {
                out.push(self.event(&path, op));
            }
            for p in appeared {
                out.push(self.event(&p, EventType::Create));
            }
        }
        Ok(out)
    }
}

/// A polled watcher (`CreateWatcher`): a task buffers events until they are fetched.
pub struct PolledWatcher {
    state: Arc<Mutex<PolledState>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct PolledState {
    events: Vec<FilesystemEvent>,
    /// About what `events` take in memory.
    bytes: usize,
    error: Option<ConnectError>,
}

/// About what an event takes in memory: its names, plus the fixed parts.
fn event_bytes(e: &FilesystemEvent) -> usize {
    let entry = e.entry.as_ref().map_or(0, |i| {
        let metadata: usize = i.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        i.name.len() + i.path.len() + i.symlink_target.as_ref().map_or(0, String::len) + metadata
    });
    128 + e.name.len() + entry
}

impl PolledWatcher {
    pub fn start(mut watcher: Watcher) -> PolledWatcher {
        let state = Arc::new(Mutex::new(PolledState::default()));
        let s = state.clone();
        let task = tokio::spawn(async move {
            loop {
                match watcher.next().await {
                    Ok(events) => {
                        let mut st = s.lock().unwrap();
                        let bytes = st.bytes + events.iter().map(event_bytes).sum::<usize>();
                        if st.events.len() + events.len() > MAX_BUFFERED_EVENTS
                            || bytes > MAX_BUFFERED_BYTES
                        {
                            st.error = Some(ConnectError::new(
                                Code::Internal,
                                format!(
                                    "watcher error: more than {MAX_BUFFERED_EVENTS} events or \
                                     {} MiB waiting to be fetched",
                                    MAX_BUFFERED_BYTES >> 20
                                ),
                            ));
                            return;
                        }
                        st.bytes = bytes;
                        st.events.extend(events);
                    }
                    Err(e) => {
                        s.lock().unwrap().error = Some(e);
                        return;
                    }
                }
            }
        });
        PolledWatcher { state, task }
    }

    /// Takes the buffered events (or the watcher's error).
    pub fn take(&self) -> Result<Vec<FilesystemEvent>, ConnectError> {
        let mut st = self.state.lock().unwrap();
        if let Some(e) = &st.error {
            return Err(e.clone());
        }
        st.bytes = 0;
        Ok(std::mem::take(&mut st.events))
    }
}

impl Drop for PolledWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
