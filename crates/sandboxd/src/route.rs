//! The one parser of data-plane requests (envd on 49983, the code interpreter on 49999), shared
//! by the daemon's proxy and the in-sandbox agent, so that the request the daemon authorises
//! is exactly the request the agent serves.
//!
//! A request is accepted only in its canonical spelling: the path is `/` followed by
//! non-empty segments of `[A-Za-z0-9._~-]`, none of them `.` or `..` (so no `//`, no trailing
//! `/`, no `%`-escapes, no `;` parameters), matched case-sensitively against the routes below;
//! the query has only the parameters the route names, each at most once, strictly
//! percent-decoded. Everything else is refused before any authorisation decision. The daemon
//! forwards [`Route::to_uri`] — the canonical form rebuilt from the parsed values — so the
//! agent parses what the daemon verified, not the client's bytes.

use std::fmt;

use e2b_wire::envd::paths::{FILESYSTEM_PREFIX, PROCESS_PREFIX};
use e2b_wire::headers::{ENVD_PORT, JUPYTER_PORT};
use http::{Method, StatusCode, Uri};

/// A data-plane request after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Envd(EnvdRoute),
    Interpreter(InterpreterRoute),
}

/// envd's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvdRoute {
    /// `GET /health`
    Health,
    /// `GET /envs`
    Envs,
    /// `GET /files`
    Download(FilesQuery),
    /// `POST /files`
    Upload(FilesQuery),
    /// `POST /process.Process/<method>` or `POST /filesystem.Filesystem/<method>`.
    Rpc { service: RpcService, method: String },
    /// envd paths its edge never lets through from outside (`/init`, `/freeze`, …).
    Internal(&'static str),
}

/// The Connect services envd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcService {
    Process,
    Filesystem,
}

impl RpcService {
    /// The methods envd serves (exactly these names).
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            RpcService::Process => &[
                "Start",
                "Connect",
                "List",
                "SendSignal",
                "SendInput",
                "CloseStdin",
                "Update",
                "StreamInput",
            ],
            RpcService::Filesystem => &[
                "Stat",
                "MakeDir",
                "Move",
                "ListDir",
                "Remove",
                "WatchDir",
                "CreateWatcher",
                "GetWatcherEvents",
                "RemoveWatcher",
            ],
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            RpcService::Process => PROCESS_PREFIX,
            RpcService::Filesystem => FILESYSTEM_PREFIX,
        }
    }
}

/// The code interpreter's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpreterRoute {
    /// `GET /health`
    Health,
    /// `GET /ready` (local addition: answers once the default Python context is up)
    Ready,
    /// `POST /execute`
    Execute,
    /// `GET /contexts`
    ListContexts,
    /// `POST /contexts`
    CreateContext,
    /// `DELETE /contexts/{id}`
    DeleteContext(String),
    /// `POST /contexts/{id}/restart`
    RestartContext(String),
}

/// The query of `/files`: the parameters a signature covers, and the signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesQuery {
    pub path: Option<String>,
    pub username: Option<String>,
    pub signature: Option<String>,
    pub signature_expiration: Option<String>,
}

impl FilesQuery {
    const KEYS: [&'static str; 4] = ["path", "username", "signature", "signature_expiration"];

    fn parse(query: Option<&str>) -> Result<FilesQuery, Refusal> {
        let mut values: [Option<String>; 4] = Default::default();
        for (key, value) in query_pairs(query.unwrap_or(""))? {
            let Some(i) = Self::KEYS.iter().position(|k| *k == key) else {
                return Err(Refusal::bad_request(format!(
                    "unknown query parameter {key:?} (expected {})",
                    Self::KEYS.join(", ")
                )));
            };
            if values[i].replace(value).is_some() {
                return Err(Refusal::bad_request(format!(
                    "query parameter {key:?} given more than once"
                )));
            }
        }
        let [path, username, signature, signature_expiration] = values;
        Ok(FilesQuery {
            path,
            username,
            signature,
            signature_expiration,
        })
    }

    /// The canonical query string (empty when no parameter is set).
    fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in Self::KEYS.iter().zip([
            &self.path,
            &self.username,
            &self.signature,
            &self.signature_expiration,
        ]) {
            if let Some(v) = value {
                out.append_pair(key, v);
            }
        }
        out.finish()
    }
}

