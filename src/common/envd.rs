//! `Envd`: a sandbox's filesystem, commands and PTYs as Python sees them (the `e2b-client`
//! envd calls, converted), plus the streaming objects those hand out:
//!
//! * `ProcessStream` / `WatchStream` / `DownloadStream`: a task on the runtime reads the
//!   stream into a small bounded channel (a slow consumer slows the stream, it does not grow
//!   a buffer); Python takes batches with `next_batch()` (GIL released) or
//!   `await wait_native(anext_batch())`, and runs callbacks itself. `close()` (or dropping
//!   the object) aborts the task, which closes the connection — for a process that is a
//!   disconnect, never a kill.
//! * `UploadStream`: Python hands it chunks as it reads the caller's data, so a large
//!   upload never sits in memory on either side.
//! * `InputStream`: `Process/StreamInput`, chunks queued in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use e2b_client::envd::{
    Download, InputKind, InputStream as ClientInputStream, ProcessOutput,
    ProcessStream as ClientProcessStream, Upload, UploadMode, UploadOptions,
    WatchStream as ClientWatchStream, DOWNLOAD_IDLE_TIMEOUT,
};
use e2b_client::sandbox::SandboxClient as Client;
use e2b_client::{Error, Result};
use e2b_wire::envd::{
    EntryInfo, FileType, FilesystemEvent, ProcessConfig, ProcessInfo, Pty, PtySize, StartRequest,
    WatchRequest, WriteInfo,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use pyo3::IntoPyObjectExt;
use tokio::sync::mpsc;

use super::sandbox::SandboxClient;
use crate::shared::errors::to_pyerr;
use crate::shared::rt::{dispatch, runtime};

fn seconds(value: Option<f64>) -> Option<Duration> {
    value
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Duration::from_secs_f64)
}

fn input_kind(kind: &str) -> PyResult<InputKind> {
    match kind {
        "stdin" => Ok(InputKind::Stdin),
        "pty" => Ok(InputKind::Pty),
        other => Err(PyValueError::new_err(format!(
            "unknown input kind {other:?}"
        ))),
    }
}

// ------------------------------------------------------------------------- conversions

fn file_type_name(t: FileType) -> Option<&'static str> {
    match t {
        FileType::File => Some("file"),
        FileType::Directory => Some("dir"),
        FileType::Symlink => Some("symlink"),
        FileType::Unspecified => None,
    }
}

/// An `EntryInfo` as the keyword arguments of Python's `EntryInfo` (plus `is_symlink` and
/// `modified_time` as `(seconds, nanoseconds)`).
fn entry_to_py<'py>(py: Python<'py>, e: &EntryInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &e.name)?;
    d.set_item("type", file_type_name(e.file_type))?;
    d.set_item("path", &e.path)?;
    d.set_item("size", e.size)?;
    d.set_item("mode", e.mode)?;
    d.set_item("permissions", &e.permissions)?;
    d.set_item("owner", &e.owner)?;
    d.set_item("group", &e.group)?;
    let t = e.modified_time.unwrap_or_default();
    d.set_item("modified_time", (t.seconds, t.nanos))?;
    d.set_item("symlink_target", e.symlink_target.as_deref())?;
    if e.metadata.is_empty() {
        d.set_item("metadata", py.None())?;
    } else {
        d.set_item("metadata", e.metadata.clone())?;
    }
    d.set_item("is_symlink", e.is_symlink)?;
    Ok(d)
}

fn event_to_py<'py>(py: Python<'py>, e: &FilesystemEvent) -> PyResult<Bound<'py, PyAny>> {
    let kind = match e.event_type.number() {
        1 => "create",
        2 => "write",
        3 => "remove",
        4 => "rename",
        5 => "chmod",
        _ => return Ok(py.None().into_bound(py)),
    };
    let entry = match &e.entry {
        Some(entry) => entry_to_py(py, entry)?.into_any(),
        None => py.None().into_bound(py),
    };
    (e.name.as_str(), kind, entry).into_bound_py_any(py)
}

