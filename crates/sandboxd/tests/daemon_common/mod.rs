//! Shared fixtures of the daemon tests: an in-process daemon on a random port with a private
//! state directory, a tiny HTTP/1.1 client, and a stand-in sandbox backend whose agent is a
//! plain HTTP server on a unix socket and whose "init" is a real `sleep` process.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sandboxd::daemon::backend::{BoxFuture, LiveSandbox, SandboxBackend};
use sandboxd::daemon::{self, DaemonConfig, DaemonHandle};
use sandboxd::sandbox::{AgentLauncher, RuntimeConfig, SpawnError, SpawnRequest};
use tokio::sync::{mpsc, watch};

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn full(data: impl Into<Bytes>) -> TestBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Python interpreter for real sandboxes.
pub fn test_python() -> PathBuf {
    std::env::var_os("E2B_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/main/.venv/bin/python"))
}

pub struct TestDaemon {
    pub handle: Option<DaemonHandle>,
    pub addr: SocketAddr,
    pub url: String,
    pub key: String,
    pub state_dir: PathBuf,
    pub fake: Option<Arc<FakeSandboxes>>,
    _tmp: tempfile::TempDir,
}

impl TestDaemon {
    /// A daemon with the stand-in backend.
    pub async fn fake() -> TestDaemon {
        let fake = Arc::new(FakeSandboxes::default());
        Self::start_with(Some(fake), |_| {}).await
    }

    /// A daemon that makes real sandboxes.
    pub async fn real() -> TestDaemon {
        Self::start_with(None, |_| {}).await
    }

    pub async fn start_with(
        fake: Option<Arc<FakeSandboxes>>,
        tweak: impl FnOnce(&mut DaemonConfig),
    ) -> TestDaemon {
        let tmp = tempfile::Builder::new().prefix("sbd").tempdir().unwrap();
        let state_dir = tmp.path().join("state");
        let mut config = DaemonConfig::new(
            test_python(),
            AgentLauncher::Executable(PathBuf::from(env!("CARGO_BIN_EXE_sandboxd"))),
        );
        config.state_dir = state_dir.clone();
        config.handle_signals = false;
        config.backend = fake.clone().map(|f| f as Arc<dyn SandboxBackend>);
        tweak(&mut config);
        let handle = daemon::start(config).await.expect("daemon starts");
        TestDaemon {
            addr: handle.addr(),
            url: handle.url().to_string(),
            key: handle.api_key().to_string(),
            handle: Some(handle),
            state_dir,
            fake,
            _tmp: tmp,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
            h.wait().await.expect("clean shutdown");
        }
    }

    /// An API request with the right key.
    pub async fn api(&self, method: Method, path: &str, body: Option<&str>) -> Resp {
        request(
            self.addr,
            method,
            path,
            &[
                ("X-API-KEY", &self.key),
                ("content-type", "application/json"),
            ],
            body.map(|b| b.as_bytes().to_vec()),
        )
        .await
    }

    /// Creates a sandbox through `POST /v2/sandboxes` and returns the `Sandbox` JSON.
    pub async fn create(&self, body: &str) -> serde_json::Value {
        let resp = self.api(Method::POST, "/v2/sandboxes", Some(body)).await;
        assert_eq!(resp.status, 201, "create failed: {}", resp.text());
        resp.json()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.shutdown();
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

/// Sends one request on a fresh connection and returns the response head, the streaming
/// body, and the connection task (abort it to drop the connection).
pub async fn open(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: TestBody,
) -> (Response<Incoming>, tokio::task::JoinHandle<()>) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender.send_request(req.body(body).unwrap()).await.unwrap();
    (resp, conn)
}

pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let body = full(body.unwrap_or_default());
    let (resp, _conn) = open(addr, method, path, headers, body).await;
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .expect("response body within 30 s")
        .unwrap()
        .to_bytes();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// Polls `cond` every 20 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn pid_alive(pid: i32) -> bool {
    // A child of the test process that was killed lingers as a zombie until reaped.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..].trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------
// The stand-in backend.

/// What one fake sandbox saw.
#[derive(Debug, Default)]
pub struct FakeAgentLog {
    /// `/execute` streams whose client went away.
    pub disconnects: AtomicUsize,
    pub requests: AtomicUsize,
}

#[derive(Default)]
pub struct FakeSandboxes {
    pub spawned: Mutex<Vec<(SpawnRequest, i32, Arc<FakeAgentLog>)>>,
    /// When set, the next spawn fails with this message.
    pub fail_next: Mutex<Option<String>>,
}

impl FakeSandboxes {
    pub fn find(&self, id: &str) -> (SpawnRequest, i32, Arc<FakeAgentLog>) {
        let list = self.spawned.lock().unwrap();
        let (req, pid, log) = list
            .iter()
            .find(|(r, _, _)| r.sandbox_id == id)
            .expect("sandbox was spawned");
        (req.clone(), *pid, log.clone())
    }
}

#[derive(Debug)]
struct FakeSandbox {
    pid: i32,
    socket: PathBuf,
    exited: watch::Receiver<bool>,
    server: tokio::task::AbortHandle,
}

impl LiveSandbox for FakeSandbox {
    fn init_pid(&self) -> i32 {
        self.pid
    }
    fn agent_socket(&self) -> &Path {
        &self.socket
    }
    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.server.abort();
            let mut rx = self.exited.clone();
            let _ = rx.wait_for(|e| *e).await;
            let _ = std::fs::remove_file(&self.socket);
        })
    }
    fn exited(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut rx = self.exited.clone();
            let _ = rx.wait_for(|e| *e).await;
        })
    }
}