/// Why a request was refused; the status and text a server answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// The path was an RPC path (envd answers those with a Connect error).
    pub rpc: bool,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            rpc: false,
        }
    }

    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(path: &str) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, format!("no endpoint {path}"))
    }

    fn method_not_allowed(method: &Method, path: &str) -> Refusal {
        Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on {path}"),
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

/// envd paths the edge refuses from outside.
const INTERNAL_ENVD_PATHS: &[&str] = &[
    "/init",
    "/freeze",
    "/unfreeze",
    "/collapse",
    "/fsfreeze",
    "/fsthaw",
    "/upgrade",
];

/// The segments of a canonical data-plane path (`/a/b` → `["a", "b"]`, `/` → `[]`): no
/// empty, `.` or `..` segment, and only `[A-Za-z0-9._~-]` in each.
pub fn canonical_segments(path: &str) -> Result<Vec<&str>, Refusal> {
    segments(path, |b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

/// The segments of a canonical control-plane path: as [`canonical_segments`], but a segment
/// may also hold the other characters RFC 3986 allows in one, `%`-escapes included (the
/// official SDK escapes path parameters such as template names); the API key guards every
/// control-plane path except `GET /health`, so only the structure needs to be canonical.
pub fn api_segments(path: &str) -> Result<Vec<&str>, Refusal> {
    segments(path, |b| {
        b.is_ascii_alphanumeric() || b"._~-!$&'()*+,;=:@%".contains(&b)
    })
}

fn segments(path: &str, allowed: impl Fn(u8) -> bool) -> Result<Vec<&str>, Refusal> {
    let not_canonical = || {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint {path:?} (paths are matched only in their canonical spelling)"),
        )
    };
    let rest = path.strip_prefix('/').ok_or_else(not_canonical)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    for s in &segments {
        if s.is_empty() || *s == "." || *s == ".." || !s.bytes().all(&allowed) {
            return Err(not_canonical());
        }
    }
    Ok(segments)
}

/// `key=value` pairs of a query, strictly decoded: `+` is a space, `%XX` a byte, and the
/// result must be UTF-8; an empty pair, a pair without `=`, a malformed escape or a byte
/// outside what a URL query may hold is refused.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, Refusal> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~%+!$'()*,/:@=".contains(&b);
    let mut out = Vec::new();
    for pair in query.split('&') {
        if let Some(b) = pair.bytes().find(|b| !allowed(*b)) {
            return Err(Refusal::bad_request(format!(
                "invalid character {:?} in the query",
                b as char
            )));
        }
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Refusal::bad_request(format!(
                "malformed query parameter {pair:?} (expected key=value)"
            )));
        };
        out.push((unescape(key)?, unescape(value)?));
    }
    Ok(out)
}

