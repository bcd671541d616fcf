//! The data plane: requests routed by `E2b-Sandbox-Id` / `E2b-Sandbox-Port` are checked
//! (sandbox known, port served, access token) and reverse-proxied over HTTP/1.1 to the
//! sandbox agent's unix socket, streaming both bodies. Errors mimic E2B's edge proxy
//! (docs/protocol.md#edge-proxy-errors) exactly, because 2.63.0 picks its exception class from
//! the 502 text.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use base64::Engine;
use bytes::Bytes;
use e2b_wire::api::ProxyError;
use e2b_wire::headers::{
    ACCESS_TOKEN, ENVD_PORT, JUPYTER_PORT, PORT_NOT_OPEN_MESSAGE, SANDBOX_ID,
    SANDBOX_NOT_FOUND_MESSAGE, SANDBOX_PORT, TRAFFIC_ACCESS_TOKEN,
};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::UnixStream;
use tokio::task::AbortHandle;

use super::http::{error_json, json_response, Body, BoxError};
use super::registry::SandboxEntry;
use super::Daemon;
use crate::route::{self, EnvdRoute, FilesQuery, InterpreterRoute, Route};

const UNAUTHORIZED_MESSAGE: &str =
    "unauthorized access, please provide a valid access token or method signing if supported";

fn not_found(id: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_GATEWAY,
        &ProxyError {
            sandbox_id: id.to_string(),
            message: SANDBOX_NOT_FOUND_MESSAGE.to_string(),
            code: 502,
            port: None,
        },
    )
}

fn port_not_open(id: &str, port: u16) -> Response<Body> {
    json_response(
        StatusCode::BAD_GATEWAY,
        &ProxyError {
            sandbox_id: id.to_string(),
            message: PORT_NOT_OPEN_MESSAGE.to_string(),
            code: 502,
            port: Some(port),
        },
    )
}

fn unauthorized(message: &str) -> Response<Body> {
    error_json(StatusCode::UNAUTHORIZED, message)
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Handles a request that carries `E2b-Sandbox-Id` or `E2b-Sandbox-Port`.
pub(crate) async fn handle(d: &Arc<Daemon>, req: Request<Incoming>) -> Response<Body> {
    // One value each: the agent reads these headers too, so they must not be ambiguous.
    let routing = |name: &str| -> Result<Option<String>, String> {
        let mut values = req.headers().get_all(name).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("Invalid header: {name} given more than once"));
        }
        Ok(first.map(|v| v.to_str().unwrap_or("").trim().to_string()))
    };
    let (id, port) = match (routing(SANDBOX_ID), routing(SANDBOX_PORT)) {
        (Ok(Some(id)), Ok(Some(port))) => (id, port),
        (Err(e), _) | (_, Err(e)) => return error_json(StatusCode::BAD_REQUEST, e),
        (Ok(id), Ok(_)) => {
            let missing = if id.is_some() {
                "E2b-Sandbox-Port"
            } else {
                "E2b-Sandbox-Id"
            };
            return error_json(
                StatusCode::BAD_REQUEST,
                format!("Missing header: {missing}"),
            );
        }
    };
    let Ok(port) = port.parse::<u16>() else {
        return error_json(
            StatusCode::BAD_REQUEST,
            format!("Invalid header: E2b-Sandbox-Port {port:?} is not a port number"),
        );
    };
    let Some(entry) = d.registry.get(&id) else {
        return not_found(&id);
    };
    if entry.is_paused() {
        // As E2B's edge: a paused sandbox is not reachable until it is resumed (connect).
        return not_found(&id);
    }
    if port != ENVD_PORT && port != JUPYTER_PORT {
        return port_not_open(&id, port);
    }
    if port != ENVD_PORT {
        if let Some(expected) = &entry.traffic_token {
            let given = req
                .headers()
                .get(TRAFFIC_ACCESS_TOKEN)
                .map(|v| v.as_bytes());
            if !given.is_some_and(|g| ct_eq(g, expected.as_bytes())) {
                return error_json(
                    StatusCode::FORBIDDEN,
                    "missing or invalid traffic access token (E2B-Traffic-Access-Token)",
                );
            }
        }
    }
    // Every decision below is made on the parsed route, and the agent is sent exactly it.
    let route = match route::parse(port, req.method(), req.uri()) {
        Ok(r) => r,
        Err(refusal) => return error_json(refusal.status, refusal.message),
    };
    if let Some(refusal) = denial(&entry, &route, req.headers()) {
        return refusal;
    }
    forward(&entry, port, &route, req).await
}

