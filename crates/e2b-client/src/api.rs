//! The control-plane REST API as e2b 2.63.0 calls it (docs/protocol.md#control-plane): one
//! client per resolved config, 2.63.0's response-retry policy
//! (docs/protocol.md#control-plane-retries), and the exact error mapping
//! (docs/protocol.md#control-plane-exceptions).

use std::time::{Duration, Instant};

use bytes::Bytes;
use e2b_wire::api::{
    ConnectSandbox, ListedSandbox, NewSandbox, PauseSandbox, Sandbox, SandboxDetail, SandboxMetric,
    SetTimeout,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::Value;

use crate::config::{ConnectionConfig, Target};
use crate::error::{py_bytes_repr, Error, ErrorKind, Result};
use crate::http::{self, py_quote, ClientKey};
use crate::local::{self, LocalEndpoint};

/// Retry waits use this total limit when request timeouts are disabled.
const RETRY_WAIT_WITHOUT_TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_BASE: f64 = 0.1;
const BACKOFF_MAX: f64 = 10.0;
const MAX_RETRY_AFTER: u64 = 2_147_483_647;

/// The API's `error_code` that 2.63.0 turns into `GuestUnresponsiveException`.
pub const GUEST_UNRESPONSIVE_CODE: &str = "sandbox_snapshot_guest_agent_unresponsive";

/// A buffered API response.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Authenticated client for one resolved configuration.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    headers: HeaderMap,
    request_timeout: Option<Duration>,
    retries: u32,
    local: bool,
}

fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap> {
    let mut map = HeaderMap::with_capacity(pairs.len() + 1);
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::invalid_argument(format!("Invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid_argument(format!("Invalid value for header {name}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

impl ApiClient {
    /// Builds the client for `cfg`: in local mode for the daemon `cfg` is bound to, else the
    /// running one (found, or started).
    /// `headers` are sent on every request (the SDK's `lang`/`User-Agent`/… headers and the
    /// caller's `api_headers`); `X-API-KEY` is added here. Returns the local endpoint used,
    /// if any, so that callers can pin sandboxes to it.
    pub async fn new(
        cfg: &ConnectionConfig,
        headers: &[(String, String)],
    ) -> Result<(Self, Option<LocalEndpoint>)> {
        let (base, key, endpoint) = match &cfg.target {
            Target::Local(mode) => {
                let endpoint = match &mode.endpoint {
                    Some(bound) => bound.clone(),
                    None => local::ensure().await?,
                };
                (
                    endpoint.url.clone(),
                    endpoint.api_key.clone(),
                    Some(endpoint),
                )
            }
            Target::Cloud => (cfg.api_url.clone(), cfg.require_api_key()?.to_owned(), None),
        };
        let mut map = header_map(headers)?;
        map.insert(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_str(&key)
                .map_err(|_| Error::invalid_argument("Invalid characters in the API key"))?,
        );
        let key = ClientKey {
            direct: endpoint.is_some(),
            ..ClientKey::new(cfg.http_version, cfg.proxy.clone())
        };
        let client = ApiClient {
            http: http::client(&key)?,
            base: base.trim_end_matches('/').to_owned(),
            headers: map,
            request_timeout: cfg.request_timeout,
            retries: cfg.retries,
            local: endpoint.is_some(),
        };
        Ok((client, endpoint))
    }

    /// Sends one request with 2.63.0's retry policy (docs/protocol.md#control-plane-retries).
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        extra_headers: &[(&'static str, String)],
    ) -> Result<ApiResponse> {
        let start = Instant::now();
        let deadline = start + self.request_timeout.unwrap_or(RETRY_WAIT_WITHOUT_TIMEOUT);
        let mut attempt: u32 = 0;
        let mut reconnected = false;
        let mut connect_failures: u32 = 0;
        let mut base = self.base.clone();
        let mut headers = self.headers.clone();
        loop {
            let mut timeout = self.request_timeout;
            if attempt > 0 {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(Error::timeout(
                        "Request timed out while waiting to retry. Increase `request_timeout` or lower `retries`.",
                    ));
                }
                timeout = Some(timeout.map_or(remaining, |t| t.min(remaining)));
            }
            let mut request = self
                .http
                .request(method.clone(), format!("{base}{path_and_query}"))
                .headers(headers.clone());
            for (name, value) in extra_headers {
                request = request.header(*name, value);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(err) if err.is_timeout() => return Err(Error::request_timeout()),
                Err(err) if self.local && err.is_connect() && !reconnected => {
                    // The daemon went away (or restarted elsewhere): look for it again.
                    reconnected = true;
                    local::invalidate();
                    let endpoint = local::ensure().await?;
                    base = endpoint.url.trim_end_matches('/').to_owned();
                    if let Ok(value) = HeaderValue::from_str(&endpoint.api_key) {
                        headers.insert(HeaderName::from_static("x-api-key"), value);
                    }
                    continue;
                }
                Err(err) if err.is_connect() && connect_failures < connection_retries() => {
                    // Nothing was sent: retrying cannot replay a request the server received.
                    connect_failures += 1;
                    continue;
                }
                Err(err) => return Err(http::transport_error(&err)),
            };
            let status = response.status().as_u16();
            let response_headers = response.headers().clone();
            let body_bytes = match http::read_limited(response, http::MAX_RESPONSE_BODY).await {
                Ok(bytes) => bytes,
                Err(http::ReadError::TooLarge(limit)) => {
                    return Err(Error::sandbox(http::ReadError::too_large(
                        "the API's answer",
                        limit,
                    )))
                }
                Err(http::ReadError::Transport(err)) if err.is_timeout() => {
                    return Err(Error::request_timeout())
                }
                Err(http::ReadError::Transport(err)) => return Err(http::transport_error(&err)),
            };
            let result = ApiResponse {
                status,
                headers: response_headers,
                body: body_bytes,
            };
            if attempt >= self.retries {
                return Ok(result);
            }
            let Some(delay) = retry_delay(status, &result.headers, attempt, fastrand::f64) else {
                return Ok(result);
            };
            if Instant::now() + delay >= deadline {
                return Ok(result);
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_json<T: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &T,
        extra_headers: &[(&'static str, String)],
    ) -> Result<ApiResponse> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::sandbox(format!("Failed to encode the request: {e}")))?;
        self.send(method, path, Some(body), extra_headers).await
    }

    /// `POST /v2/sandboxes` (2.63.0; docs/protocol.md#sandbox-create).
    pub async fn create_sandbox(
        &self,
        body: &NewSandbox,
        idempotency_key: Option<&str>,
    ) -> Result<Sandbox> {
        let extra: Vec<(&'static str, String)> = idempotency_key
            .map(|k| vec![("idempotency-key", k.to_owned())])
            .unwrap_or_default();
        let response = self
            .send_json(Method::POST, "/v2/sandboxes", body, &extra)
            .await?;
        if response.status == 404 {
            // A missing template: upstream's text ("404: <message>", status_code 404) on
            // the class that says what happened (docs/declared-differences.md).
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::NotFoundException,
            ));
        }
        if response.status >= 300 {
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::SandboxException,
            ));
        }
        if response.status != 201 {
            return Err(body_is_none());
        }
        let sandbox: Sandbox = parse_body(&response.body)?;
        if version_lt(&sandbox.envd_version, (0, 1, 0)) {
            let _ = self.kill_sandbox(&sandbox.sandbox_id).await;
            return Err(Error::new(
                ErrorKind::TemplateException,
                "You need to update the template to use the new SDK.",
            ));
        }
        Ok(sandbox)
    }

    /// `POST /v2/sandboxes/{id}/connect`: resumes a paused sandbox, extends a running one.
    pub async fn connect_sandbox(
        &self,
        sandbox_id: &str,
        body: &ConnectSandbox,
    ) -> Result<Sandbox> {
        let path = format!("/v2/sandboxes/{}/connect", py_quote(sandbox_id, ""));
        let response = self.send_json(Method::POST, &path, body, &[]).await?;
        if response.status == 404 {
            return Err(Error::new(
                ErrorKind::SandboxNotFoundException,
                format!("Paused sandbox {sandbox_id} not found"),
            ));
        }
        if response.status >= 300 {
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::SandboxException,
            ));
        }
        if response.status != 200 && response.status != 201 {
            return Err(body_is_none());
        }
        parse_body(&response.body)
    }

    /// `DELETE /sandboxes/{id}`: `false` when the sandbox does not exist.
    pub async fn kill_sandbox(&self, sandbox_id: &str) -> Result<bool> {
        let path = format!("/sandboxes/{}", py_quote(sandbox_id, ""));
        let response = self.send(Method::DELETE, &path, None, &[]).await?;
        if response.status == 404 {
            return Ok(false);
        }
        if response.status >= 300 {
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::SandboxException,
            ));
        }
        Ok(true)
    }

    /// `POST /sandboxes/{id}/timeout`.
    pub async fn set_timeout(&self, sandbox_id: &str, timeout: i64) -> Result<()> {
        let path = format!("/sandboxes/{}/timeout", py_quote(sandbox_id, ""));
        let response = self
            .send_json(Method::POST, &path, &SetTimeout { timeout }, &[])
            .await?;
        check_sandbox_status(&response, sandbox_id)
    }

    /// `GET /sandboxes/{id}`: the `SandboxDetail` JSON (validated, unknown fields kept).
    pub async fn get_info(&self, sandbox_id: &str) -> Result<Value> {
        let path = format!("/sandboxes/{}", py_quote(sandbox_id, ""));
        let response = self.send(Method::GET, &path, None, &[]).await?;
        check_sandbox_status(&response, sandbox_id)?;
        if response.status != 200 {
            return Err(body_is_none());
        }
        let value: Value = parse_body(&response.body)?;
        validate::<SandboxDetail>(&value)?;
        Ok(value)
    }

    /// `GET /v2/sandboxes`: one page of `ListedSandbox` JSON objects and the next cursor.
    pub async fn list_sandboxes(&self, query: &ListQuery) -> Result<(Vec<Value>, Option<String>)> {
        let encoded = query.encode();
        let path = if encoded.is_empty() {
            "/v2/sandboxes".to_owned()
        } else {
            format!("/v2/sandboxes?{encoded}")
        };
        let response = self.send(Method::GET, &path, None, &[]).await?;
        if response.status >= 300 {
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::SandboxException,
            ));
        }
        let next = response
            .headers
            .get(e2b_wire::headers::NEXT_TOKEN)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if response.status != 200 {
            return Ok((Vec::new(), next));
        }
        let items: Vec<Value> = parse_body(&response.body)?;
        for item in &items {
            validate::<ListedSandbox>(item)?;
        }
        Ok((items, next))
    }

    /// `POST /sandboxes/{id}/pause`: `false` when it is already paused (409).
    pub async fn pause_sandbox(&self, sandbox_id: &str, body: &PauseSandbox) -> Result<bool> {
        let path = format!("/sandboxes/{}/pause", py_quote(sandbox_id, ""));
        let response = self.send_json(Method::POST, &path, body, &[]).await?;
        if response.status == 404 {
            return Err(sandbox_not_found(sandbox_id));
        }
        if response.status == 409 {
            return Ok(false);
        }
        if response.status >= 300 {
            return Err(api_error(
                response.status,
                &response.body,
                ErrorKind::SandboxException,
            ));
        }
        Ok(true)
    }

    /// `GET /sandboxes/{id}/metrics?start=&end=` (unix seconds).
    pub async fn get_metrics(
        &self,
        sandbox_id: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<Value>> {
        let mut params = Vec::new();
        if let Some(start) = start {
            params.push(format!("start={start}"));
        }
        if let Some(end) = end {
            params.push(format!("end={end}"));
        }
        let mut path = format!("/sandboxes/{}/metrics", py_quote(sandbox_id, ""));
        if !params.is_empty() {
            path.push('?');
            path.push_str(&params.join("&"));
        }
        let response = self.send(Method::GET, &path, None, &[]).await?;
        check_sandbox_status(&response, sandbox_id)?;
        if response.status != 200 {
            return Ok(Vec::new());
        }
        let items: Vec<Value> = parse_body(&response.body)?;
        for item in &items {
            validate::<SandboxMetric>(item)?;
        }
        Ok(items)
    }
}

