//! The data plane of one sandbox as far as this build goes: envd's `/health`
//! (`is_running`, docs/protocol.md#health-and-envs) and the code-interpreter API on port 49999
//! (docs/protocol.md#code-interpreter, docs/protocol.md#code-interpreter-errors): `/execute`
//! streaming and code contexts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2b_wire::execution::{CreateContextRequest, ExecutionRequest, OutputLine};
use e2b_wire::headers::JUPYTER_PORT;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::HttpVersion;
use crate::error::{Error, ErrorKind, Result, SANDBOX_TIMEOUT_SUFFIX};
use crate::http::{self, ClientKey};
use crate::ndjson::LineDecoder;

/// `TimeoutException` text when `run_code`'s `timeout` expires.
pub const EXECUTION_TIMEOUT_MESSAGE: &str =
    "Execution timed out — the 'timeout' option can be used to increase this timeout";
/// `TimeoutException` text when the connection dropped and the sandbox is gone.
pub const SANDBOX_KILLED_MESSAGE: &str = "The sandbox was killed while the request was in progress. This can happen when the sandbox times out or is killed manually. You can modify the sandbox timeout by passing 'timeout' when starting the sandbox or calling '.set_timeout' on the sandbox with the desired timeout";

/// Everything needed to talk to one sandbox; cheap to clone.
#[derive(Debug, Clone)]
pub struct SandboxClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    sandbox_id: String,
    pub(crate) envd_url: String,
    pub(crate) envd_headers: HeaderMap,
    access_token: Option<String>,
    traffic_token: Option<String>,
    pub(crate) http_version: HttpVersion,
    proxy: Option<String>,
    direct: bool,
}

/// Options of one `/execute` call.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// Whole-request deadline (`run_code(timeout=…)`); `None` = unlimited.
    pub timeout: Option<Duration>,
    /// Bound on establishing the connection (`request_timeout`).
    pub connect_timeout: Option<Duration>,
}

/// `true` for URLs on the loopback interface (the local runtime), which must bypass proxies.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::invalid_argument(format!("Invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid_argument(format!("Invalid value for header {name}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

impl SandboxClient {
    /// `envd_headers` are the sandbox headers of the SDK (`User-Agent`, `E2b-Sandbox-Id`,
    /// `E2b-Sandbox-Port: 49983`, `X-Access-Token` when secured), sent to envd.
    pub fn new(
        sandbox_id: String,
        envd_url: String,
        envd_headers: &[(String, String)],
        access_token: Option<String>,
        traffic_token: Option<String>,
        http_version: HttpVersion,
        proxy: Option<String>,
    ) -> Result<Self> {
        let direct = is_loopback_url(&envd_url);
        Ok(SandboxClient {
            inner: Arc::new(Inner {
                sandbox_id,
                envd_url: envd_url.trim_end_matches('/').to_owned(),
                envd_headers: header_map(envd_headers)?,
                access_token,
                traffic_token,
                http_version,
                proxy,
                direct,
            }),
        })
    }

    pub fn sandbox_id(&self) -> &str {
        &self.inner.sandbox_id
    }

    pub(crate) fn client(
        &self,
        http_version: HttpVersion,
        connect_timeout: Option<Duration>,
        url: &str,
    ) -> Result<reqwest::Client> {
        http::client(&ClientKey {
            http_version,
            proxy: self.inner.proxy.clone(),
            direct: self.inner.direct || is_loopback_url(url),
            connect_timeout,
        })
    }

    /// envd `GET /health`: 2xx → running, 502 → not running, other statuses → the mapped
    /// envd error; a client timeout → `TimeoutException`.
    pub async fn is_running(&self, request_timeout: Option<Duration>) -> Result<bool> {
        let url = format!("{}/health", self.inner.envd_url);
        let client = self.client(self.inner.http_version, None, &url)?;
        let mut request = client.get(&url).headers(self.inner.envd_headers.clone());
        if let Some(timeout) = request_timeout {
            request = request.timeout(timeout);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(Error::request_timeout()),
            Err(e) => return Err(http::transport_error(&e)),
        };
        let status = response.status().as_u16();
        if status == 502 {
            return Ok(false);
        }
        if (200..300).contains(&status) {
            return Ok(true);
        }
        let body = http::read_error_body(response).await;
        Err(envd_error(status, &body, ErrorKind::NotFoundException))
    }