impl SandboxBackend for FakeSandboxes {
    fn spawn<'a>(
        &'a self,
        runtime: &'a RuntimeConfig,
        request: SpawnRequest,
    ) -> BoxFuture<'a, Result<Box<dyn LiveSandbox>, SpawnError>> {
        Box::pin(async move {
            if let Some(msg) = self.fail_next.lock().unwrap().take() {
                return Err(SpawnError::Unsupported(msg));
            }
            let dir = runtime.run_dir.join(&request.sandbox_id);
            std::fs::create_dir_all(&dir)?;
            let socket = dir.join("agent.sock");
            let listener = tokio::net::UnixListener::bind(&socket)?;
            let log = Arc::new(FakeAgentLog::default());
            let server_log = log.clone();
            let server = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let log = server_log.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let log = log.clone();
                            async move { Ok::<_, Infallible>(fake_agent(req, log).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
            let mut child = tokio::process::Command::new("sleep")
                .arg("3600")
                .kill_on_drop(true)
                .spawn()?;
            let pid = child.id().unwrap() as i32;
            let (tx, rx) = watch::channel(false);
            tokio::spawn(async move {
                let _ = child.wait().await;
                let _ = tx.send(true);
            });
            self.spawned.lock().unwrap().push((request, pid, log));
            Ok(Box::new(FakeSandbox {
                pid,
                socket,
                exited: rx,
                server: server.abort_handle(),
            }) as Box<dyn LiveSandbox>)
        })
    }
}

/// Body fed from a channel; tells the log when the reader went away.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// The fake agent, on real routes (the daemon forwards nothing else): `/health`; echoes of
/// the request (method, canonical URI, headers as JSON) on envd `POST /process.Process/List`,
/// `GET /files` and the interpreter's `GET /contexts`; `POST /execute` (an endless NDJSON
/// stream, one line every 50 ms, noting when the client goes away); `POST /contexts` (a
/// response head, then silence until the reader goes away); `POST /contexts/slow/restart`
/// (no response head until the request is abandoned); `POST /files` (counts a streamed body).
async fn fake_agent(req: Request<Incoming>, log: Arc<FakeAgentLog>) -> Response<TestBody> {
    log.requests.fetch_add(1, Ordering::SeqCst);
    let port = req
        .headers()
        .get("e2b-sandbox-port")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/health") if port == "49999" => Response::new(full("\"OK\"")),
        (Method::GET, "/health") => {
            let mut r = Response::new(full(""));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        (Method::POST, "/process.Process/List") | (Method::GET, "/files" | "/contexts") => {
            let map: HashMap<String, String> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let mut out = serde_json::json!({"headers": map, "uri": req.uri().to_string()});
            out["method"] = req.method().to_string().into();
            Response::new(full(serde_json::to_vec(&out).unwrap()))
        }
        (Method::POST, "/execute") => {
            let (tx, rx) = mpsc::channel::<Bytes>(1);
            tokio::spawn(async move {
                for i in 0.. {
                    let line = format!("{{\"type\":\"stdout\",\"text\":\"line {i}\"}}\n");
                    if tx.send(Bytes::from(line)).await.is_err() {
                        log.disconnects.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            let mut r = Response::new(ChannelBody { rx }.map_err(|never| match never {}).boxed());
            r.headers_mut()
                .insert("content-type", "application/x-ndjson".parse().unwrap());
            r
        }
        (Method::POST, "/contexts/slow/restart") => {
            // No response head until the request is abandoned.
            struct Noticed(Arc<FakeAgentLog>);
            impl Drop for Noticed {
                fn drop(&mut self) {
                    self.0.disconnects.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _noticed = Noticed(log);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(full(""))
        }
        (Method::POST, "/contexts") => {
            // Headers now, then nothing until the reader goes away.
            let (tx, rx) = mpsc::channel::<Bytes>(1);
            tokio::spawn(async move {
                tx.closed().await;
                log.disconnects.fetch_add(1, Ordering::SeqCst);
            });
            Response::new(ChannelBody { rx }.map_err(|never| match never {}).boxed())
        }
        (Method::POST, "/files") => {
            let mut body = req.into_body();
            let mut total = 0usize;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    total += data.len();
                }
            }
            Response::new(full(format!("{{\"bytes\":{total}}}")))
        }
        _ => {
            let mut r = Response::new(full("{\"code\":404,\"message\":\"no such path\"}"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}
