//! `Connection`: a resolved connection configuration and the control-plane calls made with
//! it. Every call takes `asynchronous`: `False` blocks (GIL released) and returns the value,
//! `True` returns an awaitable.

use std::collections::HashMap;

use e2b_client::api::{ApiClient, ListQuery};
use e2b_client::config::{ConnectionConfig, ConnectionOpts, SandboxAddress};
use e2b_client::local::LocalEndpoint;
use e2b_wire::api::{ConnectSandbox, NewSandbox, PauseSandbox, Sandbox};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;

use crate::shared::convert::PyJson;
use crate::shared::errors::check;
use crate::shared::rt::dispatch_oneshot;

/// A created or connected sandbox and the config its object uses:
/// `(sandbox_id, domain, envd_version, envd_access_token, traffic_access_token, connection)`,
/// where `connection` is the calling one, bound in local mode to the daemon that served the
/// call (so that the sandbox's URLs name that daemon).
struct Created(Sandbox, Connection);

impl<'py> IntoPyObject<'py> for Created {
    type Target = PyTuple;
    type Output = Bound<'py, PyTuple>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let Created(s, connection) = self;
        PyTuple::new(
            py,
            [
                s.sandbox_id.into_bound_py_any(py)?,
                s.domain.into_bound_py_any(py)?,
                s.envd_version.into_bound_py_any(py)?,
                s.envd_access_token.into_bound_py_any(py)?,
                s.traffic_access_token.into_bound_py_any(py)?,
                Bound::new(py, connection)?.into_any(),
            ],
        )
    }
}

/// Resolved connection settings (`ConnectionConfig` keeps one of these).
#[pyclass(frozen, module = "e2b._native")]
pub struct Connection {
    cfg: ConnectionConfig,
    headers: Vec<(String, String)>,
}

impl Connection {
    fn parts(&self) -> (ConnectionConfig, Vec<(String, String)>) {
        (self.cfg.clone(), self.headers.clone())
    }

    /// The object of a sandbox that `endpoint` (in local mode) created or connected.
    fn sandbox_connection(
        cfg: ConnectionConfig,
        headers: Vec<(String, String)>,
        endpoint: Option<LocalEndpoint>,
    ) -> Connection {
        Connection {
            cfg: cfg.bound_to(endpoint),
            headers,
        }
    }
}

#[pymethods]
impl Connection {
    /// Resolves options against the environment (`e2b_client::config`).
    #[new]
    #[pyo3(signature = (*, domain=None, debug=None, api_key=None, api_url=None, sandbox_url=None,
                        request_timeout=None, retries=None, http_version=None, proxy=None,
                        headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        domain: Option<String>,
        debug: Option<bool>,
        api_key: Option<String>,
        api_url: Option<String>,
        sandbox_url: Option<String>,
        request_timeout: Option<f64>,
        retries: Option<u32>,
        http_version: Option<String>,
        proxy: Option<String>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<Self> {
        let cfg = check(
            py,
            ConnectionConfig::from_env(ConnectionOpts {
                domain,
                debug,
                api_key,
                api_url,
                sandbox_url,
                request_timeout,
                retries,
                http_version,
                proxy,
            }),
        )?;
        Ok(Connection {
            cfg,
            headers: headers.unwrap_or_default(),
        })
    }

    #[getter]
    fn domain(&self) -> &str {
        &self.cfg.domain
    }

    #[getter]
    fn debug(&self) -> bool {
        self.cfg.debug
    }

    #[getter]
    fn api_key(&self) -> Option<&str> {
        self.cfg.api_key.as_deref()
    }

    #[getter]
    fn api_url(&self) -> &str {
        &self.cfg.api_url
    }

    #[getter]
    fn sandbox_url(&self) -> Option<&str> {
        self.cfg.sandbox_url.as_deref()
    }

    /// Seconds, or `None` when disabled.
    #[getter]
    fn request_timeout(&self) -> Option<f64> {
        self.cfg.request_timeout.map(|d| d.as_secs_f64())
    }

    #[getter]
    fn retries(&self) -> u32 {
        self.cfg.retries
    }

