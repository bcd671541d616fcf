//! Bounded decoding of request bodies that are too big to hold (file uploads): a gzip
//! decoder that streams and refuses to expand past a ratio, and a guard in front of the
//! multipart parser that bounds what the parser has to buffer. Everything here works on a
//! stream of chunks and holds at most a chunk or two at a time; exceeding a bound is a
//! [`BodyError`] carrying the HTTP status to answer with.
//!
//! The bounds (docs/security.md, "every decoder is bounded"):
//! * gzip (`Content-Encoding: gzip` on `POST /files`): output is produced in chunks of
//!   [`GUNZIP_CHUNK`]; it may reach [`GUNZIP_FREE`] whatever the input, and beyond that at
//!   most [`GUNZIP_MAX_RATIO`] times the compressed bytes consumed so far → 413. The disk
//!   limit still applies on top (→ 507).
//! * multipart: the preamble and each part's header block at most [`MULTIPART_MAX_HEADER`]
//!   bytes (the parser buffers them whole) → 400; at most [`MULTIPART_MAX_PARTS`] parts → 413.
//!   Part bodies stream and are not bounded here.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::GzipDecoder;
use bytes::Bytes;
use futures_util::Stream;
use hyper::StatusCode;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio_util::io::{ReaderStream, StreamReader};

/// Largest chunk of decompressed data produced at once.
pub const GUNZIP_CHUNK: usize = 64 << 10;
/// Decompressed bytes a gzip body may always produce, however small it is (a 50 MB file of
/// one repeated byte compresses ~1000:1 and must still upload).
pub const GUNZIP_FREE: u64 = 64 << 20;
/// Beyond [`GUNZIP_FREE`], the most decompressed bytes per compressed byte (Apache's
/// `DeflateInflateRatioLimit` default). Text and data compress 3–20:1; bombs ~1000:1.
pub const GUNZIP_MAX_RATIO: u64 = 200;
/// Longest multipart preamble, and longest header block of one part.
pub const MULTIPART_MAX_HEADER: usize = 64 << 10;
/// Most parts in one multipart body.
pub const MULTIPART_MAX_PARTS: usize = 10_000;

/// Why a body could not be decoded: the status and message to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub status: StatusCode,
    pub message: String,
}

impl BodyError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        BodyError {
            status,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BodyError {}

/// A body as a stream of chunks.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// Decompresses a gzip body (one or more members, as Go's `gzip.Reader`) as a stream of
/// chunks of at most [`GUNZIP_CHUNK`] bytes, bounded as the module says.
pub fn gunzip(raw: Chunks) -> Chunks {
    let consumed = Arc::new(AtomicU64::new(0));
    let reader = Counted {
        inner: StreamReader::new(RawAsIo(raw)),
        consumed: consumed.clone(),
    };
    let mut decoder = GzipDecoder::new(reader);
    decoder.multiple_members(true);
    Box::pin(Gunzip {
        out: ReaderStream::with_capacity(decoder, GUNZIP_CHUNK),
        consumed,
        produced: 0,
        done: false,
    })
}

/// The raw body with its errors carried through `io::Error` (and recovered on the way out).
struct RawAsIo(Chunks);

impl Stream for RawAsIo {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|o| o.map(|r| r.map_err(io::Error::other)))
    }
}

/// A buffered reader that counts the bytes its consumer used up.
struct Counted<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Counted<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.consumed.fetch_add(amt as u64, Ordering::Relaxed);
        Pin::new(&mut self.inner).consume(amt)
    }
}

type Decoder = GzipDecoder<Counted<StreamReader<RawAsIo, Bytes>>>;

struct Gunzip {
    out: ReaderStream<Decoder>,
    consumed: Arc<AtomicU64>,
    produced: u64,
    done: bool,
}

/// The most a gzip body that consumed `compressed` bytes may have produced.
pub fn gunzip_allowance(compressed: u64) -> u64 {
    GUNZIP_FREE.max(compressed.saturating_mul(GUNZIP_MAX_RATIO))
}

