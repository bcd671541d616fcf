//! Which kernels a sandbox can start, and how (docs/design.md#kernels-and-templates).
//!
//! The daemon asks the sandbox Python once which kernels its environment offers
//! ([`KernelCatalog`], filled by `sandbox::python_env`'s probe): Deno's binary (the `deno`
//! package on PyPI ships it), whether `bash_kernel` is importable, and every Jupyter
//! kernelspec in the standard paths. The sandbox sees that environment read-only at the same
//! paths, so the agent only has to check that each path is visible inside before offering it.
//!
//! Kernels per language:
//! * `python`: ipykernel, with our IPython customisations
//!   (docs/protocol.md#ipython-customisations);
//! * `javascript`, `typescript`: `deno jupyter --kernel` (one kernel runs both);
//! * `bash`: `bash_kernel`;
//! * anything else (`r`, `java`, `julia`…): an installed kernelspec whose language or name
//!   matches, started from its `argv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::language::{Language, UnsupportedLanguage};

/// What the sandbox Python's environment offers besides ipykernel (serialised into the agent
/// configuration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelCatalog {
    /// Deno's binary (JavaScript/TypeScript kernel).
    #[serde(default)]
    pub deno: Option<PathBuf>,
    /// `import bash_kernel` would succeed.
    #[serde(default)]
    pub bash_kernel: bool,
    /// Installed kernelspecs, first found first (user, environment, system paths).
    #[serde(default)]
    pub kernelspecs: Vec<KernelSpecFile>,
}

/// One `kernel.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelSpecFile {
    /// Directory name (the kernel name).
    pub name: String,
    /// The kernelspec's directory (`{resource_dir}`).
    pub dir: PathBuf,
    pub argv: Vec<String>,
    #[serde(default)]
    pub language: String,
    /// `signal` (default) or `message`.
    #[serde(default)]
    pub interrupt_mode: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// How our ZMQ sockets reach a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Unix sockets in the kernel's private directory (libzmq kernels).
    Ipc,
    /// 127.0.0.1 inside the sandbox's own network namespace (the agent lives there too), for
    /// kernels that cannot do ipc: Deno's kernel listens with `Deno.listen` (TCP only), and
    /// JVM kernels use JeroMQ whose "ipc" is TCP anyway.
    Tcp,
}

/// How a running cell is interrupted (the kernelspec's `interrupt_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptMode {
    /// SIGINT to the kernel process (ipykernel, bash_kernel).
    Signal,
    /// `interrupt_request` on the control channel (Deno: SIGINT would kill it).
    Message,
}

/// What `python -m ipykernel_launcher` does, minus the debugger: ipykernel imports debugpy at
/// kernel start (over 100 ms on a 2-core machine) for Jupyter's debug protocol, which neither
/// E2B API exposes. `debugpy` is blocked only while `ipykernel.debugger` is imported (which
/// then records it as unavailable); user code can still import it. `sys.argv[0]` is what
/// `-m ipykernel_launcher` gives (code that detects Jupyter by it keeps working).
const IPYKERNEL_LAUNCHER: &str = "import sys
if sys.path and sys.path[0] == '':
    del sys.path[0]
sys.modules['debugpy'] = None
try:
    import ipykernel.debugger
except ImportError:
    pass
finally:
    del sys.modules['debugpy']
import os
from ipykernel import kernelapp
sys.argv[0] = os.path.join(os.path.dirname(os.path.dirname(kernelapp.__file__)), 'ipykernel_launcher.py')
kernelapp.launch_new_instance()
";

/// Placeholder in [`Launch::argv`] for the connection file.
pub const CONNECTION_FILE: &str = "{connection_file}";

/// Everything needed to start one kind of kernel.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Command line, with [`CONNECTION_FILE`] where the connection file goes.
    pub argv: Vec<String>,
    /// Variables on top of the kernel's base environment.
    pub env: Vec<(String, String)>,
    pub transport: Transport,
    pub interrupt: InterruptMode,
    /// `kernel_name` in the connection file.
    pub kernel_name: String,
    /// For messages: "the Python kernel (ipykernel)", …
    pub display: String,
    /// This is ipykernel: apply our IPython configuration and startup code.
    pub ipython: bool,
    /// How long to keep listening after an execution's `idle` + reply, for kernels that may
    /// publish the last outputs after `idle` (Deno does, in a few percent of executions).
    pub settle: Option<std::time::Duration>,
}

/// See [`Launch::settle`]: Deno publishes a late `execute_result` within a millisecond of
/// `idle`; this leaves room for a loaded machine.
const DENO_SETTLE: std::time::Duration = std::time::Duration::from_millis(40);

/// Where Deno keeps its cache inside the sandbox (must be writable by the user).
pub const DENO_DIR: &str = "/home/user/.cache/deno";

/// The kernels one sandbox can start.
#[derive(Debug, Clone)]
pub struct Kernels {
    python: PathBuf,
    has_ipykernel: bool,
    deno: Option<PathBuf>,
    bash_kernel: bool,
    specs: Vec<KernelSpecFile>,
}

