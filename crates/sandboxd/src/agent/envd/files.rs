//! envd's plain-HTTP `/files` (docs/protocol.md#files-download, docs/protocol.md#files-upload):
//! streamed downloads (gzip when the client asks for it) and uploads (multipart with the path in
//! the part's filename, or a raw `application/octet-stream` body, gzip-compressed or not, with
//! `X-Metadata-*` stored as `user.e2b.*` extended attributes). Files are opened as the selected
//! user on a blocking thread; bodies flow through small bounded channels, so neither side ever
//! holds a whole file in memory. Signed URLs are checked by the daemon before a request gets here.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use e2b_wire::envd::{HttpError, WriteInfo};
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::filesystem::{ensure_dirs, read_metadata, write_metadata};
use super::rpc::os_error_text;
use super::users::{as_user, resolve_path, Creds, User, Users, DEFAULT_USER};
use crate::agent::bounded::{self, BodyError, Chunks, MultipartGuard};
use crate::agent::http::{full, Res};
use crate::route::FilesQuery;

/// Read size of downloads and depth of the channels between file and connection.
const CHUNK: usize = 256 << 10;
const CHANNEL_CHUNKS: usize = 4;

/// An envd plain-HTTP error: `{"code": N, "message": "..."}`.
pub fn http_error(status: StatusCode, message: impl Into<String>) -> Res {
    let body = serde_json::to_vec(&HttpError {
        code: status.as_u16(),
        message: message.into(),
    })
    .expect("errors serialise");
    let mut res = full(status, Some("application/json; charset=utf-8"), body);
    res.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn lookup_user<'u>(users: &'u Users, name: Option<&str>) -> Result<&'u User, Failure> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or(DEFAULT_USER);
    users.get(name).ok_or_else(|| {
        fail(
            StatusCode::UNAUTHORIZED,
            format!("error looking up user '{name}': user: unknown user {name}"),
        )
    })
}