impl Stream for Gunzip {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match Pin::new(&mut self.out).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => item,
        };
        let chunk = match item {
            Ok(chunk) => chunk,
            Err(e) => {
                self.done = true;
                // A failure of the body itself comes back as it went in.
                let err = match e.get_ref().and_then(|i| i.downcast_ref::<BodyError>()) {
                    Some(body) => body.clone(),
                    None => BodyError::new(
                        StatusCode::BAD_REQUEST,
                        format!("error decompressing request body: {e}"),
                    ),
                };
                return Poll::Ready(Some(Err(err)));
            }
        };
        self.produced += chunk.len() as u64;
        let compressed = self.consumed.load(Ordering::Relaxed);
        if self.produced > gunzip_allowance(compressed) {
            self.done = true;
            return Poll::Ready(Some(Err(BodyError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "error decompressing request body: it expands to more than {} MiB and more \
                     than {GUNZIP_MAX_RATIO} times its compressed size ({compressed} bytes so \
                     far); upload it uncompressed",
                    GUNZIP_FREE >> 20
                ),
            ))));
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// Lets a consumer that reads everything ready in one go (multer does) see at most about
/// `bytes` per poll: after that much, the stream reports `Pending` once (and wakes itself),
/// so the consumer parses what it has before taking more.
pub fn pause_every(inner: Chunks, bytes: usize) -> Chunks {
    Box::pin(PauseEvery {
        inner,
        bytes,
        since_pause: 0,
    })
}

struct PauseEvery {
    inner: Chunks,
    bytes: usize,
    since_pause: usize,
}

impl Stream for PauseEvery {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.since_pause >= self.bytes {
            self.since_pause = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let r = self.inner.as_mut().poll_next(cx);
        match &r {
            Poll::Ready(Some(Ok(c))) => self.since_pause += c.len(),
            Poll::Pending => self.since_pause = 0,
            _ => {}
        }
        r
    }
}

/// Watches a multipart body on its way to the parser (which buffers the preamble and each
/// part's header block whole) and fails it once one of those, or the number of parts,
/// exceeds its bound. It keeps only the few bytes a delimiter can straddle.
#[derive(Debug)]
pub struct MultipartGuard {
    first: Vec<u8>,
    delimiter: Vec<u8>,
    state: Region,
    /// Bytes of the current region seen so far.
    seen: usize,
    /// The end of the data seen in this region (what a pattern can straddle).
    tail: Vec<u8>,
    parts: usize,
    max_header: usize,
    max_parts: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Before the first `--boundary`.
    Preamble,
    /// After a delimiter, up to the blank line ending the part's headers (or `--`: the end).
    Headers,
    /// A part's data, up to `\r\n--boundary`.
    Body,
    /// After the closing delimiter: ignored by the parser.
    Epilogue,
}

const HEADER_END: &[u8] = b"\r\n\r\n";

impl MultipartGuard {
    pub fn new(boundary: &str) -> Self {
        Self::with_limits(boundary, MULTIPART_MAX_HEADER, MULTIPART_MAX_PARTS)
    }

    fn with_limits(boundary: &str, max_header: usize, max_parts: usize) -> Self {
        MultipartGuard {
            first: format!("--{boundary}").into_bytes(),
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            state: Region::Preamble,
            seen: 0,
            tail: Vec::new(),
            parts: 0,
            max_header,
            max_parts,
        }
    }

