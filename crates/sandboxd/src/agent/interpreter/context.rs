//! A code context: one kernel and the task ("actor") that owns it. Executions are queued and
//! run one at a time; restart and delete jump the queue.
//!
//! Per execution the actor turns the kernel's iopub/shell messages into NDJSON lines
//! (docs/protocol.md#jupyter-messages) and pushes them into a small bounded channel that the HTTP
//! response drains, so a slow reader slows the kernel down instead of growing memory here. An
//! execution's stdout/stderr text and results are capped ([`MAX_STREAM_BYTES`],
//! [`MAX_RESULT_BYTES`]): past a cap the output is dropped (the cell keeps running) and a
//! notice says so. When the response is dropped (client gone) the cell is interrupted (SIGINT
//! or `interrupt_request`, per kernel), repeated every [`INTERRUPT_EVERY`] until the kernel
//! reports it idle, so the next execution starts promptly; a kernel still busy after
//! [`INTERRUPT_GRACE`] is restarted instead.
//!
//! If the kernel dies, the running execution ends with an error line and the kernel is
//! restarted at once, under the same context id (state is lost, as with a Jupyter restart).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use e2b_wire::execution::{
    output_truncated_notice, Context, OutputLine, ResultLine, StreamCap, MAX_RESULT_BYTES,
    MAX_STREAM_BYTES,
};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::catalog::{Kernels, Launch};
use super::kernel::{Kernel, KernelSpec};
use super::language::Language;
use super::wire::{wire_timestamp, Incoming};
use crate::agent::http::Outgoing;
use crate::agent::reaper::{describe_status, Reaper};

/// How often an abandoned execution is interrupted again until it stops.
const INTERRUPT_EVERY: Duration = Duration::from_millis(500);
/// How long an abandoned execution may ignore interrupts before its kernel is restarted.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);
/// Lines converted but not yet taken by the HTTP response.
const PENDING_MAX: usize = 16;
/// Executions waiting for a context.
const QUEUE_DEPTH: usize = 64;
/// Time allowed for our own silent snippets (env vars, cwd).
const SNIPPET_TIMEOUT: Duration = Duration::from_secs(30);

/// Default working directory of contexts.
pub const HOME: &str = "/home/user";

/// What every context of the sandbox shares.
pub struct Shared {
    pub kernel: KernelSpec,
    /// Which kernel serves which language.
    pub kernels: Kernels,
    pub reaper: Arc<Reaper>,
    pub global_envs: BTreeMap<String, String>,
}

/// One queued execution.
pub struct ExecJob {
    pub code: String,
    pub env_vars: Vec<(String, String)>,
    pub out: mpsc::Sender<Outgoing>,
    /// The code's share of the agent's request memory, until it is sent to the kernel.
    pub hold: crate::agent::http::Hold,
}

enum Control {
    Restart(oneshot::Sender<Result<(), String>>),
    Shutdown(oneshot::Sender<()>),
}

/// The handlers' side of a context.
#[derive(Clone)]
pub struct ContextHandle {
    pub info: Context,
    exec_tx: mpsc::Sender<ExecJob>,
    control_tx: mpsc::Sender<Control>,
}

impl ContextHandle {
    /// Starts a kernel for a new context (and changes to `cwd`); returns once it is ready.
    pub async fn create(
        shared: Arc<Shared>,
        language: Language,
        cwd: &str,
    ) -> Result<ContextHandle, String> {
        let launch = shared
            .kernels
            .launch(&language)
            .map_err(|e| e.to_string())?;
        let id = uuid::Uuid::new_v4().to_string();
        let mut actor = Actor {
            id: id.clone(),
            language: language.clone(),
            launch,
            cwd: cwd.to_string(),
            shared,
            kernel: None,
        };
        actor.kernel = Some(actor.start_kernel().await?);
        let (exec_tx, exec_rx) = mpsc::channel(QUEUE_DEPTH);
        let (control_tx, control_rx) = mpsc::channel(8);
        tokio::spawn(actor.run(exec_rx, control_rx));
        Ok(ContextHandle {
            info: Context {
                id,
                language: language.name().to_string(),
                cwd: cwd.to_string(),
            },
            exec_tx,
            control_tx,
        })
    }

