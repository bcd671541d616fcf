//! The control-plane REST API (docs/protocol.md#control-plane,
//! docs/protocol.md#serving-both-versions) and the daemon's admin endpoints (`/local/...`). Every
//! error status carries a JSON `{"code","message"}` body and `Should-Retry: false` (a local retry
//! never helps, and a replayed create could double up).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use e2b_wire::api::{
    ConnectSandbox, ListedSandbox, NewSandbox, PauseSandbox, Sandbox, SandboxDetail, SandboxState,
    SetTimeout,
};
use e2b_wire::headers::{API_KEY, CLIENT_ID, ENVD_VERSION, NEXT_TOKEN, SHOULD_RETRY};
use http::header::HeaderValue;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::http::{
    decode_metadata_filter, error_json, json_response, query_params, status_only, Body,
};
use super::registry::SandboxEntry;
use super::Daemon;

/// Largest control-plane request body accepted.
const MAX_BODY: usize = 1 << 20;
/// `limit` of `GET /v2/sandboxes`: default and maximum.
const MAX_PAGE: usize = 100;

/// An API error: status + message, rendered as `{"code","message"}`.
#[derive(Debug, Clone)]
pub struct ApiErr {
    pub status: StatusCode,
    pub message: String,
}

impl ApiErr {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiErr {
        ApiErr {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiErr {
        ApiErr::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(id: &str) -> ApiErr {
        ApiErr::new(
            StatusCode::NOT_FOUND,
            format!("sandbox \"{id}\" doesn't exist or you don't have access to it"),
        )
    }
    pub fn into_response(self) -> Response<Body> {
        let mut resp = error_json(self.status, self.message);
        resp.headers_mut()
            .insert(SHOULD_RETRY, HeaderValue::from_static("false"));
        resp
    }
}

type ApiResult = Result<Response<Body>, ApiErr>;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn api_key_ok(d: &Daemon, headers: &HeaderMap) -> bool {
    match headers.get(API_KEY) {
        Some(v) => bool::from(v.as_bytes().ct_eq(d.api_key.as_bytes())),
        None => false,
    }
}

pub(crate) async fn handle(d: &Arc<Daemon>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Only canonical spellings are routed (`crate::route`), so that what is checked below is
    // what is served.
    if let Err(refusal) = crate::route::api_segments(&path) {
        return ApiErr::new(refusal.status, refusal.message).into_response();
    }
    if method == Method::GET && path == "/health" {
        return status_only(StatusCode::NO_CONTENT);
    }
    if !api_key_ok(d, req.headers()) {
        let message = if req.headers().contains_key(API_KEY) {
            "Invalid API key (this is the local E2B runtime; `e2b-local env` prints its key)"
        } else {
            "Missing API key: send the X-API-Key header (`e2b-local env` prints the local key)"
        };
        return ApiErr::new(StatusCode::UNAUTHORIZED, message).into_response();
    }
    let result = route(d, &method, &path, req).await;
    let resp = result.unwrap_or_else(ApiErr::into_response);
    tracing::debug!("{method} {path} -> {}", resp.status().as_u16());
    resp
}

async fn route(d: &Arc<Daemon>, method: &Method, path: &str, req: Request<Incoming>) -> ApiResult {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = req.uri().query().map(str::to_string);
    let m = method.clone();
    match (&m, segs.as_slice()) {
        (&Method::POST, ["sandboxes"]) => create(d, req, false).await,
        (&Method::POST, ["v2", "sandboxes"]) => create(d, req, true).await,
        (&Method::GET, ["sandboxes"]) => list_v1(d, query.as_deref()),
        (&Method::GET, ["v2", "sandboxes"]) => list_v2(d, query.as_deref()),
        (&Method::GET, ["sandboxes", "metrics"]) => Err(unsupported("sandbox metrics are")),
        (&Method::GET, ["sandboxes", id]) => detail(d, id),
        (&Method::DELETE, ["sandboxes", id]) => kill(d, id).await,
        (&Method::POST, ["sandboxes", id, "connect"])
        | (&Method::POST, ["v2", "sandboxes", id, "connect"]) => connect(d, id, req).await,
        (&Method::POST, ["sandboxes", id, "timeout"]) => set_timeout(d, id, req).await,
        (&Method::POST, ["sandboxes", id, "refreshes"]) => refresh(d, id, req).await,
        (&Method::POST, ["sandboxes", id, "pause"]) => pause(d, id, req).await,
        (&Method::POST, ["sandboxes", id, "resume"]) => resume(d, id, req).await,
        (&Method::POST, ["sandboxes", id, "fork"]) => existing_then(d, id, "forking sandboxes is"),
        (&Method::POST, ["sandboxes", id, "snapshots"]) => existing_then(d, id, "snapshots are"),
        (&Method::GET, ["sandboxes", id, "metrics"]) => existing_then(d, id, "sandbox metrics are"),
        (&Method::GET, ["sandboxes", id, "logs"])
        | (&Method::GET, ["v2", "sandboxes", id, "logs"]) => existing_then(
            d,
            id,
            "sandbox logs are (see `e2b-local logs` for the daemon's log)",
        ),
        (&Method::PUT, ["sandboxes", id, "network"]) => {
            existing_then(d, id, "updating the network is")
        }
        (&Method::GET, ["snapshots"]) => Ok(json_response(StatusCode::OK, &Vec::<()>::new())),
        (&Method::DELETE, ["templates", id]) => Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            format!("template or snapshot \"{id}\" not found"),
        )),
        (_, ["templates", ..]) => Err(unsupported("template management is")),
        (&Method::POST, ["local", "shutdown"]) => {
            tracing::info!("shutdown requested through POST /local/shutdown");
            d.request_shutdown();
            Ok(json_response(
                StatusCode::ACCEPTED,
                &serde_json::json!({"message": "shutting down"}),
            ))
        }
        (&Method::GET, ["local", "status"]) => Ok(json_response(StatusCode::OK, &d.status_json())),
        (&Method::GET, ["local", "sandboxes"]) => Ok(local_sandboxes(d)),
        (&Method::GET, ["local", "sandboxes", id, "logs"]) => local_logs(d, id, query.as_deref()),
        (&Method::GET, ["local", "templates"]) => Ok(local_templates(d).await),
        _ if known_path(&segs) => Err(ApiErr::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on {path}"),
        )),
        _ => Err(ApiErr::new(
            StatusCode::NOT_FOUND,
            format!("no such endpoint: {method} {path}"),
        )),
    }
}

