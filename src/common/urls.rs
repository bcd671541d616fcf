//! Pure URL rules (protocol.md §1.3), exposed for `ConnectionConfig`'s methods, and the
//! local-runtime launcher setting.

use pyo3::prelude::*;

/// Base URL of a sandbox port (shared host for E2B's domains).
#[pyfunction]
#[pyo3(signature = (configured, debug, domain, sandbox_id, sandbox_domain, port))]
pub fn sandbox_url(
    configured: Option<&str>,
    debug: bool,
    domain: &str,
    sandbox_id: &str,
    sandbox_domain: Option<&str>,
    port: u16,
) -> String {
    e2b_client::config::sandbox_url(
        configured,
        debug,
        domain,
        sandbox_id,
        sandbox_domain.unwrap_or(""),
        port,
    )
}

/// Direct base URL of a sandbox port (never the shared host).
#[pyfunction]
#[pyo3(signature = (configured, debug, sandbox_id, sandbox_domain, port))]
pub fn sandbox_direct_url(
    configured: Option<&str>,
    debug: bool,
    sandbox_id: &str,
    sandbox_domain: Option<&str>,
    port: u16,
) -> String {
    e2b_client::config::sandbox_direct_url(
        configured,
        debug,
        sandbox_id,
        sandbox_domain.unwrap_or("None"),
        port,
    )
}

/// `get_host`: `localhost:{port}` in debug mode, else `{port}-{id}.{domain}`.
#[pyfunction]
#[pyo3(signature = (debug, sandbox_id, sandbox_domain, port))]
pub fn host(debug: bool, sandbox_id: &str, sandbox_domain: Option<&str>, port: u16) -> String {
    e2b_client::config::host(debug, sandbox_id, sandbox_domain.unwrap_or("None"), port)
}

/// Sets the command that runs the local runtime in the foreground; the SDK starts it
/// detached when no daemon answers.
#[pyfunction]
pub fn set_local_launcher(argv: Vec<String>) {
    e2b_client::local::set_launcher(argv);
}