    /// Queues an execution (waits while the queue is full). Err if the context is gone.
    pub async fn execute(&self, job: ExecJob) -> Result<(), ()> {
        self.exec_tx.send(job).await.map_err(|_| ())
    }

    /// Kills and restarts the kernel; the running execution (if any) ends with an error.
    pub async fn restart(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.control_tx
            .send(Control::Restart(tx))
            .await
            .map_err(|_| "the context is gone".to_string())?;
        rx.await.map_err(|_| "the context is gone".to_string())?
    }

    /// Kills the kernel and ends the context.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control_tx.send(Control::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Actor {
    id: String,
    language: Language,
    launch: Launch,
    cwd: String,
    shared: Arc<Shared>,
    kernel: Option<Kernel>,
}

/// How an execution ended, for the actor's next step.
enum JobEnd {
    Done,
    KernelDied,
    /// Interrupts did not stop the abandoned cell: restart the kernel.
    Unresponsive,
    Restart(oneshot::Sender<Result<(), String>>),
    Shutdown(oneshot::Sender<()>),
}

impl Actor {
    async fn start_kernel(&mut self) -> Result<Kernel, String> {
        // The working directory is the kernel process's own (every language then reports it
        // from getcwd/process.cwd()/pwd/user.dir, with no per-language snippet).
        let name = format!("{}-{}", self.id, uuid::Uuid::new_v4().simple());
        Kernel::start(
            &self.shared.kernel,
            &self.launch,
            &self.shared.reaper,
            &name,
            &self.cwd,
        )
        .await
    }

