//! envd as the SDK uses it (docs/protocol.md#connect-transport,
//! docs/protocol.md#envd-http-endpoints and docs/protocol.md#error-mapping): Connect unary,
//! server-streaming and client-streaming calls with the JSON codec, the filesystem and process
//! operations built on them, and the plain-HTTP `/files` transfers — streamed in both directions,
//! never holding a whole file.
//!
//! Errors are mapped the way 2.63.0 maps them: Connect codes to exception kinds (with the
//! filesystem's `FileNotFoundException`), and connection-level failures (or an `unavailable`
//! whose message does not say what happened) probed with `GET /health` to tell a sandbox that
//! is gone from one that cannot be reached.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use e2b_wire::connect::{
    self, message_envelope, parse_end_stream, Code, ConnectError, EnvelopeDecoder,
};
use e2b_wire::envd::{
    CreateWatcherResponse, DataEvent, Empty, EndEvent, EntryInfo, EntryResponse, FilesystemEvent,
    GetWatcherEventsResponse, ListDirRequest, ListDirResponse, ListResponse, MoveRequest,
    PathRequest, ProcessEventResponse, ProcessInfo, ProcessInput, ProcessRequest, ProcessSelector,
    Pty, PtySize, SendInputRequest, SendSignalRequest, Signal, StartRequest, StreamInputData,
    StreamInputRequest, StreamInputStart, UpdateRequest, WatchDirResponse, WatchRequest,
    WatcherRequest, WriteInfo,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::HttpVersion;
use crate::error::{Error, ErrorKind, Result};
use crate::http;
use crate::sandbox::{envd_error, sandbox_unavailable, SandboxClient};

/// Interval of keepalives the SDK asks envd for on streams, and sends on input streams.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(50);
/// Timeout of the health probe after a failed request.
pub const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle bound between chunks of a streamed download (`files.read(format="stream")`).
pub const DOWNLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest message accepted from envd.
const MAX_MESSAGE: usize = 64 << 20;

const DEADLINE_SUFFIX: &str = "This error is likely due to exceeding 'timeout' — the total time a long running request (like process or directory watch) can be active — or 'request_timeout'. You can modify these by passing 'timeout' or 'request_timeout' when making the request. Use '0' to disable the timeout.";
const CANCELED_SUFFIX: &str = "The request was cancelled by the server or a proxy while it was in flight — for example when the sandbox is paused or shut down.";

/// How an RPC failed, before it is mapped to an exception.
#[derive(Debug)]
pub enum RpcError {
    /// envd (or a proxy) answered with an error.
    Connect(ConnectError),
    /// The connection failed or dropped (text of the transport error).
    Transport(String),
}

impl RpcError {
    pub fn code(&self) -> Option<Code> {
        match self {
            RpcError::Connect(e) => Some(e.code),
            RpcError::Transport(_) => None,
        }
    }

    /// Reads a unary answer: an error body (its start) as the Connect error it carries, a
    /// successful one whole, up to [`MAX_MESSAGE`] (past it `resource_exhausted`, as a
    /// Connect client's read limit answers).
    async fn read_unary(resp: reqwest::Response) -> std::result::Result<Bytes, RpcError> {
        let status = resp.status().as_u16();
        if status != 200 {
            let body = http::read_error_body(resp).await;
            return Err(RpcError::Connect(ConnectError::from_http(status, &body)));
        }
        http::read_limited(resp, MAX_MESSAGE)
            .await
            .map_err(|e| match e {
                http::ReadError::TooLarge(limit) => RpcError::Connect(ConnectError::new(
                    Code::ResourceExhausted,
                    http::ReadError::too_large("the response message", limit),
                )),
                http::ReadError::Transport(e) => RpcError::from_reqwest(e),
            })
    }

    fn from_reqwest(e: reqwest::Error) -> RpcError {
        if e.is_timeout() {
            RpcError::Connect(ConnectError::new(
                Code::DeadlineExceeded,
                "Request timed out",
            ))
        } else {
            RpcError::Transport(http::describe(&e))
        }
    }
}

/// Which exception a `not_found` becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// `NotFoundException` (process calls).
    Generic,
    /// `FileNotFoundException` (filesystem calls).
    File,
}

/// The exception for a Connect error (docs/protocol.md#rpc-errors, 2.63.0).
pub fn connect_error(e: &ConnectError, not_found: NotFound) -> Error {
    let m = &e.message;
    match e.code {
        Code::InvalidArgument => Error::invalid_argument(m.clone()),
        Code::Unauthenticated => Error::new(ErrorKind::AuthenticationException, m.clone()),
        Code::NotFound => Error::new(
            match not_found {
                NotFound::Generic => ErrorKind::NotFoundException,
                NotFound::File => ErrorKind::FileNotFoundException,
            },
            m.clone(),
        ),
        Code::Unavailable => sandbox_unavailable(m),
        Code::ResourceExhausted => Error::new(
            ErrorKind::RateLimitException,
            format!("{m}: Rate limit exceeded, please try again later."),
        )
        .with_status(429),
        Code::Canceled => Error::timeout(format!("{m}: {CANCELED_SUFFIX}")),
        Code::DeadlineExceeded => Error::timeout(format!("{m}: {DEADLINE_SUFFIX}")),
        other => Error::sandbox(format!("{}: {m}", other.python_name())),
    }
}

/// What the health probe found.
enum Health {
    Running,
    Gone,
    Unknown,
}

