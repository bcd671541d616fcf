//! Connection configuration: how per-call options, environment variables and defaults resolve
//! into one [`ConnectionConfig`], the choice between the E2B cloud and the local runtime, and
//! every URL derived from it — the API, each sandbox port's base URL (envd, the code
//! interpreter), signed file URLs and `get_host`. The choice is made once, here, and every URL
//! follows from it: a config that resolved to the local runtime yields only the daemon's
//! loopback URLs, whatever cloud settings were given.
//!
//! | settings | target |
//! |---|---|
//! | `E2B_DEBUG` | debug mode (`localhost` ports), never local |
//! | `E2B_LOCAL` true (`1`, `true`, …) | local; a key, the domain, `api_url` and `sandbox_url` are ignored (and logged as such) |
//! | `E2B_LOCAL` false (`0`, `false`, `no`, `off`) | cloud; no key → `AuthenticationException` on use |
//! | `E2B_LOCAL` unset, a key | cloud: the domain, `api_url` and `sandbox_url` as upstream |
//! | `E2B_LOCAL` unset, no key | local; the domain, `api_url` and `sandbox_url` are ignored (and logged as such) |
//!
//! A build without the local runtime ([`LOCAL_RUNTIME`] false: not x86-64 Linux, or built
//! without the `local-runtime` feature) is cloud-only: with `E2B_LOCAL` unset and no key it
//! resolves to the cloud, whose missing-key `AuthenticationException` adds
//! [`LOCAL_RUNTIME_UNAVAILABLE`]; `E2B_LOCAL` true is refused when resolving (it must never
//! fall back to the cloud).
//!
//! Resolution reads the environment through a closure so it can be tested without touching
//! the process environment.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::local::{self, LocalEndpoint};

pub const DEFAULT_DOMAIN: &str = "e2b.app";
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_RETRIES: u32 = 3;
/// Port of envd inside a sandbox.
pub const ENVD_PORT: u16 = e2b_wire::headers::ENVD_PORT;

/// Domains served by E2B's shared sandbox host (`https://sandbox.{domain}`, routed by headers).
pub const SUPPORTED_SANDBOX_DOMAINS: &[&str] = &[
    "e2b.app",
    "e2b.dev",
    "e2b.pro",
    "e2b-staging.dev",
    "e2b-tango.dev",
    "e2b-juliett.dev",
    "foxtrot-2.e2b.dev",
];

/// Text of the `AuthenticationException` raised before any request when no key is known.
pub const API_KEY_REQUIRED_MESSAGE: &str = "API key is required, please visit the API Keys tab at https://e2b.dev/dashboard?tab=keys to get your API key. You can either set the environment variable `E2B_API_KEY` or you can pass it directly to the method like api_key=\"e2b_...\"";

/// Whether this build runs sandboxes locally: the `local-runtime` feature on x86-64 Linux
/// (crates/e2b-client/build.rs).
pub const LOCAL_RUNTIME: bool = cfg!(local_runtime);

/// The one sentence a build without the local runtime adds to [`API_KEY_REQUIRED_MESSAGE`]
/// (and says in `e2b-local`): where a local sandbox would have been used, it cannot be.
pub const LOCAL_RUNTIME_UNAVAILABLE: &str = "Local sandboxes, which need no API key, run on x86-64 Linux only; this build of e2b is cloud-only.";

/// `E2B_HTTP_VERSION` / `http_version`: `"2"` lets TLS ALPN choose, `"1.1"` pins HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    Http1,
    Http2,
}

impl HttpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }

    /// Parses `"1.1"` or `"2"`; `source` names the option in the error, as upstream does.
    pub fn parse(value: &str, source: &str) -> Result<Self> {
        match value {
            "1.1" => Ok(HttpVersion::Http1),
            "2" => Ok(HttpVersion::Http2),
            other => Err(Error::invalid_argument(format!(
                "{source} must be '1.1' or '2', got {}",
                py_str_repr(other)
            ))),
        }
    }
}

/// Per-call options, every one optional (the `ApiParams` keys the core resolves).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionOpts {
    pub domain: Option<String>,
    pub debug: Option<bool>,
    pub api_key: Option<String>,
    pub api_url: Option<String>,
    pub sandbox_url: Option<String>,
    /// Seconds; `Some(0.0)` disables the timeout.
    pub request_timeout: Option<f64>,
    pub retries: Option<u32>,
    pub http_version: Option<String>,
    pub proxy: Option<String>,
}

/// Where every request of a configuration goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// E2B cloud, a self-hosted cluster, or whatever `api_url` / `sandbox_url` name.
    Cloud,
    /// The per-user local runtime.
    Local(LocalMode),
}

/// Why a configuration is local, what it ignored, and which daemon it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMode {
    /// `E2B_LOCAL`'s value when it forced local mode; `None` when no key was configured.
    pub forced_by: Option<String>,
    /// Settings given but unused, named by their source (`E2B_API_URL`, `api_url=`, …).
    pub ignored: Vec<String>,
    /// The daemon that created or connected this config's sandbox; `None` until then (API
    /// calls then find the running daemon, or start it).
    pub endpoint: Option<LocalEndpoint>,
}

