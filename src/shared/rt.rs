//! One process-wide multi-thread tokio runtime (pyo3-async-runtimes', built on first use)
//! serves both APIs, so sync and async calls share connection pools.
//!
//! Worker threads never touch Python. Sync calls spawn their future and wait with the GIL
//! released, waking every few tens of milliseconds so Python can deliver signals (Ctrl-C
//! aborts the task, which drops its HTTP request). Async calls return a [`PendingCall`]:
//! the worker stores the outcome in Rust and writes one byte to a pipe; the Python side
//! (`e2b._bridge.wait_native`) watches the pipe with `loop.add_reader` and converts the
//! outcome on the event-loop thread. Completing asyncio futures from worker threads (as
//! `future_into_py` does) would attach those threads to Python, and a worker still attached
//! when the interpreter finalizes is killed mid-call by CPython, aborting the process.

use std::future::Future;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use super::errors::to_pyerr;

const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Aborts the task when dropped (the caller stopped waiting).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` on the runtime and blocks until it finishes, with the GIL released.
pub fn wait<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let handle = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let _guard = AbortOnDrop(handle.abort_handle());
    let mut rx = rx;
    loop {
        // The receiver moves into the GIL-free closure and back (it is `Send`, not `Sync`).
        let (received, back) = py.detach(move || (rx.recv_timeout(SIGNAL_CHECK_INTERVAL), rx));
        rx = back;
        match received {
            Ok(value) => return Ok(value),
            Err(mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "e2b: the background task ended without a result",
                ))
            }
        }
    }
}

thread_local! {
    /// This thread's own runtime for [`dispatch_oneshot`]'s sync path (`None` if it could not
    /// be built; then the shared runtime is used).
    static THREAD_RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
}

/// Runs `fut` to completion on the calling thread's own current-thread runtime, with the GIL
/// released, waking every [`SIGNAL_CHECK_INTERVAL`] for signals (an exception drops `fut`,
/// which drops its request).
///
/// Why: through the shared runtime a sync call costs two cross-thread hand-offs (spawn onto
/// a worker, result back through a channel) on top of the worker's wake-up for every piece
/// the server sends: 5.6 context switches per tiny `run_code` over two threads, against 3.7
/// on one thread here (docs/benchmarks.md). Threads making sync calls also stop contending
/// for the shared workers. Only for futures that finish all their I/O: the connections they
/// open belong to this thread's runtime (see `e2b_client::http::client`), so nothing they
/// return may keep reading from one.
pub fn wait_here<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if !THREAD_RUNTIME.with(Option::is_some) {
        return wait(py, fut);
    }
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = py.detach(|| {
            THREAD_RUNTIME.with(|rt| {
                let rt = rt.as_ref().expect("checked above");
                // The timer is made inside `block_on`: it needs the runtime's context.
                rt.block_on(async {
                    tokio::time::timeout(SIGNAL_CHECK_INTERVAL, fut.as_mut()).await
                })
            })
        });
        match step {
            Ok(value) => return Ok(value),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Turns a finished value into a Python object; runs on the thread that collects it.
type Convert = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;
type Outcome = Result<Convert, e2b_client::Error>;

/// Completion state shared by the worker (which fills it) and Python (which collects it).
struct Completion {
    slot: Mutex<Option<Outcome>>,
    done: Condvar,
    #[cfg(unix)]
    pipe: Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
}

impl Completion {
    fn new() -> Self {
        Completion {
            slot: Mutex::new(None),
            done: Condvar::new(),
            #[cfg(unix)]
            pipe: make_pipe(),
        }
    }

    fn complete(&self, outcome: Outcome) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.done.notify_all();
        #[cfg(unix)]
        if let Some((_, write)) = &self.pipe {
            use std::os::fd::AsRawFd;
            // SAFETY: writing one byte from a valid buffer to a pipe we own (non-blocking).
            unsafe {
                libc::write(write.as_raw_fd(), b"x".as_ptr().cast(), 1);
            }
        }
    }
}

#[cfg(unix)]
fn make_pipe() -> Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors that we immediately take ownership of.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return None;
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { Some((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// An async call in flight: awaited from Python with `e2b._bridge.wait_native`.
#[pyclass(frozen, module = "e2b._native")]
pub struct PendingCall {
    completion: Arc<Completion>,
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl PendingCall {
    /// A descriptor that becomes readable when the call finished, or -1 if there is none
    /// (then use `wait()` from a thread).
    fn fileno(&self) -> i32 {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            if let Some((read, _)) = &self.completion.pipe {
                return read.as_raw_fd();
            }
        }
        -1
    }

    /// Whether the outcome is ready.
    fn done(&self) -> bool {
        self.completion
            .slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The value, or the mapped exception; only once the call is done.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outcome = self
            .completion
            .slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match outcome {
            Some(Ok(convert)) => convert(py),
            Some(Err(e)) => Err(to_pyerr(py, e)),
            None => Err(PyRuntimeError::new_err(
                "e2b: the call has not finished (or its result was already taken)",
            )),
        }
    }

    /// Blocks (GIL released) until the call finished, then returns `result()`.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loop {
            let completion = self.completion.clone();
            let finished = py.detach(move || {
                let slot = completion.slot.lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_some() {
                    return true;
                }
                let (slot, _) = completion
                    .done
                    .wait_timeout(slot, SIGNAL_CHECK_INTERVAL)
                    .unwrap_or_else(|p| p.into_inner());
                slot.is_some()
            });
            if finished {
                return self.result(py);
            }
            py.check_signals()?;
        }
    }

    /// Aborts the call (drops its request).
    fn cancel(&self) {
        self.task.abort();
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts `fut` on the runtime and returns the handle Python awaits.
pub fn pending<F, T>(fut: F) -> PendingCall
where
    F: Future<Output = e2b_client::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let completion = Arc::new(Completion::new());
    let worker = completion.clone();
    let handle = runtime().spawn(async move {
        let outcome: Outcome = fut.await.map(|value| -> Convert {
            Box::new(move |py: Python<'_>| value.into_bound_py_any(py))
        });
        worker.complete(outcome);
    });
    PendingCall {
        completion,
        task: handle.abort_handle(),
    }
}

/// Runs a client call either to completion (sync API) or as a [`PendingCall`] (async API).
pub fn dispatch<'py, F, T>(
    py: Python<'py>,
    asynchronous: bool,
    fut: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = e2b_client::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    if asynchronous {
        Bound::new(py, pending(fut)).map(Bound::into_any)
    } else {
        let value = wait(py, fut)?.map_err(|e| to_pyerr(py, e))?;
        value.into_bound_py_any(py)
    }
}

/// [`dispatch`] for calls whose future completes all its I/O (control-plane calls,
/// `run_code`, contexts): the sync API runs them on the calling thread ([`wait_here`]).
pub fn dispatch_oneshot<'py, F, T>(
    py: Python<'py>,
    asynchronous: bool,
    fut: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = e2b_client::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    if asynchronous {
        Bound::new(py, pending(fut)).map(Bound::into_any)
    } else {
        let value = wait_here(py, fut)?.map_err(|e| to_pyerr(py, e))?;
        value.into_bound_py_any(py)
    }
}
