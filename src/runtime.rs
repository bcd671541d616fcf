//! Entry points of the local runtime (`sandboxd`) exposed through the extension, so that the
//! wheel needs no separate binary: the `e2b-local` console script and the in-sandbox agent.

use std::path::PathBuf;

use pyo3::prelude::*;
use sandboxd::cli::{self, CliContext};
use sandboxd::sandbox::AgentLauncher;

/// Runs the `e2b-local` command line (`serve`, `status`, `list`, `kill`, `logs`, `stop`,
/// `env`) with `argv` (without the program name). `python` is the interpreter whose
/// environment provides the kernels, and `extension` the path of this extension module, which
/// the sandbox agent is started from. Blocks with the GIL released; returns the exit code.
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
#[pyfunction]
pub fn agent_main(py: Python<'_>) -> i32 {
    py.detach(sandboxd::agent::run_agent)
}