fn known_path(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["sandboxes"]
            | ["v2", "sandboxes"]
            | ["sandboxes", _]
            | [
                "sandboxes",
                _,
                "connect"
                    | "timeout"
                    | "refreshes"
                    | "pause"
                    | "resume"
                    | "fork"
                    | "snapshots"
                    | "metrics"
                    | "logs"
                    | "network"
            ]
            | ["v2", "sandboxes", _, "connect" | "logs"]
            | ["snapshots"]
            | ["health"]
            | ["local", "shutdown" | "status" | "sandboxes" | "templates"]
            | ["local", "sandboxes", _, "logs"]
    )
}

fn unsupported(what: &str) -> ApiErr {
    ApiErr::new(
        StatusCode::NOT_IMPLEMENTED,
        format!("{what} not supported by the local runtime yet"),
    )
}

fn existing_then(d: &Daemon, id: &str, what: &str) -> ApiResult {
    if d.registry.contains(id) {
        Err(unsupported(what))
    } else {
        Err(ApiErr::not_found(id))
    }
}

/// Reads a JSON body; an empty body gives `None`.
async fn read_json<T: for<'de> Deserialize<'de>>(
    req: Request<Incoming>,
) -> Result<Option<T>, ApiErr> {
    let bytes: Bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiErr::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
            } else {
                ApiErr::bad_request(format!("cannot read the request body: {e}"))
            }
        })?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiErr::bad_request(format!("invalid request body: {e}")))
}