/// Retries of connection establishment (`E2B_CONNECTION_RETRIES`, default 3).
fn connection_retries() -> u32 {
    std::env::var("E2B_CONNECTION_RETRIES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(3)
}

fn sandbox_not_found(sandbox_id: &str) -> Error {
    Error::new(
        ErrorKind::SandboxNotFoundException,
        format!("Sandbox {sandbox_id} not found"),
    )
}

fn check_sandbox_status(response: &ApiResponse, sandbox_id: &str) -> Result<()> {
    if response.status == 404 {
        return Err(sandbox_not_found(sandbox_id));
    }
    if response.status >= 300 {
        return Err(api_error(
            response.status,
            &response.body,
            ErrorKind::SandboxException,
        ));
    }
    Ok(())
}

fn body_is_none() -> Error {
    Error::new(ErrorKind::Generic, "Body of the request is None")
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| Error::sandbox(format!("Invalid response from the E2B API: {e}")))
}

fn validate<T: serde::de::DeserializeOwned>(value: &Value) -> Result<()> {
    T::deserialize(value)
        .map(|_| ())
        .map_err(|e| Error::sandbox(format!("Invalid response from the E2B API: {e}")))
}

/// Maps a control-plane error response to the exception 2.63.0 raises
/// (docs/protocol.md#control-plane-exceptions). `default` is the class for statuses without a
/// special case.
pub fn api_error(status: u16, body: &[u8], default: ErrorKind) -> Error {
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.get("message"))
        .filter(|m| !m.is_null())
        .map(|m| match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let error_code = parsed
        .as_ref()
        .and_then(|b| b.get("error_code"))
        .and_then(Value::as_str);
    if error_code == Some(GUEST_UNRESPONSIVE_CODE) {
        return Error::new(
            ErrorKind::GuestUnresponsiveException,
            format!(
                "{}. Resume the sandbox with on_resume=\"reboot\".",
                message.as_deref().unwrap_or("None")
            ),
        )
        .with_status(409);
    }
    let with_detail = |text: &str| match &message {
        Some(m) if !m.is_empty() => format!("{text} - {m}"),
        _ => text.to_owned(),
    };
    match status {
        401 => Error::new(
            ErrorKind::AuthenticationException,
            with_detail("401: Unauthorized, please check your credentials."),
        ),
        429 => Error::new(
            ErrorKind::RateLimitException,
            with_detail("429: Rate limit exceeded, please try again later."),
        )
        .with_status(429),
        503 => Error::new(
            ErrorKind::ServiceBusyException,
            with_detail("503: Service temporarily unavailable, please retry."),
        )
        .with_status(503),
        _ => match message {
            Some(message) => Error::new(default, format!("{status}: {message}")),
            None => Error::new(default, format!("{status}: {}", py_bytes_repr(body))),
        }
        .with_status(status),
    }
}

