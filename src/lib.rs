//! `e2b._native`: the Python bindings of the Rust core. Thin by design — logic lives in the
//! `e2b-client` crate (and `sandboxd` for the local runtime); this crate converts types,
//! maps errors to `e2b.exceptions`, and runs calls on one process-wide tokio runtime with
//! the GIL released (sync) or as awaitables (async).
//!
//! * `common/`: what Python sees — `Connection` (control plane), `SandboxClient` (envd health
//!   and the code interpreter), `ExecutionStream`, `Envd` (files, commands, PTYs) and its
//!   streams, the local-runtime launcher.
//! * `shared/`: runtime and sync/async plumbing, error translation, JSON conversion.
//! * `runtime.rs`: the `e2b-local` CLI and sandbox-agent entry points (the local runtime,
//!   linked only on x86-64 Linux with the default `local-runtime` feature: `LOCAL_RUNTIME`
//!   says whether this build has it).

use pyo3::prelude::*;

// The client resolves configs to the local runtime exactly when this extension links it.
const _: () = assert!(
    e2b_client::config::LOCAL_RUNTIME == cfg!(local_runtime),
    "e2b-client's `local-runtime` feature must follow the extension's"
);

mod common;
mod runtime;
mod shared;

#[pymodule(name = "_native")]
mod native {
    #[pymodule_export]
    use crate::common::connection::{set_local_launcher, Connection};
    #[pymodule_export]
    use crate::common::envd::{
        DownloadStream, Envd, InputStream, ProcessStream, UploadStream, WatchStream,
    };
    #[pymodule_export]
    use crate::common::execution::ExecutionStream;
    #[pymodule_export]
    use crate::common::sandbox::SandboxClient;
    #[pymodule_export]
    use crate::runtime::{agent_main, cli_main};
    #[pymodule_export]
    use crate::shared::rt::{wake_source, PendingCall};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("SDK_VERSION", e2b_client::SDK_VERSION)?;
        m.add("LOCAL_RUNTIME", e2b_client::config::LOCAL_RUNTIME)?;
        m.add(
            "LOCAL_RUNTIME_UNAVAILABLE",
            e2b_client::config::LOCAL_RUNTIME_UNAVAILABLE,
        )?;
        Ok(())
    }
}
