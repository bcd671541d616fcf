//! The server side of the Connect protocol as envd speaks it (docs/protocol.md#connect-transport):
//! decoding unary and enveloped requests, the request headers that matter (user, deadline,
//! keepalive), and response bodies — unary JSON, and streams of envelopes with keepalives, a
//! deadline and an end-of-stream message.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use e2b_wire::connect::{self, Code, ConnectError, EnvelopeDecoder};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::agent::http::{
    collect_limited, full, BodyLimitError, Hold, Res, REQUESTS, REQUEST_MEMORY,
};

/// Largest request message accepted (JSON of an RPC; file data goes through `/files`): a
/// unary body, or one envelope of a stream, whose length prefix is checked before anything
/// past it is buffered. Beyond it: `resource_exhausted`.
pub const MAX_MESSAGE: usize = 16 << 20;
/// Keepalive interval when the client asks for none (or an invalid one), as envd.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(90);

/// What the request headers say about an RPC.
#[derive(Debug, Clone, Default)]
pub struct CallMeta {
    /// User named by `Authorization: Basic base64("<user>:")`, if any.
    pub user: Option<String>,
    /// `Connect-Timeout-Ms`, if positive.
    pub timeout: Option<Duration>,
    /// `Keepalive-Ping-Interval` (seconds; default 90).
    pub keepalive: Duration,
}

impl CallMeta {
    pub fn from_headers(headers: &HeaderMap) -> CallMeta {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let user = text("authorization").and_then(basic_auth_user);
        let timeout = text("connect-timeout-ms")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let keepalive = text("keepalive-ping-interval")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_KEEPALIVE);
        CallMeta {
            user,
            timeout,
            keepalive,
        }
    }

    /// The absolute deadline of this call, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }
}

/// The user name of a Basic `Authorization` header (`None` when absent or malformed, which
/// selects the default user, as envd).
fn basic_auth_user(value: &str) -> Option<String> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, _password) = text.split_once(':')?;
    Some(user.to_string())
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn codec_error(headers: &HeaderMap) -> Option<ConnectError> {
    let mt = media_type(headers);
    let ok = mt == connect::UNARY_CONTENT_TYPE || mt == connect::STREAM_CONTENT_TYPE;
    (!ok).then(|| {
        ConnectError::new(
            Code::Unimplemented,
            format!("unsupported content type {mt:?}: only the JSON codec is served"),
        )
    })
}

/// Reads a unary request body as `T`.
pub async fn read_unary<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Incoming,
) -> Result<T, ConnectError> {
    if let Some(e) = codec_error(headers) {
        return Err(e);
    }
    let mut hold = REQUESTS.hold();
    let raw = collect_limited(body, MAX_MESSAGE, &mut hold)
        .await
        .map_err(|e| match e {
            BodyLimitError::Busy => busy(),
            // As an oversized envelope (and as Connect's own read limit answers).
            BodyLimitError::TooLarge => ConnectError::new(
                Code::ResourceExhausted,
                format!("message is larger than the limit {MAX_MESSAGE}"),
            ),
            BodyLimitError::Failed(e) => ConnectError::new(
                Code::InvalidArgument,
                format!("cannot read the request: {e}"),
            ),
        })?;
    decode(&raw)
}

/// Decodes one JSON message (an empty body is the empty message).
pub fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ConnectError> {
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    };
    serde_json::from_slice(raw)
        .map_err(|e| ConnectError::new(Code::InvalidArgument, format!("unmarshal message: {e}")))
}

/// The error of a request that does not fit in the agent's request memory.
fn busy() -> ConnectError {
    ConnectError::new(
        Code::ResourceExhausted,
        format!(
            "the sandbox's agent already holds {} MiB of requests; retry later",
            REQUEST_MEMORY >> 20
        ),
    )
}

/// Reads the single enveloped request message of a server-streaming call.
pub async fn read_stream_request<T: DeserializeOwned>(
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<T, ConnectError> {
    if let Some(e) = codec_error(headers) {
        return Err(e);
    }
    let mut decoder = EnvelopeDecoder::new(MAX_MESSAGE);
    let mut hold = REQUESTS.hold();
    loop {
        let next = match decoder.next_envelope().and_then(|next| {
            if next.is_none() && !hold.resize(decoder.pending()) {
                return Err(busy());
            }
            Ok(next)
        }) {
            Ok(next) => next,
            Err(e) => {
                // The client sends this one message and ends: read the rest (dropping it)
                // so that it gets the error, not a broken pipe.
                while let Some(Ok(_)) = body.frame().await {}
                return Err(e);
            }
        };
        if let Some(env) = next {
            if env.is_end_stream() {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    "request stream ended without a message",
                ));
            }
            // Read the body to its end (the client sends nothing more), so the
            // connection stays usable and nothing is left unread under the response.
            while let Some(Ok(_)) = body.frame().await {}
            return decode(&env.payload);
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    decoder.push(&data);
                }
            }
            Some(Err(e)) => {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    format!("cannot read the request: {e}"),
                ))
            }
            None => {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    "request body ended without a message",
                ))
            }
        }
    }
}