    async fn run(
        mut self,
        mut exec_rx: mpsc::Receiver<ExecJob>,
        mut control_rx: mpsc::Receiver<Control>,
    ) {
        loop {
            let kernel_exit = async {
                match self.kernel.as_mut() {
                    Some(k) => k.exit.wait().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                c = control_rx.recv() => match c {
                    Some(Control::Restart(done)) => {
                        let r = self.restart().await;
                        let _ = done.send(r);
                    }
                    Some(Control::Shutdown(done)) => {
                        self.shutdown(&mut exec_rx).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown(&mut exec_rx).await;
                        return;
                    }
                },
                status = kernel_exit => {
                    tracing::warn!(
                        "kernel of context {} exited while idle ({}); restarting it",
                        self.id,
                        describe_status(status)
                    );
                    self.kernel = None;
                    self.auto_restart().await;
                }
                job = exec_rx.recv() => {
                    let Some(job) = job else {
                        self.shutdown(&mut exec_rx).await;
                        return;
                    };
                    match self.run_job(job, &mut control_rx).await {
                        JobEnd::Done => {}
                        JobEnd::KernelDied => self.auto_restart().await,
                        JobEnd::Unresponsive => {
                            tracing::warn!(
                                "context {}: the abandoned execution ignored interrupts for {} s; \
                                 restarting its kernel",
                                self.id,
                                INTERRUPT_GRACE.as_secs()
                            );
                            if let Some(k) = self.kernel.take() {
                                k.kill().await;
                            }
                            self.auto_restart().await;
                        }
                        JobEnd::Restart(done) => {
                            let r = self.restart().await;
                            let _ = done.send(r);
                        }
                        JobEnd::Shutdown(done) => {
                            self.shutdown(&mut exec_rx).await;
                            let _ = done.send(());
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn restart(&mut self) -> Result<(), String> {
        if let Some(k) = self.kernel.take() {
            k.kill().await;
        }
        match self.start_kernel().await {
            Ok(k) => {
                self.kernel = Some(k);
                Ok(())
            }
            Err(e) => {
                tracing::error!("restarting context {} failed: {e}", self.id);
                Err(e)
            }
        }
    }

    async fn auto_restart(&mut self) {
        self.kernel = None;
        match self.start_kernel().await {
            Ok(k) => self.kernel = Some(k),
            // The next execution tries again.
            Err(e) => tracing::error!("restarting the kernel of context {} failed: {e}", self.id),
        }
    }

    async fn shutdown(&mut self, exec_rx: &mut mpsc::Receiver<ExecJob>) {
        if let Some(k) = self.kernel.take() {
            k.kill().await;
        }
        exec_rx.close();
        while let Ok(job) = exec_rx.try_recv() {
            let _ = job
                .out
                .send(error_line("ContextDeleted", "The context was deleted").into())
                .await;
        }
    }

    /// Runs one execution to its end (or until a restart/shutdown preempts it).
    async fn run_job(&mut self, job: ExecJob, control_rx: &mut mpsc::Receiver<Control>) -> JobEnd {
        if job.out.is_closed() {
            return JobEnd::Done; // abandoned while queued
        }
        if self.kernel.is_none() {
            if let Err(e) = self.start_kernel().await.map(|k| self.kernel = Some(k)) {
                let _ = job
                    .out
                    .send(error_line("KernelStartError", &e).into())
                    .await;
                return JobEnd::Done;
            }
        }
        let kernel = self.kernel.as_mut().expect("started above");
        let language = self.language.clone();

        let restore: Vec<(String, Option<String>)> = job
            .env_vars
            .iter()
            .map(|(k, _)| (k.clone(), self.shared.global_envs.get(k).cloned()))
            .collect();
        if !job.env_vars.is_empty() {
            let Some(code) = language.set_env_code(&job.env_vars) else {
                let msg = format!(
                    "per-call environment variables are not supported in {} contexts",
                    language.name()
                );
                let _ = job
                    .out
                    .send(error_line("EnvVarsUnsupported", &msg).into())
                    .await;
                return JobEnd::Done;
            };
            // A separate silent request ahead of the user's: the kernel runs shell requests
            // in order, and the user's code keeps its own line numbers.
            if let Err(e) = kernel.execute(&code, true).await {
                let _ = job.out.send(error_line("KernelError", &e).into()).await;
                return JobEnd::Done;
            }
        }
        // Drops reported while no execution ran are not this one's.
        while kernel.dropped_rx.try_recv().is_ok() {}
        let msg_id = match kernel.execute(&job.code, false).await {
            Ok(id) => id,
            Err(e) => {
                let _ = job.out.send(error_line("KernelError", &e).into()).await;
                return JobEnd::Done;
            }
        };
        // The kernel has the code now: it no longer counts in the agent's request memory.
        drop(job.code);
        drop(job.hold);

        let mut run = Run::new(msg_id);
        let mut interrupt_tick = tokio::time::interval(INTERRUPT_EVERY);
        let mut abandoned_at: Option<tokio::time::Instant> = None;
        let settle = self.launch.settle;
        let mut settle_until: Option<tokio::time::Instant> = None;
        let end = loop {
            // An abandoned run ends with its reply: its remaining output is of no interest
            // (and is discarded by resubscribing below).
            if run.reply && run.abandoned {
                break JobEnd::Done;
            }
            if run.reply && run.idle {
                match (settle, settle_until) {
                    (None, _) => break JobEnd::Done,
                    (Some(d), None) => settle_until = Some(tokio::time::Instant::now() + d),
                    (Some(_), Some(t)) if tokio::time::Instant::now() >= t => break JobEnd::Done,
                    _ => {}
                }
            }
            if run.abandoned && abandoned_at.is_none() {
                abandoned_at = Some(tokio::time::Instant::now());
                interrupt_tick.reset();
                kernel.interrupt().await;
            }
            tokio::select! {
                biased;
                c = control_rx.recv() => match c {
                    Some(Control::Restart(done)) => {
                        run.push(error_line("ContextRestarting", "Context was restarted"));
                        break JobEnd::Restart(done);
                    }
                    Some(Control::Shutdown(done)) => {
                        run.push(error_line("ContextDeleted", "The context was deleted"));
                        break JobEnd::Shutdown(done);
                    }
                    None => {}
                },
                status = kernel.exit.wait() => {
                    tracing::warn!(
                        "kernel of context {} died during an execution ({}): {}",
                        self.id,
                        describe_status(status),
                        kernel.stderr_tail().trim()
                    );
                    // A kill by the sandbox's memory limit is reported as such
                    // (docs/design.md#invariant-5-limits).
                    run.push(match crate::agent::oom::killed_by_memory_limit(status) {
                        Some(msg) => error_line(crate::agent::oom::ERROR_NAME, &msg),
                        None => error_line(
                            "ContextRestarting",
                            &format!(
                                "The kernel died unexpectedly ({}); the context was restarted \
                                 and its state is lost",
                                describe_status(status)
                            ),
                        ),
                    });
                    break JobEnd::KernelDied;
                }
                permit = job.out.reserve(), if !run.pending.is_empty() && !run.abandoned => {
                    match permit {
                        Ok(p) => p.send(run.pending.pop_front().expect("non-empty")),
                        Err(_) => run.abandon(),
                    }
                }
                _ = job.out.closed(), if !run.abandoned => run.abandon(),
                _ = tokio::time::sleep_until(settle_until.unwrap_or_else(tokio::time::Instant::now)),
                    if settle_until.is_some() => {}
                _ = interrupt_tick.tick(), if run.abandoned => {
                    if abandoned_at.is_some_and(|t| t.elapsed() >= INTERRUPT_GRACE) {
                        break JobEnd::Unresponsive;
                    }
                    kernel.interrupt().await;
                }
                // Ahead of the channels: a drop is reported before the messages after it
                // (the idle status, the reply) end the run.
                Some(size) = kernel.dropped_rx.recv() => run.on_dropped(size),
                m = kernel.iopub_rx.recv(), if run.pending.len() < PENDING_MAX => match m {
                    Some(m) => run.on_iopub(m),
                    // The reader stopped: the kernel is going away; its exit ends the run.
                    None => kernel.terminate(),
                },
                m = kernel.shell_rx.recv() => match m {
                    Some(m) => run.on_shell(m),
                    None => kernel.terminate(),
                },
            }
        };
        if matches!(end, JobEnd::KernelDied) {
            self.kernel = None;
        }
        // Deliver what is left (a few lines at most) unless the client is gone.
        if !run.abandoned {
            while let Some(line) = run.pending.pop_front() {
                if job.out.send(line).await.is_err() {
                    break;
                }
            }
        }
        drop(job.out); // ends the response with end_of_execution
        if matches!(end, JobEnd::Done) && run.abandoned {
            if let Some(kernel) = self.kernel.as_mut() {
                if let Err(e) = kernel.resubscribe().await {
                    tracing::warn!("context {}: {e}; restarting its kernel", self.id);
                    return JobEnd::KernelDied;
                }
            }
        }
        if matches!(end, JobEnd::Done) && !restore.is_empty() {
            if let (Some(kernel), Some(code)) =
                (self.kernel.as_mut(), language.restore_env_code(&restore))
            {
                if let Err(e) = run_silent(kernel, &code).await {
                    tracing::warn!("restoring env vars in context {} failed: {e}", self.id);
                    if kernel.exit.has_exited() {
                        return JobEnd::KernelDied;
                    }
                }
            }
        }
        end
    }
}

/// The state of the running execution.
struct Run {
    msg_id: String,
    pending: VecDeque<Outgoing>,
    /// Budget share of the message being converted (moves to the line it produces).
    budget: Option<tokio::sync::OwnedSemaphorePermit>,
    idle: bool,
    reply: bool,
    error_sent: bool,
    abandoned: bool,
    /// stdout/stderr delivered so far against its cap.
    stream: StreamCap,
    /// Result bytes delivered so far, and whether the cap was hit.
    result_bytes: usize,
    results_cut: bool,
    /// Result cap (a constant outside tests).
    max_results: usize,
    /// A kernel message was dropped for its size (said once per execution).
    dropped: bool,
}

impl Run {
    fn new(msg_id: String) -> Run {
        Run {
            msg_id,
            pending: VecDeque::new(),
            budget: None,
            idle: false,
            reply: false,
            error_sent: false,
            abandoned: false,
            stream: StreamCap::new(MAX_STREAM_BYTES),
            result_bytes: 0,
            results_cut: false,
            max_results: MAX_RESULT_BYTES,
            dropped: false,
        }
    }

    fn push(&mut self, line: OutputLine) {
        let budget = self.budget.take();
        if !self.abandoned {
            self.pending.push_back(Outgoing { line, budget });
        }
    }

    /// The client is gone: drop what is pending; the actor interrupts the cell.
    fn abandon(&mut self) {
        self.abandoned = true;
        self.pending.clear();
    }

    /// Stream text, cut at the execution's cap (then one notice, then nothing).
    fn push_stream(&mut self, stderr: bool, text: String, timestamp: String) {
        if self.stream.is_cut() {
            self.budget = None;
            return;
        }
        for line in self.stream.admit(stderr, text, timestamp) {
            self.push(line);
        }
    }

    /// A result, unless the execution's results exceeded their cap.
    fn push_result(&mut self, line: ResultLine, size: usize) {
        if self.results_cut {
            self.budget = None;
            return;
        }
        self.result_bytes += size;
        if self.result_bytes > self.max_results {
            self.results_cut = true;
            self.push(OutputLine::Stderr {
                text: output_truncated_notice("results", self.max_results),
                timestamp: super::wire::now_iso(),
            });
            return;
        }
        self.push(OutputLine::Result(line));
    }

    fn on_iopub(&mut self, mut m: Incoming) {
        if m.parent_id.as_deref() != Some(self.msg_id.as_str()) {
            return;
        }
        self.budget = m.budget.take();
        let c = &m.content;
        match m.msg_type.as_str() {
            "execute_input" => {
                if let Some(n) = c.get("execution_count").and_then(Value::as_i64) {
                    self.push(OutputLine::NumberOfExecutions { execution_count: n });
                }
            }
            "stream" => {
                let text = str_field(c, "text");
                let timestamp = wire_timestamp(m.date.as_deref());
                let stderr = c.get("name").and_then(Value::as_str) == Some("stderr");
                self.push_stream(stderr, text, timestamp);
            }
            "execute_result" | "display_data" => {
                let data = match c.get("data") {
                    Some(Value::Object(d)) => d.clone(),
                    _ => Map::new(),
                };
                let main = m.msg_type == "execute_result";
                self.push_result(ResultLine::from_mime_bundle(data, main), m.size);
            }
            "error" => self.on_error(c),
            "status" => match c.get("execution_state").and_then(Value::as_str) {
                Some("idle") => self.idle = true,
                // Not sent by ipykernel; handled as the reference server does.
                Some("error") => {
                    self.on_error(c);
                    self.idle = true;
                    self.reply = true;
                }
                Some("restarting") => {
                    self.push(error_line("ContextRestarting", "Context was restarted"));
                    self.idle = true;
                    self.reply = true;
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// The kernel sent a message too large for the agent (see `relay.rs`, `wire.rs`): it is
    /// gone, and the execution says so once, on stderr.
    fn on_dropped(&mut self, size: u64) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        self.push(OutputLine::Stderr {
            text: kernel_message_dropped_notice(size),
            timestamp: super::wire::now_iso(),
        });
    }

    fn on_shell(&mut self, m: Incoming) {
        if m.parent_id.as_deref() != Some(self.msg_id.as_str()) || m.msg_type != "execute_reply" {
            return;
        }
        self.reply = true;
        match m.content.get("status").and_then(Value::as_str) {
            Some("error") => self.on_error(&m.content),
            Some("abort") | Some("aborted") => {
                self.push(error_line("ExecutionAborted", "Execution was aborted"));
                self.idle = true;
            }
            _ => {}
        }
    }

    /// Only the first error of an execution is reported.
    fn on_error(&mut self, c: &Map<String, Value>) {
        if self.error_sent {
            return;
        }
        self.error_sent = true;
        let traceback = match c.get("traceback") {
            Some(Value::Array(lines)) => lines.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        self.push(OutputLine::Error {
            name: str_field(c, "ename"),
            value: str_field(c, "evalue"),
            traceback,
        });
    }
}

fn str_field(c: &Map<String, Value>, key: &str) -> String {
    match c.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// What an execution shows when a kernel message was dropped for its size.
pub fn kernel_message_dropped_notice(size: u64) -> String {
    format!(
        "[e2b: the kernel sent a message of at least {size} bytes; messages of more than {} MiB \
         or {} JSON values are dropped]\n",
        super::relay::MAX_KERNEL_MESSAGE >> 20,
        super::wire::MAX_JSON_VALUES
    )
}

pub fn error_line(name: &str, value: &str) -> OutputLine {
    OutputLine::Error {
        name: name.to_string(),
        value: value.to_string(),
        traceback: String::new(),
    }
}

/// Runs `code` silently and waits for its reply; Err with the Python error or on death.
async fn run_silent(kernel: &mut Kernel, code: &str) -> Result<(), String> {
    let id = kernel.execute(code, true).await?;
    let deadline = tokio::time::sleep(SNIPPET_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            m = kernel.shell_rx.recv() => match m {
                Some(m) if m.parent_id.as_deref() == Some(id.as_str()) && m.msg_type == "execute_reply" => {
                    return match m.content.get("status").and_then(Value::as_str) {
                        Some("ok") => Ok(()),
                        _ => Err(format!(
                            "{}: {}",
                            str_field(&m.content, "ename"),
                            str_field(&m.content, "evalue")
                        )),
                    };
                }
                Some(_) => {}
                None => return Err("the kernel's shell channel closed".into()),
            },
            // Keep iopub moving (its messages for this request are of no interest).
            Some(_) = kernel.iopub_rx.recv() => {}
            status = kernel.exit.wait() => {
                return Err(format!("the kernel died ({})", describe_status(status)));
            }
            _ = &mut deadline => return Err("the kernel did not answer in time".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incoming(msg_type: &str, parent: &str, content: Value) -> Incoming {
        Incoming {
            msg_type: msg_type.into(),
            parent_id: Some(parent.into()),
            date: Some("2024-01-01T00:00:00.5Z".into()),
            content: content.as_object().unwrap().clone(),
            budget: None,
            size: content.to_string().len(),
        }
    }

    fn run() -> Run {
        Run::new("m".into())
    }

    #[test]
    fn messages_become_lines() {
        let mut r = run();
        r.on_iopub(incoming(
            "execute_input",
            "m",
            json!({"execution_count": 3}),
        ));
        r.on_iopub(incoming(
            "stream",
            "m",
            json!({"name": "stdout", "text": "hi\n"}),
        ));
        r.on_iopub(incoming(
            "stream",
            "other",
            json!({"name": "stdout", "text": "x"}),
        ));
        r.on_iopub(incoming(
            "display_data",
            "m",
            json!({"data": {"text/plain": "d"}}),
        ));
        r.on_iopub(incoming(
            "execute_result",
            "m",
            json!({"data": {"text/plain": "2"}}),
        ));
        r.on_iopub(incoming(
            "error",
            "m",
            json!({"ename": "E", "evalue": "v", "traceback": ["a", "b"]}),
        ));
        r.on_shell(incoming(
            "execute_reply",
            "m",
            json!({"status": "error", "ename": "E2", "evalue": "", "traceback": []}),
        ));
        r.on_iopub(incoming("status", "m", json!({"execution_state": "idle"})));
        assert!(r.idle && r.reply);
        let lines: Vec<String> = r
            .pending
            .iter()
            .map(|l| String::from_utf8(l.line.to_ndjson()).unwrap())
            .collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[0].contains(r#""execution_count":3"#));
        assert!(lines[1].contains(r#""timestamp":"2024-01-01T00:00:00.5+00:00""#));
        assert!(lines[2].contains(r#""is_main_result":false"#));
        assert!(
            lines[3].contains(r#""text":"2""#) && lines[3].contains(r#""is_main_result":true"#)
        );
        assert!(lines[4].contains(r#""traceback":"ab""#), "{}", lines[4]);
    }

    #[test]
    fn reply_error_is_used_when_no_error_message_came() {
        let mut r = run();
        r.on_shell(incoming(
            "execute_reply",
            "m",
            json!({"status": "error", "ename": "E", "evalue": "v", "traceback": ["t"]}),
        ));
        assert!(matches!(&r.pending[0].line, OutputLine::Error { name, .. } if name == "E"));
        let mut r = run();
        r.on_shell(incoming("execute_reply", "m", json!({"status": "aborted"})));
        assert!(r.idle && r.reply);
        assert!(
            matches!(&r.pending[0].line, OutputLine::Error { name, .. } if name == "ExecutionAborted")
        );
    }

    #[test]
    fn output_is_cut_at_the_caps_with_one_notice() {
        let mut r = run();
        r.stream = StreamCap::new(9);
        r.max_results = 100;
        for text in ["12345", "678é0ab", "more", "even more"] {
            r.on_iopub(incoming(
                "stream",
                "m",
                json!({"name": "stdout", "text": text}),
            ));
        }
        let big = "x".repeat(200);
        r.on_iopub(incoming(
            "display_data",
            "m",
            json!({"data": {"text/plain": "small"}}),
        ));
        r.on_iopub(incoming(
            "display_data",
            "m",
            json!({"data": {"text/plain": big}}),
        ));
        r.on_iopub(incoming(
            "display_data",
            "m",
            json!({"data": {"text/plain": "after"}}),
        ));
        let lines: Vec<&OutputLine> = r.pending.iter().map(|o| &o.line).collect();
        let texts: Vec<String> = lines
            .iter()
            .filter_map(|l| match l {
                OutputLine::Stdout { text, .. } | OutputLine::Stderr { text, .. } => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        // "é" is two bytes: the cut falls before it rather than inside it.
        assert_eq!(texts[0], "12345");
        assert_eq!(texts[1], "678");
        assert!(texts[2].starts_with(e2b_wire::execution::OUTPUT_TRUNCATED_PREFIX));
        assert!(texts[2].contains("stdout/stderr"));
        assert!(texts[3].contains("of results"), "{texts:?}");
        assert_eq!(texts.len(), 4, "{texts:?}");
        let results = lines
            .iter()
            .filter(|l| matches!(l, OutputLine::Result(_)))
            .count();
        assert_eq!(results, 1);
    }

    #[test]
    fn kernel_side_cap_matches_ours() {
        let py = include_str!("ipython_startup.py");
        assert!(py.contains(&format!("_LIMIT = {MAX_STREAM_BYTES}\n")));
        let notice = output_truncated_notice("stdout/stderr", MAX_STREAM_BYTES);
        let joined: String = py
            .split("_NOTICE = (")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .lines()
            .map(|l| l.trim().trim_matches('"'))
            .collect();
        assert_eq!(joined.replace("\\n", "\n"), notice);
    }

    #[test]
    fn abandoned_runs_buffer_nothing() {
        let mut r = run();
        r.abandoned = true;
        r.on_iopub(incoming(
            "stream",
            "m",
            json!({"name": "stdout", "text": "x"}),
        ));
        assert!(r.pending.is_empty());
    }
}