impl LocalMode {
    /// The WARNING the SDK logs (once per process) when sandboxes run locally: why, and which
    /// settings were ignored — never their values.
    pub fn notice(&self) -> String {
        let ignored = self.ignored.join(", ");
        match &self.forced_by {
            None => {
                let mut text = "No E2B API key is configured: sandboxes run on this machine \
                                (local runtime)."
                    .to_owned();
                if !ignored.is_empty() {
                    text.push_str(&format!(" Without a key these are ignored: {ignored}."));
                }
                text.push_str(
                    " Set E2B_API_KEY to use the E2B cloud; set E2B_LOCAL=0 to require it.",
                );
                text
            }
            Some(flag) => {
                let mut text = format!(
                    "E2B_LOCAL={}: sandboxes run on this machine (local runtime)",
                    flag.escape_debug()
                );
                if !ignored.is_empty() {
                    text.push_str(&format!("; ignored: {ignored}"));
                }
                text.push_str(". Unset E2B_LOCAL to use the E2B cloud.");
                text
            }
        }
    }

    /// The daemon whose URLs this config's sandboxes use: the bound one, else the one this
    /// process last found, else the one the state file names (sandbox URLs are built without
    /// I/O; each request then finds out whether it answers).
    fn daemon(&self) -> Result<LocalEndpoint> {
        self.daemon_or(local::known)
    }

    fn daemon_or(&self, known: impl FnOnce() -> Option<LocalEndpoint>) -> Result<LocalEndpoint> {
        self.endpoint.clone().or_else(known).ok_or_else(|| {
            Error::new(
                ErrorKind::SandboxException,
                "Local sandbox runtime unavailable: it is not running, so this sandbox has no \
                 address. Create or connect the sandbox first (Sandbox.create / Sandbox.connect).",
            )
        })
    }
}

/// A fully resolved configuration. In [`Target::Local`] mode `api_key`, `api_url` and
/// `sandbox_url` are unused (`None`, empty, `None`): the daemon's URL and key come from
/// [`crate::local`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    pub domain: String,
    pub debug: bool,
    pub api_key: Option<String>,
    pub api_url: String,
    pub sandbox_url: Option<String>,
    pub request_timeout: Option<Duration>,
    pub retries: u32,
    pub http_version: HttpVersion,
    pub proxy: Option<String>,
    pub target: Target,
    /// No key and `E2B_LOCAL` unset in a build without the local runtime: the cloud config
    /// that results says so in its missing-key error ([`Self::require_api_key`]).
    pub local_unavailable: bool,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A setting's value and its source: the option (`api_url=`) or the variable (`E2B_API_URL`).
struct Setting {
    value: String,
    source: &'static str,
}

impl Setting {
    fn pick(
        option: Option<String>,
        option_name: &'static str,
        env: &impl Fn(&str) -> Option<String>,
        var: &'static str,
    ) -> Option<Setting> {
        if let Some(value) = non_empty(option) {
            return Some(Setting {
                value,
                source: option_name,
            });
        }
        non_empty(env(var)).map(|value| Setting { value, source: var })
    }
}

/// `E2B_LOCAL`: `Some(false)` for 0/false/no/off, `Some(true)` for any other non-empty value,
/// `None` when unset or empty.
pub fn parse_local_flag(value: Option<&str>) -> Option<bool> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    Some(!matches!(
        value.to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off"
    ))
}

impl ConnectionConfig {
    /// Resolves options against the environment (`env` returns a variable's value).
    ///
    /// Precedence: option > environment > default. The target follows the table in this
    /// module's documentation.
    pub fn resolve(opts: ConnectionOpts, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::resolve_for(opts, env, LOCAL_RUNTIME)
    }

