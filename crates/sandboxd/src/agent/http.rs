//! HTTP plumbing shared by the agent's services: body types, small response helpers and the
//! NDJSON execution stream with keepalives.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use e2b_wire::execution::OutputLine;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;
use tokio::time::Sleep;

pub type ResBody = BoxBody<Bytes, Infallible>;
pub type Res = Response<ResBody>;

/// A line is sent after this long without output, so a dead client is noticed.
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// Largest `POST /execute` body (the code, as JSON). The agent holds a body about three
/// times on its way to the kernel (the bytes, the parsed code, the Jupyter message), so this
/// keeps one request well inside the smallest useful sandbox (256 MiB).
pub const MAX_EXECUTE_BODY: usize = 16 << 20;
/// Largest body of the other JSON requests (`POST /contexts`: a language and a directory).
pub const MAX_SMALL_BODY: usize = 64 << 10;
/// Bytes of request bodies the agent holds at once across all requests: JSON bodies and
/// Connect messages being read, and the code of executions waiting for their kernel. Each
/// is bounded on its own; this bounds them together, whatever the number of requests.
pub const REQUEST_MEMORY: usize = 48 << 20;

/// The agent's [`REQUEST_MEMORY`].
pub static REQUESTS: Budget = Budget::new(REQUEST_MEMORY);

/// A byte budget shared by requests: each takes a [`Hold`] and grows it as it buffers.
#[derive(Debug)]
pub struct Budget {
    used: std::sync::atomic::AtomicUsize,
    max: usize,
}

impl Budget {
    pub const fn new(max: usize) -> Self {
        Budget {
            used: std::sync::atomic::AtomicUsize::new(0),
            max,
        }
    }

    /// An empty hold on this budget.
    pub fn hold(&'static self) -> Hold {
        Hold {
            budget: self,
            bytes: 0,
        }
    }
}

/// Bytes held in a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Hold {
    budget: &'static Budget,
    bytes: usize,
}

impl Hold {
    /// Makes this hold `bytes` bytes; false (and unchanged) if the budget cannot give them.
    pub fn resize(&mut self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        if bytes <= self.bytes {
            self.budget
                .used
                .fetch_sub(self.bytes - bytes, Ordering::Relaxed);
            self.bytes = bytes;
            return true;
        }
        let more = bytes - self.bytes;
        let max = self.budget.max;
        let grown = self
            .budget
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + more <= max).then_some(used + more)
            });
        if grown.is_ok() {
            self.bytes = bytes;
        }
        grown.is_ok()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.resize(0);
    }
}

pub fn full(status: StatusCode, content_type: Option<&str>, body: impl Into<Bytes>) -> Res {
    let mut b = Response::builder().status(status);
    if let Some(ct) = content_type {
        b = b.header(hyper::header::CONTENT_TYPE, ct);
    }
    b.body(Full::new(body.into()).boxed())
        .expect("static response parts are valid")
}

pub fn text(status: StatusCode, msg: impl Into<String>) -> Res {
    full(status, Some("text/plain; charset=utf-8"), msg.into())
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Res {
    full(
        status,
        Some("application/json"),
        serde_json::to_vec(value).expect("values serialise"),
    )
}

pub fn empty(status: StatusCode) -> Res {
    full(status, None, Bytes::new())
}

/// Why [`collect_limited`] gave up.
#[derive(Debug)]
pub enum BodyLimitError {
    /// Longer than the limit (the rest was read and dropped).
    TooLarge,
    /// The body broke off.
    Failed(String),
    /// Other requests hold the agent's whole [`REQUEST_MEMORY`] (the rest was dropped).
    Busy,
}

/// Collects a body of at most `limit` bytes. Past the limit nothing more is kept, but the
/// rest is still read (and dropped) to its end, so that a client that is still sending gets
/// the answer instead of a broken pipe.
/// What is held counts in `hold` (which it leaves holding the body's size).
pub async fn collect_limited<B>(
    body: B,
    limit: usize,
    hold: &mut Hold,
) -> Result<Bytes, BodyLimitError>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut buf = bytes::BytesMut::new();
    let mut failure = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyLimitError::Failed(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if failure.is_some() {
            continue;
        }
        let len = buf.len() + data.len();
        if len > limit {
            failure = Some(BodyLimitError::TooLarge);
        } else if !hold.resize(len) {
            failure = Some(BodyLimitError::Busy);
        } else {
            buf.extend_from_slice(&data);
            continue;
        }
        buf = bytes::BytesMut::new();
        hold.resize(0);
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(buf.freeze()),
    }
}

/// Reads a whole request body of at most `limit` bytes (see [`collect_limited`]); the error
/// is the response to send: 413 past the limit.
pub async fn read_body<B>(body: B, limit: usize, hold: &mut Hold) -> Result<Bytes, Box<Res>>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    match collect_limited(body, limit, hold).await {
        Ok(b) => Ok(b),
        Err(BodyLimitError::Busy) => Err(Box::new(text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the sandbox's agent already holds {} MiB of request bodies; retry when \
                 earlier requests are done",
                REQUEST_MEMORY >> 20
            ),
        ))),
        Err(BodyLimitError::TooLarge) => Err(Box::new(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {limit} bytes"),
        ))),
        Err(BodyLimitError::Failed(e)) => Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        ))),
    }
}

