//! `ExecutionStream`: a running `/execute` call whose output is delivered in order, batch by
//! batch, while the cell runs — the path `run_code` takes when callbacks are given. A task on
//! the runtime reads the body and feeds a bounded channel (so a slow consumer slows the
//! stream instead of buffering it); closing or dropping the stream aborts that task, which
//! closes the connection and makes the server interrupt the kernel.

use std::sync::{Arc, Mutex};

use e2b_client::sandbox::{ExecuteOptions, SandboxClient};
use e2b_client::Error;
use e2b_wire::execution::{ExecutionRequest, OutputLine};
use pyo3::prelude::*;
use tokio::sync::mpsc;

use crate::shared::convert::PyEvents;
use crate::shared::rt::{dispatch, runtime};

type Batch = Result<Vec<OutputLine>, Error>;

const CHANNEL_BATCHES: usize = 16;

#[pyclass(frozen, module = "e2b._native")]
pub struct ExecutionStream {
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Batch>>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ExecutionStream {
    pub fn start(
        client: SandboxClient,
        jupyter_url: String,
        request: ExecutionRequest,
        options: ExecuteOptions,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Batch>(CHANNEL_BATCHES);
        let handle = runtime().spawn(async move {
            let mut stream = match client.execute(&jupyter_url, &request, options).await {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            loop {
                match stream.next_lines().await {
                    Ok(Some(lines)) => {
                        if lines.is_empty() {
                            continue;
                        }
                        if tx.send(Ok(lines)).await.is_err() {
                            return; // consumer went away: drop the connection
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
        ExecutionStream {
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            task: Mutex::new(Some(handle.abort_handle())),
        }
    }

    fn abort(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

async fn next(
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Batch>>>,
) -> e2b_client::Result<Option<PyEvents>> {
    let mut rx = rx.lock().await;
    match rx.recv().await {
        Some(Ok(lines)) => Ok(Some(PyEvents(lines))),
        Some(Err(e)) => Err(e),
        None => Ok(None),
    }
}

#[pymethods]
impl ExecutionStream {
    /// The next batch of events (list of tuples, see `_native.pyi`), or `None` at the end.
    /// Blocks with the GIL released.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        dispatch(py, false, next(self.rx.clone()))
    }

    /// Awaitable form of `next_batch`.
    fn anext_batch<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        dispatch(py, true, next(self.rx.clone()))
    }

    /// Stops the execution's stream (the server interrupts the kernel).
    fn close(&self) {
        self.abort();
    }
}

impl Drop for ExecutionStream {
    fn drop(&mut self) {
        self.abort();
    }
}
