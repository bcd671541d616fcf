//! The local runtime's discovery contract, shared by the SDK (which finds or starts the
//! daemon) and `sandboxd` (which writes it): where the per-user state lives and what the
//! state file says. Path computation only reads environment variables; the files of the
//! state directory are read through the two bounded readers at the end.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Contents of `state.json` (mode 0600), written by the daemon once it listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LocalState {
    /// Daemon process id.
    pub pid: u32,
    /// Base URL of the single loopback listener, e.g. `http://127.0.0.1:41234`. Serves the
    /// control-plane API and, routed by `E2b-Sandbox-Id`/`E2b-Sandbox-Port`, every sandbox.
    pub url: String,
    /// Control-plane API key (`e2b_<hex>`), required on every API request.
    pub api_key: String,
    /// Version of the runtime that wrote the file.
    pub version: String,
}

/// Directory holding `state.json`, `daemon.lock`, `start.lock` and `daemon.log`:
/// `$E2B_LOCAL_STATE_DIR` if set, else `$XDG_RUNTIME_DIR/e2b-local`, else `~/.cache/e2b-local`
/// (home: `$HOME`, else `%USERPROFILE%`, else the temporary directory).
pub fn state_dir() -> PathBuf {
    if let Some(dir) = non_empty_env("E2B_LOCAL_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty_env("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("e2b-local");
    }
    // USERPROFILE: Windows' home, where HOME is usually unset.
    let home = non_empty_env("HOME")
        .or_else(|| non_empty_env("USERPROFILE"))
        .map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("e2b-local")
}

pub const STATE_FILE: &str = "state.json";
/// Held (flock, exclusive) by the running daemon for its whole life.
pub const DAEMON_LOCK: &str = "daemon.lock";
/// Held by a client while it checks for, and if needed starts, the daemon.
pub const START_LOCK: &str = "start.lock";
pub const LOG_FILE: &str = "daemon.log";

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Largest state-directory file read whole (`state.json`, a sandbox record, the templates
/// file are a few hundred bytes): a bigger one is not ours and is refused, not loaded.
pub const MAX_STATE_FILE: u64 = 1 << 20;

/// Reads a state-directory file of at most [`MAX_STATE_FILE`] bytes.
pub fn read_state_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_STATE_FILE + 1)
        .read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_STATE_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {MAX_STATE_FILE} bytes", path.display()),
        ));
    }
    Ok(raw)
}

/// The last `max` bytes of a file (a log: only its end is ever shown, however long it grew).
pub fn read_tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut out = Vec::new();
    file.take(max).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_and_tails_are_read_with_a_bound() {
        let dir = std::env::temp_dir().join(format!("e2b-wire-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, b"0123456789").unwrap();
        assert_eq!(read_state_file(&small).unwrap(), b"0123456789");
        assert_eq!(read_tail(&small, 4).unwrap(), b"6789");
        assert_eq!(read_tail(&small, 100).unwrap(), b"0123456789");
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; MAX_STATE_FILE as usize + 1]).unwrap();
        let e = read_state_file(&big).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