/// Maps an OS error of a file operation to a status: missing → 404, permission (or a
/// read-only file system) → 403, full → 507, else 500.
fn io_status(e: &std::io::Error) -> StatusCode {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => StatusCode::NOT_FOUND,
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => StatusCode::FORBIDDEN,
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => StatusCode::INSUFFICIENT_STORAGE,
        Some(libc::EISDIR) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether to gzip a download: only when the client asks for gzip specifically (no other
/// coding besides identity listed with q > 0). httpx's default `gzip, deflate` gets the file
/// as is — compression costs CPU on both ends and gains nothing on a local link.
fn wants_gzip(headers: &HeaderMap) -> Result<bool, String> {
    let Some(raw) = headers.get("accept-encoding").and_then(|v| v.to_str().ok()) else {
        return Ok(false);
    };
    let mut gzip = false;
    let mut other = false;
    let mut identity_rejected = false;
    for part in raw.split(',') {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        match coding.as_str() {
            "" => {}
            "gzip" if q > 0.0 => gzip = true,
            "identity" if q == 0.0 => identity_rejected = true,
            "*" if q == 0.0 => identity_rejected = true,
            "identity" => {}
            _ if q > 0.0 => other = true,
            _ => {}
        }
    }
    if identity_rejected && !gzip {
        return Err("no acceptable encoding found, supported: [gzip]".into());
    }
    Ok(gzip && (!other || identity_rejected))
}

/// `Content-Disposition: inline; filename=…` as Go's `mime.FormatMediaType` writes it.
fn content_disposition(name: &str) -> String {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        format!("inline; filename={name}")
    } else if name.is_ascii() {
        format!(
            "inline; filename=\"{}\"",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        let enc: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("inline; filename*=utf-8''{enc}")
    }
}

/// `GET /files`, with its query as [`crate::route`] parsed it.
pub async fn download(users: Arc<Users>, q: FilesQuery, req: Request<Incoming>) -> Res {
    let user = match lookup_user(&users, q.username.as_deref()) {
        Ok(u) => u.clone(),
        Err((status, msg)) => return http_error(status, msg),
    };
    let raw_path = q.path.unwrap_or_default();
    let path = match resolve_path(&raw_path, &user) {
        Ok(p) => p,
        Err(e) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                format!("error expanding and resolving path '{raw_path}': {e}"),
            )
        }
    };
    let gzip = match wants_gzip(req.headers()) {
        Ok(g) => g,
        Err(e) => {
            return http_error(
                StatusCode::NOT_ACCEPTABLE,
                format!("error parsing Accept-Encoding: {e}"),
            )
        }
    };
    let creds = users.creds(&user);
    let p = path.clone();
    let opened =
        tokio::task::spawn_blocking(move || as_user(creds.as_ref(), || open_for_download(&p)))
            .await;
    let (mut file, size, head) = match opened {
        Ok(Ok(f)) => f,
        Ok(Err((status, msg))) => return http_error(status, msg),
        Err(e) => {
            return http_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("worker failed: {e}"),
            )
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content_type = if std::str::from_utf8(&head).is_ok() && !head.contains(&0) {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut remaining = size;
        let mut encoder = gzip.then(|| {
            flate2::write::GzEncoder::new(Vec::with_capacity(CHUNK), flate2::Compression::fast())
        });
        let mut buf = vec![0u8; CHUNK];
        loop {
            // A file that grows while being read is sent as it was when opened.
            let want = if gzip {
                CHUNK
            } else {
                (remaining.min(CHUNK as u64)) as usize
            };
            if want == 0 {
                break;
            }
            let n = match file.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            remaining = remaining.saturating_sub(n as u64);
            let out = match encoder.as_mut() {
                Some(enc) => {
                    if enc.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    let produced = std::mem::take(enc.get_mut());
                    if produced.is_empty() {
                        continue;
                    }
                    Bytes::from(produced)
                }
                None => Bytes::copy_from_slice(&buf[..n]),
            };
            if tx.blocking_send(Ok(out)).is_err() {
                return; // the client went away
            }
        }
        if let Some(enc) = encoder {
            if let Ok(rest) = enc.finish() {
                if !rest.is_empty() {
                    let _ = tx.blocking_send(Ok(Bytes::from(rest)));
                }
            }
        }
    });
    let mut res = Response::new(ChannelBody { rx }.boxed());
    let h = res.headers_mut();
    h.insert("vary", HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
        h.insert("content-disposition", v);
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if gzip {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    } else {
        h.insert(CONTENT_LENGTH, HeaderValue::from(size));
    }
    res
}

/// A response body fed by a channel. A read error ends the body early: the status is gone
/// already, and a short body (against `Content-Length`, or a cut gzip stream) is how the
/// client learns the download is incomplete.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.rx.poll_recv(cx) {
            std::task::Poll::Ready(Some(Ok(b))) => std::task::Poll::Ready(Some(Ok(Frame::data(b)))),
            std::task::Poll::Ready(Some(Err(e))) => {
                tracing::warn!("download failed mid-body: {e}");
                self.rx.close();
                std::task::Poll::Ready(None)
            }
            std::task::Poll::Ready(None) => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

fn open_for_download(path: &Path) -> Result<(std::fs::File, u64, Vec<u8>), Failure> {
    let shown = path.to_string_lossy();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(
                StatusCode::NOT_FOUND,
                format!("path '{shown}' does not exist"),
            ))
        }
        Err(e) => {
            return Err(fail(
                io_status(&e),
                format!(
                    "error checking if path exists '{shown}': {}",
                    os_error_text(&e)
                ),
            ))
        }
    };
    if meta.is_dir() {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("path '{shown}' is a directory"),
        ));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            fail(
                io_status(&e),
                format!(
                    "error opening file '{shown}': open {shown}: {}",
                    os_error_text(&e)
                ),
            )
        })?;
    let mut head = vec![0u8; 512];
    // SAFETY: pread into a live buffer of the given length.
    let n = unsafe { libc::pread(file.as_raw_fd(), head.as_mut_ptr().cast(), head.len(), 0) };
    head.truncate(n.max(0) as usize);
    Ok((file, meta.len(), head))
}

const METADATA_HEADER_PREFIX: &str = "x-metadata-";
const MAX_METADATA_KEY: usize = 255 - super::filesystem::METADATA_XATTR_PREFIX.len();
const MAX_METADATA_TOTAL: usize = 4096;

/// `X-Metadata-<key>: <value>` headers, keys lowercased.
fn metadata_headers(headers: &HeaderMap) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(METADATA_HEADER_PREFIX) else {
            continue;
        };
        if key.is_empty() || out.contains_key(key) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.insert(key.to_ascii_lowercase(), value);
    }
    let mut total = 0;
    for (k, v) in &out {
        if k.len() > MAX_METADATA_KEY {
            return Err(format!(
                "metadata key {k:?} exceeds {MAX_METADATA_KEY} bytes"
            ));
        }
        for (label, s) in [("key".to_string(), k), (format!("value for key {k:?}"), v)] {
            if let Some((i, c)) = s
                .bytes()
                .enumerate()
                .find(|(_, c)| !(0x20..=0x7e).contains(c))
            {
                return Err(format!(
                    "metadata {label} contains non-printable-ASCII byte 0x{c:02x} at offset {i}"
                ));
            }
        }
        total += super::filesystem::METADATA_XATTR_PREFIX.len() + k.len() + v.len();
    }
    if total > MAX_METADATA_TOTAL {
        return Err(format!(
            "total metadata size {total} exceeds {MAX_METADATA_TOTAL} bytes"
        ));
    }
    Ok(out)
}