impl Kernels {
    /// Keeps what is visible from inside the sandbox (call it there).
    pub fn new(python: &Path, has_ipykernel: bool, catalog: &KernelCatalog) -> Kernels {
        let deno = catalog.deno.clone().filter(|d| is_executable(d));
        let specs = catalog
            .kernelspecs
            .iter()
            .filter(|s| !s.argv.is_empty() && s.dir.join("kernel.json").is_file())
            .cloned()
            .collect();
        Kernels {
            python: python.to_path_buf(),
            has_ipykernel,
            deno,
            bash_kernel: catalog.bash_kernel,
            specs,
        }
    }

    /// Languages this sandbox can run, in a stable, friendly order.
    pub fn installed(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |name: String| {
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        };
        if self.has_ipykernel {
            add("python".into());
        }
        if self.js_available() {
            add("javascript".into());
            add("typescript".into());
        }
        if self.bash_kernel && self.has_python() {
            add("bash".into());
        }
        for s in &self.specs {
            if is_python_spec(s) {
                continue;
            }
            add(super::language::normalize(Some(&s.language)));
        }
        out
    }

    /// Whether a JavaScript default context can exist.
    pub fn js_available(&self) -> bool {
        self.deno.is_some() || self.spec_for("javascript").is_some()
    }

    fn has_python(&self) -> bool {
        self.python.is_file()
    }

    fn spec_for(&self, language: &str) -> Option<&KernelSpecFile> {
        let matches = |s: &&KernelSpecFile| {
            !is_python_spec(s)
                && (super::language::normalize(Some(&s.language)) == language
                    || s.name.to_lowercase() == language)
        };
        self.specs.iter().find(matches)
    }

    /// How to start a kernel for `language` (normalised).
    pub fn launch(&self, language: &Language) -> Result<Launch, UnsupportedLanguage> {
        let unsupported = || UnsupportedLanguage {
            name: language.name().to_string(),
            installed: self.installed(),
        };
        let python = self.python.to_string_lossy().into_owned();
        match language.name() {
            "python" => {
                if !self.has_ipykernel {
                    return Err(unsupported());
                }
                Ok(Launch {
                    argv: vec![
                        python,
                        "-c".into(),
                        IPYKERNEL_LAUNCHER.into(),
                        "-f".into(),
                        CONNECTION_FILE.into(),
                    ],
                    env: vec![],
                    transport: Transport::Ipc,
                    interrupt: InterruptMode::Signal,
                    kernel_name: "python3".into(),
                    display: "the Python kernel (ipykernel)".into(),
                    ipython: true,
                    settle: None,
                })
            }
            "javascript" | "typescript" if self.deno.is_some() => {
                let deno = self.deno.as_ref().expect("checked");
                Ok(Launch {
                    argv: vec![
                        deno.to_string_lossy().into_owned(),
                        "jupyter".into(),
                        "--kernel".into(),
                        "--conn".into(),
                        CONNECTION_FILE.into(),
                    ],
                    env: [
                        ("DENO_DIR", DENO_DIR),
                        ("NO_COLOR", "1"),
                        ("DENO_NO_UPDATE_CHECK", "1"),
                        ("DENO_NO_PROMPT", "1"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                    transport: Transport::Tcp,
                    interrupt: InterruptMode::Message,
                    kernel_name: "deno".into(),
                    display: "the JavaScript kernel (deno)".into(),
                    ipython: false,
                    settle: Some(DENO_SETTLE),
                })
            }
            "bash" if self.bash_kernel && self.has_python() => Ok(Launch {
                argv: vec![
                    python,
                    "-m".into(),
                    "bash_kernel".into(),
                    "-f".into(),
                    CONNECTION_FILE.into(),
                ],
                env: vec![],
                transport: Transport::Ipc,
                interrupt: InterruptMode::Signal,
                kernel_name: "bash".into(),
                display: "the bash kernel (bash_kernel)".into(),
                ipython: false,
                settle: None,
            }),
            name => {
                // TypeScript without Deno: a kernelspec for either name.
                let spec = self.spec_for(name).or_else(|| {
                    (name == "typescript")
                        .then(|| self.spec_for("javascript"))
                        .flatten()
                });
                let spec = spec.ok_or_else(unsupported)?;
                Ok(self.spec_launch(spec))
            }
        }
    }

    fn spec_launch(&self, spec: &KernelSpecFile) -> Launch {
        let dir = spec.dir.to_string_lossy();
        let argv = spec
            .argv
            .iter()
            .enumerate()
            .map(|(i, a)| {
                // As jupyter_client does: a bare `python` means the environment's own.
                if i == 0 && (a == "python" || a == "python3") {
                    return self.python.to_string_lossy().into_owned();
                }
                a.replace("{resource_dir}", &dir)
            })
            .collect();
        Launch {
            argv,
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            transport: Transport::Tcp,
            interrupt: match spec.interrupt_mode.as_deref() {
                Some("message") => InterruptMode::Message,
                _ => InterruptMode::Signal,
            },
            kernel_name: spec.name.clone(),
            display: format!("the {} kernel (kernelspec {})", spec.language, spec.name),
            ipython: false,
            // Unknown kernels may order their messages loosely too.
            settle: Some(DENO_SETTLE),
        }
    }
}

/// Kernelspecs of ipykernel itself (`python3`): Python always uses our own launch.
fn is_python_spec(s: &KernelSpecFile) -> bool {
    s.language.eq_ignore_ascii_case("python")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Python source defining `_e2b_kernels()`, which returns a [`KernelCatalog`] as a dict and
/// never raises. The daemon's probe of the sandbox Python (`sandbox::python_env`) runs it.
pub const PROBE_DEFS: &str = r#"
def _e2b_kernels():
    import os, sys, json, importlib.util
    try:
        bash_kernel = importlib.util.find_spec("bash_kernel") is not None
    except Exception:
        bash_kernel = False
    return dict(deno=_e2b_deno(os, sys), bash_kernel=bash_kernel,
                kernelspecs=_e2b_kernelspecs(os, sys, json))
def _e2b_deno(os, sys):
    try:
        try:
            import deno
            path = deno.find_deno_bin()
        except Exception:
            path = None
        if not path:
            import shutil
            cand = os.path.join(os.path.dirname(sys.executable), "deno")
            path = cand if os.access(cand, os.X_OK) else shutil.which("deno")
        return os.path.realpath(path) if path else None
    except Exception:
        return None

def _e2b_kernelspecs(os, sys, json):
    try:
        try:
            from jupyter_core.paths import jupyter_path
            dirs = jupyter_path("kernels")
        except Exception:
            dirs = [os.path.join(sys.prefix, "share", "jupyter", "kernels"),
                    "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels"]
        specs, seen = [], set()
        for d in dirs:
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for name in names:
                path = os.path.join(d, name, "kernel.json")
                if name.lower() in seen:
                    continue
                try:
                    with open(path) as f:
                        spec = json.load(f)
                    argv = [str(a) for a in spec.get("argv") or []]
                except Exception:
                    continue
                seen.add(name.lower())
                specs.append(dict(
                    name=name, dir=os.path.realpath(os.path.join(d, name)), argv=argv,
                    language=str(spec.get("language") or ""),
                    interrupt_mode=spec.get("interrupt_mode"),
                    env={str(k): str(v) for k, v in (spec.get("env") or {}).items()},
                ))
        return specs
    except Exception:
        return []
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, language: &str, dir: &Path) -> KernelSpecFile {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("kernel.json"), "{}").unwrap();
        KernelSpecFile {
            name: name.into(),
            dir: d,
            argv: vec![
                "python".into(),
                "-m".into(),
                "x".into(),
                "{resource_dir}/k".into(),
                CONNECTION_FILE.into(),
            ],
            language: language.into(),
            interrupt_mode: Some("message".into()),
            env: BTreeMap::from([("A".into(), "b".into())]),
        }
    }