/// 2.63.0's retry decision: `Should-Retry` is authoritative when present; without it 429,
/// 502, 503 and 504 are retried. The wait is `Retry-After` (delta-seconds only) or
/// exponential backoff with jitter (`random` returns a value in [0, 1)).
pub fn retry_delay(
    status: u16,
    headers: &HeaderMap,
    attempt: u32,
    random: impl FnOnce() -> f64,
) -> Option<Duration> {
    match headers.get(e2b_wire::headers::SHOULD_RETRY) {
        None => {
            if !matches!(status, 429 | 502 | 503 | 504) {
                return None;
            }
        }
        Some(value) => {
            let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
            if value != "true" {
                return None;
            }
        }
    }
    if let Some(secs) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
    {
        return Some(Duration::from_secs(secs));
    }
    let backoff = (BACKOFF_BASE * 2f64.powi(attempt.min(64) as i32)).min(BACKOFF_MAX);
    Some(Duration::from_secs_f64(backoff * (0.5 + random() * 0.5)))
}

/// `Retry-After` as plain delta-seconds (digits only, at most 2147483647); dates are ignored.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u64>().ok().filter(|v| *v <= MAX_RETRY_AFTER)
}

/// `true` when the dotted version `version` sorts before `min` (missing parts count as 0;
/// anything after the numeric release is ignored).
pub fn version_lt(version: &str, min: (u64, u64, u64)) -> bool {
    let mut parts = version
        .trim()
        .trim_start_matches(['v', 'V'])
        .split('.')
        .map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().unwrap_or(0)
        });
    let got = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    got < min
}

/// Query of `GET /v2/sandboxes` (docs/protocol.md#sandbox-list). Values are already in wire form
/// (`state` names, ISO-8601 `started_after`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub metadata: Option<Vec<(String, String)>>,
    pub state: Option<Vec<String>>,
    pub started_after: Option<String>,
    pub template: Option<String>,
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

impl ListQuery {
    /// The query string exactly as 2.63.0 sends it, including the metadata filter's extra
    /// encoding layers: each key and value is `quote`d, the pairs are `urlencode`d, and the
    /// resulting parameter value is encoded once more by the HTTP layer.
    pub fn encode(&self) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(metadata) = self.metadata.as_ref().filter(|m| !m.is_empty()) {
            let inner = metadata
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        py_quote(&py_quote(k, "/"), ""),
                        py_quote(&py_quote(v, "/"), "")
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
            params.push(("metadata", inner));
        }
        if let Some(state) = self.state.as_ref().filter(|s| !s.is_empty()) {
            params.push(("state", state.join(",")));
        }
        if let Some(v) = self.started_after.as_ref().filter(|v| !v.is_empty()) {
            params.push(("startedAfter", v.clone()));
        }
        if let Some(v) = self.template.as_ref().filter(|v| !v.is_empty()) {
            params.push(("template", v.clone()));
        }
        if let Some(v) = &self.order {
            params.push(("order", v.clone()));
        }
        if let Some(limit) = self.limit.filter(|l| *l > 0) {
            params.push(("limit", limit.to_string()));
        }
        if let Some(v) = self.next_token.as_ref().filter(|v| !v.is_empty()) {
            params.push(("nextToken", v.clone()));
        }
        params
            .iter()
            .map(|(k, v)| format!("{k}={}", py_quote(v, "")))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_filter_is_triple_encoded() {
        let query = ListQuery {
            metadata: Some(vec![("a b".into(), "c&d".into()), ("x".into(), "y".into())]),
            ..Default::default()
        };
        assert_eq!(query.encode(), "metadata=a%252520b%3Dc%252526d%26x%3Dy");
    }

