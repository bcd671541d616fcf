//! The per-user daemon: one loopback HTTP/1.1 listener serving the control-plane API and,
//! routed by `E2b-Sandbox-Id` / `E2b-Sandbox-Port`, every sandbox's data plane
//! (docs/design.md#listener-and-routing); the in-memory sandbox registry with its timeouts
//! (docs/design.md#lifecycle); the state file the SDK and the CLI use to find it
//! (docs/design.md#the-per-user-daemon).
//!
//! Entry points: [`serve_blocking`] (builds its own tokio runtime — what the Python binding
//! calls with the GIL released), [`serve`] (async, runs until shutdown) and [`start`] (async,
//! returns a [`DaemonHandle`] once the listener is up — used by in-process tests).

mod api;
pub mod backend;
pub mod debug;
mod http;
pub mod ids;
mod peer;
pub mod pool;
mod proxy;
mod registry;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::http::{Request, Response, StatusCode};
use anyhow::{Context, Result};
use chrono::Utc;
use e2b_wire::api::NewSandbox;
use e2b_wire::headers::{SANDBOX_ID, SANDBOX_PORT};
use e2b_wire::local::LocalState;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, OnceCell};

use crate::sandbox::{AgentLauncher, Isolation, Limits, RuntimeConfig, SpawnRequest};
use api::ApiErr;
use backend::{IsolatedSandboxes, SandboxBackend};
use registry::{NewEntry, Registry, SandboxEntry};
use state::StateDir;

pub use registry::{
    read_user_templates, validate_template_name, write_user_templates, Template, TemplateSet,
    UserTemplate, TEMPLATES, USER_TEMPLATES_FILE,
};

/// Default resource limits of a sandbox (memory, pids, CPUs, writable layer); reported in
/// `SandboxDetail` / `ListedSandbox`.
pub type SandboxLimits = Limits;

/// Metadata keys that set one sandbox's limits at creation (local runtime only; the official
/// SDKs pass metadata through unchanged). See docs/security.md.
pub const LIMIT_KEYS: [&str; 4] = [
    "e2b-local:memory-mb",
    "e2b-local:cpus",
    "e2b-local:pids",
    "e2b-local:disk-mb",
];

/// Everything [`serve`] needs.
#[derive(Clone)]
pub struct DaemonConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Directory of `state.json`, `daemon.lock`, … (default [`e2b_wire::local::state_dir`]).
    pub state_dir: PathBuf,
    /// Runtime directory of the sandboxes (default `<state_dir>/run`).
    pub run_dir: Option<PathBuf>,
    /// Python interpreter whose environment provides the kernels.
    pub python: PathBuf,
    /// How the sandbox agent is started.
    pub agent: AgentLauncher,
    /// Limits of every sandbox that does not set its own (metadata [`LIMIT_KEYS`]).
    pub limits: SandboxLimits,
    /// Parent of the sandboxes' cgroups, relative to each hierarchy's root; `None` =
    /// `e2b-local/<hash of the state directory>`. One daemon per parent: a starting daemon
    /// removes what it finds under it.
    pub cgroup_parent: Option<String>,
    /// Longest sandbox lifetime a request may ask for; longer requests are capped.
    pub max_timeout: Duration,
    /// Shut down cleanly on SIGTERM / SIGINT (leave off for in-process tests).
    pub handle_signals: bool,
    /// Sandboxes of the default template kept ready with their kernel started (see
    /// [`pool`]); 0 = no pool. `e2b-local serve` defaults to 1.
    pub pool_size: usize,
    /// What creates sandboxes; `None` = real isolated sandboxes. A testing seam.
    pub backend: Option<Arc<dyn SandboxBackend>>,
    /// Templates given on the command line (`e2b-local serve --template NAME=PATH`), on top
    /// of the built-in ones and those defined in the state directory.
    pub templates: BTreeMap<String, UserTemplate>,
    /// Serve the SDKs' debug mode too (`e2b-local serve --debug`, see [`debug`]).
    pub debug: Option<debug::DebugPorts>,
}