    fn jupyter_headers(&self, with_access_token: bool) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&self.inner.sandbox_id) {
            headers.insert(HeaderName::from_static("e2b-sandbox-id"), v);
        }
        headers.insert(
            HeaderName::from_static("e2b-sandbox-port"),
            HeaderValue::from(JUPYTER_PORT),
        );
        if with_access_token {
            if let Some(v) = self
                .inner
                .access_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .and_then(|t| HeaderValue::from_str(t).ok())
            {
                headers.insert(HeaderName::from_static("x-access-token"), v);
            }
        }
        if let Some(v) = self
            .inner
            .traffic_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            headers.insert(HeaderName::from_static("e2b-traffic-access-token"), v);
        }
        headers
    }

    /// After a dropped connection: the "sandbox was killed" timeout if envd says the sandbox
    /// is gone, else the original transport error.
    async fn connection_lost(&self, err: &reqwest::Error) -> Error {
        match self.is_running(Some(Duration::from_secs(5))).await {
            Ok(false) => Error::timeout(SANDBOX_KILLED_MESSAGE),
            _ => http::transport_error(err),
        }
    }

    /// Maps a failure to send a code-interpreter request.
    async fn send_error(&self, err: reqwest::Error) -> Error {
        if err.is_timeout() {
            Error::request_timeout()
        } else if err.is_connect() {
            http::transport_error(&err)
        } else {
            self.connection_lost(&err).await
        }
    }

    /// Starts `POST {jupyter_url}/execute`; the returned stream yields the output lines.
    pub async fn execute(
        &self,
        jupyter_url: &str,
        request: &ExecutionRequest,
        options: ExecuteOptions,
    ) -> Result<ExecutionStream> {
        let url = format!("{}/execute", jupyter_url.trim_end_matches('/'));
        let client = self.client(HttpVersion::Http1, options.connect_timeout, &url)?;
        let body = serde_json::to_vec(request)
            .map_err(|e| Error::sandbox(format!("Failed to encode the request: {e}")))?;
        let deadline = options.timeout.map(|t| Instant::now() + t);
        let send = client
            .post(&url)
            .headers(self.jupyter_headers(true))
            .body(body)
            .send();
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), send)
                .await
                .map_err(|_| Error::timeout(EXECUTION_TIMEOUT_MESSAGE))?,
            None => send.await,
        };
        let response = match result {
            Ok(r) => r,
            Err(e) => return Err(self.send_error(e).await),
        };
        let response = check_jupyter_status(response).await?;
        Ok(ExecutionStream {
            sandbox: self.clone(),
            response,
            deadline,
            decoder: LineDecoder::new(),
            done: false,
        })
    }

    async fn jupyter_request(
        &self,
        method: Method,
        url: String,
        body: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<bytes::Bytes> {
        let client = self.client(HttpVersion::Http1, None, &url)?;
        let mut request = client
            .request(method, &url)
            .headers(self.jupyter_headers(false));
        if let Some(body) = body {
            request = request.body(body);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.send_error(e).await),
        };
        let response = check_jupyter_status(response).await?;
        match http::read_limited(response, http::MAX_RESPONSE_BODY).await {
            Ok(b) => Ok(b),
            Err(http::ReadError::TooLarge(limit)) => Err(Error::sandbox(
                http::ReadError::too_large("the code interpreter's answer", limit),
            )),
            Err(http::ReadError::Transport(e)) if e.is_timeout() => Err(Error::request_timeout()),
            Err(http::ReadError::Transport(e)) => Err(self.connection_lost(&e).await),
        }
    }

    /// `POST /contexts` with only the given keys; returns the context JSON.
    pub async fn create_context(
        &self,
        jupyter_url: &str,
        request: &CreateContextRequest,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let body = serde_json::to_vec(request)
            .map_err(|e| Error::sandbox(format!("Failed to encode the request: {e}")))?;
        let url = format!("{}/contexts", jupyter_url.trim_end_matches('/'));
        let bytes = self
            .jupyter_request(Method::POST, url, Some(body), timeout)
            .await?;
        parse_json(&bytes)
    }

    /// `GET /contexts`; returns the JSON array.
    pub async fn list_contexts(
        &self,
        jupyter_url: &str,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let url = format!("{}/contexts", jupyter_url.trim_end_matches('/'));
        let bytes = self
            .jupyter_request(Method::GET, url, None, timeout)
            .await?;
        parse_json(&bytes)
    }

    /// `DELETE /contexts/{id}`.
    pub async fn remove_context(
        &self,
        jupyter_url: &str,
        context_id: &str,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let url = format!(
            "{}/contexts/{context_id}",
            jupyter_url.trim_end_matches('/')
        );
        self.jupyter_request(Method::DELETE, url, None, timeout)
            .await
            .map(|_| ())
    }

    /// `POST /contexts/{id}/restart` (no body).
    pub async fn restart_context(
        &self,
        jupyter_url: &str,
        context_id: &str,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let url = format!(
            "{}/contexts/{context_id}/restart",
            jupyter_url.trim_end_matches('/')
        );
        self.jupyter_request(Method::POST, url, None, timeout)
            .await
            .map(|_| ())
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::sandbox(format!(
            "Invalid response from the code interpreter ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

/// The code interpreter's status mapping (docs/protocol.md#code-interpreter-errors, 2.11.5 texts).
async fn check_jupyter_status(response: reqwest::Response) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = http::read_error_body(response).await;
    Err(jupyter_error(status, &body))
}

/// Maps a non-2xx code-interpreter response: 404 → `NotFoundException(body)`, 502 →
/// `TimeoutException(body + suffix)`, else `SandboxException("{status} {reason}: {body}")`.
pub fn jupyter_error(status: StatusCode, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    match status.as_u16() {
        404 => Error::new(ErrorKind::NotFoundException, text.into_owned()),
        502 => Error::timeout(format!("{text}: {SANDBOX_TIMEOUT_SUFFIX}")),
        code => {
            let reason = status.canonical_reason().unwrap_or("");
            let body = text.trim();
            if body.is_empty() {
                Error::sandbox(format!("{code} {reason}"))
            } else {
                Error::sandbox(format!("{code} {reason}: {body}"))
            }
        }
    }
}

/// envd plain-HTTP error mapping (docs/protocol.md#envd-http-errors, with the 502 classification
/// of docs/protocol.md#sandbox-state-errors).
pub fn envd_error(status: u16, body: &[u8], not_found: ErrorKind) -> Error {
    let message = serde_json::from_slice::<serde_json::Map<String, Value>>(body)
        .ok()
        .and_then(|m| m.get("message").cloned())
        .map(|m| match m {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    match status {
        400 => Error::invalid_argument(message),
        401 => Error::new(ErrorKind::AuthenticationException, message),
        404 => Error::new(not_found, message),
        429 => Error::new(
            ErrorKind::RateLimitException,
            format!("{message}: The requests are being rate limited."),
        )
        .with_status(429),
        502 => sandbox_unavailable(&message),
        507 => Error::new(ErrorKind::NotEnoughSpaceException, message),
        _ => Error::sandbox(format!("{status}: {message}")),
    }
}

/// 2.63.0's classification of a 502 / `unavailable` from the proxy in front of envd.
pub fn sandbox_unavailable(message: &str) -> Error {
    if message.contains("was not found") {
        Error::new(
            ErrorKind::SandboxNotRunningException,
            format!("{message}: The sandbox was killed or reached its timeout. You can modify the sandbox timeout by passing 'timeout' when starting the sandbox or calling '.set_timeout' on the sandbox with the desired timeout."),
        )
    } else if message.contains("port is not open") {
        Error::new(
            ErrorKind::SandboxUnreachableException,
            format!("{message}: The sandbox is running but envd inside it could not be reached (e.g. its network is down). Check the sandbox state with 'Sandbox.get_info()'."),
        )
    } else {
        Error::new(
            ErrorKind::SandboxUnreachableException,
            format!("{message}: The sandbox could not be reached and its state is unknown — it may have been killed or reached its timeout, or the connection to it was lost. Check the sandbox state with 'Sandbox.get_info()'."),
        )
    }
}

/// The body of a running `/execute` call. Dropping it closes the connection, which makes
/// the server interrupt the kernel (docs/protocol.md#interrupts-and-keepalives).
#[derive(Debug)]
pub struct ExecutionStream {
    sandbox: SandboxClient,
    response: reqwest::Response,
    deadline: Option<Instant>,
    decoder: LineDecoder,
    done: bool,
}

impl ExecutionStream {
    /// The output lines completed by the next chunk of the body (possibly none, e.g. only
    /// keepalives), or `None` once the body ended.
    pub async fn next_lines(&mut self) -> Result<Option<Vec<OutputLine>>> {
        if self.done {
            return Ok(None);
        }
        let chunk = self.response.chunk();
        let result = match self.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), chunk).await {
                Ok(r) => r,
                Err(_) => {
                    self.done = true;
                    return Err(Error::timeout(EXECUTION_TIMEOUT_MESSAGE));
                }
            },
            None => chunk.await,
        };
        let mut lines = Vec::new();
        match result {
            Ok(Some(bytes)) => {
                self.decoder.push(&bytes, &mut lines)?;
                Ok(Some(lines))
            }
            Ok(None) => {
                self.done = true;
                self.decoder.finish(&mut lines)?;
                Ok(Some(lines))
            }
            Err(e) => {
                self.done = true;
                if e.is_timeout() {
                    return Err(Error::timeout(EXECUTION_TIMEOUT_MESSAGE));
                }
                Err(self.sandbox.connection_lost(&e).await)
            }
        }
    }
}

impl ExecutionStream {
    /// Drains the stream, keeping every output line in order.
    pub async fn collect(mut self) -> Result<Vec<OutputLine>> {
        let mut all = Vec::new();
        while let Some(mut lines) = self.next_lines().await? {
            all.append(&mut lines);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jupyter_error_texts() {
        let e = jupyter_error(StatusCode::NOT_FOUND, b"Context x not found");
        assert_eq!(e.kind, ErrorKind::NotFoundException);
        assert_eq!(e.message, "Context x not found");
        let e = jupyter_error(StatusCode::INTERNAL_SERVER_ERROR, b"kernel died\n");
        assert_eq!(e.kind, ErrorKind::SandboxException);
        assert_eq!(e.message, "500 Internal Server Error: kernel died");
        assert_eq!(e.status_code, None);
        let e = jupyter_error(StatusCode::BAD_REQUEST, b"");
        assert_eq!(e.message, "400 Bad Request");
        let e = jupyter_error(StatusCode::BAD_GATEWAY, b"{\"message\":\"x\"}");
        assert_eq!(e.kind, ErrorKind::TimeoutException);
        assert!(e
            .message
            .starts_with("{\"message\":\"x\"}: This error is likely"));
    }

    #[test]
    fn envd_error_texts() {
        let e = envd_error(
            400,
            br#"{"code":400,"message":"bad"}"#,
            ErrorKind::NotFoundException,
        );
        assert_eq!(e.kind, ErrorKind::InvalidArgumentException);
        assert_eq!(e.message, "bad");
        let e = envd_error(429, b"slow", ErrorKind::NotFoundException);
        assert_eq!(e.message, "slow: The requests are being rate limited.");
        let e = envd_error(
            502,
            br#"{"message":"The sandbox was not found"}"#,
            ErrorKind::NotFoundException,
        );
        assert_eq!(e.kind, ErrorKind::SandboxNotRunningException);
        let e = envd_error(
            502,
            br#"{"message":"The sandbox is running but port is not open"}"#,
            ErrorKind::NotFoundException,
        );
        assert_eq!(e.kind, ErrorKind::SandboxUnreachableException);
        let e = envd_error(500, b"x", ErrorKind::NotFoundException);
        assert_eq!(e.message, "500: x");
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:1234"));
        assert!(is_loopback_url("http://localhost:49999"));
        assert!(is_loopback_url("http://[::1]:80/x"));
        assert!(!is_loopback_url("https://sandbox.e2b.app"));
    }
}