    /// [`Self::resolve`] for a build with (`runtime`) or without the local runtime.
    fn resolve_for(
        opts: ConnectionOpts,
        env: impl Fn(&str) -> Option<String>,
        runtime: bool,
    ) -> Result<Self> {
        let domain = Setting::pick(opts.domain, "domain=", &env, "E2B_DOMAIN");
        let debug = opts.debug.unwrap_or_else(|| {
            env("E2B_DEBUG")
                .map(|v| v.eq_ignore_ascii_case("true"))
                .unwrap_or(false)
        });
        let api_key = Setting::pick(opts.api_key, "api_key=", &env, "E2B_API_KEY");
        let api_url = Setting::pick(opts.api_url, "api_url=", &env, "E2B_API_URL");
        let sandbox_url = Setting::pick(opts.sandbox_url, "sandbox_url=", &env, "E2B_SANDBOX_URL");
        let request_timeout = match opts.request_timeout {
            Some(0.0) => None,
            Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(Error::invalid_argument(format!(
                    "request_timeout must be a non-negative number of seconds, got {t}"
                )))
            }
            None => Some(DEFAULT_REQUEST_TIMEOUT),
        };
        let http_version = match opts.http_version {
            Some(v) => HttpVersion::parse(&v, "http_version")?,
            None => match non_empty(env("E2B_HTTP_VERSION")) {
                Some(v) => HttpVersion::parse(&v, "E2B_HTTP_VERSION")?,
                None => HttpVersion::Http2,
            },
        };
        let local_var = env("E2B_LOCAL");
        let local_flag = parse_local_flag(local_var.as_deref());
        let wants_local = !debug && local_flag.unwrap_or(api_key.is_none());
        if wants_local && !runtime {
            if let (Some(true), Some(flag)) = (local_flag, local_var.as_deref()) {
                return Err(Error::new(
                    ErrorKind::SandboxException,
                    format!(
                        "E2B_LOCAL={}: {LOCAL_RUNTIME_UNAVAILABLE} Unset E2B_LOCAL to use the \
                         E2B cloud.",
                        flag.trim().escape_debug()
                    ),
                ));
            }
        }
        let local = wants_local && runtime;
        let domain_value = domain
            .as_ref()
            .map_or_else(|| DEFAULT_DOMAIN.to_owned(), |d| d.value.clone());

        let (target, api_key, api_url, sandbox_url) = if local {
            let mut ignored = Vec::new();
            if let Some(key) = &api_key {
                ignored.push(format!("the API key ({})", key.source));
            }
            for setting in [&domain, &api_url, &sandbox_url].into_iter().flatten() {
                ignored.push(setting.source.to_owned());
            }
            let mode = LocalMode {
                forced_by: local_flag
                    .and(local_var.as_deref())
                    .map(|v| v.trim().to_owned()),
                ignored,
                endpoint: None,
            };
            (Target::Local(mode), None, String::new(), None)
        } else {
            let api_url = api_url.map(|s| s.value).unwrap_or_else(|| {
                if debug {
                    "http://localhost:3000".to_owned()
                } else {
                    format!("https://api.{domain_value}")
                }
            });
            (
                Target::Cloud,
                api_key.map(|s| s.value),
                api_url,
                sandbox_url.map(|s| s.value),
            )
        };

        Ok(ConnectionConfig {
            domain: domain_value,
            debug,
            api_key,
            api_url,
            sandbox_url,
            request_timeout,
            retries: opts.retries.unwrap_or(DEFAULT_RETRIES),
            http_version,
            proxy: non_empty(opts.proxy),
            target,
            local_unavailable: wants_local && !runtime,
        })
    }

    /// Resolves against the process environment.
    pub fn from_env(opts: ConnectionOpts) -> Result<Self> {
        Self::resolve(opts, |key| std::env::var(key).ok())
    }

    /// The API key, or the upstream `AuthenticationException` when there is none.
    /// A build without the local runtime adds [`LOCAL_RUNTIME_UNAVAILABLE`] where the local
    /// runtime would have been used (`E2B_LOCAL` unset).
    pub fn require_api_key(&self) -> Result<&str> {
        self.api_key.as_deref().ok_or_else(|| {
            let message = if self.local_unavailable {
                format!("{API_KEY_REQUIRED_MESSAGE} {LOCAL_RUNTIME_UNAVAILABLE}")
            } else {
                API_KEY_REQUIRED_MESSAGE.to_owned()
            };
            Error::new(ErrorKind::AuthenticationException, message)
        })
    }

    pub fn is_local(&self) -> bool {
        matches!(self.target, Target::Local(_))
    }

    /// The local mode's details, `None` for the cloud.
    pub fn local_mode(&self) -> Option<&LocalMode> {
        match &self.target {
            Target::Local(mode) => Some(mode),
            Target::Cloud => None,
        }
    }

    /// This config bound to the daemon `endpoint` (the one that created or connected a
    /// sandbox), so that the sandbox's URLs name it. A cloud config is returned unchanged.
    pub fn bound_to(mut self, endpoint: Option<LocalEndpoint>) -> Self {
        if let Target::Local(mode) = &mut self.target {
            if endpoint.is_some() {
                mode.endpoint = endpoint;
            }
        }
        self
    }

    /// An address of a sandbox port (envd's 49983, the code interpreter's 49999, any port for
    /// [`SandboxAddress::Host`]). Local: the daemon's — it routes requests by the
    /// `E2b-Sandbox-Id` / `E2b-Sandbox-Port` headers and signed `/files` URLs by their
    /// signature, and serves no other port. Cloud: upstream's rules (see [`SandboxAddress`]);
    /// a missing sandbox domain falls back to the config's domain for [`SandboxAddress::Url`]
    /// and prints as upstream's `None` otherwise.
    pub fn sandbox_address(
        &self,
        kind: SandboxAddress,
        sandbox_id: &str,
        sandbox_domain: Option<&str>,
        port: u16,
    ) -> Result<String> {
        if let Target::Local(mode) = &self.target {
            let url = mode.daemon()?.url;
            return Ok(match kind {
                SandboxAddress::Url | SandboxAddress::DirectUrl => url,
                SandboxAddress::Host => url
                    .split_once("://")
                    .map_or(url.as_str(), |(_, rest)| rest)
                    .trim_end_matches('/')
                    .to_owned(),
            });
        }
        let configured = self.sandbox_url.as_deref();
        let debug = self.debug;
        let named = sandbox_domain.unwrap_or(UPSTREAM_NONE);
        Ok(match kind {
            SandboxAddress::Url => sandbox_url(
                configured,
                debug,
                &self.domain,
                sandbox_id,
                sandbox_domain.unwrap_or(""),
                port,
            ),
            SandboxAddress::DirectUrl => {
                sandbox_direct_url(configured, debug, sandbox_id, named, port)
            }
            SandboxAddress::Host => host(debug, sandbox_id, named, port),
        })
    }
}

