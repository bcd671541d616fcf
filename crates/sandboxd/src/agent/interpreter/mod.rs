//! The code-interpreter service (port 49999, protocol.md §8): `/execute` streaming NDJSON,
//! `/contexts` management, over Jupyter kernels running inside the sandbox.

mod context;
mod kernel;
mod language;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use e2b_wire::execution::{Context, CreateContextRequest, ExecutionRequest};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::http::{self, NdjsonBody, Res};
use context::{ContextHandle, ExecJob, Shared};
pub use kernel::KernelSpec;
pub use language::Language;

/// Lines buffered between a context and its HTTP response.
const STREAM_DEPTH: usize = 32;

/// All contexts of the sandbox.
pub struct Interpreter {
    shared: Arc<Shared>,
    table: Mutex<Table>,
    /// Serialises creation of default contexts (two first requests start one kernel).
    create_default: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Table {
    /// In creation order.
    contexts: Vec<ContextHandle>,
    /// Language → id of its default context.
    defaults: HashMap<Language, String>,
}

impl Table {
    fn get(&self, id: &str) -> Option<ContextHandle> {
        self.contexts.iter().find(|c| c.info.id == id).cloned()
    }
}

impl Interpreter {
    pub fn new(spec: KernelSpec, reaper: Arc<super::reaper::Reaper>) -> Self {
        let global_envs = spec.envs.iter().cloned().collect();
        Interpreter {
            shared: Arc::new(Shared {
                kernel: spec,
                reaper,
                global_envs,
            }),
            table: Mutex::new(Table::default()),
            create_default: tokio::sync::Mutex::new(()),
        }
    }

    /// The default context of `language`, created on first use.
    pub async fn default_context(&self, language: Language) -> Result<ContextHandle, String> {
        let lookup = |t: &Table| t.defaults.get(&language).and_then(|id| t.get(id));
        if let Some(c) = lookup(&self.table.lock().unwrap()) {
            return Ok(c);
        }
        let _guard = self.create_default.lock().await;
        if let Some(c) = lookup(&self.table.lock().unwrap()) {
            return Ok(c);
        }
        let handle = ContextHandle::create(self.shared.clone(), language, context::HOME).await?;
        let mut t = self.table.lock().unwrap();
        t.defaults.insert(language, handle.info.id.clone());
        t.contexts.push(handle.clone());
        Ok(handle)
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Res {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (&method, segments.as_slice()) {
            (&Method::GET, ["health"]) => http::json(StatusCode::OK, &"OK"),
            (&Method::POST, ["execute"]) => self.execute(req).await,
            (&Method::GET, ["contexts"]) => {
                // The default python context exists from the start on the reference server;
                // here it may still be starting, so wait for it rather than list it missing.
                if let Err(e) = self.default_context(Language::Python).await {
                    tracing::warn!("default python context unavailable: {e}");
                }
                let list: Vec<Context> = self
                    .table
                    .lock()
                    .unwrap()
                    .contexts
                    .iter()
                    .map(|c| c.info.clone())
                    .collect();
                http::json(StatusCode::OK, &list)
            }
            (&Method::POST, ["contexts"]) => self.create_context(req).await,
            (&Method::DELETE, ["contexts", id]) => {
                let removed = {
                    let mut t = self.table.lock().unwrap();
                    let pos = t.contexts.iter().position(|c| c.info.id == *id);
                    pos.map(|i| {
                        t.defaults.retain(|_, d| d != id);
                        t.contexts.remove(i)
                    })
                };
                match removed {
                    Some(c) => {
                        c.shutdown().await;
                        http::json(StatusCode::OK, &serde_json::Value::Null)
                    }
                    None => not_found(id),
                }
            }
            (&Method::POST, ["contexts", id, "restart"]) => {
                let handle = self.table.lock().unwrap().get(id);
                match handle {
                    Some(c) => match c.restart().await {
                        Ok(()) => http::json(StatusCode::OK, &serde_json::Value::Null),
                        Err(e) => http::text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("Failed to restart context {id}: {e}"),
                        ),
                    },
                    None => not_found(id),
                }
            }
            (_, ["health" | "execute" | "contexts", ..]) => {
                http::text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            }
            _ => http::text(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    async fn create_context(&self, req: Request<Incoming>) -> Res {
        let raw = match http::read_body(req.into_body()).await {
            Ok(b) => b,
            Err(res) => return *res,
        };
        // The SDK always sends a body; tolerate an empty one.
        let body: CreateContextRequest = if raw.iter().all(u8::is_ascii_whitespace) {
            CreateContextRequest::default()
        } else {
            match http::parse_json(&raw) {
                Ok(b) => b,
                Err(res) => return *res,
            }
        };
        let language = match Language::parse(body.language.as_deref()) {
            Ok(l) => l,
            Err(e) => return http::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        let cwd = body
            .cwd
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| context::HOME.to_string());
        match ContextHandle::create(self.shared.clone(), language, &cwd).await {
            Ok(handle) => {
                let info = handle.info.clone();
                self.table.lock().unwrap().contexts.push(handle);
                http::json(StatusCode::OK, &info)
            }
            Err(e) => http::text(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }

    async fn execute(&self, req: Request<Incoming>) -> Res {
        let raw = match http::read_body(req.into_body()).await {
            Ok(b) => b,
            Err(res) => return *res,
        };
        let body: ExecutionRequest = match http::parse_json(&raw) {
            Ok(b) => b,
            Err(res) => return *res,
        };
        let handle = match (&body.context_id, &body.language) {
            (Some(_), Some(_)) => {
                return http::text(
                    StatusCode::BAD_REQUEST,
                    "Only one of context_id or language can be provided",
                )
            }
            (Some(id), None) => match self.table.lock().unwrap().get(id) {
                Some(h) => h,
                None => return not_found(id),
            },
            (None, lang) => {
                let language = match Language::parse(lang.as_deref()) {
                    Ok(l) => l,
                    Err(e) => return http::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                };
                match self.default_context(language).await {
                    Ok(h) => h,
                    Err(e) => return http::text(StatusCode::INTERNAL_SERVER_ERROR, e),
                }
            }
        };
        let mut env_vars: Vec<(String, String)> =
            body.env_vars.unwrap_or_default().into_iter().collect();
        env_vars.sort();
        let (tx, rx) = mpsc::channel(STREAM_DEPTH);
        let job = ExecJob {
            code: body.code,
            env_vars,
            out: tx,
        };
        if handle.execute(job).await.is_err() {
            return not_found(&handle.info.id);
        }
        Response::builder()
            .status(StatusCode::OK)
            .body(http_body_util::BodyExt::boxed(NdjsonBody::new(rx)))
            .expect("valid response")
    }
}

fn not_found(id: &str) -> Res {
    http::text(StatusCode::NOT_FOUND, format!("Context {id} not found"))
}
