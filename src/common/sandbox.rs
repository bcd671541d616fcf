//! `SandboxClient`: one sandbox's data plane — envd `/health` and the code interpreter.
//! Built by the Python `Sandbox` on first use (construction does no I/O).

use std::collections::HashMap;
use std::time::Duration;

use e2b_client::config::HttpVersion;
use e2b_client::sandbox::{ExecuteOptions, SandboxClient as Client};
use e2b_wire::execution::{CreateContextRequest, ExecutionRequest};
use pyo3::prelude::*;

use super::execution::ExecutionStream;
use crate::shared::convert::{PyExecution, PyJson};
use crate::shared::errors::check;
use crate::shared::rt::dispatch_oneshot;

fn seconds(value: Option<f64>) -> Option<Duration> {
    value
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Duration::from_secs_f64)
}

#[pyclass(frozen, module = "e2b._native")]
pub struct SandboxClient {
    client: Client,
}

impl SandboxClient {
    /// The Rust client behind this object (shared with `Envd`).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

#[pymethods]
impl SandboxClient {
    #[new]
    #[pyo3(signature = (sandbox_id, envd_url, envd_headers, access_token=None,
                        traffic_access_token=None, http_version="2", proxy=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        sandbox_id: String,
        envd_url: String,
        envd_headers: Vec<(String, String)>,
        access_token: Option<String>,
        traffic_access_token: Option<String>,
        http_version: &str,
        proxy: Option<String>,
    ) -> PyResult<Self> {
        let http_version = check(py, HttpVersion::parse(http_version, "http_version"))?;
        let client = check(
            py,
            Client::new(
                sandbox_id,
                envd_url,
                &envd_headers,
                access_token,
                traffic_access_token,
                http_version,
                proxy,
            ),
        )?;
        Ok(SandboxClient { client })
    }

    /// envd `GET /health`: `True` running, `False` on 502.
    #[pyo3(signature = (asynchronous, request_timeout=None))]
    fn is_running<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        request_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        dispatch_oneshot(py, asynchronous, async move {
            client.is_running(seconds(request_timeout)).await
        })
    }

    /// Runs code and returns the whole execution at once (no callbacks):
    /// `(results, stdout, stderr, error, execution_count)`.
    #[pyo3(signature = (asynchronous, jupyter_url, code, context_id=None, language=None,
                        env_vars=None, timeout=None, connect_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn run_code<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        jupyter_url: String,
        code: String,
        context_id: Option<String>,
        language: Option<String>,
        env_vars: Option<HashMap<String, String>>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        let request = ExecutionRequest {
            code,
            context_id,
            language,
            env_vars,
        };
        let options = ExecuteOptions {
            timeout: seconds(timeout),
            connect_timeout: seconds(connect_timeout),
        };
        dispatch_oneshot(py, asynchronous, async move {
            let stream = client.execute(&jupyter_url, &request, options).await?;
            stream.collect().await.map(PyExecution)
        })
    }

    /// Starts an execution whose events are read batch by batch (for callbacks).
    #[pyo3(signature = (jupyter_url, code, context_id=None, language=None, env_vars=None,
                        timeout=None, connect_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn run_code_stream(
        &self,
        jupyter_url: String,
        code: String,
        context_id: Option<String>,
        language: Option<String>,
        env_vars: Option<HashMap<String, String>>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
    ) -> ExecutionStream {
        let request = ExecutionRequest {
            code,
            context_id,
            language,
            env_vars,
        };
        let options = ExecuteOptions {
            timeout: seconds(timeout),
            connect_timeout: seconds(connect_timeout),
        };
        ExecutionStream::start(self.client.clone(), jupyter_url, request, options)
    }

    /// `POST /contexts` → the context dict.
    #[pyo3(signature = (asynchronous, jupyter_url, cwd=None, language=None, request_timeout=None))]
    fn create_context<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        jupyter_url: String,
        cwd: Option<String>,
        language: Option<String>,
        request_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        let request = CreateContextRequest { language, cwd };
        dispatch_oneshot(py, asynchronous, async move {
            client
                .create_context(&jupyter_url, &request, seconds(request_timeout))
                .await
                .map(PyJson)
        })
    }

    /// `GET /contexts` → list of context dicts.
    #[pyo3(signature = (asynchronous, jupyter_url, request_timeout=None))]
    fn list_contexts<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        jupyter_url: String,
        request_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        dispatch_oneshot(py, asynchronous, async move {
            client
                .list_contexts(&jupyter_url, seconds(request_timeout))
                .await
                .map(PyJson)
        })
    }

    /// `DELETE /contexts/{id}`.
    #[pyo3(signature = (asynchronous, jupyter_url, context_id, request_timeout=None))]
    fn remove_context<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        jupyter_url: String,
        context_id: String,
        request_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        dispatch_oneshot(py, asynchronous, async move {
            client
                .remove_context(&jupyter_url, &context_id, seconds(request_timeout))
                .await
        })
    }

    /// `POST /contexts/{id}/restart`.
    #[pyo3(signature = (asynchronous, jupyter_url, context_id, request_timeout=None))]
    fn restart_context<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        jupyter_url: String,
        context_id: String,
        request_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        dispatch_oneshot(py, asynchronous, async move {
            client
                .restart_context(&jupyter_url, &context_id, seconds(request_timeout))
                .await
        })
    }
}