struct PyEntry(EntryInfo);
struct PyEntries(Vec<EntryInfo>);
struct PyFsEvents(Vec<FilesystemEvent>);
struct PyProcesses(Vec<ProcessInfo>);
struct PyWritten(Vec<WriteInfo>);
struct PyData(Bytes);
struct PyOutputs(Vec<ProcessOutput>);

macro_rules! into_py {
    ($t:ty, |$self_:ident, $py:ident| $body:expr) => {
        impl<'py> IntoPyObject<'py> for $t {
            type Target = PyAny;
            type Output = Bound<'py, PyAny>;
            type Error = PyErr;

            fn into_pyobject($self_, $py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                $body
            }
        }
    };
}

into_py!(PyEntry, |self, py| entry_to_py(py, &self.0)
    .map(Bound::into_any));
into_py!(PyEntries, |self, py| {
    let list = PyList::empty(py);
    for e in &self.0 {
        list.append(entry_to_py(py, e)?)?;
    }
    Ok(list.into_any())
});
into_py!(PyFsEvents, |self, py| {
    let list = PyList::empty(py);
    for e in &self.0 {
        let ev = event_to_py(py, e)?;
        if !ev.is_none() {
            list.append(ev)?;
        }
    }
    Ok(list.into_any())
});
into_py!(PyProcesses, |self, py| {
    let list = PyList::empty(py);
    for p in self.0 {
        let c = p.config.unwrap_or_default();
        let d = PyDict::new(py);
        d.set_item("pid", p.pid)?;
        d.set_item("tag", p.tag)?;
        d.set_item("cmd", c.cmd)?;
        d.set_item("args", c.args)?;
        d.set_item("envs", c.envs)?;
        d.set_item("cwd", c.cwd)?;
        list.append(d)?;
    }
    Ok(list.into_any())
});
into_py!(PyWritten, |self, py| {
    let list = PyList::empty(py);
    for w in self.0 {
        let d = PyDict::new(py);
        d.set_item("name", w.name)?;
        d.set_item("type", w.entry_type)?;
        d.set_item("path", w.path)?;
        d.set_item("metadata", w.metadata)?;
        list.append(d)?;
    }
    Ok(list.into_any())
});
into_py!(PyData, |self, py| Ok(PyBytes::new(py, &self.0).into_any()));
into_py!(PyOutputs, |self, py| {
    let list = PyList::empty(py);
    for o in &self.0 {
        let t = match o {
            ProcessOutput::Stdout(b) => ("stdout", PyBytes::new(py, b)).into_bound_py_any(py)?,
            ProcessOutput::Stderr(b) => ("stderr", PyBytes::new(py, b)).into_bound_py_any(py)?,
            ProcessOutput::Pty(b) => ("pty", PyBytes::new(py, b)).into_bound_py_any(py)?,
            ProcessOutput::End(e) => PyTuple::new(
                py,
                [
                    "end".into_bound_py_any(py)?,
                    e.exit_code.into_bound_py_any(py)?,
                    e.error.as_deref().into_bound_py_any(py)?,
                ],
            )?
            .into_any(),
        };
        list.append(t)?;
    }
    Ok(list.into_any())
});

// ------------------------------------------------------------------------- streams

/// A stream read into a bounded channel by a runtime task (see the module docs).
struct Pump<T> {
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Result<T>>>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

const PUMP_BATCHES: usize = 4;

/// Something a [`Pump`] reads until it yields `None`.
trait Source: Send + 'static {
    type Item: Send + 'static;
    fn next(&mut self)
        -> impl std::future::Future<Output = Result<Option<Self::Item>>> + Send + '_;
}

impl Source for ClientProcessStream {
    type Item = Vec<ProcessOutput>;
    async fn next(&mut self) -> Result<Option<Self::Item>> {
        self.next_batch()
            .await
            .map(|b| (!b.is_empty()).then_some(b))
    }
}