fn sandbox_json(e: &SandboxEntry) -> Sandbox {
    Sandbox {
        template_id: e.template.id.to_string(),
        sandbox_id: e.id.clone(),
        client_id: CLIENT_ID.to_string(),
        envd_version: ENVD_VERSION.to_string(),
        alias: e.alias.clone(),
        envd_access_token: e.access_token.clone(),
        traffic_access_token: e.traffic_token.clone(),
        domain: None,
    }
}

async fn create(d: &Arc<Daemon>, req: Request<Incoming>, v2: bool) -> ApiResult {
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    if idempotency_key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err(ApiErr::bad_request(
            "Idempotency-Key must be at most 255 characters",
        ));
    }
    let body: NewSandbox = read_json(req)
        .await?
        .ok_or_else(|| ApiErr::bad_request("missing request body (NewSandbox JSON)"))?;
    let entry = d.create_sandbox(body, v2, idempotency_key).await?;
    Ok(json_response(StatusCode::CREATED, &sandbox_json(&entry)))
}

async fn connect(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: ConnectSandbox = read_json(req).await?.unwrap_or_default();
    let timeout = d.timeout_secs(body.timeout, true)?;
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    let _t = entry.transition.lock().await;
    if entry.is_paused() {
        // docs/protocol.md#sandbox-connect: connecting resumes a paused sandbox and answers 201.
        thaw(&entry).await?;
        entry.set_end_at(Utc::now() + timeout);
        return Ok(json_response(StatusCode::CREATED, &sandbox_json(&entry)));
    }
    entry.extend_to(Utc::now() + timeout);
    Ok(json_response(StatusCode::OK, &sandbox_json(&entry)))
}

async fn thaw(entry: &SandboxEntry) -> Result<(), ApiErr> {
    entry.process.set_frozen(false).await.map_err(|e| {
        ApiErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot resume sandbox {}: {e}", entry.id),
        )
    })?;
    entry.set_paused(false);
    tracing::info!("sandbox {} resumed", entry.id);
    Ok(())
}

/// `POST /sandboxes/{id}/pause` (docs/protocol.md#kill-timeout-and-pause): freezes the sandbox's
/// cgroup — memory is kept, CPU use drops to zero; 409 when already paused. `memory: false`
/// (filesystem-only snapshots) is treated like `true`: the local runtime always keeps memory.
async fn pause(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let _body: PauseSandbox = read_json(req).await?.unwrap_or_default();
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    let _t = entry.transition.lock().await;
    if entry.is_paused() {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            format!("sandbox {id} is already paused"),
        ));
    }
    entry.process.set_frozen(true).await.map_err(|e| {
        ApiErr::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("pausing sandbox {id} is not supported by the local runtime here: {e}"),
        )
    })?;
    entry.set_paused(true);
    tracing::info!("sandbox {id} paused");
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[derive(Deserialize, Default)]
struct Resume {
    #[serde(default)]
    timeout: Option<i64>,
}

/// Deprecated `POST /sandboxes/{id}/resume`: 201 with the sandbox, 409 if it is running.
async fn resume(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: Resume = read_json(req).await?.unwrap_or_default();
    let timeout = d.timeout_secs(body.timeout, false)?;
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    let _t = entry.transition.lock().await;
    if !entry.is_paused() {
        return Err(ApiErr::new(
            StatusCode::CONFLICT,
            format!("sandbox {id} is not paused"),
        ));
    }
    thaw(&entry).await?;
    entry.set_end_at(Utc::now() + timeout);
    Ok(json_response(StatusCode::CREATED, &sandbox_json(&entry)))
}

fn state_of(e: &SandboxEntry) -> SandboxState {
    if e.is_paused() {
        SandboxState::Paused
    } else {
        SandboxState::Running
    }
}

fn limits_of(d: &Daemon, e: &SandboxEntry) -> (i64, i64, i64) {
    let l = e.process.limits().unwrap_or(d.config.limits);
    (
        (l.cpus.ceil() as i64).max(1),
        l.memory_mb as i64,
        l.disk_mb as i64,
    )
}