/// The request body as a stream of chunks, gunzipped (with its bounds) when `gzip`. A task
/// of its own reads the body to its end, even when decoding stops early (a bound, a closing
/// boundary, an error): an unread tail would close the connection under a client that is
/// still sending, instead of letting it read the answer. Await it before answering.
fn body_chunks(body: Incoming, gzip: bool) -> (Chunks, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, BodyError>>(CHANNEL_CHUNKS);
    let pump = tokio::spawn(async move {
        let mut body = body.into_data_stream();
        let mut forwarding = true;
        while let Some(item) = body.next().await {
            let item = item.map_err(|e| {
                BodyError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("error reading request body: {e}"),
                )
            });
            let failed = item.is_err();
            if forwarding && tx.send(item).await.is_err() {
                forwarding = false;
            }
            if failed {
                return;
            }
        }
    });
    let raw: Chunks = Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    (if gzip { bounded::gunzip(raw) } else { raw }, pump)
}

/// Why an upload failed: the status and message to answer with.
type Failure = (StatusCode, String);

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    (status, message.into())
}

/// Writes one uploaded file from `chunks` (as the user, on a blocking thread fed through a
/// bounded channel) and returns its `WriteInfo`.
async fn write_file(
    path: PathBuf,
    creds: Option<Creds>,
    metadata: BTreeMap<String, String>,
    chunks: &mut (dyn Stream<Item = Result<Bytes, BodyError>> + Send + Unpin),
    content_length: Option<u64>,
) -> Result<WriteInfo, Failure> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let p = path.clone();
    let creds_for_cleanup = creds.clone();
    let writer = tokio::task::spawn_blocking(move || {
        as_user(
            creds.as_ref(),
            || -> Result<BTreeMap<String, String>, Failure> {
                let shown = p.to_string_lossy().into_owned();
                if let Some(parent) = p.parent() {
                    ensure_dirs(parent).map_err(|e| {
                        let status = match e.code {
                            e2b_wire::connect::Code::PermissionDenied => StatusCode::FORBIDDEN,
                            _ => StatusCode::INTERNAL_SERVER_ERROR,
                        };
                        fail(status, format!("error ensuring directories: {}", e.message))
                    })?;
                }
                if std::fs::metadata(&p).map(|m| m.is_dir()).unwrap_or(false) {
                    return Err(fail(
                        StatusCode::BAD_REQUEST,
                        format!("path is a directory: {shown}"),
                    ));
                }
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o666)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&p)
                    .map_err(|e| {
                        let status = io_status(&e);
                        let msg = if status == StatusCode::INSUFFICIENT_STORAGE {
                            format!(
                                "not enough inodes available: open {shown}: {}",
                                os_error_text(&e)
                            )
                        } else {
                            format!("error opening file: open {shown}: {}", os_error_text(&e))
                        };
                        fail(status, msg)
                    })?;
                if let Some(c) = &creds {
                    // Overwriting someone else's file hands it to the writer (as envd does);
                    // refused (and harmless) when the writer may not.
                    // SAFETY: fchown on an open descriptor.
                    unsafe { libc::fchown(file.as_raw_fd(), c.uid, c.gid) };
                }
                while let Some(chunk) = rx.blocking_recv() {
                    if let Err(e) = file.write_all(&chunk) {
                        return Err(match e.raw_os_error() {
                            Some(libc::ENOSPC) | Some(libc::EDQUOT) => fail(
                                StatusCode::INSUFFICIENT_STORAGE,
                                match content_length {
                                    Some(n) if n > 0 => format!(
                                    "attempted to write {n} bytes: not enough disk space available"
                                ),
                                    _ => "not enough disk space available".to_string(),
                                },
                            ),
                            _ => fail(
                                io_status(&e),
                                format!("error writing file: write {shown}: {}", os_error_text(&e)),
                            ),
                        });
                    }
                }
                if let Err(e) = write_metadata(file.as_raw_fd(), &metadata) {
                    match e.raw_os_error() {
                        Some(libc::ENOTSUP) => {
                            tracing::warn!("{shown}: file system has no xattrs; metadata not kept")
                        }
                        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                            return Err(fail(
                                StatusCode::INSUFFICIENT_STORAGE,
                                format!(
                                    "not enough space for file metadata: {}",
                                    os_error_text(&e)
                                ),
                            ))
                        }
                        _ => {
                            return Err(fail(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                format!("error writing file metadata: {}", os_error_text(&e)),
                            ))
                        }
                    }
                }
                drop(file);
                Ok(read_metadata(&p))
            },
        )
    });
    let mut body_error = None;
    let mut writer_gone = false;
    while let Some(item) = chunks.next().await {
        match item {
            Ok(chunk) if chunk.is_empty() || writer_gone => {}
            Ok(chunk) => {
                // When the writer stopped (its error says why), the rest of the body is
                // still read and dropped: a client that is mid-upload gets the answer
                // (507, 403 …) instead of a broken pipe.
                writer_gone = tx.send(chunk).await.is_err();
            }
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let persisted = match writer.await {
        Ok(Ok(m)) => m,
        Ok(Err(f)) => return Err(f),
        Err(e) => {
            return Err(fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("worker failed: {e}"),
            ))
        }
    };
    if let Some(e) = body_error {
        if e.status.is_client_error() {
            // The body was refused (corrupt, or stopped at a bound, e.g. a gzip bomb): what
            // was written is not the file that was sent; do not leave it behind.
            let _ = tokio::task::spawn_blocking(move || {
                as_user(creds_for_cleanup.as_ref(), || std::fs::remove_file(&path))
            })
            .await;
        }
        return Err(fail(e.status, format!("error writing file: {}", e.message)));
    }
    Ok(WriteInfo {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_string_lossy().into_owned(),
        entry_type: "file".into(),
        metadata: (!persisted.is_empty()).then_some(persisted),
    })
}