/// The enveloped messages of a client-streaming request, read one at a time.
pub struct RequestStream {
    body: Incoming,
    decoder: EnvelopeDecoder,
    /// What the decoder buffers, in the agent's request memory.
    hold: Hold,
    ended: bool,
}

impl RequestStream {
    pub fn new(headers: &HeaderMap, body: Incoming) -> Result<RequestStream, ConnectError> {
        if let Some(e) = codec_error(headers) {
            return Err(e);
        }
        Ok(RequestStream {
            body,
            decoder: EnvelopeDecoder::new(MAX_MESSAGE),
            hold: REQUESTS.hold(),
            ended: false,
        })
    }

    /// The next message, or `None` when the request body (or an end-of-stream envelope)
    /// ended the input.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ConnectError> {
        loop {
            let next = self.decoder.next_envelope()?;
            if !self.hold.resize(self.decoder.pending()) {
                return Err(busy());
            }
            if let Some(env) = next {
                if env.is_end_stream() {
                    self.ended = true;
                    return Ok(None);
                }
                return decode(&env.payload).map(Some);
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.push(&data);
                    }
                }
                Some(Err(e)) => {
                    return Err(ConnectError::new(
                        Code::Unknown,
                        format!("error streaming input: {e}"),
                    ))
                }
                None => {
                    self.ended = true;
                    if self.decoder.pending() > 0 {
                        return Err(ConnectError::new(
                            Code::InvalidArgument,
                            "request body ended inside a message",
                        ));
                    }
                    return Ok(None);
                }
            }
        }
    }
}

/// A successful unary response.
pub fn unary_ok(message: &impl Serialize) -> Res {
    full(
        StatusCode::OK,
        Some(connect::UNARY_CONTENT_TYPE),
        serde_json::to_vec(message).expect("messages serialise"),
    )
}

/// A unary error response (standard Connect status, JSON body).
pub fn unary_error(error: &ConnectError) -> Res {
    full(
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Some(connect::UNARY_CONTENT_TYPE),
        error.to_json(),
    )
}

/// The result of a unary handler as a response.
pub fn unary<T: Serialize>(result: Result<T, ConnectError>) -> Res {
    match result {
        Ok(m) => unary_ok(&m),
        Err(e) => unary_error(&e),
    }
}

/// What a stream producer hands the response body.
#[derive(Debug)]
pub enum StreamFrame {
    /// An encoded message envelope.
    Message(Bytes),
    /// The end of the stream (with its error, if any); nothing follows.
    End(Option<ConnectError>),
}

/// Capacity (in messages) between a stream's producer and its connection: a slow client
/// slows the producer instead of growing a buffer.
pub const STREAM_BUFFER: usize = 16;

/// A streaming response: 200 `application/connect+json`, then the producer's messages, a
/// keepalive message after each `keepalive` interval of silence, and an end-of-stream
/// envelope — the producer's, or `deadline_exceeded` when `deadline` passes first.
/// Dropping the body (client gone) closes the channel, which the producer notices.
pub fn stream_response(
    rx: mpsc::Receiver<StreamFrame>,
    keepalive: Option<(Duration, Bytes)>,
    deadline: Option<Instant>,
) -> Res {
    let body = StreamBody {
        rx,
        keepalive: keepalive.map(|(every, msg)| (every, msg, Box::pin(tokio::time::sleep(every)))),
        deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        done: false,
    };
    let mut res = Response::new(body.boxed());
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(connect::STREAM_CONTENT_TYPE),
    );
    res
}

/// A stream that failed before producing anything: 200 with only the end-of-stream error.
pub fn stream_error(error: ConnectError) -> Res {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(StreamFrame::End(Some(error)));
    stream_response(rx, None, None)
}