impl SandboxClient {
    fn envd_url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.envd_url)
    }

    fn rpc_client(&self, url: &str) -> Result<reqwest::Client> {
        self.client(self.inner.http_version, None, url)
    }

    /// `GET /health` after a failed request (5 s, as 2.63.0): `Err` carries the exception
    /// to raise when the probe itself says the sandbox cannot be reached.
    async fn probe(&self) -> std::result::Result<Health, Error> {
        let url = self.envd_url("/health");
        let client = self.rpc_client(&url)?;
        let resp = client
            .get(&url)
            .headers(self.inner.envd_headers.clone())
            .timeout(HEALTH_PROBE_TIMEOUT)
            .send()
            .await
            .map_err(|e| Error::new(ErrorKind::Connection, http::describe(&e)))?;
        let status = resp.status().as_u16();
        if status == 502 {
            let body = http::read_error_body(resp).await;
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let err = sandbox_unavailable(&message);
            return if err.kind == ErrorKind::SandboxNotRunningException {
                Ok(Health::Gone)
            } else {
                Err(err)
            };
        }
        Ok(if (200..300).contains(&status) {
            Health::Running
        } else {
            Health::Unknown
        })
    }

    /// Maps an RPC failure, probing the sandbox's health when the failure alone cannot
    /// say what happened.
    pub async fn rpc_failure(&self, err: RpcError, not_found: NotFound) -> Error {
        let (text, ambiguous) = match &err {
            RpcError::Transport(t) => (t.clone(), false),
            RpcError::Connect(e) => {
                let ambiguous = e.code == Code::Unavailable
                    && !e.message.contains("was not found")
                    && !e.message.contains("port is not open");
                if !ambiguous {
                    return connect_error(e, not_found);
                }
                (e.message.clone(), true)
            }
        };
        match self.probe().await {
            Ok(Health::Gone) => Error::new(
                ErrorKind::SandboxNotRunningException,
                format!("{text}: The sandbox was killed or reached its end of life while the request was in flight."),
            ),
            Err(probe_error) if probe_error.kind == ErrorKind::SandboxUnreachableException => {
                probe_error
            }
            Err(probe_error) => Error::new(
                ErrorKind::SandboxUnreachableException,
                format!("{text}: The sandbox could not be reached and its health probe failed too ({}). It was not confirmed to be stopped — this is likely a network issue or envd inside the sandbox not being up yet; check the sandbox state with 'Sandbox.get_info()'.", probe_error.message),
            ),
            Ok(_) => match err {
                RpcError::Connect(e) if ambiguous => connect_error(&e, not_found),
                _ => Error::new(ErrorKind::Connection, text),
            },
        }
    }

    /// Maps a failed `/files` request: transport failures are probed like RPC ones.
    async fn files_failure(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::request_timeout();
        }
        self.rpc_failure(RpcError::Transport(http::describe(&e)), NotFound::File)
            .await
    }

    fn rpc_headers(
        &self,
        user: Option<&str>,
        timeout: Option<Duration>,
        streaming: bool,
        keepalive: bool,
    ) -> HeaderMap {
        let mut h = self.inner.envd_headers.clone();
        h.insert(
            HeaderName::from_static(connect::PROTOCOL_VERSION_HEADER),
            HeaderValue::from_static(connect::PROTOCOL_VERSION),
        );
        if streaming {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(connect::STREAM_CONTENT_TYPE),
            );
            h.insert(
                "connect-accept-encoding",
                HeaderValue::from_static("identity"),
            );
            h.insert(
                "connect-content-encoding",
                HeaderValue::from_static("identity"),
            );
        } else {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(connect::UNARY_CONTENT_TYPE),
            );
            h.insert("accept-encoding", HeaderValue::from_static("identity"));
            h.insert("content-encoding", HeaderValue::from_static("identity"));
        }
        if let Some(t) = timeout {
            h.insert(
                "connect-timeout-ms",
                HeaderValue::from(t.as_millis().max(1) as u64),
            );
        }
        if keepalive {
            h.insert(
                "keepalive-ping-interval",
                HeaderValue::from(KEEPALIVE_INTERVAL.as_secs()),
            );
        }
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:"));
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {token}")) {
                h.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        h
    }

    /// A unary call.
    pub async fn unary<Req: Serialize, Res: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Res, RpcError> {
        let url = self.envd_url(path);
        let client = self
            .rpc_client(&url)
            .map_err(|e| RpcError::Transport(e.message))?;
        let body = serde_json::to_vec(request).expect("requests serialise");
        let mut req = client
            .post(&url)
            .headers(self.rpc_headers(user, timeout, false, false))
            .body(body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(RpcError::from_reqwest)?;
        let json_ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim() == connect::UNARY_CONTENT_TYPE)
            .unwrap_or(false);
        let bytes = RpcError::read_unary(resp).await?;
        if !json_ct {
            return Err(RpcError::Connect(ConnectError::new(
                Code::Internal,
                "invalid content-type of a unary response",
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            RpcError::Connect(ConnectError::new(
                Code::Internal,
                format!("failed to decode the response: {e}"),
            ))
        })
    }

    /// Opens a server-streaming call.
    pub async fn server_stream<Req: Serialize, Res: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> std::result::Result<RpcStream<Res>, RpcError> {
        let url = self.envd_url(path);
        let client = self
            .rpc_client(&url)
            .map_err(|e| RpcError::Transport(e.message))?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let send = client
            .post(&url)
            .headers(self.rpc_headers(user, timeout, true, true))
            .body(message_envelope(request))
            .send();
        let resp = with_deadline(deadline, send).await?;
        RpcStream::open(resp, deadline).await
    }
}

async fn with_deadline<T>(
    deadline: Option<Instant>,
    fut: impl std::future::Future<Output = std::result::Result<T, reqwest::Error>>,
) -> std::result::Result<T, RpcError> {
    let r = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), fut).await.map_err(|_| {
            RpcError::Connect(ConnectError::new(
                Code::DeadlineExceeded,
                "Request timed out",
            ))
        })?,
        None => fut.await,
    };
    r.map_err(RpcError::from_reqwest)
}

