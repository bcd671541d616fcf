//! The templates the local runtime knows and the in-memory registry of running sandboxes.
//! State lives in memory only: a daemon restart kills its sandboxes (docs/design.md#lifecycle).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::backend::LiveSandbox;

/// A local template: a named sandbox environment.
#[derive(Debug)]
pub struct Template {
    /// Canonical id, returned as `templateID`.
    pub id: &'static str,
    /// Other names accepted in `templateID` (returned as `alias`).
    pub aliases: &'static [&'static str],
    /// Start the default Python kernel at creation (code-interpreter templates).
    pub start_kernel: bool,
    /// The Python interpreter whose environment a user-defined template runs (bound
    /// read-only into the sandbox); `None` = the daemon's.
    pub python: Option<&'static Path>,
}

/// Every template a sandbox can be created from. Add new ones here.
pub static TEMPLATES: &[Template] = &[
    Template {
        id: "code-interpreter-v1",
        aliases: &["code-interpreter"],
        start_kernel: true,
        python: None,
    },
    Template {
        id: "base",
        aliases: &[],
        start_kernel: false,
        python: None,
    },
];

/// Finds a template by id or alias. A `:default` tag is accepted; other tags are not.
pub fn resolve_template(name: &str) -> Option<&'static Template> {
    let name = name.strip_suffix(":default").unwrap_or(name);
    TEMPLATES
        .iter()
        .find(|t| t.id == name || t.aliases.contains(&name))
}

/// `["code-interpreter-v1 (alias code-interpreter)", "base"]` — for error messages.
fn builtin_names() -> Vec<String> {
    TEMPLATES
        .iter()
        .map(|t| {
            if t.aliases.is_empty() {
                t.id.to_string()
            } else {
                format!("{} (alias {})", t.id, t.aliases.join(", "))
            }
        })
        .collect()
}

/// File of the state directory holding the templates `e2b-local template add` defined:
/// `{"NAME": {"python": "/abs/path/bin/python"}, …}`.
pub const USER_TEMPLATES_FILE: &str = "templates.json";

/// A template defined as a Python environment (a virtualenv or any interpreter): its
/// sandboxes run that interpreter's environment, read-only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserTemplate {
    /// Absolute path of the interpreter (e.g. `/path/to/venv/bin/python`).
    pub python: PathBuf,
}

/// Checks a name for a user template: 1–64 of `[a-z0-9._-]`, starting with a letter or a
/// digit, not a built-in template's id or alias, and without a `:tag`.
pub fn validate_template_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        });
    if !ok {
        return Err(format!(
            "invalid template name {name:?}: use 1–64 lowercase letters, digits, '-', '_' or              '.', starting with a letter or a digit"
        ));
    }
    if resolve_template(name).is_some() {
        return Err(format!(
            "'{name}' is a built-in template; choose another name"
        ));
    }
    Ok(())
}

/// The templates defined in `state_dir` (an unreadable or malformed file counts as empty,
/// with a warning).
pub fn read_user_templates(state_dir: &Path) -> BTreeMap<String, UserTemplate> {
    let path = state_dir.join(USER_TEMPLATES_FILE);
    match e2b_wire::local::read_state_file(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("ignoring {}: {e}", path.display());
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

/// Replaces the user templates of `state_dir` (written 0600, atomically).
pub fn write_user_templates(
    state_dir: &Path,
    templates: &BTreeMap<String, UserTemplate>,
) -> anyhow::Result<()> {
    super::state::ensure_private_dir(state_dir)?;
    let data = serde_json::to_vec_pretty(templates)?;
    super::state::write_private_atomic(&state_dir.join(USER_TEMPLATES_FILE), &data)
}

/// The one `&'static Template` of a user template definition. A definition is leaked once
/// (templates are few and live as long as the daemon); a changed definition gets a new one.
fn intern(name: &str, def: &UserTemplate) -> &'static Template {
    type Interned = Mutex<HashMap<(String, PathBuf), &'static Template>>;
    static INTERNED: OnceLock<Interned> = OnceLock::new();
    let mut map = INTERNED.get_or_init(Default::default).lock().unwrap();
    map.entry((name.to_string(), def.python.clone()))
        .or_insert_with(|| {
            Box::leak(Box::new(Template {
                id: Box::leak(name.to_string().into_boxed_str()),
                aliases: &[],
                start_kernel: true,
                python: Some(Box::leak(def.python.clone().into_boxed_path())),
            }))
        })
}

/// Every template a daemon knows: the built-in ones, those given to `e2b-local serve
/// --template`, and those defined in its state directory (re-read on each lookup, so
/// `e2b-local template add` needs no restart).
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    /// `serve --template NAME=PATH` (they win over the state directory's).
    pub serve: BTreeMap<String, UserTemplate>,
    /// Where [`USER_TEMPLATES_FILE`] lives; `None` = no file.
    pub state_dir: Option<PathBuf>,
}

