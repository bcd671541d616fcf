//! Which host directories a Python interpreter needs, so the sandbox can bind them read-only at
//! the same paths and a virtualenv (or pyenv, conda, …) works unchanged inside.
//!
//! The interpreter is asked once (per path, cached for the life of the process) with the same
//! clean environment the kernels get, so `sys.path` is what a kernel will see.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;

use super::SpawnError;
use crate::agent::config::{KernelCatalog, KERNEL_PROBE_DEFS};

/// What the sandbox needs to know about one interpreter.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The interpreter as configured (may be a venv symlink).
    pub python: PathBuf,
    /// Directories (or files, for zipped stdlib) to bind read-only at the same path, minimal:
    /// none is inside another, none is under `/usr` (already in every sandbox).
    pub binds: Vec<PathBuf>,
    /// `import ipykernel` would succeed.
    pub has_ipykernel: bool,
    /// `sys.version`, for messages.
    pub version: String,
    /// Kernels other than ipykernel the environment offers (deno, bash_kernel, kernelspecs).
    pub kernels: KernelCatalog,
}

#[derive(Deserialize)]
struct Probe {
    prefix: String,
    base_prefix: String,
    exec_prefix: String,
    base_exec_prefix: String,
    executable: String,
    real_executable: String,
    libdir: Option<String>,
    path: Vec<String>,
    has_ipykernel: bool,
    version: String,
    #[serde(default)]
    kernels: KernelCatalog,
}

const PROBE: &str = r#"
import sys, os, json, sysconfig, importlib.util
print(json.dumps(dict(
    prefix=sys.prefix, base_prefix=sys.base_prefix, exec_prefix=sys.exec_prefix,
    base_exec_prefix=sys.base_exec_prefix, executable=sys.executable,
    real_executable=os.path.realpath(sys.executable),
    libdir=sysconfig.get_config_var("LIBDIR"),
    path=[p for p in sys.path if p],
    has_ipykernel=importlib.util.find_spec("ipykernel") is not None,
    version=sys.version.split()[0],
    kernels=_e2b_kernels(),
)))
"#;

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<PythonEnv>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<PythonEnv>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Describes `python`, asking it once per process.
pub async fn discover(python: &Path) -> Result<Arc<PythonEnv>, SpawnError> {
    if let Some(env) = cache().lock().unwrap().get(python) {
        return Ok(env.clone());
    }
    let owned = python.to_path_buf();
    let env = tokio::task::spawn_blocking(move || probe(&owned))
        .await
        .map_err(|e| SpawnError::Setup(format!("python probe task failed: {e}")))??;
    let env = Arc::new(env);
    cache()
        .lock()
        .unwrap()
        .insert(python.to_path_buf(), env.clone());
    Ok(env)
}

fn probe(python: &Path) -> Result<PythonEnv, SpawnError> {
    if !python.is_absolute() {
        return Err(SpawnError::Unsupported(format!(
            "the sandbox Python must be an absolute path, got {}",
            python.display()
        )));
    }
    let mut cmd = std::process::Command::new(python);
    let out = crate::fds::inherit_only(&mut cmd, 3)
        .args(["-s", "-c", &format!("{KERNEL_PROBE_DEFS}\n{PROBE}")])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            SpawnError::Unsupported(format!(
                "cannot run the sandbox Python {}: {e}",
                python.display()
            ))
        })?;
    if !out.status.success() {
        return Err(SpawnError::Unsupported(format!(
            "the sandbox Python {} failed to describe itself ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let probe: Probe = serde_json::from_slice(&out.stdout).map_err(|e| {
        SpawnError::Setup(format!(
            "unexpected answer from {}: {e}: {}",
            python.display(),
            String::from_utf8_lossy(&out.stdout)
        ))
    })?;
    let mut candidates = vec![
        probe.prefix,
        probe.base_prefix,
        probe.exec_prefix,
        probe.base_exec_prefix,
    ];
    candidates.push(probe.executable);
    candidates.push(probe.real_executable);
    candidates.extend(probe.libdir);
    // sys.path as a kernel will see it (including .pth additions such as editable installs).
    candidates.extend(probe.path);
    // The configured path itself and every link of its symlink chain must resolve inside.
    let mut link = python.to_path_buf();
    for _ in 0..16 {
        candidates.push(link.to_string_lossy().into_owned());
        match std::fs::read_link(&link) {
            Ok(next) => link = link.parent().unwrap_or(Path::new("/")).join(next),
            Err(_) => break,
        }
    }
    let binds = minimal_binds(candidates.iter().map(Path::new))?;
    Ok(PythonEnv {
        python: python.to_path_buf(),
        binds,
        has_ipykernel: probe.has_ipykernel,
        version: probe.version,
        kernels: probe.kernels,
    })
}

/// Lexically normalises an absolute path (`a/./b/../c` → `a/c`), without touching the disk.
pub(crate) fn normalize(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Directories under which a Python bind would hide or expose something the sandbox owns.
const FORBIDDEN: &[&str] = &["/proc", "/dev", "/sys", "/etc", "/run"];

/// Reduces candidate paths to the smallest set of existing paths to bind: drops paths under
/// `/usr` (always present), non-existent ones, and ones inside another candidate.
pub(crate) fn minimal_binds<'a>(
    candidates: impl Iterator<Item = &'a Path>,
) -> Result<Vec<PathBuf>, SpawnError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for c in candidates {
        let Some(p) = normalize(c) else { continue };
        if p.starts_with("/usr") || !p.exists() {
            continue;
        }
        if p == Path::new("/") || FORBIDDEN.iter().any(|f| p.starts_with(f)) {
            return Err(SpawnError::Unsupported(format!(
                "the sandbox Python needs {} visible inside the sandbox, which is not allowed; \
                 use a Python installed under /usr, /opt or a virtualenv elsewhere",
                p.display()
            )));
        }
        paths.push(p);
    }
    paths.sort();
    paths.dedup();
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        // Sorted order puts a parent right before its descendants.
        if out.last().is_some_and(|last| p.starts_with(last)) {
            continue;
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(
            normalize(Path::new("/a/./b/../c")).unwrap(),
            PathBuf::from("/a/c")
        );
        assert_eq!(normalize(Path::new("/..")).unwrap(), PathBuf::from("/"));
        assert!(normalize(Path::new("rel")).is_none());
    }

    #[test]
    fn binds_are_minimal() {
        let dir = std::env::temp_dir().join(format!("pyenv-test-{}", std::process::id()));
        let venv = dir.join("venv");
        let site = venv.join("lib/site-packages");
        let base = dir.join("base");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(&base).unwrap();
        let cands = [
            site.clone(),
            venv.clone(),
            base.clone(),
            PathBuf::from("/usr/lib/python3"),
            dir.join("missing"),
            venv.join("lib/../lib/site-packages"),
        ];
        let binds = minimal_binds(cands.iter().map(|p| p.as_path())).unwrap();
        assert_eq!(binds, vec![base, venv]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_binding_system_dirs() {
        let err = minimal_binds([Path::new("/etc")].into_iter()).unwrap_err();
        assert!(err.to_string().contains("/etc"), "{err}");
        assert!(minimal_binds([Path::new("/")].into_iter()).is_err());
    }
}