/// A server stream of `T` messages.
pub struct RpcStream<T> {
    response: reqwest::Response,
    decoder: EnvelopeDecoder,
    deadline: Option<Instant>,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> RpcStream<T> {
    async fn open(
        response: reqwest::Response,
        deadline: Option<Instant>,
    ) -> std::result::Result<Self, RpcError> {
        let status = response.status().as_u16();
        if status != 200 {
            let body = http::read_error_body(response).await;
            return Err(RpcError::Connect(ConnectError::from_http(status, &body)));
        }
        let ct = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct != connect::STREAM_CONTENT_TYPE {
            return Err(RpcError::Connect(ConnectError::new(
                Code::Internal,
                format!("invalid content-type of a stream: {ct:?}"),
            )));
        }
        Ok(RpcStream {
            response,
            decoder: EnvelopeDecoder::new(MAX_MESSAGE),
            deadline,
            done: false,
            _t: std::marker::PhantomData,
        })
    }

    /// A message that is already buffered, without waiting (`Ok(None)` if none).
    fn buffered(&mut self) -> std::result::Result<Option<T>, RpcError> {
        match self.decoder.next_envelope().map_err(RpcError::Connect)? {
            None => Ok(None),
            Some(env) if env.is_end_stream() => {
                self.done = true;
                parse_end_stream(&env.payload).map_err(RpcError::Connect)?;
                Ok(None)
            }
            Some(env) => serde_json::from_slice(&env.payload).map(Some).map_err(|e| {
                RpcError::Connect(ConnectError::new(
                    Code::Internal,
                    format!("failed to decode a message: {e}"),
                ))
            }),
        }
    }

    /// The next message, or `None` at the end of the stream.
    pub async fn next(&mut self) -> std::result::Result<Option<T>, RpcError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(m) = self.buffered()? {
                return Ok(Some(m));
            }
            if self.done {
                return Ok(None);
            }
            match with_deadline(self.deadline, self.response.chunk()).await {
                Ok(Some(chunk)) => self.decoder.push(&chunk),
                Ok(None) => {
                    // A missing end-of-stream envelope is tolerated, as by the SDK.
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    /// The next message plus every other one already received (at least one, unless the
    /// stream ended).
    pub async fn next_batch(&mut self) -> std::result::Result<Vec<T>, RpcError> {
        let mut out = Vec::new();
        if let Some(first) = self.next().await? {
            out.push(first);
            while let Some(m) = self.buffered()? {
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// One piece of process output (or its end) for the bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutput {
    Stdout(Bytes),
    Stderr(Bytes),
    Pty(Bytes),
    End(EndEvent),
}

/// A subscription to a process's events (`Start` / `Connect`), past its `start`.
pub struct ProcessStream {
    pub pid: u32,
    sandbox: SandboxClient,
    stream: RpcStream<ProcessEventResponse>,
    ended: bool,
}

impl ProcessStream {
    /// The next batch of output (empty only when the stream ended).
    pub async fn next_batch(&mut self) -> Result<Vec<ProcessOutput>> {
        loop {
            if self.ended {
                return Ok(Vec::new());
            }
            let batch = match self.stream.next_batch().await {
                Ok(b) => b,
                Err(e) => {
                    self.ended = true;
                    return Err(self.sandbox.rpc_failure(e, NotFound::Generic).await);
                }
            };
            if batch.is_empty() {
                self.ended = true;
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(batch.len());
            for m in batch {
                let ev = m.event;
                if let Some(DataEvent {
                    stdout,
                    stderr,
                    pty,
                }) = ev.data
                {
                    if let Some(b) = stdout.filter(|b| !b.is_empty()) {
                        out.push(ProcessOutput::Stdout(b));
                    } else if let Some(b) = stderr.filter(|b| !b.is_empty()) {
                        out.push(ProcessOutput::Stderr(b));
                    } else if let Some(b) = pty {
                        out.push(ProcessOutput::Pty(b));
                    }
                } else if let Some(end) = ev.end {
                    out.push(ProcessOutput::End(end));
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

/// A directory watch stream (`WatchDir`), past its `start`.
pub struct WatchStream {
    sandbox: SandboxClient,
    stream: RpcStream<WatchDirResponse>,
    ended: bool,
}

impl WatchStream {
    /// The next batch of events (empty only when the stream ended).
    pub async fn next_batch(&mut self) -> Result<Vec<FilesystemEvent>> {
        loop {
            if self.ended {
                return Ok(Vec::new());
            }
            let batch = match self.stream.next_batch().await {
                Ok(b) => b,
                Err(e) => {
                    self.ended = true;
                    return Err(self.sandbox.rpc_failure(e, NotFound::File).await);
                }
            };
            if batch.is_empty() {
                self.ended = true;
                return Ok(Vec::new());
            }
            let out: Vec<FilesystemEvent> =
                batch.into_iter().filter_map(|m| m.filesystem).collect();
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}

/// Which input a `StreamInput` call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Stdin,
    Pty,
}

impl InputKind {
    pub fn input(self, data: Bytes) -> ProcessInput {
        match self {
            InputKind::Stdin => ProcessInput {
                stdin: Some(data),
                pty: None,
            },
            InputKind::Pty => ProcessInput {
                stdin: None,
                pty: Some(data),
            },
        }
    }
}

/// An open `Process/StreamInput` call: chunks are queued in order; `finish` ends the input
/// and waits for envd's acknowledgement.
pub struct InputStream {
    kind: InputKind,
    tx: Option<mpsc::UnboundedSender<Bytes>>,
    task: Option<tokio::task::JoinHandle<Result<()>>>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl InputStream {
    /// Queues one chunk; fails with the stream's error if it already failed.
    pub fn push(&mut self, data: Bytes) -> Result<()> {
        if let Some(e) = self.failure.lock().unwrap().clone() {
            return Err(e);
        }
        let msg = StreamInputRequest {
            data: Some(StreamInputData {
                input: self.kind.input(data),
            }),
            ..Default::default()
        };
        match &self.tx {
            Some(tx) => {
                let _ = tx.send(message_envelope(&msg));
                Ok(())
            }
            None => Err(Error::sandbox(
                "Cannot send input after the input handle is closed. Open a new one with `sandbox.commands.stream_input(pid)` or `sandbox.pty.stream_input(pid)`.",
            )),
        }
    }

    /// Ends the input and waits for envd to acknowledge it (or for the stream's error).
    pub async fn finish(&mut self) -> Result<()> {
        self.tx.take();
        if let Some(task) = self.task.take() {
            let r = task
                .await
                .unwrap_or_else(|e| Err(Error::sandbox(format!("input stream task failed: {e}"))));
            if let Err(e) = &r {
                *self.failure.lock().unwrap() = Some(e.clone());
            }
            return r;
        }
        match self.failure.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for InputStream {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// How an upload's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// One `multipart/form-data` request (part filenames carry the paths).
    Multipart,
    /// One `application/octet-stream` request for one file (`path` in the query).
    OctetStream,
}

/// An upload in progress: data is sent as it is given.
pub struct Upload {
    mode: UploadMode,
    boundary: String,
    tx: Option<mpsc::Sender<std::result::Result<Bytes, std::io::Error>>>,
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    part_open: bool,
    task: Option<tokio::task::JoinHandle<Result<Vec<WriteInfo>>>>,
    result: Option<Result<Vec<WriteInfo>>>,
}

/// Options of an upload.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// `path` query parameter (octet-stream, or multipart with one file).
    pub path: Option<String>,
    pub user: Option<String>,
    pub gzip: bool,
    pub metadata: BTreeMap<String, String>,
    /// Whole-request deadline (buffered uploads only).
    pub timeout: Option<Duration>,
}

fn quote_filename(name: &str) -> String {
    name.replace('\\', "\\\\")
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

impl Upload {
    async fn push_raw(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let Some(tx) = &self.tx else {
            return Err(Error::sandbox("the upload is already finished"));
        };
        if tx.send(Ok(data)).await.is_err() {
            // The request ended early: its outcome says why.
            self.tx = None;
            let r = self.wait().await;
            return Err(match r {
                Err(e) => e,
                Ok(_) => Error::sandbox("the upload ended before all data was sent"),
            });
        }
        Ok(())
    }

    /// Starts the next file of a multipart upload.
    pub async fn begin_file(&mut self, path: &str) -> Result<()> {
        if self.mode != UploadMode::Multipart {
            return Ok(());
        }
        let mut head = String::new();
        if self.part_open {
            head.push_str("\r\n");
        }
        head.push_str(&format!(
            "--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            self.boundary,
            quote_filename(path)
        ));
        self.part_open = true;
        self.push_raw(Bytes::from(head)).await
    }

    /// Sends data of the current file.
    pub async fn send(&mut self, data: Bytes) -> Result<()> {
        let data = match self.gzip.as_mut() {
            Some(enc) => {
                enc.write_all(&data)
                    .map_err(|e| Error::sandbox(format!("gzip failed: {e}")))?;
                Bytes::from(std::mem::take(enc.get_mut()))
            }
            None => data,
        };
        self.push_raw(data).await
    }

    async fn wait(&mut self) -> Result<Vec<WriteInfo>> {
        if let Some(task) = self.task.take() {
            let r = task
                .await
                .unwrap_or_else(|e| Err(Error::sandbox(format!("upload task failed: {e}"))));
            self.result = Some(r);
        }
        self.result
            .clone()
            .unwrap_or_else(|| Err(Error::sandbox("the upload has no result")))
    }

    /// Ends the body and returns what envd wrote.
    pub async fn finish(&mut self) -> Result<Vec<WriteInfo>> {
        if self.tx.is_some() {
            if let Some(enc) = self.gzip.take() {
                let rest = enc
                    .finish()
                    .map_err(|e| Error::sandbox(format!("gzip failed: {e}")))?;
                self.push_raw(Bytes::from(rest)).await?;
            }
            if self.mode == UploadMode::Multipart {
                let mut tail = String::new();
                if self.part_open {
                    tail.push_str("\r\n");
                }
                tail.push_str(&format!("--{}--\r\n", self.boundary));
                self.push_raw(Bytes::from(tail)).await?;
            }
            self.tx = None;
        }
        self.wait().await
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Compressed bytes fed to the gzip decoder at a time: deflate expands at most ~1032:1, so
/// one step yields about a MiB whatever the server sends.
const GUNZIP_STEP: usize = 1 << 10;
/// Decompressed bytes handed out at once (at least; a step can go past it).
const GUNZIP_CHUNK: usize = 256 << 10;

/// A streamed download.
pub struct Download {
    sandbox: SandboxClient,
    response: reqwest::Response,
    gunzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    /// Received compressed bytes not fed to the decoder yet.
    compressed: Bytes,
    idle: Option<Duration>,
    deadline: Option<Instant>,
    done: bool,
}

impl Download {
    /// The next chunk of the file, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(dec) = self.gunzip.as_mut().filter(|_| !self.compressed.is_empty()) {
                let out = gunzip_some(dec, &mut self.compressed)?;
                if !out.is_empty() {
                    return Ok(Some(Bytes::from(out)));
                }
                continue;
            }
            let chunk = self.response.chunk();
            let limit = match (self.idle, self.deadline) {
                (Some(i), Some(d)) => Some((Instant::now() + i).min(d)),
                (Some(i), None) => Some(Instant::now() + i),
                (None, d) => d,
            };
            let r = match limit {
                Some(l) => match tokio::time::timeout_at(l.into(), chunk).await {
                    Ok(r) => r,
                    Err(_) => {
                        self.done = true;
                        return Err(Error::request_timeout());
                    }
                },
                None => chunk.await,
            };
            match r {
                Ok(Some(b)) if self.gunzip.is_some() => self.compressed = b,
                Ok(Some(b)) => {
                    if !b.is_empty() {
                        return Ok(Some(b));
                    }
                }
                Ok(None) => {
                    self.done = true;
                    if let Some(dec) = self.gunzip.take() {
                        let rest = dec.finish().map_err(|e| {
                            Error::sandbox(format!("failed to decompress the download: {e}"))
                        })?;
                        if !rest.is_empty() {
                            return Ok(Some(Bytes::from(rest)));
                        }
                    }
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    return Err(self.sandbox.files_failure(e).await);
                }
            }
        }
    }
}

/// Decompresses some of `compressed`, a step at a time, until about [`GUNZIP_CHUNK`] bytes
/// are out or the input is used up.
fn gunzip_some(
    dec: &mut flate2::write::GzDecoder<Vec<u8>>,
    compressed: &mut Bytes,
) -> Result<Vec<u8>> {
    while !compressed.is_empty() && dec.get_ref().len() < GUNZIP_CHUNK {
        let step = compressed.split_to(compressed.len().min(GUNZIP_STEP));
        dec.write_all(&step)
            .map_err(|e| Error::sandbox(format!("failed to decompress the download: {e}")))?;
    }
    Ok(std::mem::take(dec.get_mut()))
}

/// `url?k=v&…` with form encoding (as httpx encodes `params`).
fn with_query(url: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return url.to_string();
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    format!("{url}?{}", ser.finish())
}

fn file_path_params(path: &str, user: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = vec![("path", path.to_string())];
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        q.push(("username", u.to_string()));
    }
    q
}

// ------------------------------------------------------------------------------- operations

const FS: &str = "/filesystem.Filesystem/";
const PROC: &str = "/process.Process/";

impl SandboxClient {
    async fn fs_call<Req: Serialize, Res: DeserializeOwned>(
        &self,
        method: &str,
        req: &Req,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Res, RpcError> {
        self.unary(&format!("{FS}{method}"), req, user, timeout)
            .await
    }

    /// `files.get_info`.
    pub async fn fs_stat(
        &self,
        path: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<EntryInfo> {
        let req = PathRequest { path: path.into() };
        match self
            .fs_call::<_, EntryResponse>("Stat", &req, user, timeout)
            .await
        {
            Ok(r) => Ok(r.entry.unwrap_or_default()),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `files.exists`: `not_found` → `false`.
    pub async fn fs_exists(
        &self,
        path: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let req = PathRequest { path: path.into() };
        match self
            .fs_call::<_, EntryResponse>("Stat", &req, user, timeout)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(Code::NotFound) => Ok(false),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `files.list` (`depth` 0 = envd's default of 1).
    pub async fn fs_list(
        &self,
        path: &str,
        depth: u32,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Vec<EntryInfo>> {
        let req = ListDirRequest {
            path: path.into(),
            depth,
        };
        match self
            .fs_call::<_, ListDirResponse>("ListDir", &req, user, timeout)
            .await
        {
            Ok(r) => Ok(r.entries),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `files.make_dir`: `already_exists` → `false`.
    pub async fn fs_make_dir(
        &self,
        path: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let req = PathRequest { path: path.into() };
        match self
            .fs_call::<_, EntryResponse>("MakeDir", &req, user, timeout)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(Code::AlreadyExists) => Ok(false),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `files.rename`.
    pub async fn fs_rename(
        &self,
        from: &str,
        to: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<EntryInfo> {
        let req = MoveRequest {
            source: from.into(),
            destination: to.into(),
        };
        match self
            .fs_call::<_, EntryResponse>("Move", &req, user, timeout)
            .await
        {
            Ok(r) => Ok(r.entry.unwrap_or_default()),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `files.remove`.
    pub async fn fs_remove(
        &self,
        path: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let req = PathRequest { path: path.into() };
        match self
            .fs_call::<_, Empty>("Remove", &req, user, timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// Sync `files.watch_dir`: `CreateWatcher` → the watcher id.
    pub async fn fs_create_watcher(
        &self,
        req: &WatchRequest,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<String> {
        let url = self.envd_url(&format!("{FS}CreateWatcher"));
        let client = self.rpc_client(&url)?;
        let mut h = self.rpc_headers(user, timeout, false, true);
        h.remove(reqwest::header::ACCEPT_ENCODING);
        let mut r = client
            .post(&url)
            .headers(h)
            .body(serde_json::to_vec(req).expect("serialises"));
        if let Some(t) = timeout {
            r = r.timeout(t);
        }
        let result: std::result::Result<CreateWatcherResponse, RpcError> = async {
            let resp = r.send().await.map_err(RpcError::from_reqwest)?;
            let bytes = RpcError::read_unary(resp).await?;
            serde_json::from_slice(&bytes).map_err(|e| {
                RpcError::Connect(ConnectError::new(
                    Code::Internal,
                    format!("failed to decode the response: {e}"),
                ))
            })
        }
        .await;
        match result {
            Ok(r) => Ok(r.watcher_id),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `WatchHandle.get_new_events`.
    pub async fn fs_watcher_events(
        &self,
        id: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Vec<FilesystemEvent>> {
        let req = WatcherRequest {
            watcher_id: id.into(),
        };
        match self
            .fs_call::<_, GetWatcherEventsResponse>("GetWatcherEvents", &req, user, timeout)
            .await
        {
            Ok(r) => Ok(r.events),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `WatchHandle.stop`.
    pub async fn fs_remove_watcher(
        &self,
        id: &str,
        user: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let req = WatcherRequest {
            watcher_id: id.into(),
        };
        match self
            .fs_call::<_, Empty>("RemoveWatcher", &req, user, timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// Async `files.watch_dir`: opens `WatchDir` and waits (at most `start_timeout`) for its
    /// `start` message.
    pub async fn fs_watch_dir(
        &self,
        req: &WatchRequest,
        user: Option<&str>,
        timeout: Option<Duration>,
        start_timeout: Option<Duration>,
    ) -> Result<WatchStream> {
        let opened = async {
            let mut stream: RpcStream<WatchDirResponse> = self
                .server_stream(&format!("{FS}WatchDir"), req, user, timeout)
                .await?;
            let first = stream.next().await?;
            Ok::<_, RpcError>((stream, first))
        };
        let r = match start_timeout {
            Some(t) => match tokio::time::timeout(t, opened).await {
                Ok(r) => r,
                Err(_) => return Err(Error::request_timeout()),
            },
            None => opened.await,
        };
        match r {
            Ok((stream, Some(first))) if first.start.is_some() => Ok(WatchStream {
                sandbox: self.clone(),
                stream,
                ended: false,
            }),
            Ok((_, first)) => Err(Error::sandbox(format!(
                "Failed to start watch: expected start event, got {}",
                first
                    .map(|f| serde_json::to_string(&f).unwrap_or_default())
                    .unwrap_or_else(|| "None".into())
            ))),
            Err(e) => Err(self.rpc_failure(e, NotFound::File).await),
        }
    }

    /// `commands.list`.
    pub async fn process_list(&self, timeout: Option<Duration>) -> Result<Vec<ProcessInfo>> {
        match self
            .unary::<_, ListResponse>(&format!("{PROC}List"), &Empty {}, None, timeout)
            .await
        {
            Ok(r) => Ok(r.processes),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    /// `commands.kill` / `pty.kill`: SIGKILL; `false` when the process is unknown.
    pub async fn process_kill(&self, pid: u32, timeout: Option<Duration>) -> Result<bool> {
        let req = SendSignalRequest {
            process: ProcessSelector::pid(pid),
            signal: Signal::Sigkill,
        };
        match self
            .unary::<_, Empty>(&format!("{PROC}SendSignal"), &req, None, timeout)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(Code::NotFound) => Ok(false),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    /// `commands.send_stdin` / `pty.send_stdin`.
    pub async fn process_send_input(
        &self,
        pid: u32,
        kind: InputKind,
        data: Bytes,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let req = SendInputRequest {
            process: ProcessSelector::pid(pid),
            input: kind.input(data),
        };
        match self
            .unary::<_, Empty>(&format!("{PROC}SendInput"), &req, None, timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    /// `commands.close_stdin`.
    pub async fn process_close_stdin(&self, pid: u32, timeout: Option<Duration>) -> Result<()> {
        let req = ProcessRequest {
            process: ProcessSelector::pid(pid),
        };
        match self
            .unary::<_, Empty>(&format!("{PROC}CloseStdin"), &req, None, timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    /// `pty.resize`.
    pub async fn process_resize(
        &self,
        pid: u32,
        size: PtySize,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let req = UpdateRequest {
            process: ProcessSelector::pid(pid),
            pty: Some(Pty { size: Some(size) }),
        };
        match self
            .unary::<_, Empty>(&format!("{PROC}Update"), &req, None, timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    async fn process_open(
        &self,
        method: &str,
        req: &impl Serialize,
        user: Option<&str>,
        timeout: Option<Duration>,
        start_timeout: Option<Duration>,
        action: &str,
    ) -> Result<ProcessStream> {
        let opened = async {
            let mut stream: RpcStream<ProcessEventResponse> = self
                .server_stream(&format!("{PROC}{method}"), req, user, timeout)
                .await?;
            let first = stream.next().await?;
            Ok::<_, RpcError>((stream, first))
        };
        let r = match start_timeout {
            Some(t) => match tokio::time::timeout(t, opened).await {
                Ok(r) => r,
                Err(_) => return Err(Error::request_timeout()),
            },
            None => opened.await,
        };
        match r {
            Ok((stream, Some(first))) if first.event.start.is_some() => Ok(ProcessStream {
                pid: first.event.start.map(|s| s.pid).unwrap_or_default(),
                sandbox: self.clone(),
                stream,
                ended: false,
            }),
            Ok((_, first)) => Err(Error::sandbox(format!(
                "Failed to {action}: expected start event, got {}",
                first
                    .map(|f| serde_json::to_string(&f).unwrap_or_default())
                    .unwrap_or_else(|| "None".into())
            ))),
            Err(e) => Err(self.rpc_failure(e, NotFound::Generic).await),
        }
    }

    /// `commands.run` / `pty.create`: starts a process and returns its event stream.
    pub async fn process_start(
        &self,
        req: &StartRequest,
        user: Option<&str>,
        timeout: Option<Duration>,
        start_timeout: Option<Duration>,
    ) -> Result<ProcessStream> {
        self.process_open("Start", req, user, timeout, start_timeout, "start process")
            .await
    }

    /// `commands.connect` / `pty.connect`.
    pub async fn process_connect(
        &self,
        pid: u32,
        timeout: Option<Duration>,
        start_timeout: Option<Duration>,
    ) -> Result<ProcessStream> {
        let req = ProcessRequest {
            process: ProcessSelector::pid(pid),
        };
        self.process_open(
            "Connect",
            &req,
            None,
            timeout,
            start_timeout,
            "connect to process",
        )
        .await
    }

    /// `commands.stream_input` / `pty.stream_input`: opens a `StreamInput` call whose first
    /// message selects `pid`.
    pub fn process_stream_input(
        &self,
        pid: u32,
        kind: InputKind,
        timeout: Option<Duration>,
    ) -> Result<InputStream> {
        let url = self.envd_url(&format!("{PROC}StreamInput"));
        let client = self.rpc_client(&url)?;
        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
        let start = StreamInputRequest {
            start: Some(StreamInputStart {
                process: ProcessSelector::pid(pid),
            }),
            ..Default::default()
        };
        let _ = tx.send(message_envelope(&start));
        let keepalive = message_envelope(&StreamInputRequest {
            keepalive: Some(Empty {}),
            ..Default::default()
        });
        // The body: queued messages in order, a keepalive after each 50 s of silence.
        let body_stream = async_stream_input(rx, keepalive);
        let mut headers = self.rpc_headers(None, timeout, true, false);
        headers.remove(reqwest::header::AUTHORIZATION);
        let mut request = client
            .post(&url)
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body_stream));
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let sandbox = self.clone();
        let failure = Arc::new(Mutex::new(None));
        let task_failure = failure.clone();
        let task = tokio::spawn(async move {
            let result: std::result::Result<(), RpcError> = async {
                let resp = request.send().await.map_err(RpcError::from_reqwest)?;
                let mut stream: RpcStream<Empty> = RpcStream::open(resp, None).await?;
                let mut messages = 0;
                while stream.next().await?.is_some() {
                    messages += 1;
                }
                if messages == 0 {
                    return Err(RpcError::Connect(ConnectError::new(
                        Code::Unimplemented,
                        "unary response has zero messages",
                    )));
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => Ok(()),
                Err(e) => {
                    let err = sandbox.rpc_failure(e, NotFound::Generic).await;
                    *task_failure.lock().unwrap() = Some(err.clone());
                    Err(err)
                }
            }
        });
        Ok(InputStream {
            kind,
            tx: Some(tx),
            task: Some(task),
            failure,
        })
    }

    /// `files.read` (`text` / `bytes`): the whole file.
    pub async fn files_read(
        &self,
        path: &str,
        user: Option<&str>,
        gzip: bool,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut d = self
            .files_download(path, user, gzip, None, deadline)
            .await?;
        let mut out = Vec::new();
        while let Some(chunk) = d.next_chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// `GET /files`, streamed: `idle` bounds the wait for each chunk, `deadline` the whole
    /// transfer. Downloads always use HTTP/1.1 (as 2.63.0).
    pub async fn files_download(
        &self,
        path: &str,
        user: Option<&str>,
        gzip: bool,
        idle: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Result<Download> {
        let url = self.envd_url("/files");
        let client = self.client(HttpVersion::Http1, None, &url)?;
        let req = client
            .get(with_query(&url, &file_path_params(path, user)))
            .headers(self.inner.envd_headers.clone())
            .header(
                reqwest::header::ACCEPT_ENCODING,
                if gzip { "gzip" } else { "gzip, deflate" },
            );
        let send = req.send();
        let resp = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), send).await {
                Ok(r) => r,
                Err(_) => return Err(Error::request_timeout()),
            },
            None => send.await,
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.files_failure(e).await),
        };
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = http::read_error_body(resp).await;
            return Err(envd_error(status, &body, ErrorKind::FileNotFoundException));
        }
        let gzipped = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        Ok(Download {
            sandbox: self.clone(),
            response: resp,
            gunzip: gzipped.then(|| flate2::write::GzDecoder::new(Vec::new())),
            compressed: Bytes::new(),
            idle,
            deadline,
            done: false,
        })
    }

    /// Starts `POST /files`; feed it with [`Upload::begin_file`] / [`Upload::send`], then
    /// [`Upload::finish`].
    pub fn files_upload(&self, mode: UploadMode, opts: UploadOptions) -> Result<Upload> {
        let url = self.envd_url("/files");
        let client = self.client(self.inner.http_version, None, &url)?;
        let boundary = format!("{:032x}", fastrand::u128(..));
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &opts.path {
            query.push(("path", p.clone()));
        }
        if let Some(u) = opts.user.as_deref().filter(|u| !u.is_empty()) {
            query.push(("username", u.to_string()));
        }
        let mut headers = self.inner.envd_headers.clone();
        let ct = match mode {
            UploadMode::OctetStream => "application/octet-stream".to_string(),
            UploadMode::Multipart => format!("multipart/form-data; boundary={boundary}"),
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(&ct).expect("ASCII"));
        if opts.gzip {
            headers.insert(
                reqwest::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        for (k, v) in &opts.metadata {
            let name = HeaderName::from_bytes(format!("x-metadata-{k}").as_bytes())
                .map_err(|_| Error::invalid_argument(format!("Invalid metadata key {k:?}")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                Error::invalid_argument(format!("Invalid metadata value for key {k:?}"))
            })?;
            headers.insert(name, value);
        }
        let (tx, mut rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut request = client
            .post(with_query(&url, &query))
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body));
        if let Some(t) = opts.timeout {
            request = request.timeout(t);
        }
        let sandbox = self.clone();
        let task = tokio::spawn(async move {
            let resp = match request.send().await {
                Ok(r) => r,
                Err(e) => return Err(sandbox.files_failure(e).await),
            };
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                let body = http::read_error_body(resp).await;
                return Err(envd_error(status, &body, ErrorKind::FileNotFoundException));
            }
            let body = match http::read_limited(resp, http::MAX_RESPONSE_BODY).await {
                Ok(b) => b,
                Err(http::ReadError::Transport(e)) => return Err(sandbox.files_failure(e).await),
                Err(http::ReadError::TooLarge(limit)) => {
                    return Err(Error::sandbox(http::ReadError::too_large(
                        "the upload's answer",
                        limit,
                    )))
                }
            };
            let infos: Vec<WriteInfo> = serde_json::from_slice(&body).unwrap_or_default();
            if infos.is_empty() {
                return Err(Error::sandbox(
                    "Expected to receive information about written file",
                ));
            }
            Ok(infos)
        });
        Ok(Upload {
            mode,
            boundary,
            tx: Some(tx),
            gzip: opts
                .gzip
                .then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default())),
            part_open: false,
            task: Some(task),
            result: None,
        })
    }
}

/// The body of a `StreamInput` call: queued messages, plus a keepalive after each
/// [`KEEPALIVE_INTERVAL`] without one.
fn async_stream_input(
    rx: mpsc::UnboundedReceiver<Bytes>,
    keepalive: Bytes,
) -> impl futures_util::Stream<Item = std::result::Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold((rx, keepalive), |(mut rx, ka)| async move {
        match tokio::time::timeout(KEEPALIVE_INTERVAL, rx.recv()).await {
            Ok(Some(msg)) => Some((Ok(msg), (rx, ka))),
            Ok(None) => None,
            Err(_) => Some((Ok(ka.clone()), (rx, ka))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_bomb_download_comes_out_a_bounded_step_at_a_time() {
        // 1 GiB of zeros in ~1 MiB of gzip, arriving as a single chunk.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            enc.write_all(&block).unwrap();
        }
        let mut compressed = Bytes::from(enc.finish().unwrap());
        let mut dec = flate2::write::GzDecoder::new(Vec::new());
        let (mut total, mut biggest) = (0usize, 0usize);
        while !compressed.is_empty() {
            let out = gunzip_some(&mut dec, &mut compressed).unwrap();
            biggest = biggest.max(out.len());
            total += out.len();
        }
        total += dec.finish().unwrap().len();
        assert_eq!(total, 1 << 30);
        assert!(biggest <= GUNZIP_CHUNK + (GUNZIP_STEP << 11), "{biggest}");
    }

    #[test]
    fn connect_errors_map_like_the_sdk() {
        let e = connect_error(&ConnectError::new(Code::NotFound, "x"), NotFound::File);
        assert_eq!(e.kind, ErrorKind::FileNotFoundException);
        let e = connect_error(&ConnectError::new(Code::NotFound, "x"), NotFound::Generic);
        assert_eq!(e.kind, ErrorKind::NotFoundException);
        let e = connect_error(
            &ConnectError::new(Code::PermissionDenied, "no"),
            NotFound::File,
        );
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::SandboxException, "Code.PERMISSION_DENIED: no")
        );
        let e = connect_error(
            &ConnectError::new(Code::DeadlineExceeded, "Request timed out"),
            NotFound::File,
        );
        assert_eq!(e.kind, ErrorKind::TimeoutException);
        assert!(e
            .message
            .starts_with("Request timed out: This error is likely due to exceeding 'timeout'"));
        let e = connect_error(
            &ConnectError::new(Code::Unauthenticated, "invalid username: 'x'"),
            NotFound::File,
        );
        assert_eq!(e.kind, ErrorKind::AuthenticationException);
        let e = connect_error(
            &ConnectError::new(Code::Unavailable, "The sandbox was not found"),
            NotFound::File,
        );
        assert_eq!(e.kind, ErrorKind::SandboxNotRunningException);
        let e = connect_error(
            &ConnectError::new(Code::ResourceExhausted, "slow"),
            NotFound::File,
        );
        assert_eq!(
            e.message,
            "slow: Rate limit exceeded, please try again later."
        );
    }

    #[test]
    fn filenames_are_quoted_like_httpx() {
        assert_eq!(quote_filename("a/b.txt"), "a/b.txt");
        assert_eq!(quote_filename("q\"x"), "q%22x");
    }
}