/// Access-token rules of envd (docs/protocol.md#access-token) and of the code interpreter (token
/// only on `POST /execute`, the only request where the SDK sends it). Returns the refusal, if any.
fn denial(entry: &SandboxEntry, route: &Route, headers: &HeaderMap) -> Option<Response<Body>> {
    if let Route::Envd(EnvdRoute::Internal(path)) = route {
        return Some(error_json(
            StatusCode::NOT_FOUND,
            format!("{path} is not available from outside the sandbox"),
        ));
    }
    let token = entry.access_token.as_ref()?;
    let given = headers.get(ACCESS_TOKEN).map(|v| v.as_bytes());
    let token_ok = given.is_some_and(|g| ct_eq(g, token.as_bytes()));
    let needs_token = match route {
        Route::Interpreter(r) => *r == InterpreterRoute::Execute,
        Route::Envd(EnvdRoute::Health) => false,
        Route::Envd(_) => true,
    };
    if token_ok || !needs_token {
        return None;
    }
    if let (None, Route::Envd(EnvdRoute::Download(q) | EnvdRoute::Upload(q))) = (given, route) {
        // Signed URLs (download_url / upload_url) carry no header.
        return check_files_signature(token, route, q)
            .err()
            .map(unauthorized);
    }
    Some(unauthorized(UNAUTHORIZED_MESSAGE))
}

/// Verifies a `/files` URL signature (docs/protocol.md#signed-urls):
/// `v1_` + base64(sha256("{path}:{read|write}:{username}:{token}[:{expiration}]")), over the
/// parsed query — the same values the agent will be sent.
fn check_files_signature(token: &str, route: &Route, q: &FilesQuery) -> Result<(), &'static str> {
    let signature = q
        .signature
        .as_deref()
        .ok_or("missing signature query parameter")?;
    let operation = match route {
        Route::Envd(EnvdRoute::Download(_)) => "read",
        Route::Envd(EnvdRoute::Upload(_)) => "write",
        _ => return Err("only /files takes a signature"),
    };
    let path = q.path.as_deref().unwrap_or("");
    let username = q.username.as_deref().unwrap_or("");
    let mut raw = format!("{path}:{operation}:{username}:{token}");
    if let Some(exp) = &q.signature_expiration {
        let exp_secs: i64 = exp.parse().map_err(|_| "invalid signature expiration")?;
        if exp_secs < chrono::Utc::now().timestamp() {
            return Err("signature is already expired");
        }
        raw.push(':');
        raw.push_str(exp);
    }
    let expected = format!(
        "v1_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(raw.as_bytes()))
    );
    if ct_eq(signature.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("invalid signature")
    }
}