/// A multipart parser error: the body's own error (a bound, a broken connection) as it was,
/// anything else as envd reports a form it cannot read.
fn form_error(e: multer::Error) -> BodyError {
    if let multer::Error::StreamReadFailed(inner) = &e {
        if let Some(body) = inner.downcast_ref::<BodyError>() {
            return body.clone();
        }
    }
    BodyError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("error reading form: {e}"),
    )
}

/// Writes the `file` parts of a multipart upload.
async fn multipart(
    mut form: multer::Multipart<'static>,
    user: &User,
    creds: Option<Creds>,
    metadata: BTreeMap<String, String>,
    path_param: Option<String>,
    written: &mut Vec<WriteInfo>,
) -> Result<(), Failure> {
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => {
                let e = form_error(e);
                return Err(fail(e.status, e.message));
            }
        };
        if field.name() != Some("file") {
            continue; // other fields are ignored (and skipped by the parser)
        }
        let Some(raw) = path_param
            .clone()
            .or_else(|| field.file_name().map(str::to_string))
        else {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "error getting multipart custom part file name: no filename in the part",
            ));
        };
        let path = resolve_path(&raw, user).map_err(|e| {
            fail(
                StatusCode::BAD_REQUEST,
                format!("error resolving path: {e}"),
            )
        })?;
        let shown = path.to_string_lossy().into_owned();
        if written.iter().any(|w| w.path == shown) {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                format!(
                    "you cannot upload multiple files to the same path '{shown}' in one upload request, only the first specified file was uploaded"
                ),
            ));
        }
        let mut data = field.map(|r| r.map_err(form_error));
        match write_file(path, creds.clone(), metadata.clone(), &mut data, None).await {
            Ok(info) => written.push(info),
            Err(f) => return Err(f),
        }
    }
}

/// `POST /files`. An answer given before the body was read still reads (and drops) the
/// body, so that a client in the middle of sending gets it instead of a broken pipe.
pub async fn upload(users: Arc<Users>, q: FilesQuery, req: Request<Incoming>) -> Res {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let res = upload_inner(users, q, Request::from_parts(parts, ()), &mut body).await;
    if let Some(rest) = body {
        let mut rest = rest.into_data_stream();
        while let Some(Ok(_)) = rest.next().await {}
    }
    res
}

