//! One process-wide multi-thread tokio runtime (pyo3-async-runtimes', built on first use)
//! serves both APIs, so sync and async calls share connection pools.
//!
//! Worker threads never touch Python. Sync calls spawn their future and wait with the GIL
//! released, waking every few tens of milliseconds so Python can deliver signals (Ctrl-C
//! aborts the task, which drops its HTTP request). Async calls return a [`PendingCall`]:
//! the worker stores the outcome in Rust and writes one byte to a socket pair; the Python
//! side (`e2b._bridge.wait_native`) watches it with `loop.add_reader` and converts the
//! outcome on the event-loop thread. Completing asyncio futures from worker threads (as
//! `future_into_py` does) would attach those threads to Python, and a worker still attached
//! when the interpreter finalizes is killed mid-call by CPython, aborting the process.
//!
//! Loops without `add_reader` (Windows' proactor loop; Windows has no socket pair for a
//! descriptor either) are woken by a datagram instead ([`wake`]): still only a send from the
//! worker, still collected on the loop's own thread.

use std::future::Future;
#[cfg(unix)]
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
#[cfg(unix)]
use std::os::fd::AsRawFd;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
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
    state: Mutex<State>,
    done: Condvar,
    /// Becomes readable when the call finished (the asyncio loop's `add_reader`).
    #[cfg(unix)]
    pipe: Option<(UnixStream, UnixStream)>,
}

#[derive(Default)]
struct State {
    /// Set once; `outcome` is then taken by [`PendingCall::result`].
    finished: bool,
    outcome: Option<Outcome>,
    /// The wake-up socket of a loop that cannot watch [`Completion::pipe`] (see [`wake`]).
    wake: Option<SocketAddr>,
}

impl Completion {
    fn new() -> Self {
        Completion {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            // A socket pair rather than a pipe: std makes it (close-on-exec) on every unix.
            #[cfg(unix)]
            pipe: UnixStream::pair().ok(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the outcome (the first one only) and wakes whoever waits, without touching
    /// Python: a condvar, one byte on the socket pair, one datagram to the wake-up socket.
    fn complete(&self, outcome: Outcome) {
        let wake = {
            let mut state = self.lock();
            if state.finished {
                return;
            }
            state.finished = true;
            state.outcome = Some(outcome);
            state.wake.take()
        };
        self.done.notify_all();
        #[cfg(unix)]
        if let Some((_, write)) = &self.pipe {
            // One byte into an empty socket buffer: never blocks. Nobody reads it; the
            // descriptor only has to turn readable.
            let _ = (&*write).write(b"x");
        }
        if let Some(addr) = wake {
            wake::send(addr);
        }
    }
}

/// Finishes the call as cancelled if its task is dropped unfinished (aborted, or the
/// runtime shut down), so that no waiter waits forever. Moved into the task's future, so
/// it drops with it even if the task never ran.
struct CancelOnDrop(Arc<Completion>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.complete(Err(e2b_client::Error::new(
            e2b_client::ErrorKind::Generic,
            "e2b: the call was cancelled",
        )));
    }
}

/// Wake-ups for event loops that cannot watch a descriptor (`add_reader`), such as Windows'
/// proactor loop: the Python side (`e2b._bridge`) keeps one UDP socket per loop on
/// 127.0.0.1, connected to [`source`](wake::source) so that it takes datagrams from this
/// process's sender only, and awaits it with `loop.sock_recv`, which every asyncio loop
/// implements. A finished call sends one datagram (one meaningless byte) there; the loop then
/// collects every finished call on its own thread. A lost datagram cannot lose a result (a
/// full receive buffer means wake-ups are already pending), so the worker only does a
/// non-blocking `send_to` — it never touches Python.
mod wake {
    use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
    use std::sync::OnceLock;

    fn sender() -> Option<&'static UdpSocket> {
        static SENDER: OnceLock<Option<UdpSocket>> = OnceLock::new();
        SENDER
            .get_or_init(|| {
                let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
                socket.set_nonblocking(true).ok()?;
                Some(socket)
            })
            .as_ref()
    }

    /// The sender's address, or `None` if this process cannot have one.
    pub fn source() -> Option<SocketAddr> {
        sender()?.local_addr().ok()
    }

    pub fn send(to: SocketAddr) {
        if let Some(socket) = sender() {
            let _ = socket.send_to(b"x", to);
        }
    }
}

/// `(host, port)` that wake-up datagrams come from (see [`PendingCall::notify_port`]), or
/// `None` when no UDP socket can be bound on 127.0.0.1.
#[pyfunction]
pub fn wake_source() -> Option<(String, u16)> {
    wake::source().map(|addr| (addr.ip().to_string(), addr.port()))
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
    /// (Windows; then use `notify_port()` or `wait()` from a thread).
    fn fileno(&self) -> i32 {
        #[cfg(unix)]
        if let Some((read, _)) = &self.completion.pipe {
            return read.as_raw_fd();
        }
        -1
    }

    /// Asks for one datagram to 127.0.0.1:`port` when the call finishes (from the address
    /// `wake_source()` names). `False` if it has already finished: collect it now.
    fn notify_port(&self, port: u16) -> PyResult<bool> {
        if wake::source().is_none() {
            return Err(PyRuntimeError::new_err(
                "e2b: no UDP socket on 127.0.0.1 to send wake-ups from",
            ));
        }
        let mut state = self.completion.lock();
        if state.finished {
            return Ok(false);
        }
        state.wake = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        Ok(true)
    }

    /// Whether the outcome is ready (and not collected yet).
    fn done(&self) -> bool {
        self.completion.lock().outcome.is_some()
    }

    /// The value, or the mapped exception; only once the call is done.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outcome = self.completion.lock().outcome.take();
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
                let state = completion.lock();
                if state.finished {
                    return true;
                }
                let (state, _) = completion
                    .done
                    .wait_timeout(state, SIGNAL_CHECK_INTERVAL)
                    .unwrap_or_else(|p| p.into_inner());
                state.finished
            });
            if finished {
                return self.result(py);
            }
            py.check_signals()?;
        }
    }

    /// Aborts the call (drops its request); a waiter then gets "cancelled".
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
    let guard = CancelOnDrop(completion.clone());
    let handle = runtime().spawn(async move {
        let guard = guard;
        let outcome: Outcome = fut.await.map(|value| -> Convert {
            Box::new(move |py: Python<'_>| value.into_bound_py_any(py))
        });
        guard.0.complete(outcome);
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