impl TemplateSet {
    /// User templates, `serve` ones over the file's.
    pub fn user_templates(&self) -> BTreeMap<String, UserTemplate> {
        let mut all = self
            .state_dir
            .as_deref()
            .map(read_user_templates)
            .unwrap_or_default();
        all.extend(self.serve.clone());
        all.retain(|name, _| resolve_template(name).is_none());
        all
    }

    /// Finds a template by id or alias (a `:default` tag is accepted).
    pub fn resolve(&self, name: &str) -> Option<&'static Template> {
        if let Some(t) = resolve_template(name) {
            return Some(t);
        }
        let name = name.strip_suffix(":default").unwrap_or(name);
        let def = self.serve.get(name).cloned().or_else(|| {
            self.state_dir
                .as_deref()
                .and_then(|d| read_user_templates(d).remove(name))
        })?;
        Some(intern(name, &def))
    }

    /// Every name a create request may use, for the not-found message.
    pub fn names(&self) -> String {
        let mut names = builtin_names();
        names.extend(self.user_templates().into_keys());
        names.join(", ")
    }
}

/// One running sandbox.
#[derive(Debug)]
pub struct SandboxEntry {
    pub id: String,
    pub template: &'static Template,
    /// The name the caller used when it was an alias.
    pub alias: Option<String>,
    pub metadata: HashMap<String, String>,
    pub started_at: DateTime<Utc>,
    end_at: watch::Sender<DateTime<Utc>>,
    /// envd access token (`X-Access-Token`), when the sandbox is secured.
    pub access_token: Option<String>,
    /// Traffic token required on non-envd ports when `allowPublicTraffic` is false.
    pub traffic_token: Option<String>,
    pub allow_internet_access: bool,
    /// The `network` object given at creation, echoed in `SandboxDetail`.
    pub network: Option<serde_json::Value>,
    pub process: Box<dyn LiveSandbox>,
    pub idempotency_key: Option<String>,
    /// Frozen by `pause` (docs/design.md#lifecycle); its timeout does not run while paused.
    paused: watch::Sender<bool>,
    /// Serialises pause / resume / connect transitions.
    pub transition: tokio::sync::Mutex<()>,
}

pub struct NewEntry {
    pub id: String,
    pub template: &'static Template,
    pub alias: Option<String>,
    pub metadata: HashMap<String, String>,
    pub started_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub access_token: Option<String>,
    pub traffic_token: Option<String>,
    pub allow_internet_access: bool,
    pub network: Option<serde_json::Value>,
    pub process: Box<dyn LiveSandbox>,
    pub idempotency_key: Option<String>,
}

impl SandboxEntry {
    pub fn new(e: NewEntry) -> SandboxEntry {
        SandboxEntry {
            id: e.id,
            template: e.template,
            alias: e.alias,
            metadata: e.metadata,
            started_at: e.started_at,
            end_at: watch::Sender::new(e.end_at),
            access_token: e.access_token,
            traffic_token: e.traffic_token,
            allow_internet_access: e.allow_internet_access,
            network: e.network,
            process: e.process,
            idempotency_key: e.idempotency_key,
            paused: watch::Sender::new(false),
            transition: tokio::sync::Mutex::new(()),
        }
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn watch_paused(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    pub fn end_at(&self) -> DateTime<Utc> {
        *self.end_at.borrow()
    }

    /// Sets the expiry (may shorten); the sandbox's supervisor re-arms its timer.
    pub fn set_end_at(&self, at: DateTime<Utc>) {
        self.end_at.send_replace(at);
    }

    /// Moves the expiry to `at` only if that is later.
    pub fn extend_to(&self, at: DateTime<Utc>) {
        self.end_at.send_if_modified(|end| {
            if at > *end {
                *end = at;
                true
            } else {
                false
            }
        });
    }

    pub fn watch_end_at(&self) -> watch::Receiver<DateTime<Utc>> {
        self.end_at.subscribe()
    }
}

/// id → running sandbox.
#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<String, Arc<SandboxEntry>>>,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<Arc<SandboxEntry>> {
        self.map.lock().unwrap().get(id).cloned()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.map.lock().unwrap().contains_key(id)
    }

