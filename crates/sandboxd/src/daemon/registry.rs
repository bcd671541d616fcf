//! The templates the local runtime knows and the in-memory registry of running sandboxes.
//! State lives in memory only: a daemon restart kills its sandboxes (design §4.4).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
}

/// Every template a sandbox can be created from. Add new ones here.
pub static TEMPLATES: &[Template] = &[
    Template {
        id: "code-interpreter-v1",
        aliases: &["code-interpreter"],
        start_kernel: true,
    },
    Template {
        id: "base",
        aliases: &[],
        start_kernel: false,
    },
];

/// Finds a template by id or alias. A `:default` tag is accepted; other tags are not.
pub fn resolve_template(name: &str) -> Option<&'static Template> {
    let name = name.strip_suffix(":default").unwrap_or(name);
    TEMPLATES
        .iter()
        .find(|t| t.id == name || t.aliases.contains(&name))
}

/// `code-interpreter-v1 (alias code-interpreter), base` — for error messages.
pub fn template_names() -> String {
    TEMPLATES
        .iter()
        .map(|t| {
            if t.aliases.is_empty() {
                t.id.to_string()
            } else {
                format!("{} (alias {})", t.id, t.aliases.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
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
    /// Frozen by `pause` (design §4.4); its timeout does not run while paused.
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
}