impl Source for ClientWatchStream {
    type Item = Vec<FilesystemEvent>;
    async fn next(&mut self) -> Result<Option<Self::Item>> {
        self.next_batch()
            .await
            .map(|b| (!b.is_empty()).then_some(b))
    }
}

impl Source for Download {
    type Item = Bytes;
    async fn next(&mut self) -> Result<Option<Self::Item>> {
        self.next_chunk().await
    }
}

impl<T: Send + 'static> Pump<T> {
    fn start<S: Source<Item = T>>(mut source: S) -> Self {
        let (tx, rx) = mpsc::channel::<Result<T>>(PUMP_BATCHES);
        let handle = runtime().spawn(async move {
            loop {
                match source.next().await {
                    Ok(Some(item)) => {
                        if tx.send(Ok(item)).await.is_err() {
                            return; // consumer gone: drop the stream
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        Pump {
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            task: Mutex::new(Some(handle.abort_handle())),
        }
    }

    fn close(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }

    fn next(&self) -> impl std::future::Future<Output = Result<Option<T>>> + Send + 'static {
        let rx = self.rx.clone();
        async move {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(Ok(v)) => Ok(Some(v)),
                Some(Err(e)) => Err(e),
                None => Ok(None),
            }
        }
    }
}

impl<T> Drop for Pump<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

/// The output of a process (`commands.run`/`connect`, `pty.create`/`connect`).
#[pyclass(frozen, module = "e2b._native")]
pub struct ProcessStream {
    #[pyo3(get)]
    pid: u32,
    pump: Pump<Vec<ProcessOutput>>,
}

impl ProcessStream {
    fn new(stream: ClientProcessStream) -> Self {
        let pid = stream.pid;
        let pump = Pump::start(stream);
        ProcessStream { pid, pump }
    }
}

#[pymethods]
impl ProcessStream {
    /// The next batch: a list of `("stdout"|"stderr"|"pty", bytes)` and
    /// `("end", exit_code, error)` tuples, or `None` when the stream ended. Blocks (GIL
    /// released).
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(
            py,
            false,
            async move { fut.await.map(|o| o.map(PyOutputs)) },
        )
    }

    /// Awaitable form of `next_batch` (a `PendingCall`).
    fn anext_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(py, true, async move { fut.await.map(|o| o.map(PyOutputs)) })
    }

    /// Stops receiving (closes the connection); the process keeps running.
    fn close(&self) {
        self.pump.close();
    }
}

/// The events of an async `files.watch_dir`.
#[pyclass(frozen, module = "e2b._native")]
pub struct WatchStream {
    pump: Pump<Vec<FilesystemEvent>>,
}

#[pymethods]
impl WatchStream {
    /// The next batch of `(name, type, entry_dict_or_None)` tuples, or `None` at the end.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(
            py,
            false,
            async move { fut.await.map(|o| o.map(PyFsEvents)) },
        )
    }

    /// Awaitable form of `next_batch`.
    fn anext_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(
            py,
            true,
            async move { fut.await.map(|o| o.map(PyFsEvents)) },
        )
    }

    /// Stops the watch.
    fn close(&self) {
        self.pump.close();
    }
}

/// A streamed download (`files.read(format="stream")`).
#[pyclass(frozen, module = "e2b._native")]
pub struct DownloadStream {
    pump: Pump<Bytes>,
}

#[pymethods]
impl DownloadStream {
    /// The next chunk (`bytes`), or `None` at the end of the file.
    fn next_chunk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(py, false, async move { fut.await.map(|o| o.map(PyData)) })
    }

    /// Awaitable form of `next_chunk`.
    fn anext_chunk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.pump.next();
        dispatch(py, true, async move { fut.await.map(|o| o.map(PyData)) })
    }

    /// Releases the connection.
    fn close(&self) {
        self.pump.close();
    }
}