/// Which address of a sandbox port [`ConnectionConfig::sandbox_address`] derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxAddress {
    /// Base URL of the SDK's requests. Cloud: `sandbox_url`; debug → `http://localhost:{port}`;
    /// one of E2B's domains → the shared `https://sandbox.{domain}`; else
    /// `https://{port}-{id}.{domain}`.
    Url,
    /// Base URL that never uses the shared host (signed file URLs). Cloud: `sandbox_url`,
    /// else `http(s)://` + the host.
    DirectUrl,
    /// `get_host`. Cloud: `localhost:{port}` in debug mode, else `{port}-{id}.{domain}`.
    Host,
}

impl SandboxAddress {
    /// `"url"`, `"direct_url"` or `"host"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "url" => Ok(SandboxAddress::Url),
            "direct_url" => Ok(SandboxAddress::DirectUrl),
            "host" => Ok(SandboxAddress::Host),
            other => Err(Error::invalid_argument(format!(
                "unknown sandbox address kind {}",
                py_str_repr(other)
            ))),
        }
    }
}

/// What upstream's f-strings print for a missing sandbox domain in hosts and direct URLs.
const UPSTREAM_NONE: &str = "None";

/// `get_host`: `localhost:{port}` in debug mode, else `{port}-{sandbox_id}.{sandbox_domain}`.
fn host(debug: bool, sandbox_id: &str, sandbox_domain: &str, port: u16) -> String {
    if debug {
        format!("localhost:{port}")
    } else {
        format!("{port}-{sandbox_id}.{sandbox_domain}")
    }
}

/// Whether `domain` is served by the shared `sandbox.{domain}` host.
pub fn is_supported_sandbox_domain(domain: &str) -> bool {
    SUPPORTED_SANDBOX_DOMAINS.contains(&domain)
}

/// The cloud rule of [`ConnectionConfig::sandbox_url`]. An empty `sandbox_domain` falls back
/// to `domain`.
fn sandbox_url(
    configured: Option<&str>,
    debug: bool,
    domain: &str,
    sandbox_id: &str,
    sandbox_domain: &str,
    port: u16,
) -> String {
    if let Some(url) = configured.filter(|u| !u.is_empty()) {
        return url.to_owned();
    }
    if debug {
        return format!("http://{}", host(debug, sandbox_id, sandbox_domain, port));
    }
    let sandbox_domain = if sandbox_domain.is_empty() {
        domain
    } else {
        sandbox_domain
    };
    if is_supported_sandbox_domain(sandbox_domain) {
        return format!("https://sandbox.{sandbox_domain}");
    }
    format!("https://{}", host(debug, sandbox_id, sandbox_domain, port))
}

/// The cloud rule of [`ConnectionConfig::sandbox_direct_url`].
fn sandbox_direct_url(
    configured: Option<&str>,
    debug: bool,
    sandbox_id: &str,
    sandbox_domain: &str,
    port: u16,
) -> String {
    if let Some(url) = configured.filter(|u| !u.is_empty()) {
        return url.to_owned();
    }
    let scheme = if debug { "http" } else { "https" };
    format!(
        "{scheme}://{}",
        host(debug, sandbox_id, sandbox_domain, port)
    )
}

