//! Connection configuration: how per-call options, environment variables and defaults resolve
//! into one [`ConnectionConfig`] (protocol.md §1.2–1.4), the choice between the E2B cloud and
//! the local runtime (design.md §3), and the sandbox URL rules (§1.3).
//!
//! Resolution reads the environment through a closure so it can be tested without touching
//! the process environment.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

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

/// Where API requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// E2B cloud, a self-hosted cluster, or whatever `api_url` names.
    Cloud,
    /// The per-user local runtime; its URL and key come from its state file at call time.
    Local,
}

/// A fully resolved configuration. In [`Target::Local`] mode `api_key`, `api_url` and
/// `sandbox_url` are placeholders until [`crate::local`] supplies the daemon's.
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
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
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
    /// Precedence: option > environment > default. Local mode (design.md §3): with no key
    /// and `E2B_LOCAL` unset or true, or with `E2B_LOCAL` true whatever the key; never with
    /// `E2B_LOCAL=0` and never in debug mode (which targets `localhost` by definition).
    pub fn resolve(opts: ConnectionOpts, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let domain = non_empty(opts.domain)
            .or_else(|| non_empty(env("E2B_DOMAIN")))
            .unwrap_or_else(|| DEFAULT_DOMAIN.to_owned());
        let debug = opts.debug.unwrap_or_else(|| {
            env("E2B_DEBUG")
                .map(|v| v.eq_ignore_ascii_case("true"))
                .unwrap_or(false)
        });
        let api_key = non_empty(opts.api_key).or_else(|| non_empty(env("E2B_API_KEY")));
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
        let local_flag = parse_local_flag(env("E2B_LOCAL").as_deref());
        let local = !debug
            && match local_flag {
                Some(flag) => flag,
                None => api_key.is_none(),
            };

        let (target, api_key, api_url, sandbox_url) = if local {
            (Target::Local, None, String::new(), None)
        } else {
            let api_url = non_empty(opts.api_url)
                .or_else(|| non_empty(env("E2B_API_URL")))
                .unwrap_or_else(|| {
                    if debug {
                        "http://localhost:3000".to_owned()
                    } else {
                        format!("https://api.{domain}")
                    }
                });
            let sandbox_url =
                non_empty(opts.sandbox_url).or_else(|| non_empty(env("E2B_SANDBOX_URL")));
            (Target::Cloud, api_key, api_url, sandbox_url)
        };

        Ok(ConnectionConfig {
            domain,
            debug,
            api_key,
            api_url,
            sandbox_url,
            request_timeout,
            retries: opts.retries.unwrap_or(DEFAULT_RETRIES),
            http_version,
            proxy: non_empty(opts.proxy),
            target,
        })
    }

    /// Resolves against the process environment.
    pub fn from_env(opts: ConnectionOpts) -> Result<Self> {
        Self::resolve(opts, |key| std::env::var(key).ok())
    }

    /// The API key, or the upstream `AuthenticationException` when there is none.
    pub fn require_api_key(&self) -> Result<&str> {
        self.api_key
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::AuthenticationException, API_KEY_REQUIRED_MESSAGE))
    }
}

/// `get_host`: `localhost:{port}` in debug mode, else `{port}-{sandbox_id}.{sandbox_domain}`.
pub fn host(debug: bool, sandbox_id: &str, sandbox_domain: &str, port: u16) -> String {
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

/// Base URL of a sandbox port (envd by default; the code interpreter passes 49999):
/// `sandbox_url`; debug → `http://localhost:{port}`; a supported domain → the shared host;
/// else `https://{port}-{id}.{domain}`. An empty `sandbox_domain` falls back to `domain`.
pub fn sandbox_url(
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

/// Direct base URL of a sandbox port (never the shared host; used for signed file URLs).
pub fn sandbox_direct_url(
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
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_without_key_are_local() {
        let cfg = ConnectionConfig::resolve(ConnectionOpts::default(), env(&[])).unwrap();
        assert_eq!(cfg.target, Target::Local);
        assert_eq!(cfg.domain, "e2b.app");
        assert_eq!(cfg.request_timeout, Some(Duration::from_secs(60)));
        assert_eq!(cfg.retries, 3);
        assert_eq!(cfg.http_version, HttpVersion::Http2);
    }

    #[test]
    fn key_means_cloud() {
        let cfg =
            ConnectionConfig::resolve(ConnectionOpts::default(), env(&[("E2B_API_KEY", "k")]))
                .unwrap();
        assert_eq!(cfg.target, Target::Cloud);
        assert_eq!(cfg.api_url, "https://api.e2b.app");
        assert_eq!(cfg.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn local_zero_never_local() {
        let cfg = ConnectionConfig::resolve(ConnectionOpts::default(), env(&[("E2B_LOCAL", "0")]))
            .unwrap();
        assert_eq!(cfg.target, Target::Cloud);
        let err = cfg.require_api_key().unwrap_err();
        assert_eq!(err.kind, ErrorKind::AuthenticationException);
        assert!(err.message.starts_with("API key is required"));
    }

    #[test]
    fn local_one_ignores_key() {
        let cfg = ConnectionConfig::resolve(
            ConnectionOpts {
                api_key: Some("e2b_abc".into()),
                ..Default::default()
            },
            env(&[("E2B_LOCAL", "1")]),
        )
        .unwrap();
        assert_eq!(cfg.target, Target::Local);
        assert_eq!(cfg.api_key, None);
    }

    #[test]
    fn debug_is_never_local() {
        let cfg =
            ConnectionConfig::resolve(ConnectionOpts::default(), env(&[("E2B_DEBUG", "TRUE")]))
                .unwrap();
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
        let cfg = ConnectionConfig::resolve(ConnectionOpts::default(), &e).unwrap();
        assert_eq!(cfg.domain, "example.com");
        assert_eq!(cfg.api_url, "http://api.local");
        assert_eq!(cfg.sandbox_url.as_deref(), Some("http://sbx.local"));
        let cfg = ConnectionConfig::resolve(
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
        let err = ConnectionConfig::resolve(ConnectionOpts::default(), &e).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgumentException);
        assert_eq!(
            err.message,
            "E2B_HTTP_VERSION must be '1.1' or '2', got '3'"
        );
        let err = ConnectionConfig::resolve(
            ConnectionOpts {
                http_version: Some("h2".into()),
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.message, "http_version must be '1.1' or '2', got 'h2'");
        let cfg = ConnectionConfig::resolve(
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

    #[test]
    fn local_flag_parsing() {
        assert_eq!(parse_local_flag(None), None);
        assert_eq!(parse_local_flag(Some("")), None);
        assert_eq!(parse_local_flag(Some("0")), Some(false));
        assert_eq!(parse_local_flag(Some("false")), Some(false));
        assert_eq!(parse_local_flag(Some("1")), Some(true));
    }
}
