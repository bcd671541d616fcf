//! The code-interpreter service (port 49999, docs/protocol.md#code-interpreter): `/execute`
//! streaming NDJSON, `/contexts` management, over Jupyter kernels running inside the sandbox.
//!
//! Default contexts: one per language, created on first use (`run_code(language=…)`). The
//! Python one is also started when the sandbox starts (code-interpreter templates). Listing
//! contexts makes sure the default `python` and — when a JavaScript kernel is installed —
//! `javascript` contexts exist, as the reference server creates both at start; without a
//! JavaScript kernel the list simply has no `javascript` entry.

mod catalog;
mod context;
mod kernel;
mod language;
mod relay;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use e2b_wire::execution::{Context, CreateContextRequest, ExecutionRequest};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::http::{self, NdjsonBody, Res};
use crate::route::InterpreterRoute;
use catalog::Kernels;
pub use catalog::{KernelCatalog, PROBE_DEFS as KERNEL_PROBE_DEFS};
use context::{ContextHandle, ExecJob, Shared};
pub use kernel::KernelSpec;
pub use language::Language;

/// Lines buffered between a context and its HTTP response.
const STREAM_DEPTH: usize = 32;

/// All contexts of the sandbox.
pub struct Interpreter {
    shared: Arc<Shared>,
    table: Mutex<Table>,
    /// Per language: serialises creation of its default context (two first requests start
    /// one kernel).
    create_default: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Table {
    /// In creation order.
    contexts: Vec<ContextHandle>,
    /// Language → id of its default context.
    defaults: HashMap<String, String>,
    /// Languages whose default context was ever created (listing does not resurrect a
    /// deleted one; running code in that language does).
    defaults_made: HashSet<String>,
}

impl Table {
    fn get(&self, id: &str) -> Option<ContextHandle> {
        self.contexts.iter().find(|c| c.info.id == id).cloned()
    }
}

impl Interpreter {
    pub fn new(spec: KernelSpec, reaper: Arc<super::reaper::Reaper>) -> Self {
        let global_envs = spec.envs.iter().cloned().collect();
        let kernels = Kernels::new(&spec.python, spec.has_ipykernel, &spec.catalog);
        tracing::info!("kernels available: {}", kernels.installed().join(", "));
        Interpreter {
            shared: Arc::new(Shared {
                kernel: spec,
                kernels,
                reaper,
                global_envs,
            }),
            table: Mutex::new(Table::default()),
            create_default: Mutex::new(HashMap::new()),
        }
    }

    /// The default context of `language`, created on first use.
    pub async fn default_context(&self, language: Language) -> Result<ContextHandle, String> {
        let name = language.name().to_string();
        let lookup = |t: &Table| t.defaults.get(&name).and_then(|id| t.get(id));
        if let Some(c) = lookup(&self.table.lock().unwrap()) {
            return Ok(c);
        }
        let lock = self
            .create_default
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        if let Some(c) = lookup(&self.table.lock().unwrap()) {
            return Ok(c);
        }
        let handle = ContextHandle::create(self.shared.clone(), language, context::HOME).await?;
        let mut t = self.table.lock().unwrap();
        t.defaults.insert(name.clone(), handle.info.id.clone());
        t.defaults_made.insert(name);
        t.contexts.push(handle.clone());
        Ok(handle)
    }

    /// Makes sure the default python and (if installed) javascript contexts exist, unless
    /// they were created before and deleted since. Both start concurrently.
    async fn ensure_listed_defaults(&self) {
        let mut wanted = vec![Language::python()];
        if self.shared.kernels.js_available() {
            wanted.push(Language::javascript());
        }
        let made = self.table.lock().unwrap().defaults_made.clone();
        let starts = wanted
            .into_iter()
            .filter(|l| !made.contains(l.name()))
            .map(|l| async move {
                let name = l.name().to_string();
                if let Err(e) = self.default_context(l).await {
                    tracing::warn!("default {name} context unavailable: {e}");
                }
            });
        futures_join_all(starts).await;
    }

    /// Serves one request, already parsed by [`crate::route`].
    pub async fn handle(&self, route: InterpreterRoute, req: Request<Incoming>) -> Res {
        match route {
            InterpreterRoute::Health => http::json(StatusCode::OK, &"OK"),
            // Local addition, for the daemon's warm pool: answers once the default Python
            // context is up (starting it if needed).
            InterpreterRoute::Ready => match self.default_context(Language::python()).await {
                Ok(_) => http::json(StatusCode::OK, &"OK"),
                Err(e) => http::text(StatusCode::INTERNAL_SERVER_ERROR, e),
            },
            InterpreterRoute::Execute => self.execute(req).await,
            InterpreterRoute::ListContexts => {
                // The default contexts exist from the start on the reference server; here
                // they may still be starting (or not started yet), so wait for them rather
                // than list them missing.
                self.ensure_listed_defaults().await;
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
            InterpreterRoute::CreateContext => self.create_context(req).await,
            InterpreterRoute::DeleteContext(id) => {
                let id = id.as_str();
                let removed = {
                    let mut t = self.table.lock().unwrap();
                    let pos = t.contexts.iter().position(|c| c.info.id == id);
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
            InterpreterRoute::RestartContext(id) => {
                let handle = self.table.lock().unwrap().get(&id);
                match handle {
                    Some(c) => match c.restart().await {
                        Ok(()) => http::json(StatusCode::OK, &serde_json::Value::Null),
                        Err(e) => http::text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("Failed to restart context {id}: {e}"),
                        ),
                    },
                    None => not_found(&id),
                }
            }
        }
    }

    async fn create_context(&self, req: Request<Incoming>) -> Res {
        let raw = match http::read_body(
            req.into_body(),
            http::MAX_SMALL_BODY,
            &mut http::REQUESTS.hold(),
        )
        .await
        {
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
        let language = Language::named(&language::normalize(body.language.as_deref()));
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
        let mut hold = http::REQUESTS.hold();
        let raw = match http::read_body(req.into_body(), http::MAX_EXECUTE_BODY, &mut hold).await {
            Ok(b) => b,
            Err(res) => return *res,
        };
        let body: ExecutionRequest = match http::parse_json(&raw) {
            Ok(b) => b,
            Err(res) => return *res,
        };
        // The code is held once from here on, and counts until it is sent to the kernel.
        drop(raw);
        hold.resize(body.code.len());
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
                let language = Language::named(&language::normalize(lang.as_deref()));
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
            hold,
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

/// Runs futures concurrently on the current task and waits for all of them.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