impl std::fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonConfig")
            .field("port", &self.port)
            .field("state_dir", &self.state_dir)
            .field("run_dir", &self.run_dir)
            .field("python", &self.python)
            .field("agent", &self.agent)
            .field("limits", &self.limits)
            .field("cgroup_parent", &self.cgroup_parent)
            .field("max_timeout", &self.max_timeout)
            .field("handle_signals", &self.handle_signals)
            .field("pool_size", &self.pool_size)
            .field("backend", &self.backend.as_ref().map(|_| "custom"))
            .field("templates", &self.templates)
            .field("debug", &self.debug)
            .finish()
    }
}

impl DaemonConfig {
    pub fn new(python: PathBuf, agent: AgentLauncher) -> DaemonConfig {
        DaemonConfig {
            port: 0,
            state_dir: e2b_wire::local::state_dir(),
            run_dir: None,
            python,
            agent,
            limits: SandboxLimits::default(),
            cgroup_parent: None,
            max_timeout: Duration::from_secs(24 * 3600),
            handle_signals: true,
            pool_size: 0,
            backend: None,
            templates: BTreeMap::new(),
            debug: None,
        }
    }

    /// The templates of this daemon: built-in, `--template`, and the state directory's.
    pub fn template_set(&self) -> TemplateSet {
        TemplateSet {
            serve: self.templates.clone(),
            state_dir: Some(self.state_dir.clone()),
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.run_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("run"))
    }

    fn cgroup_parent(&self) -> String {
        self.cgroup_parent.clone().unwrap_or_else(|| {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(self.state_dir.as_os_str().as_encoded_bytes());
            let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("e2b-local/{hex}")
        })
    }

    /// Limits of a new sandbox: the daemon's, with any [`LIMIT_KEYS`] of its metadata.
    fn limits_for(&self, metadata: &HashMap<String, String>) -> Result<Limits, ApiErr> {
        let mut l = self.limits;
        for key in LIMIT_KEYS {
            let Some(raw) = metadata.get(key) else {
                continue;
            };
            let bad = || {
                ApiErr::bad_request(format!(
                    "metadata {key}={raw:?}: expected a positive number"
                ))
            };
            match key {
                "e2b-local:cpus" => {
                    let v: f64 = raw.trim().parse().map_err(|_| bad())?;
                    if !(0.01..=1024.0).contains(&v) {
                        return Err(bad());
                    }
                    l.cpus = v;
                }
                _ => {
                    let v: u64 = raw.trim().parse().map_err(|_| bad())?;
                    if v == 0 {
                        return Err(bad());
                    }
                    match key {
                        "e2b-local:memory-mb" => l.memory_mb = v.max(16),
                        "e2b-local:pids" => l.pids = v.max(8),
                        _ => l.disk_mb = v,
                    }
                }
            }
        }
        Ok(l)
    }
}

/// Default sandbox lifetime when a request gives none (docs/protocol.md#sandbox-create).
const DEFAULT_TIMEOUT_SECS: i64 = 300;
/// How long shutdown waits for sandboxes to die before giving up on them.
const KILL_ALL_LIMIT: Duration = Duration::from_secs(20);

type CreateOutcome = Result<Arc<SandboxEntry>, ApiErr>;

/// Shared state of a running daemon.
pub(crate) struct Daemon {
    config: DaemonConfig,
    runtime: RuntimeConfig,
    api_key: String,
    url: String,
    registry: Registry,
    backend: Arc<dyn SandboxBackend>,
    state: StateDir,
    started: Instant,
    shutting_down: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    idempotency: Mutex<HashMap<String, Arc<OnceCell<CreateOutcome>>>>,
    /// The warm pool, when `pool_size` > 0.
    pool: Option<Arc<pool::Pool>>,
    /// Its refill task, awaited at shutdown so a sandbox it is still preparing is removed
    /// (cgroups included) before the daemon exits.
    pool_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The sandbox that `debug_sandbox_id` stands for (`serve --debug`).
    debug_sandbox: tokio::sync::Mutex<Option<String>>,
    /// Teardowns still running in the background (a killed sandbox is dead and gone from the
    /// registry at once; its exit, mounts, cgroups and files are removed afterwards).
    /// Shutdown waits for them to reach zero.
    teardowns: watch::Sender<usize>,
    /// Which local users may connect (the daemon's own uid and root).
    peers: peer::PeerPolicy,
}

