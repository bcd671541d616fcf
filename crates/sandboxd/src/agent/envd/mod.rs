//! The envd service (port 49983) inside the sandbox: `/health`, `/envs`, `/files`
//! ([`files`]), and the Connect RPCs of `process.Process` ([`process`]) and
//! `filesystem.Filesystem` ([`filesystem`], [`watch`]) over [`rpc`].
//!
//! Requests arrive from the daemon's proxy, already authenticated (access token or signed
//! URL). The agent runs as the sandbox's root; every operation runs as the user the request
//! selects ([`users`]). Paths are resolved here, inside the sandbox's own mount namespace
//! (after `pivot_root`), so a symlink planted by sandbox code can only ever lead to another
//! path of the sandbox.

mod files;
mod filesystem;
mod process;
mod rpc;
mod users;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use e2b_wire::connect::{message_envelope, Code, ConnectError};
use e2b_wire::envd::{
    CreateWatcherResponse, Empty, EntryResponse, GetWatcherEventsResponse, ListDirRequest,
    ListDirResponse, ListResponse, MoveRequest, PathRequest, ProcessEventResponse, ProcessRequest,
    SendInputRequest, SendSignalRequest, StartRequest, StreamInputRequest, UpdateRequest,
    WatchDirResponse, WatchRequest, WatcherRequest,
};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use tokio::sync::mpsc;

use self::process::Processes;
use self::rpc::{
    blocking, read_stream_request, read_unary, stream_error, stream_response, unary, CallMeta,
    RequestStream, StreamFrame, STREAM_BUFFER,
};
use self::users::{as_user, resolve_path, User, Users, DEFAULT_USER};
use self::watch::{PolledWatcher, Watcher};
use super::http::{self, Res};
use super::reaper::Reaper;
use crate::route::{EnvdRoute, Refusal, RpcService};

/// State of the envd service.
pub struct Envd {
    envs: BTreeMap<String, String>,
    users: Arc<Users>,
    processes: Arc<Processes>,
    watchers: Mutex<HashMap<String, PolledWatcher>>,
}

impl Envd {
    pub fn new(envs: BTreeMap<String, String>, reaper: Arc<Reaper>) -> Self {
        let users = Arc::new(Users::load());
        // Writing to a pipe whose reader is gone must fail with EPIPE, not kill the agent.
        // SAFETY: setting a signal disposition; children get SIGPIPE back (std resets it).
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        Envd {
            processes: Arc::new(Processes::new(reaper, users.clone(), envs.clone())),
            envs,
            users,
            watchers: Mutex::new(HashMap::new()),
        }
    }

    /// Serves one request, already parsed by [`crate::route`].
    pub async fn handle(&self, route: EnvdRoute, req: Request<Incoming>) -> Res {
        match route {
            EnvdRoute::Health => {
                let mut res = http::empty(StatusCode::NO_CONTENT);
                res.headers_mut().insert(
                    hyper::header::CACHE_CONTROL,
                    hyper::header::HeaderValue::from_static("no-store"),
                );
                res
            }
            EnvdRoute::Envs => http::json(StatusCode::OK, &self.envs),
            EnvdRoute::Download(q) => files::download(self.users.clone(), q, req).await,
            EnvdRoute::Upload(q) => files::upload(self.users.clone(), q, req).await,
            EnvdRoute::Rpc {
                service: RpcService::Process,
                method,
            } => self.process_rpc(&method, req).await,
            EnvdRoute::Rpc {
                service: RpcService::Filesystem,
                method,
            } => self.filesystem_rpc(&method, req).await,
            EnvdRoute::Internal(path) => {
                http::text(StatusCode::NOT_FOUND, format!("no envd endpoint {path}"))
            }
        }
    }

    /// The answer to a request [`crate::route`] refused: a Connect error on RPC paths.
    pub fn refuse(refusal: Refusal) -> Res {
        if refusal.rpc {
            return rpc::unary_error(&ConnectError::new(Code::Unimplemented, refusal.message));
        }
        http::text(refusal.status, refusal.message)
    }

    /// The user a call acts as: the one its `Authorization` names, or the default.
    fn user(&self, meta: &CallMeta) -> Result<User, ConnectError> {
        let name = meta.user.as_deref().unwrap_or(DEFAULT_USER);
        self.users.get(name).cloned().ok_or_else(|| {
            ConnectError::new(Code::Unauthenticated, format!("invalid username: '{name}'"))
        })
    }

    fn resolve(&self, path: &str, user: &User) -> Result<std::path::PathBuf, ConnectError> {
        resolve_path(path, user).map_err(|e| ConnectError::new(Code::InvalidArgument, e))
    }