    /// Checks the next chunk of the body.
    pub fn check(&mut self, mut data: &[u8]) -> Result<(), BodyError> {
        while !data.is_empty() {
            match self.state {
                Region::Epilogue => return Ok(()),
                Region::Headers if self.seen < 2 => {
                    // `--` right after a delimiter closes the body.
                    let take = (2 - self.seen).min(data.len());
                    self.tail.extend_from_slice(&data[..take]);
                    self.seen += take;
                    data = &data[take..];
                    if self.seen == 2 {
                        if self.tail == b"--" {
                            self.enter(Region::Epilogue);
                        } else {
                            self.parts += 1;
                            if self.parts > self.max_parts {
                                return Err(BodyError::new(
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    format!(
                                        "error parsing multipart form: more than {} parts",
                                        self.max_parts
                                    ),
                                ));
                            }
                        }
                    }
                }
                state => {
                    let pattern = match state {
                        Region::Preamble => self.first.clone(),
                        Region::Headers => HEADER_END.to_vec(),
                        _ => self.delimiter.clone(),
                    };
                    let found = find_continued(&self.tail, data, &pattern);
                    let used = found.unwrap_or(data.len());
                    self.seen = self.seen.saturating_add(used);
                    if state != Region::Body && self.seen > self.max_header {
                        let what = if state == Region::Preamble {
                            "the multipart preamble"
                        } else {
                            "the header block of a multipart part"
                        };
                        return Err(BodyError::new(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "error parsing multipart form: {what} exceeds {} bytes",
                                self.max_header
                            ),
                        ));
                    }
                    match found {
                        None => {
                            keep_tail(&mut self.tail, data, pattern.len());
                            return Ok(());
                        }
                        Some(end) => {
                            data = &data[end..];
                            self.enter(if state == Region::Headers {
                                Region::Body
                            } else {
                                Region::Headers
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn enter(&mut self, state: Region) {
        self.state = state;
        self.seen = 0;
        self.tail.clear();
    }
}

/// Where the first `pattern` that starts in `tail` (the data before `data`) or in `data`
/// ends, as an offset into `data`.
fn find_continued(tail: &[u8], data: &[u8], pattern: &[u8]) -> Option<usize> {
    if !tail.is_empty() {
        let head = &data[..data.len().min(pattern.len() - 1)];
        let joined = [tail, head].concat();
        if let Some(at) = memchr::memmem::find(&joined, pattern) {
            if at < tail.len() {
                return Some(at + pattern.len() - tail.len());
            }
        }
    }
    memchr::memmem::find(data, pattern).map(|at| at + pattern.len())
}

/// Keeps the last `pattern_len - 1` bytes of what `tail` and `data` hold together.
fn keep_tail(tail: &mut Vec<u8>, data: &[u8], pattern_len: usize) {
    let keep = pattern_len - 1;
    if data.len() >= keep {
        tail.clear();
        tail.extend_from_slice(&data[data.len() - keep..]);
    } else {
        tail.extend_from_slice(data);
        let excess = tail.len().saturating_sub(keep);
        tail.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn chunks_of(data: Vec<u8>, size: usize) -> Chunks {
        let parts: Vec<Result<Bytes, BodyError>> = data
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures_util::stream::iter(parts))
    }

    async fn drain(mut s: Chunks) -> (u64, usize, Option<BodyError>) {
        let (mut total, mut biggest) = (0u64, 0usize);
        while let Some(item) = s.next().await {
            match item {
                Ok(c) => {
                    total += c.len() as u64;
                    biggest = biggest.max(c.len());
                }
                Err(e) => return (total, biggest, Some(e)),
            }
        }
        (total, biggest, None)
    }

    #[tokio::test]
    async fn gzip_streams_in_small_chunks_and_keeps_members() {
        let text: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| format!("{i},").into_bytes())
            .collect();
        let mut body = gzip(&text);
        body.extend(gzip(b"second member"));
        let (total, biggest, err) = drain(gunzip(chunks_of(body, 400 << 10))).await;
        assert_eq!(err, None);
        assert_eq!(total, text.len() as u64 + 13);
        assert!(biggest <= GUNZIP_CHUNK, "{biggest}");
    }

    #[tokio::test]
    async fn a_highly_compressible_file_under_the_free_allowance_passes() {
        let zeros = vec![0u8; 50 << 20];
        let body = gzip(&zeros);
        assert!(body.len() < 100 << 10, "{}", body.len());
        let (total, _, err) = drain(gunzip(chunks_of(body, 64 << 10))).await;
        assert_eq!((total, err), (50 << 20, None));
    }

    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_ratio_with_413() {
        // 512 MiB of zeros in 512 gzip members: ~0.5 MiB, sent as one chunk (the worst case).
        let member = gzip(&vec![0u8; 1 << 20]);
        let body = member.repeat(512);
        let compressed = body.len() as u64;
        let (total, biggest, err) = drain(gunzip(chunks_of(body, usize::MAX >> 1))).await;
        let err = err.expect("the bomb is refused");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.message.contains("upload it uncompressed"), "{err}");
        // Stopped within a chunk of the allowance for what it had consumed, well short of
        // what it holds.
        assert!(total <= gunzip_allowance(compressed) + GUNZIP_CHUNK as u64);
        assert!(total < 200 << 20, "{total}");
        assert!(biggest <= GUNZIP_CHUNK);
    }

    #[tokio::test]
    async fn corrupt_gzip_is_400_and_body_errors_pass_through() {
        let (_, _, err) = drain(gunzip(chunks_of(b"not gzip at all".to_vec(), 4))).await;
        assert_eq!(err.unwrap().status, StatusCode::BAD_REQUEST);
        let failing: Chunks = Box::pin(futures_util::stream::iter(vec![Err(BodyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection reset",
        ))]));
        let (_, _, err) = drain(gunzip(failing)).await;
        assert_eq!(
            err,
            Some(BodyError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "connection reset"
            ))
        );
    }

    #[tokio::test]
    async fn pause_every_hands_out_slices() {
        let mut s = pause_every(chunks_of(vec![7u8; 10_000], 1000), 3000);
        let mut polls = Vec::new();
        let mut ready_run = 0;
        futures_util::future::poll_fn(|cx| loop {
            match s.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(c))) => ready_run += c.len(),
                Poll::Ready(None) => {
                    polls.push(ready_run);
                    return Poll::Ready(());
                }
                Poll::Ready(Some(Err(e))) => panic!("{e}"),
                Poll::Pending => polls.push(std::mem::take(&mut ready_run)),
            }
        })
        .await;
        assert_eq!(polls, [3000, 3000, 3000, 1000]);
    }