/// An upload being fed chunk by chunk.
#[pyclass(frozen, module = "e2b._native")]
pub struct UploadStream {
    upload: Arc<tokio::sync::Mutex<Upload>>,
}

#[pymethods]
impl UploadStream {
    /// Starts the next file of a multipart upload (`path` goes in the part's filename).
    #[pyo3(signature = (asynchronous, path))]
    fn begin_file<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let up = self.upload.clone();
        dispatch(py, asynchronous, async move {
            up.lock().await.begin_file(&path).await
        })
    }

    /// Sends a chunk of the current file (waits while the connection is busy).
    #[pyo3(signature = (asynchronous, data))]
    fn send<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        data: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let up = self.upload.clone();
        dispatch(py, asynchronous, async move {
            up.lock().await.send(Bytes::from(data)).await
        })
    }

    /// Ends the request; returns the written files as dicts.
    #[pyo3(signature = (asynchronous))]
    fn finish<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        let up = self.upload.clone();
        dispatch(py, asynchronous, async move {
            up.lock().await.finish().await.map(PyWritten)
        })
    }
}

/// An open `Process/StreamInput` call.
#[pyclass(frozen, module = "e2b._native")]
pub struct InputStream {
    inner: Arc<tokio::sync::Mutex<ClientInputStream>>,
}

#[pymethods]
impl InputStream {
    /// Queues a chunk (returns at once); raises the stream's error if it already failed.
    fn push(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let inner = self.inner.clone();
        let r = match inner.try_lock() {
            Ok(mut g) => g.push(Bytes::copy_from_slice(data)),
            Err(_) => Err(Error::sandbox(
                "Cannot send input after the input handle is closed. Open a new one with `sandbox.commands.stream_input(pid)` or `sandbox.pty.stream_input(pid)`.",
            )),
        };
        r.map_err(|e| to_pyerr(py, e))
    }

    /// Ends the input and waits for envd's acknowledgement.
    #[pyo3(signature = (asynchronous))]
    fn finish<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        dispatch(py, asynchronous, async move {
            inner.lock().await.finish().await
        })
    }
}

// ------------------------------------------------------------------------- Envd

/// envd of one sandbox: filesystem, processes and `/files`.
#[pyclass(frozen, module = "e2b._native")]
pub struct Envd {
    client: Client,
}

#[pymethods]
impl Envd {
    #[new]
    fn new(sandbox: PyRef<'_, SandboxClient>) -> Self {
        Envd {
            client: sandbox.client().clone(),
        }
    }

    // --- filesystem RPCs