impl Daemon {
    fn request_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    fn status_json(&self) -> serde_json::Value {
        serde_json::json!({
            "pid": std::process::id(),
            "url": self.url,
            "version": env!("CARGO_PKG_VERSION"),
            "sandboxes": self.registry.len(),
            "warmPool": self.pool.as_ref().map_or(0, |p| p.ready_count()),
            "pendingTeardowns": *self.teardowns.borrow(),
            "uptimeSeconds": self.started.elapsed().as_secs(),
            "stateDir": self.state.path().display().to_string(),
            "python": self.runtime.python.display().to_string(),
            "poolSize": self.config.pool_size,
            "debug": self.config.debug.map(|p| serde_json::json!({
                "envdPort": p.envd,
                "codeInterpreterPort": p.code_interpreter,
                "apiPort": p.api,
            })),
        })
    }

    /// Validates a requested lifetime: absent → 300 s, capped at `max_timeout`. `allow_zero`
    /// is for set_timeout / connect, where 0 is meaningful; create requires > 0.
    fn timeout_secs(
        &self,
        requested: Option<i64>,
        allow_zero: bool,
    ) -> Result<chrono::Duration, ApiErr> {
        let secs = requested.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if secs < 0 || (secs == 0 && !allow_zero) {
            return Err(ApiErr::bad_request("Timeout must be greater than 0"));
        }
        let secs = secs.min(self.config.max_timeout.as_secs() as i64);
        Ok(chrono::Duration::seconds(secs))
    }

