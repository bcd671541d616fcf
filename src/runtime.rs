//! Entry points of the local runtime (`sandboxd`) exposed through the extension, so that the
//! wheel needs no separate binary: the `e2b-local` console script and the in-sandbox agent.
//! A build without the runtime (`cfg(local_runtime)` unset: not x86-64 Linux, or built
//! without the `local-runtime` feature) keeps both names, and they refuse with the sentence
//! the SDK's missing-key error adds (`e2b._local` prints it before getting here).

#[cfg(local_runtime)]
use std::path::PathBuf;

use pyo3::prelude::*;
#[cfg(local_runtime)]
use sandboxd::cli::{self, CliContext};
#[cfg(local_runtime)]
use sandboxd::sandbox::AgentLauncher;

/// Runs the `e2b-local` command line (`serve`, `status`, `list`, `kill`, `logs`, `stop`,
/// `env`) with `argv` (without the program name). `python` is the interpreter whose
/// environment provides the kernels, and `extension` the path of this extension module, which
/// the sandbox agent is started from. Blocks with the GIL released; returns the exit code.
#[cfg(local_runtime)]
#[pyfunction]
#[pyo3(signature = (argv, python, extension))]
pub fn cli_main(py: Python<'_>, argv: Vec<String>, python: String, extension: String) -> i32 {
    let mut args = Vec::with_capacity(argv.len() + 1);
    args.push("e2b-local".to_owned());
    args.extend(argv);
    let ctx = CliContext {
        python: Some(PathBuf::from(&python)),
        agent: AgentLauncher::PythonExtension {
            python: PathBuf::from(python),
            extension: PathBuf::from(extension),
        },
    };
    py.detach(move || cli::main(args, ctx))
}

/// Runs the in-sandbox agent process (started by the runtime inside a sandbox, never by
/// users). Blocks with the GIL released; returns the exit code.
#[cfg(local_runtime)]
#[pyfunction]
pub fn agent_main(py: Python<'_>) -> i32 {
    py.detach(sandboxd::agent::run_agent)
}

#[cfg(not(local_runtime))]
fn unavailable() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!(
        "e2b-local: {}",
        e2b_client::config::LOCAL_RUNTIME_UNAVAILABLE
    ))
}

/// Without the local runtime: raises `RuntimeError` saying so.
#[cfg(not(local_runtime))]
#[pyfunction]
#[pyo3(signature = (argv, python, extension))]
pub fn cli_main(argv: Vec<String>, python: String, extension: String) -> PyResult<i32> {
    let _ = (argv, python, extension);
    Err(unavailable())
}

/// Without the local runtime: raises `RuntimeError` saying so.
#[cfg(not(local_runtime))]
#[pyfunction]
pub fn agent_main() -> PyResult<i32> {
    Err(unavailable())
}