    #[test]
    fn list_query_fields() {
        let query = ListQuery {
            state: Some(vec!["running".into(), "paused".into()]),
            started_after: Some("2024-01-01T00:00:00+01:00".into()),
            order: Some("asc".into()),
            limit: Some(5),
            next_token: Some("abc=".into()),
            ..Default::default()
        };
        assert_eq!(
            query.encode(),
            "state=running%2Cpaused&startedAfter=2024-01-01T00%3A00%3A00%2B01%3A00&order=asc&limit=5&nextToken=abc%3D"
        );
        assert_eq!(ListQuery::default().encode(), "");
    }

    #[test]
    fn error_mapping() {
        let e = api_error(
            401,
            br#"{"code":401,"message":"bad key"}"#,
            ErrorKind::SandboxException,
        );
        assert_eq!(e.kind, ErrorKind::AuthenticationException);
        assert_eq!(
            e.message,
            "401: Unauthorized, please check your credentials. - bad key"
        );
        assert_eq!(e.status_code, None);

        let e = api_error(
            429,
            br#"{"code":429,"message":"slow"}"#,
            ErrorKind::SandboxException,
        );
        assert_eq!(e.kind, ErrorKind::RateLimitException);
        assert_eq!(
            e.message,
            "429: Rate limit exceeded, please try again later. - slow"
        );
        assert_eq!(e.status_code, Some(429));

        let e = api_error(503, b"{}", ErrorKind::SandboxException);
        assert_eq!(e.kind, ErrorKind::ServiceBusyException);
        assert_eq!(
            e.message,
            "503: Service temporarily unavailable, please retry."
        );

        let e = api_error(
            400,
            br#"{"code":400,"message":"bad"}"#,
            ErrorKind::SandboxException,
        );
        assert_eq!(e.kind, ErrorKind::SandboxException);
        assert_eq!(e.message, "400: bad");
        assert_eq!(e.status_code, Some(400));

        let e = api_error(500, b"oops", ErrorKind::SandboxException);
        assert_eq!(e.message, "500: b'oops'");
        assert_eq!(e.status_code, Some(500));

        let e = api_error(
            409,
            br#"{"code":409,"message":"snap bad","error_code":"sandbox_snapshot_guest_agent_unresponsive"}"#,
            ErrorKind::SandboxException,
        );
        assert_eq!(e.kind, ErrorKind::GuestUnresponsiveException);
        assert_eq!(
            e.message,
            "snap bad. Resume the sandbox with on_resume=\"reboot\"."
        );
    }

    #[test]
    fn retry_policy() {
        let mut h = HeaderMap::new();
        assert!(retry_delay(500, &h, 0, || 0.0).is_none());
        let d = retry_delay(503, &h, 0, || 0.0).unwrap();
        assert_eq!(d, Duration::from_millis(50));
        let d = retry_delay(429, &h, 3, || 0.999_999).unwrap();
        assert!(d <= Duration::from_millis(800) && d > Duration::from_millis(790));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(
            retry_delay(502, &h, 0, || 0.0),
            Some(Duration::from_secs(2))
        );
        h.insert("should-retry", HeaderValue::from_static("false"));
        assert!(retry_delay(503, &h, 0, || 0.0).is_none());
        h.insert("should-retry", HeaderValue::from_static("True"));
        assert_eq!(
            retry_delay(400, &h, 0, || 0.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_retry_after("12"), Some(12));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("99999999999"), None);
    }

    #[test]
    fn versions() {
        assert!(version_lt("0.0.9", (0, 1, 0)));
        assert!(!version_lt("0.1.0", (0, 1, 0)));
        assert!(!version_lt("0.6.13", (0, 1, 0)));
        assert!(version_lt("0.3.9", (0, 4, 0)));
    }
}