    fn form(parts: usize) -> Vec<u8> {
        let mut body = b"preamble\r\n".to_vec();
        for i in 0..parts {
            body.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{i}\"\r\n\r\ndata {i} --XyZ\r\n-- XyZ\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(b"--XyZ--\r\nepilogue of any length");
        body
    }

    fn guard_all(guard: &mut MultipartGuard, body: &[u8], size: usize) -> Result<(), BodyError> {
        body.chunks(size).try_for_each(|c| guard.check(c))
    }

    #[test]
    fn multipart_guard_passes_normal_forms_in_any_chunking() {
        let body = form(3);
        for size in [1, 2, 3, 7, 64, body.len()] {
            let mut g = MultipartGuard::with_limits("XyZ", 80, 3);
            guard_all(&mut g, &body, size).unwrap_or_else(|e| panic!("size {size}: {e}"));
            assert_eq!(g.state, Region::Epilogue, "size {size}");
            assert_eq!(g.parts, 3, "the closing delimiter is no part");
        }
        // Part data is not bounded.
        let mut g = MultipartGuard::with_limits("XyZ", 80, 3);
        let big = [&b"--XyZ\r\n\r\n"[..], &vec![b'\r'; 10_000], b"\r\n--XyZ--"].concat();
        guard_all(&mut g, &big, 333).unwrap();
    }

    #[test]
    fn multipart_guard_bounds_headers_preamble_and_parts() {
        for size in [1, 5, 4096] {
            let mut g = MultipartGuard::with_limits("XyZ", 80, 100);
            let huge_header = [&b"--XyZ\r\nX-Junk: "[..], &vec![b'a'; 1000]].concat();
            let e = guard_all(&mut g, &huge_header, size).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.message.contains("header block"), "{e}");

            let mut g = MultipartGuard::with_limits("XyZ", 80, 100);
            let e = guard_all(&mut g, &vec![b'-'; 1000], size).unwrap_err();
            assert!(e.message.contains("preamble"), "{e}");

            let mut g = MultipartGuard::with_limits("XyZ", 1000, 2);
            let e = guard_all(&mut g, &form(5), size).unwrap_err();
            assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
            assert!(e.message.contains("more than 2 parts"), "{e}");
        }
    }
}