    #[pyo3(signature = (asynchronous, path, user=None, timeout=None))]
    fn fs_stat<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_stat(&path, user.as_deref(), seconds(timeout))
                .await
                .map(PyEntry)
        })
    }

    #[pyo3(signature = (asynchronous, path, user=None, timeout=None))]
    fn fs_exists<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_exists(&path, user.as_deref(), seconds(timeout)).await
        })
    }

    #[pyo3(signature = (asynchronous, path, depth, user=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn fs_list<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        depth: u32,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_list(&path, depth, user.as_deref(), seconds(timeout))
                .await
                .map(PyEntries)
        })
    }

    #[pyo3(signature = (asynchronous, path, user=None, timeout=None))]
    fn fs_make_dir<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_make_dir(&path, user.as_deref(), seconds(timeout))
                .await
        })
    }

    #[pyo3(signature = (asynchronous, old_path, new_path, user=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn fs_rename<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        old_path: String,
        new_path: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_rename(&old_path, &new_path, user.as_deref(), seconds(timeout))
                .await
                .map(PyEntry)
        })
    }

    #[pyo3(signature = (asynchronous, path, user=None, timeout=None))]
    fn fs_remove<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_remove(&path, user.as_deref(), seconds(timeout)).await
        })
    }

    #[pyo3(signature = (asynchronous, path, recursive, include_entry, allow_network_mounts, user=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn fs_create_watcher<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        recursive: bool,
        include_entry: bool,
        allow_network_mounts: bool,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        let req = WatchRequest {
            path,
            recursive,
            include_entry,
            allow_network_mounts,
        };
        dispatch(py, asynchronous, async move {
            c.fs_create_watcher(&req, user.as_deref(), seconds(timeout))
                .await
        })
    }

    #[pyo3(signature = (asynchronous, watcher_id, user=None, timeout=None))]
    fn fs_watcher_events<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        watcher_id: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_watcher_events(&watcher_id, user.as_deref(), seconds(timeout))
                .await
                .map(PyFsEvents)
        })
    }

    #[pyo3(signature = (asynchronous, watcher_id, user=None, timeout=None))]
    fn fs_remove_watcher<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        watcher_id: String,
        user: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.fs_remove_watcher(&watcher_id, user.as_deref(), seconds(timeout))
                .await
        })
    }

    /// Opens a `WatchDir` stream; resolves to a `WatchStream` once envd confirmed it.
    #[pyo3(signature = (asynchronous, path, recursive, include_entry, allow_network_mounts, user=None, timeout=None, start_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn fs_watch_dir<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        recursive: bool,
        include_entry: bool,
        allow_network_mounts: bool,
        user: Option<String>,
        timeout: Option<f64>,
        start_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        let req = WatchRequest {
            path,
            recursive,
            include_entry,
            allow_network_mounts,
        };
        dispatch(py, asynchronous, async move {
            let stream = c
                .fs_watch_dir(
                    &req,
                    user.as_deref(),
                    seconds(timeout),
                    seconds(start_timeout),
                )
                .await?;
            Ok(WatchStream {
                pump: Pump::start(stream),
            })
        })
    }

    // --- /files

    /// The whole file (`bytes`).
    #[pyo3(signature = (asynchronous, path, user=None, gzip=false, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn files_read<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        gzip: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.files_read(&path, user.as_deref(), gzip, seconds(timeout))
                .await
                .map(|v| PyData(Bytes::from(v)))
        })
    }

    /// A streamed download: resolves to a `DownloadStream` once the response started.
    /// `idle_timeout` bounds the wait for each chunk (default 60 s; 0 disables), `timeout` the
    /// whole transfer.
    #[pyo3(signature = (asynchronous, path, user=None, gzip=false, idle_timeout=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn files_download<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        path: String,
        user: Option<String>,
        gzip: bool,
        idle_timeout: Option<f64>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        let idle = match idle_timeout {
            None => Some(DOWNLOAD_IDLE_TIMEOUT),
            Some(v) => seconds(Some(v)),
        };
        let deadline = seconds(timeout).map(|t| Instant::now() + t);
        dispatch(py, asynchronous, async move {
            let d = c
                .files_download(&path, user.as_deref(), gzip, idle, deadline)
                .await?;
            Ok(DownloadStream {
                pump: Pump::start(d),
            })
        })
    }

    /// Starts an upload (`mode` `"multipart"` or `"octet"`); no I/O until data is sent.
    #[pyo3(signature = (mode, path=None, user=None, gzip=false, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn files_upload(
        &self,
        py: Python<'_>,
        mode: &str,
        path: Option<String>,
        user: Option<String>,
        gzip: bool,
        metadata: Option<BTreeMap<String, String>>,
        timeout: Option<f64>,
    ) -> PyResult<UploadStream> {
        let mode = match mode {
            "multipart" => UploadMode::Multipart,
            "octet" => UploadMode::OctetStream,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown upload mode {other:?}"
                )))
            }
        };
        let opts = UploadOptions {
            path,
            user,
            gzip,
            metadata: metadata.unwrap_or_default(),
            timeout: seconds(timeout),
        };
        let _guard = runtime().enter();
        let upload = self
            .client
            .files_upload(mode, opts)
            .map_err(|e| to_pyerr(py, e))?;
        Ok(UploadStream {
            upload: Arc::new(tokio::sync::Mutex::new(upload)),
        })
    }

    // --- processes

    #[pyo3(signature = (asynchronous, timeout=None))]
    fn process_list<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.process_list(seconds(timeout)).await.map(PyProcesses)
        })
    }

    /// SIGKILL; `False` when the process is unknown.
    #[pyo3(signature = (asynchronous, pid, timeout=None))]
    fn process_kill<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        pid: u32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.process_kill(pid, seconds(timeout)).await
        })
    }

    #[pyo3(signature = (asynchronous, pid, kind, data, timeout=None))]
    fn process_send_input<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        pid: u32,
        kind: &str,
        data: Vec<u8>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        let kind = input_kind(kind)?;
        dispatch(py, asynchronous, async move {
            c.process_send_input(pid, kind, Bytes::from(data), seconds(timeout))
                .await
        })
    }

    #[pyo3(signature = (asynchronous, pid, timeout=None))]
    fn process_close_stdin<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        pid: u32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.process_close_stdin(pid, seconds(timeout)).await
        })
    }

    #[pyo3(signature = (asynchronous, pid, rows, cols, timeout=None))]
    fn process_resize<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        pid: u32,
        rows: u32,
        cols: u32,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            c.process_resize(pid, PtySize { cols, rows }, seconds(timeout))
                .await
        })
    }

    /// Starts a process; resolves to a `ProcessStream` once envd reported its pid.
    /// `pty` is `(rows, cols)` for a PTY. `timeout` is the process's lifetime,
    /// `start_timeout` bounds the wait for the start event.
    #[pyo3(signature = (asynchronous, cmd, args, envs=None, cwd=None, user=None, stdin=None, pty=None, timeout=None, start_timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn process_start<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        cmd: String,
        args: Vec<String>,
        envs: Option<HashMap<String, String>>,
        cwd: Option<String>,
        user: Option<String>,
        stdin: Option<bool>,
        pty: Option<(u32, u32)>,
        timeout: Option<f64>,
        start_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        let req = StartRequest {
            process: ProcessConfig {
                cmd,
                args,
                envs: envs.unwrap_or_default().into_iter().collect(),
                cwd,
            },
            pty: pty.map(|(rows, cols)| Pty {
                size: Some(PtySize { cols, rows }),
            }),
            tag: None,
            stdin,
        };
        dispatch(py, asynchronous, async move {
            let stream = c
                .process_start(
                    &req,
                    user.as_deref(),
                    seconds(timeout),
                    seconds(start_timeout),
                )
                .await?;
            Ok(ProcessStream::new(stream))
        })
    }

    /// Connects to a running process; resolves to a `ProcessStream`.
    #[pyo3(signature = (asynchronous, pid, timeout=None, start_timeout=None))]
    fn process_connect<'py>(
        &self,
        py: Python<'py>,
        asynchronous: bool,
        pid: u32,
        timeout: Option<f64>,
        start_timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.client.clone();
        dispatch(py, asynchronous, async move {
            let stream = c
                .process_connect(pid, seconds(timeout), seconds(start_timeout))
                .await?;
            Ok(ProcessStream::new(stream))
        })
    }

    /// Opens a `StreamInput` call to `pid` (`kind` `"stdin"` or `"pty"`).
    #[pyo3(signature = (pid, kind, timeout=None))]
    fn process_stream_input(
        &self,
        py: Python<'_>,
        pid: u32,
        kind: &str,
        timeout: Option<f64>,
    ) -> PyResult<InputStream> {
        let kind = input_kind(kind)?;
        let _guard = runtime().enter();
        let s = self
            .client
            .process_stream_input(pid, kind, seconds(timeout))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(InputStream {
            inner: Arc::new(tokio::sync::Mutex::new(s)),
        })
    }
}