    async fn process_rpc(&self, method: &str, req: Request<Incoming>) -> Res {
        let meta = CallMeta::from_headers(req.headers());
        let (parts, body) = req.into_parts();
        let headers = parts.headers;
        let procs = &self.processes;
        match method {
            "Start" => {
                let deadline = meta.deadline();
                let r = async {
                    let user = self.user(&meta)?;
                    let start: StartRequest = read_stream_request(&headers, body).await?;
                    procs.start(&user, start, deadline)
                }
                .await;
                match r {
                    // The process's own deadline ends this stream (after its end event).
                    Ok(rx) => stream_response(
                        rx,
                        Some((
                            meta.keepalive,
                            message_envelope(&ProcessEventResponse::keepalive()),
                        )),
                        None,
                    ),
                    Err(e) => stream_error(e),
                }
            }
            "Connect" => {
                let r = async {
                    let r: ProcessRequest = read_stream_request(&headers, body).await?;
                    procs.connect(&r.process)
                }
                .await;
                match r {
                    Ok(rx) => stream_response(
                        rx,
                        Some((
                            meta.keepalive,
                            message_envelope(&ProcessEventResponse::keepalive()),
                        )),
                        meta.deadline(),
                    ),
                    Err(e) => stream_error(e),
                }
            }
            "List" => unary(
                read_unary::<Empty>(&headers, body)
                    .await
                    .map(|_| ListResponse {
                        processes: procs.list(),
                    }),
            ),
            "SendSignal" => unary(
                async {
                    let r: SendSignalRequest = read_unary(&headers, body).await?;
                    procs.signal(&r.process, r.signal).map(|_| Empty {})
                }
                .await,
            ),
            "SendInput" => unary(
                rpc::with_deadline(meta.deadline(), async {
                    let r: SendInputRequest = read_unary(&headers, body).await?;
                    procs.input(&r.process, &r.input).await.map(|_| Empty {})
                })
                .await,
            ),
            "CloseStdin" => unary(
                async {
                    let r: ProcessRequest = read_unary(&headers, body).await?;
                    procs.close_stdin(&r.process).await.map(|_| Empty {})
                }
                .await,
            ),
            "Update" => unary(
                async {
                    let r: UpdateRequest = read_unary(&headers, body).await?;
                    procs
                        .resize(&r.process, r.pty.and_then(|p| p.size))
                        .map(|_| Empty {})
                }
                .await,
            ),
            "StreamInput" => {
                let r =
                    rpc::with_deadline(meta.deadline(), stream_input(procs, &headers, body)).await;
                // One response message, then the end of the stream
                // (docs/protocol.md#client-streams).
                let (tx, rx) = mpsc::channel(2);
                match r {
                    Ok(()) => {
                        let _ = tx.try_send(StreamFrame::Message(message_envelope(&Empty {})));
                        let _ = tx.try_send(StreamFrame::End(None));
                    }
                    Err(e) => {
                        let _ = tx.try_send(StreamFrame::End(Some(e)));
                    }
                }
                stream_response(rx, None, None)
            }
            other => rpc::unary_error(&ConnectError::new(
                Code::Unimplemented,
                format!("process.Process/{other} is not implemented"),
            )),
        }
    }