    pub fn insert(&self, entry: Arc<SandboxEntry>) {
        self.map.lock().unwrap().insert(entry.id.clone(), entry);
    }

    /// Removes and returns the sandbox; whoever gets it is responsible for killing it.
    pub fn remove(&self, id: &str) -> Option<Arc<SandboxEntry>> {
        self.map.lock().unwrap().remove(id)
    }

    /// Removes `entry` only if it is still the registered one.
    pub fn remove_if_same(&self, entry: &Arc<SandboxEntry>) -> bool {
        let mut map = self.map.lock().unwrap();
        match map.get(&entry.id) {
            Some(current) if Arc::ptr_eq(current, entry) => {
                map.remove(&entry.id);
                true
            }
            _ => false,
        }
    }

    pub fn snapshot(&self) -> Vec<Arc<SandboxEntry>> {
        self.map.lock().unwrap().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    pub fn take_all(&self) -> Vec<Arc<SandboxEntry>> {
        self.map.lock().unwrap().drain().map(|(_, v)| v).collect()
    }

    /// Secured sandboxes; used to attribute signed `/files` URLs that arrive without
    /// routing headers.
    pub fn with_tokens(&self) -> Vec<Arc<SandboxEntry>> {
        self.map
            .lock()
            .unwrap()
            .values()
            .filter(|e| e.access_token.is_some())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_resolve() {
        assert_eq!(
            resolve_template("code-interpreter").unwrap().id,
            "code-interpreter-v1"
        );
        assert!(
            resolve_template("code-interpreter-v1")
                .unwrap()
                .start_kernel
        );
        assert!(!resolve_template("base:default").unwrap().start_kernel);
        assert!(resolve_template("nope").is_none());
    }

    #[test]
    fn user_templates_resolve_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut defs = BTreeMap::new();
        defs.insert(
            "data-env".to_string(),
            UserTemplate {
                python: PathBuf::from("/opt/venv/bin/python"),
            },
        );
        write_user_templates(dir.path(), &defs).unwrap();
        assert_eq!(read_user_templates(dir.path()), defs);
        let set = TemplateSet {
            serve: BTreeMap::from([(
                "other".to_string(),
                UserTemplate {
                    python: PathBuf::from("/usr/bin/python3"),
                },
            )]),
            state_dir: Some(dir.path().to_path_buf()),
        };
        let t = set.resolve("data-env").unwrap();
        assert_eq!(t.id, "data-env");
        assert_eq!(t.python, Some(Path::new("/opt/venv/bin/python")));
        assert!(std::ptr::eq(t, set.resolve("data-env:default").unwrap()));
        assert_eq!(
            set.resolve("other").unwrap().python,
            Some(Path::new("/usr/bin/python3"))
        );
        assert_eq!(set.resolve("base").unwrap().python, None);
        assert!(set.resolve("nope").is_none());
        assert_eq!(
            set.names(),
            "code-interpreter-v1 (alias code-interpreter), base, data-env, other"
        );
    }

    #[test]
    fn template_names_are_checked() {
        assert!(validate_template_name("my-env_1.2").is_ok());
        assert!(validate_template_name("base").is_err());
        assert!(validate_template_name("code-interpreter").is_err());
        assert!(validate_template_name("Bad").is_err());
        assert!(validate_template_name("-x").is_err());
        assert!(validate_template_name("a:b").is_err());
        assert!(validate_template_name("").is_err());
    }
}