    async fn create_sandbox(
        self: &Arc<Self>,
        req: NewSandbox,
        v2: bool,
        idempotency_key: Option<String>,
    ) -> CreateOutcome {
        let plan = self.plan_create(req, v2, idempotency_key.clone())?;
        let Some(key) = idempotency_key else {
            return self.spawn_detached(plan).await;
        };
        // A repeated Idempotency-Key (2.63.0 resends it on retries) gets the same sandbox.
        let cell = self
            .idempotency
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_default()
            .clone();
        let outcome = cell.get_or_init(|| self.spawn_detached(plan)).await.clone();
        if outcome.is_err() {
            let mut map = self.idempotency.lock().unwrap();
            if map.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                map.remove(&key);
            }
        }
        outcome
    }

    fn plan_create(
        &self,
        req: NewSandbox,
        v2: bool,
        idempotency_key: Option<String>,
    ) -> Result<CreatePlan, ApiErr> {
        if req.template_id.trim().is_empty() {
            return Err(ApiErr::bad_request("templateID is required"));
        }
        let templates = self.config.template_set();
        let template = templates.resolve(&req.template_id).ok_or_else(|| {
            ApiErr::new(
                StatusCode::NOT_FOUND,
                format!(
                    "template '{}' not found; available: {}",
                    req.template_id,
                    templates.names()
                ),
            )
        })?;
        let alias = (req.template_id != template.id).then(|| req.template_id.clone());
        let timeout = self.timeout_secs(req.timeout, false)?;
        let secure = v2 || req.secure != Some(false);
        let network = req.network.clone();
        let public_traffic = network
            .as_ref()
            .and_then(|n| n.get("allowPublicTraffic"))
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !public_traffic && !secure {
            return Err(ApiErr::bad_request(
                "network.allowPublicTraffic=false requires a secure sandbox (secure=true)",
            ));
        }
        let deny_all = network
            .as_ref()
            .and_then(|n| n.get("denyOut"))
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("0.0.0.0/0")))
            && network
                .as_ref()
                .and_then(|n| n.get("allowOut"))
                .and_then(|v| v.as_array())
                .is_none_or(|a| a.is_empty());
        let metadata = req.metadata.unwrap_or_default();
        let limits = self.config.limits_for(&metadata)?;
        Ok(CreatePlan {
            limits,
            template,
            alias,
            timeout,
            secure,
            traffic_token: !public_traffic,
            allow_internet_access: req.allow_internet_access.unwrap_or(true) && !deny_all,
            metadata,
            env_vars: req.env_vars.unwrap_or_default(),
            network,
            idempotency_key,
        })
    }

    /// Runs the creation in its own task, so a client that disconnects mid-create does not
    /// leave a half-made sandbox behind (the sandbox is registered and times out normally).
    async fn spawn_detached(self: &Arc<Self>, plan: CreatePlan) -> CreateOutcome {
        let daemon = self.clone();
        tokio::spawn(async move { daemon.spawn_sandbox(plan).await })
            .await
            .unwrap_or_else(|e| {
                Err(ApiErr::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("sandbox creation failed unexpectedly: {e}"),
                ))
            })
    }

    async fn spawn_sandbox(self: Arc<Self>, plan: CreatePlan) -> CreateOutcome {
        if self.is_shutting_down() {
            return Err(shutting_down());
        }
        // A warm sandbox when the request asks for nothing a pooled one lacks (pool.rs).
        let warm = match &self.pool {
            Some(pool) if self.poolable(&plan) => pool.take(&self).await,
            _ => None,
        };
        let from_pool = warm.is_some();
        let id = match &warm {
            Some(w) => w.id.clone(),
            None => loop {
                let id = ids::sandbox_id();
                if !self.registry.contains(&id) {
                    break id;
                }
            },
        };
        let mut envs = plan.env_vars;
        envs.insert("E2B_SANDBOX".into(), "true".into());
        envs.insert("E2B_SANDBOX_ID".into(), id.clone());
        envs.insert("E2B_TEMPLATE_ID".into(), plan.template.id.into());
        let mut start_kernel = plan.template.start_kernel;
        if let (Some(python), None) = (plan.template.python, &warm) {
            // A template defined as a Python environment: the kernel starts at creation when
            // it has ipykernel; without, the sandbox still runs commands and files.
            start_kernel = crate::sandbox::describe_python(python)
                .await
                .map_err(|e| {
                    ApiErr::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("template '{}': {e}", plan.template.id),
                    )
                })?
                .has_ipykernel;
        }
        let request = SpawnRequest {
            sandbox_id: id.clone(),
            template_id: plan.template.id.to_string(),
            envs,
            allow_internet_access: plan.allow_internet_access,
            start_kernel,
            limits: Some(plan.limits),
            python: plan.template.python.map(Path::to_path_buf),
        };
        let t0 = Instant::now();
        let process = match warm {
            Some(w) => w.process,
            None => self
                .backend
                .spawn(&self.runtime, request)
                .await
                .map_err(|e| {
                    tracing::error!(
                        "creating sandbox {id} from template {} failed: {e}",
                        plan.template.id
                    );
                    ApiErr::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!(
                            "cannot create a sandbox from template '{}': {e}",
                            plan.template.id
                        ),
                    )
                })?,
        };
        let started_at = Utc::now();
        let entry = Arc::new(SandboxEntry::new(NewEntry {
            id: id.clone(),
            template: plan.template,
            alias: plan.alias,
            metadata: plan.metadata,
            started_at,
            end_at: started_at + plan.timeout,
            access_token: plan.secure.then(ids::access_token),
            traffic_token: plan.traffic_token.then(ids::access_token),
            allow_internet_access: plan.allow_internet_access,
            network: plan.network,
            process,
            idempotency_key: plan.idempotency_key,
        }));
        self.state.record_sandbox(&id, entry.process.init_pid());
        self.registry.insert(entry.clone());
        // Shutdown may have emptied the registry between the check above and the insert.
        if self.is_shutting_down() {
            if self.registry.remove_if_same(&entry) {
                self.destroy(entry, "the daemon is shutting down");
            }
            return Err(shutting_down());
        }
        tracing::info!(
            "sandbox {id} created from template {}{} in {} ms (init pid {}, timeout {} s)",
            plan.template.id,
            if from_pool { " (warm pool)" } else { "" },
            t0.elapsed().as_millis(),
            entry.process.init_pid(),
            plan.timeout.num_seconds()
        );
        tokio::spawn(self.clone().supervise(entry.clone()));
        Ok(entry)
    }

    /// Kills the sandbox at its expiry (which set_timeout / connect may move) and forgets it
    /// if its init exits on its own.
    async fn supervise(self: Arc<Self>, entry: Arc<SandboxEntry>) {
        let mut end_at = entry.watch_end_at();
        let exited = entry.process.exited();
        tokio::pin!(exited);
        let mut paused = entry.watch_paused();
        let reason = loop {
            let end = *end_at.borrow_and_update();
            let wait = (end - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    if *end_at.borrow() <= Utc::now() {
                        // As upstream: a paused sandbox does not time out; resuming it sets
                        // a new expiry.
                        if *paused.borrow_and_update() {
                            tokio::select! {
                                _ = paused.wait_for(|p| !*p) => continue,
                                _ = &mut exited => break "its init process exited unexpectedly",
                            }
                        }
                        break "its timeout expired";
                    }
                }
                changed = end_at.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = &mut exited => break "its init process exited unexpectedly",
            }
        };
        if self.registry.remove_if_same(&entry) {
            self.destroy(entry.clone(), reason);
        }
    }

    /// Removes a sandbox by id; false if it is unknown. Returns once it is dead (see
    /// [`Daemon::destroy`]), before its teardown has finished.
    fn kill_sandbox(self: &Arc<Self>, id: &str, reason: &'static str) -> bool {
        match self.registry.remove(id) {
            Some(entry) => {
                self.destroy(entry, reason);
                true
            }
            None => false,
        }
    }

    /// Kills an entry already removed from the registry: every process of it gets SIGKILL
    /// now, and the rest of the teardown (waiting for the exit, network helper, cgroups,
    /// runtime files, the crash-recovery record) runs in the background, counted in
    /// `teardowns` so that shutdown waits for it.
    fn destroy(self: &Arc<Self>, entry: Arc<SandboxEntry>, reason: &'static str) {
        entry.process.signal_kill();
        if let Some(key) = &entry.idempotency_key {
            self.idempotency.lock().unwrap().remove(key);
        }
        self.teardowns.send_modify(|n| *n += 1);
        let pending = TeardownPending(self.clone());
        tokio::spawn(async move {
            entry.process.kill().await;
            pending.0.state.forget_sandbox(&entry.id);
            tracing::info!("sandbox {} removed: {reason}", entry.id);
            drop(pending);
        });
    }

    /// Waits until no teardown is running (or `limit` has passed).
    async fn teardowns_done(&self, limit: Duration) {
        let mut rx = self.teardowns.subscribe();
        if tokio::time::timeout(limit, rx.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            tracing::warn!("some sandboxes were not torn down within {limit:?}");
        }
    }

    async fn kill_all(self: &Arc<Self>) {
        self.shutting_down.store(true, Ordering::SeqCst);
        if let Some(pool) = &self.pool {
            for warm in pool.drain() {
                pool::discard(self, warm).await;
            }
            // A sandbox being prepared right now is discarded by the refill task itself.
            let task = self.pool_task.lock().unwrap().take();
            if let Some(task) = task {
                if tokio::time::timeout(KILL_ALL_LIMIT, task).await.is_err() {
                    tracing::warn!("the warm pool did not stop within {KILL_ALL_LIMIT:?}");
                }
            }
        }
        let all = self.registry.take_all();
        if !all.is_empty() {
            tracing::info!("killing {} sandbox(es) before exiting", all.len());
        }
        for entry in all {
            self.destroy(entry, "the daemon is shutting down");
        }
        // Also the teardowns of sandboxes killed just before the shutdown.
        self.teardowns_done(KILL_ALL_LIMIT).await;
    }
}