fn detail_json(d: &Daemon, e: &SandboxEntry) -> SandboxDetail {
    let (cpu_count, memory_mb, disk_size_mb) = limits_of(d, e);
    let notes = e.process.notes();
    SandboxDetail {
        template_id: e.template.id.to_string(),
        sandbox_id: e.id.clone(),
        client_id: CLIENT_ID.to_string(),
        started_at: rfc3339(e.started_at),
        end_at: rfc3339(e.end_at()),
        envd_version: ENVD_VERSION.to_string(),
        cpu_count,
        memory_mb,
        disk_size_mb,
        state: state_of(e),
        alias: e.alias.clone(),
        envd_access_token: e.access_token.clone(),
        allow_internet_access: Some(e.allow_internet_access),
        domain: None,
        metadata: Some(e.metadata.clone()),
        network: e.network.clone().map(redact_network),
        lifecycle: Some(e2b_wire::api::Lifecycle {
            auto_resume: false,
            on_timeout: "kill".into(),
        }),
        volume_mounts: None,
        envd_unresponsive_at_pause: None,
        local_notes: (!notes.is_empty()).then_some(notes),
    }
}

/// The `network` object as given at creation, minus secrets the reference API never returns
/// (egress-proxy password, TLS CA certificate).
fn redact_network(mut network: serde_json::Value) -> serde_json::Value {
    if let Some(proxy) = network
        .get_mut("egressProxy")
        .and_then(|p| p.as_object_mut())
    {
        proxy.remove("password");
        if let Some(tls) = proxy.get_mut("tls").and_then(|t| t.as_object_mut()) {
            tls.remove("caCert");
        }
    }
    network
}

fn detail(d: &Daemon, id: &str) -> ApiResult {
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    Ok(json_response(StatusCode::OK, &detail_json(d, &entry)))
}

async fn kill(d: &Arc<Daemon>, id: &str) -> ApiResult {
    if d.kill_sandbox(id, "killed through the API") {
        Ok(status_only(StatusCode::NO_CONTENT))
    } else {
        Err(ApiErr::not_found(id))
    }
}

async fn set_timeout(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: SetTimeout = read_json(req)
        .await?
        .ok_or_else(|| ApiErr::bad_request("missing request body {\"timeout\": <seconds>}"))?;
    let timeout = d.timeout_secs(Some(body.timeout), true)?;
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    entry.set_end_at(Utc::now() + timeout);
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[derive(Deserialize, Default)]
struct Refresh {
    #[serde(default)]
    duration: Option<i64>,
}

async fn refresh(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: Refresh = read_json(req).await?.unwrap_or_default();
    let secs = body.duration.unwrap_or(0);
    if !(0..=3600).contains(&secs) {
        return Err(ApiErr::bad_request(
            "duration must be between 0 and 3600 seconds",
        ));
    }
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    entry.extend_to(Utc::now() + chrono::Duration::seconds(secs));
    Ok(status_only(StatusCode::NO_CONTENT))
}

fn listed_json(d: &Daemon, e: &SandboxEntry) -> ListedSandbox {
    let (cpu_count, memory_mb, disk_size_mb) = limits_of(d, e);
    ListedSandbox {
        template_id: e.template.id.to_string(),
        sandbox_id: e.id.clone(),
        client_id: CLIENT_ID.to_string(),
        started_at: rfc3339(e.started_at),
        end_at: rfc3339(e.end_at()),
        cpu_count,
        memory_mb,
        disk_size_mb,
        state: state_of(e),
        envd_version: ENVD_VERSION.to_string(),
        alias: e.alias.clone(),
        metadata: Some(e.metadata.clone()),
        volume_mounts: None,
    }
}

/// `GET /local/sandboxes` (`e2b-local list`): every sandbox with what its cgroup says it
/// uses now.
fn local_sandboxes(d: &Daemon) -> Response<Body> {
    let mut entries = d.registry.snapshot();
    entries.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (cpu_count, memory_mb, disk_size_mb) = limits_of(d, e);
            serde_json::json!({
                "sandboxID": e.id,
                "templateID": e.template.id,
                "alias": e.alias,
                "state": state_of(e).as_str(),
                "startedAt": rfc3339(e.started_at),
                "endAt": rfc3339(e.end_at()),
                "metadata": e.metadata,
                "cpuCount": cpu_count,
                "memoryMB": memory_mb,
                "diskSizeMB": disk_size_mb,
                "cpuUsageSeconds": e.process.cpu_usage_ns().map(|ns| ns as f64 / 1e9),
                "memoryBytes": e.process.memory_bytes(),
                "initPid": e.process.init_pid(),
                "python": e.template.python.map(|p| p.display().to_string()),
            })
        })
        .collect();
    json_response(StatusCode::OK, &rows)
}