/// Parses a JSON body; the error is a FastAPI-like 422 response.
pub fn parse_json<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Box<Res>> {
    serde_json::from_slice(raw).map_err(|e| {
        Box::new(json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({"detail": [{"type": "json_invalid", "msg": e.to_string()}]}),
        ))
    })
}

/// One line on its way to the client, holding its share of the output budget until it has
/// been handed to the connection.
#[derive(Debug)]
pub struct Outgoing {
    pub line: OutputLine,
    pub budget: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl From<OutputLine> for Outgoing {
    fn from(line: OutputLine) -> Self {
        Outgoing { line, budget: None }
    }
}

/// The `/execute` response body: NDJSON lines from the context's channel, a `keepalive` line
/// after [`KEEPALIVE`] of silence, and `end_of_execution` when the channel closes. Dropping it
/// (client gone) closes the channel, which the context notices.
pub struct NdjsonBody {
    rx: mpsc::Receiver<Outgoing>,
    keepalive: Pin<Box<Sleep>>,
    done: bool,
}

impl NdjsonBody {
    pub fn new(rx: mpsc::Receiver<Outgoing>) -> Self {
        NdjsonBody {
            rx,
            keepalive: Box::pin(tokio::time::sleep(KEEPALIVE)),
            done: false,
        }
    }

    fn reset(&mut self) {
        self.keepalive
            .as_mut()
            .reset(tokio::time::Instant::now() + KEEPALIVE);
    }
}

impl Body for NdjsonBody {
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
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(first)) => {
                // Coalesce whatever else is ready into one chunk — with `end_of_execution`
                // when the execution is over, so that the last lines, the end and the
                // chunked terminator leave in one write (one wake-up of the client; the
                // daemon's proxy forwards the agent's chunks one by one). Nothing waits for
                // more: only lines already in the channel are taken.
                // The budget is released once the bytes are handed to the connection (whose
                // own buffer is bounded).
                let Outgoing { line, budget } = first;
                let mut buf = line.to_ndjson();
                drop(budget);
                while buf.len() < 64 * 1024 {
                    match this.rx.try_recv() {
                        Ok(Outgoing { line, budget }) => {
                            buf.extend_from_slice(&line.to_ndjson());
                            drop(budget);
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            buf.extend_from_slice(&OutputLine::EndOfExecution.to_ndjson());
                            this.done = true;
                            break;
                        }
                        Err(mpsc::error::TryRecvError::Empty) => break,
                    }
                }
                this.reset();
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(
                    OutputLine::EndOfExecution.to_ndjson(),
                )))))
            }
            Poll::Pending => {
                if this.keepalive.as_mut().poll(cx).is_ready() {
                    this.reset();
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(
                        OutputLine::Keepalive.to_ndjson(),
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stream_ends_with_end_of_execution_and_keeps_alive() {
        let (tx, rx) = mpsc::channel(4);
        let mut body = NdjsonBody::new(rx);
        tx.send(OutputLine::NumberOfExecutions { execution_count: 1 }.into())
            .await
            .unwrap();
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            &f[..],
            b"{\"type\":\"number_of_executions\",\"execution_count\":1}\n"
        );
        // Nothing for 5 s: a keepalive.
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&f[..], b"{\"type\":\"keepalive\"}\n");
        drop(tx);
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&f[..], b"{\"type\":\"end_of_execution\"}\n");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn bodies_past_their_limit_are_413_and_past_the_shared_budget_503() {
        static BUDGET: Budget = Budget::new(250);
        let body = |n: usize| http_body_util::Full::new(Bytes::from(vec![b' '; n]));
        let mut first = BUDGET.hold();
        assert_eq!(
            read_body(body(100), 100, &mut first).await.unwrap().len(),
            100
        );
        let res = read_body(body(101), 100, &mut BUDGET.hold())
            .await
            .unwrap_err();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let mut second = BUDGET.hold();
        assert!(read_body(body(100), 100, &mut second).await.is_ok());
        // 200 of 250 bytes are held: a third body of 100 does not fit until one is let go.
        let res = read_body(body(100), 100, &mut BUDGET.hold())
            .await
            .unwrap_err();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(first);
        assert!(read_body(body(100), 100, &mut BUDGET.hold()).await.is_ok());
        assert!(second.resize(10) && BUDGET.used.load(std::sync::atomic::Ordering::Relaxed) == 10);
        // Deeply nested JSON is refused by the parser's depth limit, not by a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let res = parse_json::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[tokio::test]
    async fn lines_ready_together_leave_in_one_chunk_with_the_end() {
        let (tx, rx) = mpsc::channel(4);
        let mut body = NdjsonBody::new(rx);
        tx.send(OutputLine::NumberOfExecutions { execution_count: 1 }.into())
            .await
            .unwrap();
        tx.send(OutputLine::Keepalive.into()).await.unwrap();
        drop(tx);
        let f = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            &f[..],
            &b"{\"type\":\"number_of_executions\",\"execution_count\":1}\n\
               {\"type\":\"keepalive\"}\n{\"type\":\"end_of_execution\"}\n"[..]
        );
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }
}