/// Counts one background teardown for as long as it lives (a panicking teardown is
/// uncounted too).
struct TeardownPending(Arc<Daemon>);

impl Drop for TeardownPending {
    fn drop(&mut self) {
        self.0.teardowns.send_modify(|n| *n -= 1);
    }
}

impl Daemon {
    /// Whether a warm sandbox can serve `plan`: the pool's template, no create-time envs
    /// (the pooled sandbox's processes already run without them), internet access on, and
    /// nothing else that changes how a sandbox is spawned.
    fn poolable(&self, plan: &CreatePlan) -> bool {
        plan.template.id == pool::POOL_TEMPLATE
            && plan.env_vars.is_empty()
            && plan.allow_internet_access
            && plan.limits == self.config.limits
    }

    /// The spawn request of a pooled sandbox: what [`Daemon::spawn_sandbox`] builds for a
    /// poolable plan. Keep the two in step.
    fn warm_request(&self, id: &str) -> SpawnRequest {
        let template = pool::Pool::template();
        let envs = HashMap::from([
            ("E2B_SANDBOX".to_string(), "true".to_string()),
            ("E2B_SANDBOX_ID".to_string(), id.to_string()),
            ("E2B_TEMPLATE_ID".to_string(), template.id.to_string()),
        ]);
        SpawnRequest {
            sandbox_id: id.to_string(),
            template_id: template.id.to_string(),
            envs,
            allow_internet_access: true,
            start_kernel: template.start_kernel,
            limits: Some(self.config.limits),
            python: None,
        }
    }
}