/// `GET /local/sandboxes/{id}/logs?bytes=N` (`e2b-local logs ID`): the end of the sandbox's
/// agent log, as text.
fn local_logs(d: &Daemon, id: &str, query: Option<&str>) -> ApiResult {
    let entry = d.registry.get(id).ok_or_else(|| ApiErr::not_found(id))?;
    let max = query_params(query)
        .get("bytes")
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(64 * 1024)
        .min(16 << 20);
    let text = entry.process.agent_log(max).ok_or_else(|| {
        ApiErr::new(
            StatusCode::NOT_IMPLEMENTED,
            "this sandbox backend keeps no agent log",
        )
    })?;
    let mut resp = Response::new(super::http::full(text));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}

/// `GET /local/templates` (`e2b-local template list`): built-in and user templates, with
/// what each one's Python environment offers.
async fn local_templates(d: &Daemon) -> Response<Body> {
    let set = d.config.template_set();
    let mut rows = Vec::new();
    let describe = |python: &std::path::Path| {
        let python = python.to_path_buf();
        async move {
            match crate::sandbox::describe_python(&python).await {
                Ok(env) => serde_json::json!({
                    "pythonVersion": env.version,
                    "ipykernel": env.has_ipykernel,
                }),
                Err(e) => serde_json::json!({ "error": e.to_string() }),
            }
        }
    };
    for t in super::registry::TEMPLATES {
        let mut row = serde_json::json!({
            "name": t.id,
            "aliases": t.aliases,
            "source": "builtin",
            "python": d.runtime.python.display().to_string(),
            "startsKernel": t.start_kernel,
        });
        merge(&mut row, describe(&d.runtime.python).await);
        rows.push(row);
    }
    for (name, def) in set.user_templates() {
        let source = if d.config.templates.contains_key(&name) {
            "serve"
        } else {
            "state"
        };
        let mut row = serde_json::json!({
            "name": name,
            "aliases": [],
            "source": source,
            "python": def.python.display().to_string(),
        });
        let info = describe(&def.python).await;
        let kernel = info
            .get("ipykernel")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        merge(&mut row, info);
        row["startsKernel"] = serde_json::Value::Bool(kernel);
        rows.push(row);
    }
    json_response(StatusCode::OK, &rows)
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

fn metadata_matches(e: &SandboxEntry, filter: &[(String, String)]) -> bool {
    filter
        .iter()
        .all(|(k, v)| e.metadata.get(k).is_some_and(|have| have == v))
}

fn metadata_filter(params: &HashMap<String, String>) -> Result<Vec<(String, String)>, ApiErr> {
    match params.get("metadata") {
        Some(raw) => decode_metadata_filter(raw).map_err(ApiErr::bad_request),
        None => Ok(Vec::new()),
    }
}

/// `GET /sandboxes` (deprecated v1 list): running sandboxes, optional metadata filter.
fn list_v1(d: &Daemon, query: Option<&str>) -> ApiResult {
    let params = query_params(query);
    let filter = metadata_filter(&params)?;
    let mut items: Vec<_> = d
        .registry
        .snapshot()
        .into_iter()
        .filter(|e| !e.is_paused() && metadata_matches(e, &filter))
        .collect();
    items.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
    let out: Vec<ListedSandbox> = items.iter().map(|e| listed_json(d, e)).collect();
    Ok(json_response(StatusCode::OK, &out))
}

/// Pagination cursor: base64url of `<RFC 3339 start time, ns>__<sandboxID>` (+ `__asc`).
fn encode_cursor(e: &SandboxEntry, asc: bool) -> String {
    let raw = format!(
        "{}__{}{}",
        e.started_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        e.id,
        if asc { "__asc" } else { "" }
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(token: &str, asc: bool) -> Result<(DateTime<Utc>, String), ApiErr> {
    let invalid = || ApiErr::bad_request("invalid nextToken");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let parts: Vec<&str> = raw.split("__").collect();
    let (time, id, token_asc) = match parts.as_slice() {
        [t, id] => (*t, *id, false),
        [t, id, "asc"] => (*t, *id, true),
        _ => return Err(invalid()),
    };
    if token_asc != asc {
        return Err(ApiErr::bad_request(format!(
            "nextToken was issued for order={} and cannot be used with order={}",
            if token_asc { "asc" } else { "desc" },
            if asc { "asc" } else { "desc" }
        )));
    }
    let time = DateTime::parse_from_rfc3339(time)
        .map_err(|_| invalid())?
        .with_timezone(&Utc);
    Ok((time, id.to_string()))
}

/// `GET /v2/sandboxes` (docs/protocol.md#sandbox-list).
fn list_v2(d: &Daemon, query: Option<&str>) -> ApiResult {
    let params = query_params(query);
    let filter = metadata_filter(&params)?;
    let (mut want_running, mut want_paused) = (true, true);
    if let Some(states) = params.get("state") {
        (want_running, want_paused) = (false, false);
        for s in states.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match s {
                "running" => want_running = true,
                "paused" => want_paused = true,
                other => {
                    return Err(ApiErr::bad_request(format!(
                        "invalid state {other:?}: expected running or paused"
                    )))
                }
            }
        }
    }
    let asc = match params.get("order").map(String::as_str) {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiErr::bad_request(format!(
                "invalid order {other:?}: expected asc or desc"
            )))
        }
    };
    let started_after = match params.get("startedAfter").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|e| ApiErr::bad_request(format!("invalid startedAfter {s:?}: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let template = params.get("template").filter(|s| !s.is_empty());
    let limit = match params.get("limit").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiErr::bad_request(format!("invalid limit {s:?}")))?
            .clamp(1, MAX_PAGE as i64) as usize,
        None => MAX_PAGE,
    };
    let cursor = match params.get("nextToken").filter(|s| !s.is_empty()) {
        Some(t) => Some(decode_cursor(t, asc)?),
        None => None,
    };

    let mut items: Vec<_> = {
        d.registry
            .snapshot()
            .into_iter()
            .filter(|e| {
                if e.is_paused() {
                    want_paused
                } else {
                    want_running
                }
            })
            .filter(|e| metadata_matches(e, &filter))
            .filter(|e| started_after.is_none_or(|t| e.started_at >= t))
            .filter(|e| {
                template.is_none_or(|t| {
                    e.template.id == t.as_str()
                        || e.template.aliases.contains(&t.as_str())
                        || e.alias.as_deref() == Some(t.as_str())
                })
            })
            .collect()
    };
    items.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    if !asc {
        items.reverse();
    }
    if let Some((t, id)) = &cursor {
        items.retain(|e| {
            let key = (e.started_at, &e.id);
            if asc {
                key > (*t, id)
            } else {
                key < (*t, id)
            }
        });
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let out: Vec<ListedSandbox> = items.iter().map(|e| listed_json(d, e)).collect();
    let mut resp = json_response(StatusCode::OK, &out);
    if more {
        if let Some(last) = items.last() {
            let token = encode_cursor(last, asc);
            resp.headers_mut().insert(
                NEXT_TOKEN,
                HeaderValue::from_str(&token).expect("base64 is a valid header"),
            );
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_z() {
        let t = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.5+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(t), "2024-01-02T01:04:05.500000Z");
    }
}