/// A signed `/files` URL (from `download_url()` / `upload_url()`) reaching the shared
/// listener carries no routing headers (docs/protocol.md#header-routing); find the sandbox whose
/// token produced the signature and route it there. Returns the request untouched otherwise.
pub(crate) async fn route_signed_files(
    d: &Arc<Daemon>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Request<Incoming>> {
    let route = match route::parse(ENVD_PORT, req.method(), req.uri()) {
        Ok(r @ Route::Envd(EnvdRoute::Download(_) | EnvdRoute::Upload(_))) => r,
        _ => return Err(req),
    };
    let Route::Envd(EnvdRoute::Download(q) | EnvdRoute::Upload(q)) = &route else {
        unreachable!("matched above")
    };
    if q.signature.is_none() {
        return Err(req);
    }
    let owner = d.registry.with_tokens().into_iter().find(|e| {
        let token = e.access_token.as_deref().unwrap_or_default();
        check_files_signature(token, &route, q).is_ok()
    });
    let Some(entry) = owner else {
        return Ok(unauthorized(
            "invalid or expired signature (no running sandbox issued this URL)",
        ));
    };
    Ok(forward(&entry, ENVD_PORT, &route, req).await)
}

/// Headers that belong to one hop and are never forwarded (RFC 9110 §7.6.1), plus `Expect`
/// (the daemon already answered any `100-continue`).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// Aborts the upstream connection task when dropped, so that a client that goes away
/// (its response body is dropped) closes the agent connection at once — the agent then
/// interrupts the running cell.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The last line of a code-interpreter `/execute` stream (the agent sends nothing after it).
const END_OF_EXECUTION: &[u8] = b"{\"type\":\"end_of_execution\"}\n";

/// The agent's response body, keeping its connection alive exactly as long as it is read.
struct UpstreamBody {
    inner: Incoming,
    _conn: AbortOnDrop,
    /// An `/execute` NDJSON stream: it is complete once a chunk ends with
    /// [`END_OF_EXECUTION`].
    execution: bool,
    /// That chunk has been forwarded: the body ends here, so hyper sends the chunked
    /// terminator in the same write instead of one more (the agent's own terminator would
    /// only arrive through another round of the client connection's body channel).
    ended: bool,
}

/// Whether an NDJSON chunk ends with the `end_of_execution` line. Inside a JSON line quotes
/// and newlines are escaped, so the line can only be a whole line of its own.
fn ends_execution(chunk: &[u8]) -> bool {
    chunk.ends_with(END_OF_EXECUTION)
        && (chunk.len() == END_OF_EXECUTION.len()
            || chunk[chunk.len() - END_OF_EXECUTION.len() - 1] == b'\n')
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if self.execution {
            if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
                if data.is_some_and(|d| ends_execution(d)) {
                    self.ended = true;
                }
            }
        }
        Poll::Ready(frame.map(|f| f.map_err(|e| Box::new(e) as BoxError)))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Sends `req` to the sandbox's agent as `route` in its canonical form, with the routing
/// headers the daemon decided on and without the tokens.
async fn forward(
    entry: &SandboxEntry,
    port: u16,
    route: &Route,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let socket = entry.process.agent_socket();
    let stream = match UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                "sandbox {}: agent socket {} refused: {e}",
                entry.id,
                socket.display()
            );
            return port_not_open(&entry.id, port);
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!("sandbox {}: agent handshake failed: {e}", entry.id);
            return port_not_open(&entry.id, port);
        }
    };
    let conn_task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let guard = AbortOnDrop(conn_task.abort_handle());

    *req.uri_mut() = route.to_uri();
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    headers.remove(ACCESS_TOKEN);
    headers.remove(TRAFFIC_ACCESS_TOKEN);
    headers.remove(header::EXPECT);
    headers.insert(
        SANDBOX_ID,
        HeaderValue::from_str(&entry.id).expect("ids are ASCII"),
    );
    headers.insert(SANDBOX_PORT, HeaderValue::from(port));

    let execution = *route == Route::Interpreter(InterpreterRoute::Execute);
    let resp = match sender.send_request(req).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::warn!("sandbox {}: request to the agent failed: {e}", entry.id);
            return port_not_open(&entry.id, port);
        }
    };
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = UpstreamBody {
        inner: body,
        _conn: guard,
        execution: execution && parts.status == StatusCode::OK,
        ended: false,
    };
    Response::from_parts(parts, body.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn the_end_of_an_execution_is_a_whole_line() {
        assert!(ends_execution(b"{\"type\":\"end_of_execution\"}\n"));
        assert!(ends_execution(
            b"{\"type\":\"result\"}\n{\"type\":\"end_of_execution\"}\n"
        ));
        assert!(!ends_execution(b"x{\"type\":\"end_of_execution\"}\n"));
        assert!(!ends_execution(b"{\"type\":\"keepalive\"}\n"));
    }

    fn files(method: Method, query: &str) -> (Route, FilesQuery) {
        let uri: http::Uri = format!("/files?{query}").parse().unwrap();
        let route = route::parse(ENVD_PORT, &method, &uri).unwrap();
        let Route::Envd(EnvdRoute::Download(q) | EnvdRoute::Upload(q)) = &route else {
            panic!("{route:?}")
        };
        let q = q.clone();
        (route, q)
    }

    #[test]
    fn signature_matches_sdk_algorithm() {
        // Python: "v1_" + base64.b64encode(hashlib.sha256(b"/a:read::tok").digest()).rstrip(b"=")
        let raw = "/a:read::tok";
        let sig = format!(
            "v1_{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(raw.as_bytes()))
        );
        let query = format!(
            "path=%2Fa&signature={}",
            sig.replace('+', "%2B").replace('/', "%2F")
        );
        let (get, q) = files(Method::GET, &query);
        assert!(check_files_signature("tok", &get, &q).is_ok());
        assert!(check_files_signature("other", &get, &q).is_err());
        let (post, q) = files(Method::POST, &query);
        assert!(check_files_signature("tok", &post, &q).is_err());
        let (get, q) = files(Method::GET, "path=%2Fa");
        assert_eq!(
            check_files_signature("tok", &get, &q),
            Err("missing signature query parameter")
        );
    }
}