    async fn filesystem_rpc(&self, method: &str, req: Request<Incoming>) -> Res {
        let meta = CallMeta::from_headers(req.headers());
        let (parts, body) = req.into_parts();
        let headers = parts.headers;
        let users = self.users.clone();
        if method == "WatchDir" {
            return match self.watch_dir(&meta, &headers, body).await {
                Ok(rx) => stream_response(
                    rx,
                    Some((
                        meta.keepalive,
                        message_envelope(&WatchDirResponse {
                            keepalive: Some(Empty {}),
                            ..Default::default()
                        }),
                    )),
                    meta.deadline(),
                ),
                Err(e) => stream_error(e),
            };
        }
        let result: Result<Res, ConnectError> = rpc::with_deadline(meta.deadline(), async {
            match method {
                "GetWatcherEvents" => {
                    let r: WatcherRequest = read_unary(&headers, body).await?;
                    let watchers = self.watchers.lock().unwrap();
                    let w = watchers.get(&r.watcher_id).ok_or_else(|| {
                        ConnectError::new(
                            Code::NotFound,
                            format!("watcher with id {} not found", r.watcher_id),
                        )
                    })?;
                    return Ok(rpc::unary_ok(&GetWatcherEventsResponse {
                        events: w.take()?,
                    }));
                }
                "RemoveWatcher" => {
                    let r: WatcherRequest = read_unary(&headers, body).await?;
                    let removed = self.watchers.lock().unwrap().remove(&r.watcher_id);
                    return match removed {
                        Some(_) => Ok(rpc::unary_ok(&Empty {})),
                        None => Err(ConnectError::new(
                            Code::NotFound,
                            format!("watcher with id {} not found", r.watcher_id),
                        )),
                    };
                }
                _ => {}
            }
            let user = self.user(&meta)?;
            let creds = self.users.creds(&user);
            match method {
                "Stat" => {
                    let r: PathRequest = read_unary(&headers, body).await?;
                    let path = self.resolve(&r.path, &user)?;
                    let entry = blocking(move || {
                        as_user(creds.as_ref(), || filesystem::stat(&path, &users))
                    })
                    .await?;
                    Ok(rpc::unary_ok(&EntryResponse { entry: Some(entry) }))
                }
                "MakeDir" => {
                    let r: PathRequest = read_unary(&headers, body).await?;
                    let path = self.resolve(&r.path, &user)?;
                    let entry = blocking(move || {
                        as_user(creds.as_ref(), || filesystem::make_dir(&path, &users))
                    })
                    .await?;
                    Ok(rpc::unary_ok(&EntryResponse { entry: Some(entry) }))
                }
                "Move" => {
                    let r: MoveRequest = read_unary(&headers, body).await?;
                    let from = self.resolve(&r.source, &user)?;
                    let to = self.resolve(&r.destination, &user)?;
                    let entry = blocking(move || {
                        as_user(creds.as_ref(), || filesystem::rename(&from, &to, &users))
                    })
                    .await?;
                    Ok(rpc::unary_ok(&EntryResponse { entry: Some(entry) }))
                }
                "Remove" => {
                    let r: PathRequest = read_unary(&headers, body).await?;
                    let path = self.resolve(&r.path, &user)?;
                    blocking(move || as_user(creds.as_ref(), || filesystem::remove(&path))).await?;
                    Ok(rpc::unary_ok(&Empty {}))
                }
                "ListDir" => {
                    let r: ListDirRequest = read_unary(&headers, body).await?;
                    let path = self.resolve(&r.path, &user)?;
                    let entries = blocking(move || {
                        as_user(creds.as_ref(), || {
                            filesystem::list_dir(&path, r.depth, &users)
                        })
                    })
                    .await?;
                    Ok(rpc::unary_ok(&ListDirResponse { entries }))
                }
                "CreateWatcher" => {
                    let r: WatchRequest = read_unary(&headers, body).await?;
                    let watcher = self.new_watcher(&user, &r).await?;
                    let id = format!("w{}", uuid::Uuid::new_v4().simple());
                    self.watchers
                        .lock()
                        .unwrap()
                        .insert(id.clone(), PolledWatcher::start(watcher));
                    Ok(rpc::unary_ok(&CreateWatcherResponse { watcher_id: id }))
                }
                other => Err(ConnectError::new(
                    Code::Unimplemented,
                    format!("filesystem.Filesystem/{other} is not implemented"),
                )),
            }
        })
        .await;
        result.unwrap_or_else(|e| rpc::unary_error(&e))
    }

    async fn new_watcher(&self, user: &User, r: &WatchRequest) -> Result<Watcher, ConnectError> {
        let path = self.resolve(&r.path, user)?;
        let creds = self.users.creds(user);
        let (p, c, allow) = (path.clone(), creds.clone(), r.allow_network_mounts);
        blocking(move || as_user(c.as_ref(), || watch::validate(&p, allow))).await?;
        Watcher::new(
            path,
            r.recursive,
            r.include_entry,
            creds,
            self.users.clone(),
        )
    }

    async fn watch_dir(
        &self,
        meta: &CallMeta,
        headers: &hyper::HeaderMap,
        body: Incoming,
    ) -> Result<mpsc::Receiver<StreamFrame>, ConnectError> {
        let user = self.user(meta)?;
        let r: WatchRequest = read_stream_request(headers, body).await?;
        let mut watcher = self.new_watcher(&user, &r).await?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let _ = tx.try_send(StreamFrame::Message(message_envelope(&WatchDirResponse {
            start: Some(Empty {}),
            ..Default::default()
        })));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    batch = watcher.next() => match batch {
                        Ok(events) => {
                            for e in events {
                                let msg = message_envelope(&WatchDirResponse {
                                    filesystem: Some(e),
                                    ..Default::default()
                                });
                                if tx.send(StreamFrame::Message(msg)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(StreamFrame::End(Some(e))).await;
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// `StreamInput`: a `start` selecting the process, then its input in order until the
/// request body ends.
async fn stream_input(
    procs: &Arc<Processes>,
    headers: &hyper::HeaderMap,
    body: Incoming,
) -> Result<(), ConnectError> {
    let mut input = RequestStream::new(headers, body)?;
    let result = feed_input(procs, &mut input).await;
    if result.is_err() {
        // Read the rest of the input (and drop it) so the client gets the error instead of
        // a connection closed in the middle of its request.
        while let Ok(Some(_)) = input.next::<StreamInputRequest>().await {}
    }
    result
}

async fn feed_input(procs: &Arc<Processes>, input: &mut RequestStream) -> Result<(), ConnectError> {
    let mut target = None;
    while let Some(msg) = input.next::<StreamInputRequest>().await? {
        if let Some(start) = msg.start {
            target = Some(procs.lookup(&start.process)?);
        } else if let Some(data) = msg.data {
            let Some(proc) = target.as_ref() else {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    "input arrived before the start event that selects the process",
                ));
            };
            proc.input(&data.input).await?;
        }
    }
    Ok(())
}