struct StreamBody {
    rx: mpsc::Receiver<StreamFrame>,
    keepalive: Option<(Duration, Bytes, Pin<Box<Sleep>>)>,
    deadline: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl StreamBody {
    fn finish(
        &mut self,
        error: Option<&ConnectError>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.done = true;
        self.rx.close();
        Poll::Ready(Some(Ok(Frame::data(connect::end_stream_envelope(error)))))
    }
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                let e = ConnectError::new(
                    Code::DeadlineExceeded,
                    "the deadline of the call (Connect-Timeout-Ms) passed",
                );
                return this.finish(Some(&e));
            }
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(StreamFrame::Message(first))) => {
                // Coalesce what else is ready into one write.
                let mut buf = first.to_vec();
                let mut end = None;
                while buf.len() < 256 * 1024 {
                    match this.rx.try_recv() {
                        Ok(StreamFrame::Message(m)) => buf.extend_from_slice(&m),
                        Ok(StreamFrame::End(e)) => {
                            end = Some(e);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Some(e) = end {
                    buf.extend_from_slice(&connect::end_stream_envelope(e.as_ref()));
                    this.done = true;
                    this.rx.close();
                }
                if let Some((every, _, sleep)) = this.keepalive.as_mut() {
                    sleep.as_mut().reset(Instant::now() + *every);
                }
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
            Poll::Ready(Some(StreamFrame::End(e))) => this.finish(e.as_ref()),
            Poll::Ready(None) => this.finish(None),
            Poll::Pending => {
                if let Some((every, msg, sleep)) = this.keepalive.as_mut() {
                    if sleep.as_mut().poll(cx).is_ready() {
                        sleep.as_mut().reset(Instant::now() + *every);
                        return Poll::Ready(Some(Ok(Frame::data(msg.clone()))));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Maps an I/O error of a file operation to a Connect error: `ENOENT` → `not_found`,
/// permission errors (including a read-only file system) → `permission_denied`, the rest
/// (a full file system too: no Connect code maps to `NotEnoughSpaceException`) → `internal`. `context` prefixes the message (Go style, `"<context>: <error>"`).
pub fn io_error(context: &str, err: &std::io::Error) -> ConnectError {
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Code::NotFound,
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => Code::PermissionDenied,
        Some(libc::ELOOP) => Code::FailedPrecondition,
        _ => Code::Internal,
    };
    ConnectError::new(code, format!("{context}: {}", os_error_text(err)))
}

/// An OS error as Go prints it (`no such file or directory`), without Rust's
/// ` (os error 2)` suffix.
pub fn os_error_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a static (or thread-local) string.
            let s = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) };
            s.to_string_lossy().to_lowercase()
        }
        None => err.to_string(),
    }
}

/// Awaits `fut`, giving up with `deadline_exceeded` at `deadline`.
pub async fn with_deadline<T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    match deadline {
        None => fut.await,
        Some(d) => match tokio::time::timeout_at(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(ConnectError::new(
                Code::DeadlineExceeded,
                "the deadline of the call (Connect-Timeout-Ms) passed",
            )),
        },
    }
}

/// Registers an owned descriptor with the reactor.
pub fn async_fd(
    fd: std::os::fd::OwnedFd,
) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: an OwnedFd keeps its descriptor open, and refers to the same description, for
    // as long as it lives inside the AsyncFd.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Runs blocking work (file-system calls) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectError> + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ConnectError::new(
            Code::Internal,
            format!("worker failed: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_meta_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Basic cm9vdDo="));
        h.insert("connect-timeout-ms", HeaderValue::from_static("60000"));
        h.insert("keepalive-ping-interval", HeaderValue::from_static("50"));
        let m = CallMeta::from_headers(&h);
        assert_eq!(m.user.as_deref(), Some("root"));
        assert_eq!(m.timeout, Some(Duration::from_secs(60)));
        assert_eq!(m.keepalive, Duration::from_secs(50));
        let m = CallMeta::from_headers(&HeaderMap::new());
        assert_eq!(m.user, None);
        assert_eq!(m.timeout, None);
        assert_eq!(m.keepalive, DEFAULT_KEEPALIVE);
        assert_eq!(basic_auth_user("Basic !!!"), None);
    }

    #[test]
    fn io_errors_map_to_codes() {
        let e = io_error(
            "file not found",
            &std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(e.code, Code::NotFound);
        assert_eq!(e.message, "file not found: no such file or directory");
        let e = io_error("x", &std::io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.code, Code::PermissionDenied);
        assert_eq!(e.message, "x: permission denied");
    }

    #[tokio::test(start_paused = true)]
    async fn stream_body_keepalives_and_deadline() {
        let (tx, rx) = mpsc::channel(4);
        let res = stream_response(
            rx,
            Some((Duration::from_secs(50), Bytes::from_static(b"K"))),
            Some(Instant::now() + Duration::from_secs(120)),
        );
        assert_eq!(res.headers()[CONTENT_TYPE], "application/connect+json");
        let mut body = res.into_body();
        tx.send(StreamFrame::Message(Bytes::from_static(b"A")))
            .await
            .unwrap();
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&f[..], b"A");
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&f[..], b"K");
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&f[..], b"K");
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(f[0], connect::FLAG_END_STREAM);
        assert!(std::str::from_utf8(&f[5..])
            .unwrap()
            .contains("deadline_exceeded"));
        assert!(body.frame().await.is_none());
        assert!(tx.is_closed());
    }
}