/// Strict query unescape (Go's `url.QueryUnescape`): `+` → space, `%XX` → byte; a malformed
/// escape or invalid UTF-8 is an error.
pub fn unescape(s: &str) -> Result<String, Refusal> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Refusal::bad_request(format!("invalid URL escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Refusal::bad_request(format!("invalid UTF-8 in {s:?}")))
}

fn no_query(query: Option<&str>) -> Result<(), Refusal> {
    match query {
        None | Some("") => Ok(()),
        Some(_) => Err(Refusal::bad_request(
            "this endpoint takes no query parameters",
        )),
    }
}

/// Parses a data-plane request for `port` (envd or the code interpreter).
pub fn parse(port: u16, method: &Method, uri: &Uri) -> Result<Route, Refusal> {
    match port {
        ENVD_PORT => parse_envd(method, uri).map(Route::Envd),
        JUPYTER_PORT => parse_interpreter(method, uri).map(Route::Interpreter),
        _ => Err(Refusal::new(
            StatusCode::BAD_GATEWAY,
            format!("port {port} is not served"),
        )),
    }
}

fn parse_envd(method: &Method, uri: &Uri) -> Result<EnvdRoute, Refusal> {
    let path = uri.path();
    let segments = canonical_segments(path)?;
    let query = uri.query();
    let route = match segments.as_slice() {
        ["health"] => (method == Method::GET).then_some(EnvdRoute::Health),
        ["envs"] => (method == Method::GET).then_some(EnvdRoute::Envs),
        ["files"] => {
            let q = || FilesQuery::parse(query);
            match *method {
                Method::GET => Some(EnvdRoute::Download(q()?)),
                Method::POST => Some(EnvdRoute::Upload(q()?)),
                _ => None,
            }
        }
        [service @ ("process.Process" | "filesystem.Filesystem"), rpc_method] => {
            if method != Method::POST {
                return Err(Refusal {
                    rpc: true,
                    ..Refusal::method_not_allowed(method, path)
                });
            }
            let service = if *service == "process.Process" {
                RpcService::Process
            } else {
                RpcService::Filesystem
            };
            if !service.methods().contains(rpc_method) {
                return Err(Refusal {
                    rpc: true,
                    ..Refusal::not_found(path)
                });
            }
            Some(EnvdRoute::Rpc {
                service,
                method: rpc_method.to_string(),
            })
        }
        [_] if INTERNAL_ENVD_PATHS.contains(&path) => INTERNAL_ENVD_PATHS
            .iter()
            .find(|p| **p == path)
            .map(|p| EnvdRoute::Internal(p)),
        _ => return Err(Refusal::not_found(path)),
    };
    let route = route.ok_or_else(|| Refusal::method_not_allowed(method, path))?;
    if !matches!(route, EnvdRoute::Download(_) | EnvdRoute::Upload(_)) {
        no_query(query)?;
    }
    Ok(route)
}

fn parse_interpreter(method: &Method, uri: &Uri) -> Result<InterpreterRoute, Refusal> {
    let path = uri.path();
    let segments = canonical_segments(path)?;
    use InterpreterRoute as R;
    let route = match (method, segments.as_slice()) {
        (&Method::GET, ["health"]) => R::Health,
        (&Method::GET, ["ready"]) => R::Ready,
        (&Method::POST, ["execute"]) => R::Execute,
        (&Method::GET, ["contexts"]) => R::ListContexts,
        (&Method::POST, ["contexts"]) => R::CreateContext,
        (&Method::DELETE, ["contexts", id]) => R::DeleteContext(id.to_string()),
        (&Method::POST, ["contexts", id, "restart"]) => R::RestartContext(id.to_string()),
        (_, ["health" | "ready" | "execute" | "contexts"])
        | (_, ["contexts", _])
        | (_, ["contexts", _, "restart"]) => return Err(Refusal::method_not_allowed(method, path)),
        _ => return Err(Refusal::not_found(path)),
    };
    no_query(uri.query())?;
    Ok(route)
}

impl Route {
    /// The canonical path and query of this request, rebuilt from its parsed values.
    pub fn to_uri(&self) -> Uri {
        let (path, query) = match self {
            Route::Envd(r) => match r {
                EnvdRoute::Health => ("/health".to_string(), String::new()),
                EnvdRoute::Envs => ("/envs".to_string(), String::new()),
                EnvdRoute::Download(q) | EnvdRoute::Upload(q) => ("/files".to_string(), q.encode()),
                EnvdRoute::Rpc { service, method } => {
                    (format!("{}{method}", service.prefix()), String::new())
                }
                EnvdRoute::Internal(p) => (p.to_string(), String::new()),
            },
            Route::Interpreter(r) => (
                match r {
                    InterpreterRoute::Health => "/health".to_string(),
                    InterpreterRoute::Ready => "/ready".to_string(),
                    InterpreterRoute::Execute => "/execute".to_string(),
                    InterpreterRoute::ListContexts | InterpreterRoute::CreateContext => {
                        "/contexts".to_string()
                    }
                    InterpreterRoute::DeleteContext(id) => format!("/contexts/{id}"),
                    InterpreterRoute::RestartContext(id) => format!("/contexts/{id}/restart"),
                },
                String::new(),
            ),
        };
        let pq = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        pq.parse()
            .expect("a canonical path and an encoded query form a valid URI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn envd(method: Method, s: &str) -> Result<Route, Refusal> {
        parse(ENVD_PORT, &method, &uri(s))
    }

    fn jupyter(method: Method, s: &str) -> Result<Route, Refusal> {
        parse(JUPYTER_PORT, &method, &uri(s))
    }

    /// Every route of both ports, in its canonical spelling.
    fn canonical() -> Vec<(u16, Method, &'static str)> {
        vec![
            (ENVD_PORT, Method::GET, "/health"),
            (ENVD_PORT, Method::GET, "/envs"),
            (ENVD_PORT, Method::GET, "/files"),
            (ENVD_PORT, Method::POST, "/files"),
            (ENVD_PORT, Method::POST, "/process.Process/Start"),
            (ENVD_PORT, Method::POST, "/filesystem.Filesystem/ListDir"),
            (ENVD_PORT, Method::POST, "/init"),
            (JUPYTER_PORT, Method::GET, "/health"),
            (JUPYTER_PORT, Method::GET, "/ready"),
            (JUPYTER_PORT, Method::POST, "/execute"),
            (JUPYTER_PORT, Method::GET, "/contexts"),
            (JUPYTER_PORT, Method::POST, "/contexts"),
            (JUPYTER_PORT, Method::DELETE, "/contexts/abc-1"),
            (JUPYTER_PORT, Method::POST, "/contexts/abc-1/restart"),
        ]
    }

    /// Other spellings a lenient router might take for the same path.
    fn respellings(path: &str) -> Vec<String> {
        let last = path.rsplit('/').next().unwrap();
        let head = &path[..path.len() - last.len()];
        let mut out = vec![
            format!("{path}/"),
            format!("/{path}"),
            format!("{path}//"),
            path.replacen('/', "//", 1),
            format!("/.{path}"),
            format!("{head}./{last}"),
            format!("/x/..{path}"),
            format!("{path}/."),
            format!("{path};x=1"),
            format!("{path}%20"),
            path.replace('/', "%2F"),
            format!("{head}%{:02X}{}", last.as_bytes()[0], &last[1..]),
        ];
        // A context id is a value: another case is another id, not another spelling.
        let is_id = last == "abc-1";
        if !is_id {
            out.push(format!("{head}{}", last.to_uppercase()));
        }
        if let Some(c) = last.chars().next().filter(|_| !is_id) {
            out.push(format!(
                "{head}{}{}",
                c.to_ascii_uppercase(),
                &last[c.len_utf8()..]
            ));
        }
        out.retain(|p| p != path);
        out
    }

    #[test]
    fn every_route_parses_in_its_canonical_spelling_and_round_trips() {
        for (port, method, path) in canonical() {
            let route = parse(port, &method, &uri(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(route.to_uri().to_string(), path, "{method} {path}");
            assert_eq!(parse(port, &method, &route.to_uri()), Ok(route));
        }
    }

    #[test]
    fn every_other_spelling_of_every_route_is_refused() {
        for (port, method, path) in canonical() {
            for spelled in respellings(path) {
                let Ok(u) = spelled.parse::<Uri>() else {
                    continue; // not even a URI: hyper refuses it before us
                };
                if u.path() != spelled.split('?').next().unwrap() {
                    continue;
                }
                let r = parse(port, &method, &u);
                assert!(
                    r.is_err(),
                    "{method} {spelled} (port {port}) parsed as {r:?}"
                );
            }
        }
    }

    #[test]
    fn a_query_where_none_belongs_is_refused() {
        for (port, method, path) in canonical() {
            if path == "/files" {
                continue;
            }
            let r = parse(port, &method, &uri(&format!("{path}?x=1")));
            assert_eq!(r.unwrap_err().status, StatusCode::BAD_REQUEST, "{path}");
        }
        assert!(jupyter(Method::POST, "/execute?").is_ok());
    }

    #[test]
    fn wrong_methods_are_refused() {
        assert_eq!(
            jupyter(Method::GET, "/execute").unwrap_err().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            envd(Method::DELETE, "/files").unwrap_err().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let rpc = envd(Method::GET, "/process.Process/List").unwrap_err();
        assert!(rpc.rpc);
        assert_eq!(
            envd(Method::POST, "/health").unwrap_err().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn files_query_refuses_duplicates_and_unknown_parameters() {
        let dup = envd(
            Method::GET,
            "/files?path=%2Fa&signature=s&path=%2Froot%2Fsecret",
        );
        assert!(dup.unwrap_err().message.contains("more than once"));
        let dup_user = envd(Method::POST, "/files?username=user&username=root");
        assert!(dup_user.is_err());
        let unknown = envd(Method::GET, "/files?path=a&user=root");
        assert!(unknown.unwrap_err().message.contains("unknown"));
        for bad in [
            "/files?path=a&&username=b",
            "/files?path",
            "/files?path=%zz",
            "/files?path=%c3",
            "/files?path=a;username=root",
        ] {
            let Ok(u) = bad.parse::<Uri>() else { continue };
            assert!(parse(ENVD_PORT, &Method::GET, &u).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_query_decodes_and_reencodes_the_same_values() {
        let r = envd(
            Method::GET,
            "/files?path=%2Fhome%2Fuser%2Fa+b%26c%3D%2B.txt&username=user&signature=v1_x%2By%2Fz\
             &signature_expiration=123",
        )
        .unwrap();
        let Route::Envd(EnvdRoute::Download(q)) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(q.path.as_deref(), Some("/home/user/a b&c=+.txt"));
        assert_eq!(q.signature.as_deref(), Some("v1_x+y/z"));
        assert_eq!(envd(Method::GET, &r.to_uri().to_string()), Ok(r.clone()));
        // Python's quote() spelling decodes to the same values.
        let py = envd(
            Method::GET,
            "/files?path=/home/user/a%20b%26c%3D%2B.txt&username=user&signature=v1_x%2By/z\
             &signature_expiration=123",
        );
        assert_eq!(py, Ok(r));
    }

    #[test]
    fn control_plane_paths_keep_escapes_but_not_odd_structure() {
        assert_eq!(
            api_segments("/templates/name%3Av1"),
            Ok(vec!["templates", "name%3Av1"])
        );
        for bad in [
            "//health",
            "/health/",
            "/./health",
            "/x/../health",
            "health",
        ] {
            assert!(api_segments(bad).is_err(), "{bad}");
        }
        assert_eq!(api_segments("/"), Ok(vec![]));
    }

    #[test]
    fn rpc_paths_keep_their_method_name() {
        assert_eq!(
            envd(Method::POST, "/process.Process/StreamInput"),
            Ok(Route::Envd(EnvdRoute::Rpc {
                service: RpcService::Process,
                method: "StreamInput".into()
            }))
        );
        assert!(envd(Method::POST, "/process.Process/Start/x").is_err());
        let unknown = envd(Method::POST, "/process.Process/Kill").unwrap_err();
        assert!(unknown.rpc && unknown.status == StatusCode::NOT_FOUND);
        assert!(envd(Method::POST, "/Process.Process/Start").is_err());
    }
}