    #[getter]
    fn http_version(&self) -> &'static str {
        self.cfg.http_version.as_str()
    }

    /// Whether calls go to the local runtime.
    #[getter]
    fn local(&self) -> bool {
        self.cfg.is_local()
    }

    /// In local mode, the WARNING to log once per process (why local, what is ignored).
    #[getter]
    fn local_notice(&self) -> Option<String> {
        self.cfg.local_mode().map(|mode| mode.notice())
    }

    /// An address of a sandbox port: `kind` is `"url"` (base URL of requests), `"direct_url"`
    /// (never the shared host: signed file URLs) or `"host"` (`get_host`).
    #[pyo3(signature = (kind, sandbox_id, sandbox_domain, port))]
    fn sandbox_address(
        &self,
        py: Python<'_>,
        kind: &str,
        sandbox_id: &str,
        sandbox_domain: Option<&str>,
        port: u16,
    ) -> PyResult<String> {
        check(
            py,
            SandboxAddress::parse(kind).and_then(|kind| {
                self.cfg
                    .sandbox_address(kind, sandbox_id, sandbox_domain, port)
            }),
        )
    }

    /// `POST /v2/sandboxes`. `extra` is a JSON object of further `NewSandboxV2` fields
    /// (lifecycle, network, …) already in wire form.
    #[pyo3(signature = (asynchronous, template, timeout, allow_internet_access, metadata,
                        env_vars, extra=None, idempotency_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_sandbox<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        template: String,
        timeout: Option<i64>,
        allow_internet_access: Option<bool>,
        metadata: Option<HashMap<String, String>>,
        env_vars: Option<HashMap<String, String>>,
        extra: Option<String>,
        idempotency_key: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut body = NewSandbox {
            template_id: template,
            timeout,
            allow_internet_access,
            metadata: Some(metadata.unwrap_or_default()),
            env_vars: Some(env_vars.unwrap_or_default()),
            ..Default::default()
        };
        if let Some(extra) = extra {
            body = merge_extra(py, body, &extra)?;
        }
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, local) = ApiClient::new(&cfg, &headers).await?;
            let sandbox = api
                .create_sandbox(&body, idempotency_key.as_deref())
                .await?;
            Ok(Created(
                sandbox,
                Connection::sandbox_connection(cfg, headers, local),
            ))
        })
    }

    /// `POST /v2/sandboxes/{id}/connect`.
    #[pyo3(signature = (asynchronous, sandbox_id, timeout=None, memory=None))]
    fn connect_sandbox<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
        timeout: Option<i64>,
        memory: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, local) = ApiClient::new(&cfg, &headers).await?;
            let sandbox = api
                .connect_sandbox(&sandbox_id, &ConnectSandbox { timeout, memory })
                .await?;
            Ok(Created(
                sandbox,
                Connection::sandbox_connection(cfg, headers, local),
            ))
        })
    }

    /// `DELETE /sandboxes/{id}` → `True`, or `False` when not found.
    fn kill_sandbox<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            api.kill_sandbox(&sandbox_id).await
        })
    }

    /// `POST /sandboxes/{id}/timeout`.
    fn set_timeout<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
        timeout: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            api.set_timeout(&sandbox_id, timeout).await
        })
    }

    /// `GET /sandboxes/{id}` → the `SandboxDetail` as a dict (wire field names).
    fn get_info<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            api.get_info(&sandbox_id).await.map(PyJson)
        })
    }

    /// `GET /v2/sandboxes` → `(list of ListedSandbox dicts, next_token or None)`.
    #[pyo3(signature = (asynchronous, metadata=None, state=None, started_after=None,
                        template=None, order=None, limit=None, next_token=None))]
    #[allow(clippy::too_many_arguments)]
    fn list_sandboxes<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        metadata: Option<Vec<(String, String)>>,
        state: Option<Vec<String>>,
        started_after: Option<String>,
        template: Option<String>,
        order: Option<String>,
        limit: Option<u32>,
        next_token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = ListQuery {
            metadata,
            state,
            started_after,
            template,
            order,
            limit,
            next_token,
        };
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            let (items, next) = api.list_sandboxes(&query).await?;
            Ok((PyJson(serde_json::Value::Array(items)), next))
        })
    }

    /// `POST /sandboxes/{id}/pause` → `True`, or `False` when already paused.
    #[pyo3(signature = (asynchronous, sandbox_id, memory=None, require_healthy_guest=None))]
    fn pause_sandbox<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
        memory: Option<bool>,
        require_healthy_guest: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            api.pause_sandbox(
                &sandbox_id,
                &PauseSandbox {
                    memory,
                    require_healthy_guest,
                },
            )
            .await
        })
    }

    /// `GET /sandboxes/{id}/metrics` → list of `SandboxMetric` dicts.
    #[pyo3(signature = (asynchronous, sandbox_id, start=None, end=None))]
    fn get_metrics<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        sandbox_id: String,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cfg, headers) = self.parts();
        dispatch_oneshot(py, asynchronous, async move {
            let (api, _) = ApiClient::new(&cfg, &headers).await?;
            api.get_metrics(&sandbox_id, start, end)
                .await
                .map(|items| PyJson(serde_json::Value::Array(items)))
        })
    }
}

/// Adds the wire-form fields of `extra` (a JSON object) to a create body.
fn merge_extra(py: Python<'_>, body: NewSandbox, extra: &str) -> PyResult<NewSandbox> {
    let mut value = serde_json::to_value(&body).map_err(|e| {
        crate::shared::errors::to_pyerr(py, e2b_client::Error::sandbox(e.to_string()))
    })?;
    let extra: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(extra).map_err(|e| {
            crate::shared::errors::to_pyerr(
                py,
                e2b_client::Error::invalid_argument(format!("invalid sandbox options: {e}")),
            )
        })?;
    if let serde_json::Value::Object(map) = &mut value {
        map.extend(extra);
    }
    serde_json::from_value(value).map_err(|e| {
        crate::shared::errors::to_pyerr(
            py,
            e2b_client::Error::invalid_argument(format!("invalid sandbox options: {e}")),
        )
    })
}

/// Sets the command that runs the local runtime in the foreground; the SDK starts it
/// detached when no daemon answers.
#[pyfunction]
pub fn set_local_launcher(argv: Vec<String>) {
    e2b_client::local::set_launcher(argv);
}