fn shutting_down() -> ApiErr {
    ApiErr::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the local E2B runtime is shutting down",
    )
}

struct CreatePlan {
    limits: Limits,
    template: &'static registry::Template,
    alias: Option<String>,
    timeout: chrono::Duration,
    secure: bool,
    traffic_token: bool,
    allow_internet_access: bool,
    metadata: HashMap<String, String>,
    env_vars: HashMap<String, String>,
    network: Option<serde_json::Value>,
    idempotency_key: Option<String>,
}

/// A daemon started by [`start`].
pub struct DaemonHandle {
    daemon: Arc<Daemon>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl DaemonHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.daemon.url
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn api_key(&self) -> &str {
        &self.daemon.api_key
    }
    /// Asks the daemon to shut down (kill every sandbox, remove `state.json`).
    pub fn shutdown(&self) {
        self.daemon.request_shutdown();
    }
    /// Waits until the daemon has shut down.
    pub async fn wait(self) -> Result<()> {
        self.task.await.context("daemon task failed")?
    }
}

/// Starts the daemon on the current tokio runtime: takes the lock, cleans up after a crashed
/// predecessor, binds, writes `state.json`, and returns once it accepts connections.
pub async fn start(config: DaemonConfig) -> Result<DaemonHandle> {
    // Without socket diagnostics every connection would be refused: say so now instead.
    peer::self_test().context(
        "the daemon tells local users apart through the kernel's socket diagnostics \
         (NETLINK_SOCK_DIAG, inet_diag/tcp_diag), which do not answer here",
    )?;
    let state = StateDir::acquire(&config.state_dir)?;
    let run_dir = config.run_dir();
    state::ensure_private_dir(&run_dir)?;
    let leftovers = state.reap_leftovers(&run_dir);
    if leftovers.is_empty() {
        tracing::info!("no sandboxes of a previous daemon to clean up");
    }
    for line in &leftovers {
        tracing::warn!("cleanup after a previous daemon: {line}");
    }

    let std_listener = std::net::TcpListener::bind(("127.0.0.1", config.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", config.port))?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let debug_listeners = config.debug.map(debug::bind).transpose()?;

    let isolation = Isolation::detect(&config.cgroup_parent());
    for line in isolation.cgroups.reap_leftovers() {
        tracing::warn!("cleanup after a previous daemon: {line}");
    }
    tracing::info!(
        "isolation: cgroup {} under {} (memory/pids/cpu/freeze enforced: {:?}); network: {}",
        isolation.cgroups.version(),
        isolation.cgroups.parent().display(),
        isolation.cgroups.enforced(),
        isolation
            .network
            .unavailable_reason()
            .unwrap_or("slirp4netns for sandboxes with internet access")
    );
    let runtime = RuntimeConfig {
        python: config.python.clone(),
        agent: config.agent.clone(),
        run_dir,
        limits: config.limits,
        isolation: Arc::new(isolation),
    };
    let (shutdown_tx, _) = watch::channel(false);
    let daemon = Arc::new(Daemon {
        runtime,
        api_key: ids::api_key(),
        url: url.clone(),
        registry: Registry::default(),
        backend: config
            .backend
            .clone()
            .unwrap_or_else(|| Arc::new(IsolatedSandboxes)),
        state,
        started: Instant::now(),
        shutting_down: AtomicBool::new(false),
        shutdown_tx,
        idempotency: Mutex::new(HashMap::new()),
        pool: (config.pool_size > 0).then(|| pool::Pool::new(config.pool_size)),
        pool_task: Mutex::new(None),
        debug_sandbox: tokio::sync::Mutex::new(None),
        teardowns: watch::channel(0).0,
        peers: peer::PeerPolicy::current(),
        config,
    });
    daemon.state.write_state(&LocalState {
        pid: std::process::id(),
        url: url.clone(),
        api_key: daemon.api_key.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })?;
    tracing::info!(
        "sandboxd {} listening on {url} (pid {}, state {}, python {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        daemon.state.path().display(),
        daemon.runtime.python.display()
    );
    if daemon.config.handle_signals {
        spawn_signal_watch(daemon.clone())?;
    }
    if let Some(pool) = &daemon.pool {
        let task = tokio::spawn(pool.clone().run(daemon.clone()));
        *daemon.pool_task.lock().unwrap() = Some(task);
    }
    if let Some(listeners) = debug_listeners {
        debug::serve(daemon.clone(), listeners);
    }
    let task = tokio::spawn(run(daemon.clone(), listener));
    Ok(DaemonHandle { daemon, addr, task })
}

/// Runs the daemon until it is asked to shut down (SIGTERM/SIGINT when `handle_signals`,
/// `POST /local/shutdown`).
pub async fn serve(config: DaemonConfig) -> Result<()> {
    start(config).await?.wait().await
}

/// [`serve`] on a multi-thread tokio runtime of its own; blocks the calling thread.
pub fn serve_blocking(config: DaemonConfig) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sandboxd")
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(serve(config))
}

fn spawn_signal_watch(daemon: Arc<Daemon>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name} received, shutting down");
        daemon.request_shutdown();
        // A second signal while sandboxes are being killed means "now".
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::warn!("second {name}: exiting without waiting for the sandboxes");
        daemon.state.remove_state();
        std::process::exit(130);
    });
    Ok(())
}

async fn run(daemon: Arc<Daemon>, listener: TcpListener) -> Result<()> {
    let mut shutdown = daemon.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(stream) = peer::admit(daemon.peers, stream, peer) else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(daemon.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    // Stop advertising first: clients then see "not running" rather than a closed port.
    daemon.state.remove_state();
    daemon.kill_all().await;
    daemon.runtime.isolation.cgroups.remove_parents();
    daemon.state.release();
    tracing::info!("sandboxd stopped");
    Ok(())
}

/// Resolves once shutdown has been requested.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn serve_connection(daemon: Arc<Daemon>, stream: tokio::net::TcpStream) {
    let mut shutdown = daemon.shutdown_tx.subscribe();
    let service = service_fn(move |req| {
        let daemon = daemon.clone();
        async move { Ok::<_, Infallible>(route(&daemon, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

async fn route(daemon: &Arc<Daemon>, req: Request<Incoming>) -> Response<http::Body> {
    if req.headers().contains_key(SANDBOX_ID) || req.headers().contains_key(SANDBOX_PORT) {
        return proxy::handle(daemon, req).await;
    }
    match proxy::route_signed_files(daemon, req).await {
        Ok(resp) => resp,
        Err(req) => api::handle(daemon, req).await,
    }
}