/// Python's `repr()` of a `str` (for messages that quote user input the way upstream does).
pub fn py_str_repr(value: &str) -> String {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(value.len() + 2);
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\'' if quote == '\'' => out.push_str("\\'"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::SandboxAddress::{DirectUrl, Host, Url};
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// Resolution as a build with the local runtime does it (whatever this build is).
    fn with_runtime(
        opts: ConnectionOpts,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectionConfig> {
        ConnectionConfig::resolve_for(opts, env, true)
    }

    #[test]
    fn defaults_without_key_are_local() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[])).unwrap();
        assert!(cfg.is_local());
        assert_eq!(cfg.domain, "e2b.app");
        assert_eq!(cfg.request_timeout, Some(Duration::from_secs(60)));
        assert_eq!(cfg.retries, 3);
        assert_eq!(cfg.http_version, HttpVersion::Http2);
    }

    #[test]
    fn key_means_cloud() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[("E2B_API_KEY", "k")])).unwrap();
        assert_eq!(cfg.target, Target::Cloud);
        assert_eq!(cfg.api_url, "https://api.e2b.app");
        assert_eq!(cfg.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn local_zero_never_local() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[("E2B_LOCAL", "0")])).unwrap();
        assert_eq!(cfg.target, Target::Cloud);
        let err = cfg.require_api_key().unwrap_err();
        assert_eq!(err.kind, ErrorKind::AuthenticationException);
        assert!(err.message.starts_with("API key is required"));
    }

    #[test]
    fn local_one_ignores_key() {
        let cfg = with_runtime(
            ConnectionOpts {
                api_key: Some("e2b_abc".into()),
                ..Default::default()
            },
            env(&[("E2B_LOCAL", "1")]),
        )
        .unwrap();
        assert!(cfg.is_local());
        assert_eq!(cfg.api_key, None);
    }

    #[test]
    fn debug_is_never_local() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[("E2B_DEBUG", "TRUE")])).unwrap();
        assert!(cfg.debug);
        assert_eq!(cfg.target, Target::Cloud);
        assert_eq!(cfg.api_url, "http://localhost:3000");
    }

    #[test]
    fn precedence_option_env_default() {
        let e = env(&[
            ("E2B_API_KEY", "k"),
            ("E2B_DOMAIN", "example.com"),
            ("E2B_API_URL", "http://api.local"),
            ("E2B_SANDBOX_URL", "http://sbx.local"),
        ]);
        let cfg = with_runtime(ConnectionOpts::default(), &e).unwrap();
        assert_eq!(cfg.domain, "example.com");
        assert_eq!(cfg.api_url, "http://api.local");
        assert_eq!(cfg.sandbox_url.as_deref(), Some("http://sbx.local"));
        let cfg = with_runtime(
            ConnectionOpts {
                domain: Some("other.dev".into()),
                api_url: Some("http://x".into()),
                request_timeout: Some(0.0),
                ..Default::default()
            },
            &e,
        )
        .unwrap();
        assert_eq!(cfg.domain, "other.dev");
        assert_eq!(cfg.api_url, "http://x");
        assert_eq!(cfg.request_timeout, None);
    }

    #[test]
    fn http_version_validation() {
        let e = env(&[("E2B_API_KEY", "k"), ("E2B_HTTP_VERSION", "3")]);
        let err = with_runtime(ConnectionOpts::default(), &e).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgumentException);
        assert_eq!(
            err.message,
            "E2B_HTTP_VERSION must be '1.1' or '2', got '3'"
        );
        let err = with_runtime(
            ConnectionOpts {
                http_version: Some("h2".into()),
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.message, "http_version must be '1.1' or '2', got 'h2'");
        let cfg = with_runtime(
            ConnectionOpts {
                http_version: Some("1.1".into()),
                ..Default::default()
            },
            &e,
        )
        .unwrap();
        assert_eq!(cfg.http_version, HttpVersion::Http1);
    }

    #[test]
    fn sandbox_urls() {
        assert_eq!(
            sandbox_url(None, false, "e2b.app", "abc", "e2b.app", 49983),
            "https://sandbox.e2b.app"
        );
        assert_eq!(
            sandbox_url(None, false, "e2b.app", "abc", "", 49999),
            "https://sandbox.e2b.app"
        );
        assert_eq!(
            sandbox_url(None, false, "my.dev", "abc", "my.dev", 49999),
            "https://49999-abc.my.dev"
        );
        assert_eq!(
            sandbox_url(None, true, "e2b.app", "abc", "e2b.app", 49999),
            "http://localhost:49999"
        );
        assert_eq!(
            sandbox_url(
                Some("http://127.0.0.1:9"),
                true,
                "e2b.app",
                "abc",
                "e2b.app",
                1
            ),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            sandbox_direct_url(None, false, "abc", "e2b.app", 49983),
            "https://49983-abc.e2b.app"
        );
        assert_eq!(host(false, "abc", "e2b.app", 8080), "8080-abc.e2b.app");
        assert_eq!(host(true, "abc", "e2b.app", 8080), "localhost:8080");
    }

    /// One row of the resolution table: settings in, where requests go out.
    struct Row<'a> {
        env: &'a [(&'a str, &'a str)],
        opts: ConnectionOpts,
        /// `None`: cloud with this API URL; `Some(ignored)`: local, ignoring those settings.
        local: Option<&'static [&'static str]>,
        api_url: &'static str,
        forced_by: Option<&'static str>,
    }

    fn key_opt() -> ConnectionOpts {
        ConnectionOpts {
            api_key: Some("e2b_opt".into()),
            ..Default::default()
        }
    }

    fn cloud_opts() -> ConnectionOpts {
        ConnectionOpts {
            api_key: Some("e2b_opt".into()),
            domain: Some("opt.dev".into()),
            api_url: Some("http://opt-api".into()),
            sandbox_url: Some("http://opt-sbx".into()),
            ..Default::default()
        }
    }

    const CLOUD_ENV: &[(&str, &str)] = &[
        ("E2B_API_KEY", "e2b_env"),
        ("E2B_DOMAIN", "env.dev"),
        ("E2B_API_URL", "http://env-api"),
        ("E2B_SANDBOX_URL", "http://env-sbx"),
    ];

    #[test]
    fn resolution_table() {
        let rows = [
            // E2B_LOCAL unset: no key → local, a key → cloud.
            Row {
                env: &[],
                opts: ConnectionOpts::default(),
                local: Some(&[]),
                api_url: "",
                forced_by: None,
            },
            Row {
                env: &[("E2B_API_KEY", "k")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "https://api.e2b.app",
                forced_by: None,
            },
            Row {
                env: &[],
                opts: key_opt(),
                local: None,
                api_url: "https://api.e2b.app",
                forced_by: None,
            },
            Row {
                env: &[("E2B_API_KEY", "k"), ("E2B_DOMAIN", "my.dev")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "https://api.my.dev",
                forced_by: None,
            },
            Row {
                env: CLOUD_ENV,
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "http://env-api",
                forced_by: None,
            },
            Row {
                env: CLOUD_ENV,
                opts: cloud_opts(),
                local: None,
                api_url: "http://opt-api",
                forced_by: None,
            },
            Row {
                env: &[
                    ("E2B_DOMAIN", "env.dev"),
                    ("E2B_API_URL", "http://env-api"),
                    ("E2B_SANDBOX_URL", "http://env-sbx"),
                ],
                opts: ConnectionOpts::default(),
                local: Some(&["E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL"]),
                api_url: "",
                forced_by: None,
            },
            Row {
                env: &[],
                opts: ConnectionOpts {
                    sandbox_url: Some("http://s".into()),
                    ..Default::default()
                },
                local: Some(&["sandbox_url="]),
                api_url: "",
                forced_by: None,
            },
            // E2B_LOCAL true: local whatever else is set; everything else is ignored.
            Row {
                env: &[("E2B_LOCAL", "1")],
                opts: ConnectionOpts::default(),
                local: Some(&[]),
                api_url: "",
                forced_by: Some("1"),
            },
            Row {
                env: &[("E2B_LOCAL", " true "), ("E2B_API_KEY", "k")],
                opts: ConnectionOpts::default(),
                local: Some(&["the API key (E2B_API_KEY)"]),
                api_url: "",
                forced_by: Some("true"),
            },
            Row {
                env: &[("E2B_LOCAL", "1")],
                opts: key_opt(),
                local: Some(&["the API key (api_key=)"]),
                api_url: "",
                forced_by: Some("1"),
            },
            Row {
                env: &[
                    ("E2B_LOCAL", "yes"),
                    CLOUD_ENV[0],
                    CLOUD_ENV[1],
                    CLOUD_ENV[2],
                    CLOUD_ENV[3],
                ],
                opts: ConnectionOpts::default(),
                local: Some(&[
                    "the API key (E2B_API_KEY)",
                    "E2B_DOMAIN",
                    "E2B_API_URL",
                    "E2B_SANDBOX_URL",
                ]),
                api_url: "",
                forced_by: Some("yes"),
            },
            Row {
                env: &[
                    ("E2B_LOCAL", "1"),
                    CLOUD_ENV[0],
                    CLOUD_ENV[1],
                    CLOUD_ENV[2],
                    CLOUD_ENV[3],
                ],
                opts: cloud_opts(),
                local: Some(&[
                    "the API key (api_key=)",
                    "domain=",
                    "api_url=",
                    "sandbox_url=",
                ]),
                api_url: "",
                forced_by: Some("1"),
            },
            // E2B_LOCAL false: never local.
            Row {
                env: &[("E2B_LOCAL", "0")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "https://api.e2b.app",
                forced_by: None,
            },
            Row {
                env: &[("E2B_LOCAL", "off"), ("E2B_API_URL", "http://env-api")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "http://env-api",
                forced_by: None,
            },
            Row {
                env: &[("E2B_LOCAL", "false"), ("E2B_API_KEY", "k")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "https://api.e2b.app",
                forced_by: None,
            },
            // Debug mode wins over E2B_LOCAL (it targets localhost by definition).
            Row {
                env: &[("E2B_LOCAL", "1"), ("E2B_DEBUG", "true")],
                opts: ConnectionOpts::default(),
                local: None,
                api_url: "http://localhost:3000",
                forced_by: None,
            },
        ];
        for (i, row) in rows.into_iter().enumerate() {
            let cfg = with_runtime(row.opts.clone(), env(row.env)).unwrap();
            assert_eq!(cfg.api_url, row.api_url, "row {i}");
            assert!(!cfg.local_unavailable, "row {i}");
            match (row.local, cfg.local_mode()) {
                (Some(ignored), Some(mode)) => {
                    assert_eq!(mode.ignored, ignored, "row {i}");
                    assert_eq!(mode.forced_by.as_deref(), row.forced_by, "row {i}");
                    assert_eq!(mode.endpoint, None, "row {i}");
                    // Nothing of the cloud settings survives into a local config.
                    assert_eq!(
                        (cfg.api_key.as_deref(), cfg.sandbox_url.as_deref()),
                        (None, None),
                        "row {i}"
                    );
                }
                (None, None) => {}
                (expected, got) => panic!("row {i}: expected local={expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn cloud_keeps_key_and_urls_by_precedence() {
        let cfg = with_runtime(cloud_opts(), env(CLOUD_ENV)).unwrap();
        assert_eq!(cfg.api_key.as_deref(), Some("e2b_opt"));
        assert_eq!(cfg.domain, "opt.dev");
        assert_eq!(cfg.sandbox_url.as_deref(), Some("http://opt-sbx"));
        let cfg = with_runtime(ConnectionOpts::default(), env(CLOUD_ENV)).unwrap();
        assert_eq!(cfg.api_key.as_deref(), Some("e2b_env"));
        assert_eq!(cfg.sandbox_url.as_deref(), Some("http://env-sbx"));
    }

    fn addr(
        cfg: &ConnectionConfig,
        kind: SandboxAddress,
        domain: Option<&str>,
        port: u16,
    ) -> String {
        cfg.sandbox_address(kind, "abc", domain, port).unwrap()
    }

    fn daemon() -> LocalEndpoint {
        LocalEndpoint {
            url: "http://127.0.0.1:4321".into(),
            api_key: "daemon-key".into(),
        }
    }

    #[test]
    fn a_bound_local_config_names_only_the_daemon() {
        // E2B_LOCAL=1 with every cloud setting: each URL is the daemon's.
        let cfg = with_runtime(cloud_opts(), env(&[("E2B_LOCAL", "1"), CLOUD_ENV[1]]))
            .unwrap()
            .bound_to(Some(daemon()));
        for port in [ENVD_PORT, 49999] {
            assert_eq!(
                addr(&cfg, Url, Some("e2b.app"), port),
                "http://127.0.0.1:4321"
            );
            assert_eq!(addr(&cfg, Url, None, port), "http://127.0.0.1:4321");
            assert_eq!(
                addr(&cfg, DirectUrl, Some("opt.dev"), port),
                "http://127.0.0.1:4321"
            );
        }
        assert_eq!(addr(&cfg, Host, Some("e2b.app"), 8080), "127.0.0.1:4321");
        assert_eq!(cfg.api_key, None);
        // The same without a key and without E2B_LOCAL.
        let cfg = with_runtime(
            ConnectionOpts::default(),
            env(&[CLOUD_ENV[2], CLOUD_ENV[3]]),
        )
        .unwrap()
        .bound_to(Some(daemon()));
        assert_eq!(
            addr(&cfg, Url, Some("e2b.app"), 49999),
            "http://127.0.0.1:4321"
        );
    }

    #[test]
    fn binding_a_cloud_config_changes_nothing() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[("E2B_API_KEY", "k")])).unwrap();
        let bound = cfg.clone().bound_to(Some(daemon()));
        assert_eq!(bound, cfg);
        assert_eq!(
            addr(&bound, Url, Some("e2b.app"), 49999),
            "https://sandbox.e2b.app"
        );
        assert_eq!(
            addr(&bound, DirectUrl, Some("e2b.app"), ENVD_PORT),
            "https://49983-abc.e2b.app"
        );
        assert_eq!(
            addr(&bound, Host, Some("e2b.app"), 8080),
            "8080-abc.e2b.app"
        );
        // Upstream prints a missing sandbox domain as `None` in hosts and direct URLs.
        assert_eq!(addr(&bound, Host, None, 8080), "8080-abc.None");
        assert_eq!(addr(&bound, Url, None, 49999), "https://sandbox.e2b.app");
        assert_eq!(SandboxAddress::parse("direct_url").unwrap(), DirectUrl);
        assert_eq!(
            SandboxAddress::parse("hosts").unwrap_err().kind,
            ErrorKind::InvalidArgumentException
        );
    }

    #[test]
    fn notices_say_why_local_and_what_is_ignored() {
        let notice = |pairs: &[(&str, &str)], opts: ConnectionOpts| {
            with_runtime(opts, env(pairs))
                .unwrap()
                .local_mode()
                .map(LocalMode::notice)
        };
        assert_eq!(
            notice(&[], ConnectionOpts::default()).unwrap(),
            "No E2B API key is configured: sandboxes run on this machine (local runtime). \
             Set E2B_API_KEY to use the E2B cloud; set E2B_LOCAL=0 to require it."
        );
        assert_eq!(
            notice(&[("E2B_API_URL", "http://x")], ConnectionOpts::default()).unwrap(),
            "No E2B API key is configured: sandboxes run on this machine (local runtime). \
             Without a key these are ignored: E2B_API_URL. \
             Set E2B_API_KEY to use the E2B cloud; set E2B_LOCAL=0 to require it."
        );
        assert_eq!(
            notice(&[("E2B_LOCAL", "1")], ConnectionOpts::default()).unwrap(),
            "E2B_LOCAL=1: sandboxes run on this machine (local runtime). Unset E2B_LOCAL to use the E2B cloud."
        );
        let text = notice(
            &[("E2B_LOCAL", "1"), ("E2B_API_KEY", "e2b_secret")],
            ConnectionOpts::default(),
        )
        .unwrap();
        assert_eq!(
            text,
            "E2B_LOCAL=1: sandboxes run on this machine (local runtime); ignored: the API key \
             (E2B_API_KEY). Unset E2B_LOCAL to use the E2B cloud."
        );
        assert!(!text.contains("e2b_secret") && !text.contains("No E2B API key"));
        assert_eq!(
            notice(&[("E2B_API_KEY", "k")], ConnectionOpts::default()),
            None
        );
    }

    #[test]
    fn an_unbound_local_config_uses_the_known_daemon_or_says_none_runs() {
        let cfg = with_runtime(ConnectionOpts::default(), env(&[])).unwrap();
        let mode = cfg.local_mode().unwrap();
        assert_eq!(mode.daemon_or(|| Some(daemon())).unwrap(), daemon());
        let err = mode.daemon_or(|| None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::SandboxException);
        assert!(
            err.message.starts_with("Local sandbox runtime unavailable"),
            "{}",
            err.message
        );
        // A bound config never looks elsewhere.
        let bound = cfg.clone().bound_to(Some(daemon()));
        let other = LocalEndpoint {
            url: "http://127.0.0.1:1".into(),
            api_key: "other".into(),
        };
        assert_eq!(
            bound
                .local_mode()
                .unwrap()
                .daemon_or(|| Some(other))
                .unwrap(),
            daemon()
        );
    }

    #[test]
    fn without_the_runtime_every_config_is_a_cloud_one() {
        let resolve = |pairs: &[(&str, &str)]| {
            ConnectionConfig::resolve_for(ConnectionOpts::default(), env(pairs), false)
        };
        // No key, E2B_LOCAL unset: the cloud (with the settings given), and upstream's
        // missing-key error plus one sentence.
        let cfg = resolve(&[("E2B_API_URL", "http://env-api")]).unwrap();
        assert_eq!(
            (cfg.is_local(), cfg.api_url.as_str(), cfg.api_key.as_deref()),
            (false, "http://env-api", None)
        );
        let err = cfg.require_api_key().unwrap_err();
        assert_eq!(err.kind, ErrorKind::AuthenticationException);
        assert_eq!(
            err.message,
            format!("{API_KEY_REQUIRED_MESSAGE} {LOCAL_RUNTIME_UNAVAILABLE}")
        );
        // E2B_LOCAL=0: upstream's error, word for word.
        let cfg = resolve(&[("E2B_LOCAL", "off")]).unwrap();
        assert_eq!(
            cfg.require_api_key().unwrap_err().message,
            API_KEY_REQUIRED_MESSAGE
        );
        // A key: the cloud exactly as with the runtime.
        let cfg = resolve(&[("E2B_API_KEY", "k")]).unwrap();
        assert_eq!(
            cfg,
            with_runtime(ConnectionOpts::default(), env(&[("E2B_API_KEY", "k")])).unwrap()
        );
        assert_eq!(cfg.require_api_key().unwrap(), "k");
        // E2B_LOCAL=1 is refused, key or not: it must never fall back to the cloud.
        for pairs in [
            &[("E2B_LOCAL", " 1 ")][..],
            &[("E2B_LOCAL", "yes"), ("E2B_API_KEY", "k")],
        ] {
            let err = resolve(pairs).unwrap_err();
            assert_eq!(err.kind, ErrorKind::SandboxException);
            assert!(
                err.message.contains(LOCAL_RUNTIME_UNAVAILABLE),
                "{}",
                err.message
            );
            assert!(err.message.starts_with("E2B_LOCAL="), "{}", err.message);
            assert!(!err.message.contains("E2B_LOCAL= "), "{}", err.message);
        }
        // Debug mode still wins over E2B_LOCAL.
        let cfg = resolve(&[("E2B_LOCAL", "1"), ("E2B_DEBUG", "true")]).unwrap();
        assert_eq!(cfg.api_url, "http://localhost:3000");
        // This build resolves as its runtime says.
        let cfg = ConnectionConfig::resolve(ConnectionOpts::default(), env(&[])).unwrap();
        assert_eq!(cfg.is_local(), LOCAL_RUNTIME);
        assert_eq!(cfg.local_unavailable, !LOCAL_RUNTIME);
    }

    #[test]
    fn local_flag_parsing() {
        assert_eq!(parse_local_flag(None), None);
        assert_eq!(parse_local_flag(Some("")), None);
        assert_eq!(parse_local_flag(Some("0")), Some(false));
        assert_eq!(parse_local_flag(Some("false")), Some(false));
        assert_eq!(parse_local_flag(Some("1")), Some(true));
    }
}
