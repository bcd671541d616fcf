//! Process-wide HTTP clients. reqwest clients own connection pools, so one is kept per
//! distinct transport setting (HTTP version, proxy, connect timeout) and shared by every
//! config, sandbox and call that needs that setting — the same pooling upstream gets from its
//! process-wide transports.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::config::HttpVersion;
use crate::error::{Error, ErrorKind, Result};

/// The transport settings that need a client of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub http_version: HttpVersion,
    /// Proxy URL for every request; `None` = environment proxies (`HTTPS_PROXY` …).
    pub proxy: Option<String>,
    /// Ignore proxies entirely (the local runtime is on loopback).
    pub direct: bool,
    /// Bound on establishing a connection only (code-interpreter `request_timeout`).
    pub connect_timeout: Option<Duration>,
}

impl ClientKey {
    pub fn new(http_version: HttpVersion, proxy: Option<String>) -> Self {
        ClientKey {
            http_version,
            proxy,
            direct: false,
            connect_timeout: None,
        }
    }
}

fn cache() -> &'static Mutex<HashMap<ClientKey, reqwest::Client>> {
    static CACHE: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Idle pooled-connection lifetime (`E2B_KEEPALIVE_EXPIRY`, default 300 s).
fn pool_idle_timeout() -> Duration {
    std::env::var("E2B_KEEPALIVE_EXPIRY")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(300))
}

/// Idle connections kept per host (`E2B_MAX_KEEPALIVE_CONNECTIONS`, default 20).
fn pool_max_idle_per_host() -> usize {
    std::env::var("E2B_MAX_KEEPALIVE_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// Makes `ring` rustls' process default (reqwest is built without a provider of its own).
/// An error means a default is already installed — in this library only by an earlier call.
fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client for `key`: shared by the whole process, except on a current-thread runtime
/// (the sync API's per-thread fast path, see `e2b._native`'s `rt.rs`), which gets clients
/// of its own. A pooled connection is driven by the runtime that opened it, and a
/// current-thread runtime only runs while its thread waits in it, so its connections must
/// never be handed to another runtime.
pub fn client(key: &ClientKey) -> Result<reqwest::Client> {
    use tokio::runtime::{Handle, RuntimeFlavor};

    let on_current_thread_runtime = Handle::try_current()
        .map(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
        .unwrap_or(false);
    if on_current_thread_runtime {
        thread_local! {
            static CLIENTS: std::cell::RefCell<HashMap<ClientKey, reqwest::Client>> =
                std::cell::RefCell::new(HashMap::new());
        }
        return CLIENTS.with(|clients| {
            if let Some(client) = clients.borrow().get(key) {
                return Ok(client.clone());
            }
            let client = build(key)?;
            clients.borrow_mut().insert(key.clone(), client.clone());
            Ok(client)
        });
    }
    let mut clients = cache().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(client) = clients.get(key) {
        return Ok(client.clone());
    }
    let client = build(key)?;
    clients.insert(key.clone(), client.clone());
    Ok(client)
}

fn build(key: &ClientKey) -> Result<reqwest::Client> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(pool_idle_timeout())
        .pool_max_idle_per_host(pool_max_idle_per_host());
    if key.http_version == HttpVersion::Http1 {
        builder = builder.http1_only();
    }
    if let Some(timeout) = key.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if key.direct {
        builder = builder.no_proxy();
    } else if let Some(proxy) = &key.proxy {
        let proxy = reqwest::Proxy::all(proxy.as_str())
            .map_err(|e| Error::invalid_argument(format!("Invalid proxy {proxy:?}: {e}")))?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| {
        Error::new(
            ErrorKind::SandboxException,
            format!("Failed to set up the HTTP client: {e}"),
        )
    })
}

/// Full text of a reqwest error including its causes (reqwest's `Display` shows only the top).
pub fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A transport failure the SDK does not translate (raised as `ConnectionError`).
pub fn transport_error(err: &reqwest::Error) -> Error {
    Error::new(ErrorKind::Connection, describe(err))
}

/// Largest response body read whole: a JSON answer of the API, of the code interpreter or of
/// one envd call (a big `ListDir`, the `WriteInfo`s of a many-file upload). The servers send
/// far less; past it the server is broken or hostile and the call fails instead of the
/// process running out of memory.
pub const MAX_RESPONSE_BODY: usize = 64 << 20;
/// Most of an error body read (its message is shown; the rest is not read).
pub const MAX_ERROR_BODY: usize = 64 << 10;

/// Why [`read_limited`] gave up.
#[derive(Debug)]
pub enum ReadError {
    /// The body is longer than the limit (which it carries).
    TooLarge(usize),
    Transport(reqwest::Error),
}

impl ReadError {
    /// The text of a [`ReadError::TooLarge`].
    pub fn too_large(what: &str, limit: usize) -> String {
        format!(
            "{what} is larger than {} MiB; the server is not behaving",
            limit >> 20
        )
    }
}

/// Reads a whole response body of at most `limit` bytes (a longer one fails as soon as it
/// shows: by its `Content-Length`, or once the bytes read exceed the limit).
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> std::result::Result<bytes::Bytes, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge(limit));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The first [`MAX_ERROR_BODY`] bytes of an error response (what could be read of them).
pub async fn read_error_body(mut response: reqwest::Response) -> bytes::Bytes {
    let mut body = bytes::BytesMut::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body.freeze()
}

/// Python's `urllib.parse.quote(s, safe)`: percent-encodes every byte except ASCII letters,
/// digits, `_.-~` and the characters in `safe`.
pub fn py_quote(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'_' | b'.' | b'-' | b'~')
            || (b.is_ascii() && safe.as_bytes().contains(&b));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static [u8]) -> reqwest::Response {
        reqwest::Response::from(::http::Response::new(reqwest::Body::from(body)))
    }

    #[tokio::test]
    async fn bodies_are_read_with_a_bound() {
        assert_eq!(
            &read_limited(response(b"12345"), 5).await.unwrap()[..],
            b"12345"
        );
        assert!(matches!(
            read_limited(response(b"123456"), 5).await,
            Err(ReadError::TooLarge(5))
        ));
        let long: &'static [u8] = Box::leak(vec![b'e'; MAX_ERROR_BODY * 3].into_boxed_slice());
        assert_eq!(read_error_body(response(long)).await.len(), MAX_ERROR_BODY);
    }

    #[test]
    fn quote_like_python() {
        assert_eq!(py_quote("a b/c", "/"), "a%20b/c");
        assert_eq!(py_quote("a b/c", ""), "a%20b%2Fc");
        assert_eq!(py_quote("é~", ""), "%C3%A9~");
    }
}