    #[test]
    fn resolves_languages_to_kernels() {
        let tmp = std::env::temp_dir().join(format!("catalog-test-{}", std::process::id()));
        let catalog = KernelCatalog {
            deno: Some(PathBuf::from("/bin/sh")),
            bash_kernel: true,
            kernelspecs: vec![
                spec("python3", "python", &tmp),
                spec("ir", "R", &tmp),
                spec("java", "java", &tmp),
            ],
        };
        let k = Kernels::new(Path::new("/bin/sh"), true, &catalog);
        assert_eq!(
            k.installed(),
            ["python", "javascript", "typescript", "bash", "r", "java"]
        );
        let py = k.launch(&Language::python()).unwrap();
        assert!(py.ipython && py.transport == Transport::Ipc);
        let ts = k.launch(&Language::named("typescript")).unwrap();
        assert_eq!(ts.argv[0], "/bin/sh");
        assert_eq!(ts.interrupt, InterruptMode::Message);
        assert_eq!(ts.transport, Transport::Tcp);
        let r = k.launch(&Language::named("r")).unwrap();
        assert_eq!(r.kernel_name, "ir");
        assert_eq!(
            r.argv[0], "/bin/sh",
            "bare python becomes the sandbox Python"
        );
        assert_eq!(r.argv[3], format!("{}/k", tmp.join("ir").display()));
        assert_eq!(r.interrupt, InterruptMode::Message);
        let err = k.launch(&Language::named("cobol")).unwrap_err();
        assert!(err.to_string().contains("installed: python, javascript"));

        // Nothing visible: only what ipykernel gives.
        let bare = Kernels::new(
            Path::new("/nonexistent/python"),
            true,
            &KernelCatalog {
                deno: Some(PathBuf::from("/nonexistent/deno")),
                bash_kernel: true,
                kernelspecs: vec![],
            },
        );
        assert_eq!(bare.installed(), ["python"]);
        assert!(!bare.js_available());
        assert!(bare.launch(&Language::javascript()).is_err());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