async fn upload_inner(
    users: Arc<Users>,
    q: FilesQuery,
    req: Request<()>,
    body: &mut Option<Incoming>,
) -> Res {
    let user = match lookup_user(&users, q.username.as_deref()) {
        Ok(u) => u.clone(),
        Err((status, msg)) => return http_error(status, msg),
    };
    let creds = users.creds(&user);
    let metadata = match metadata_headers(req.headers()) {
        Ok(m) => m,
        Err(e) => return http_error(StatusCode::BAD_REQUEST, format!("invalid metadata: {e}")),
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let encoding = header("content-encoding");
    let encoding = encoding
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let gzip = match encoding.as_str() {
        "" | "identity" => false,
        "gzip" => true,
        _ => {
            return http_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "error decompressing request body: unsupported Content-Encoding: {}, supported: [gzip]",
                    header("content-encoding")
                ),
            )
        }
    };
    let content_type = header("content-type");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let content_length = header("content-length").parse::<u64>().ok();
    let path_param = q.path;
    let boundary = multer::parse_boundary(&content_type).ok();
    let Some(incoming) = body.take() else {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "request body already taken",
        );
    };
    let (mut chunks, pump) = body_chunks(incoming, gzip);
    let res = 'body: {
        let mut written: Vec<WriteInfo> = Vec::new();
        if media_type == "application/octet-stream" {
            let Some(raw) = path_param else {
                break 'body http_error(
                    StatusCode::BAD_REQUEST,
                    "path query parameter is required for raw body upload",
                );
            };
            let path = match resolve_path(&raw, &user) {
                Ok(p) => p,
                Err(e) => {
                    break 'body http_error(
                        StatusCode::BAD_REQUEST,
                        format!("error resolving path: {e}"),
                    )
                }
            };
            match write_file(path, creds, metadata, &mut chunks, content_length).await {
                Ok(info) => written.push(info),
                Err((status, msg)) => break 'body http_error(status, msg),
            }
        } else if media_type.starts_with("multipart/") {
            let Some(boundary) = boundary else {
                break 'body http_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error parsing multipart form: no multipart boundary param in Content-Type",
                );
            };
            // The guard bounds what the parser buffers (preamble, part headers, part count);
            // the parser takes all the data that is ready at once, so it is handed in slices.
            let mut guard = MultipartGuard::new(&boundary);
            let guarded = bounded::pause_every(
                Box::pin(
                    std::mem::replace(&mut chunks, Box::pin(futures_util::stream::empty()))
                        .map(move |item| item.and_then(|c| guard.check(&c).map(|()| c))),
                ),
                bounded::MULTIPART_MAX_HEADER,
            );
            let form = multer::Multipart::new(guarded, boundary);
            if let Err((status, msg)) =
                multipart(form, &user, creds, metadata, path_param, &mut written).await
            {
                break 'body http_error(status, msg);
            }
        } else {
            break 'body http_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "unsupported content type: {content_type}, expected multipart/form-data or application/octet-stream"
                ),
            );
        }
        full(
            StatusCode::OK,
            Some("application/json"),
            serde_json::to_vec(&written).expect("write infos serialise"),
        )
    };
    // The rest of the body (unread when the answer is an error) is drained by the pump.
    drop(chunks);
    let _ = pump.await;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_only_when_asked_for() {
        assert_eq!(wants_gzip(&headers(&[])), Ok(false));
        assert_eq!(
            wants_gzip(&headers(&[("accept-encoding", "gzip")])),
            Ok(true)
        );
        assert_eq!(
            wants_gzip(&headers(&[("accept-encoding", "gzip, deflate")])),
            Ok(false)
        );
        assert_eq!(
            wants_gzip(&headers(&[("accept-encoding", "identity")])),
            Ok(false)
        );
        assert_eq!(
            wants_gzip(&headers(&[("accept-encoding", "br, identity;q=0, gzip")])),
            Ok(true)
        );
        assert!(wants_gzip(&headers(&[("accept-encoding", "br, identity;q=0")])).is_err());
    }

    #[test]
    fn disposition_like_go() {
        assert_eq!(content_disposition("a.txt"), "inline; filename=a.txt");
        assert_eq!(
            content_disposition("a b.txt"),
            "inline; filename=\"a b.txt\""
        );
        assert_eq!(content_disposition("é"), "inline; filename*=utf-8''%C3%A9");
    }

    #[test]
    fn metadata_headers_are_validated() {
        let m =
            metadata_headers(&headers(&[("x-metadata-Owner", "alice"), ("x-other", "1")])).unwrap();
        assert_eq!(m.get("owner").map(String::as_str), Some("alice"));
        let mut h = HeaderMap::new();
        h.insert(
            "x-metadata-k",
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert!(metadata_headers(&h)
            .unwrap_err()
            .contains("non-printable-ASCII"));
    }
}
