//! Control-plane REST models (docs/protocol.md#control-plane). Field names are the wire names; note
//! the mixed casing the real API uses (`allow_internet_access` in create bodies,
//! `allowInternetAccess` in `SandboxDetail`). Optional fields are omitted when `None` so that
//! request bodies match what the official SDK sends.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Body of `POST /sandboxes` (`NewSandbox`) and `POST /v2/sandboxes` (`NewSandboxV2`).
/// The v2 form never carries `secure`; both may omit `timeout` (server default 300 s).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NewSandbox {
    #[serde(rename = "templateID")]
    pub template_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_internet_access: Option<bool>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    #[serde(rename = "envVars", default)]
    pub env_vars: Option<HashMap<String, String>>,
    #[serde(rename = "autoPause", default, skip_serializing_if = "Option::is_none")]
    pub auto_pause: Option<bool>,
    #[serde(
        rename = "autoPauseMemory",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_pause_memory: Option<bool>,
    #[serde(
        rename = "autoResume",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_resume: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<serde_json::Value>,
    #[serde(
        rename = "volumeMounts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_mounts: Option<serde_json::Value>,
}

/// Response of create / connect (`Sandbox`, docs/protocol.md#sandbox-model).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sandbox {
    #[serde(rename = "templateID")]
    pub template_id: String,
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "envdVersion")]
    pub envd_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(
        rename = "envdAccessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub envd_access_token: Option<String>,
    #[serde(rename = "trafficAccessToken", default)]
    pub traffic_access_token: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
}

/// Body of `POST /sandboxes/{id}/connect` and `POST /v2/sandboxes/{id}/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConnectSandbox {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
}

/// Body of `POST /sandboxes/{id}/timeout`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SetTimeout {
    pub timeout: i64,
}

/// Body of `POST /sandboxes/{id}/pause`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PauseSandbox {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
    #[serde(
        rename = "requireHealthyGuest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub require_healthy_guest: Option<bool>,
}

/// `running` or `paused`; any other value crashes the official SDK's enum.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SandboxState {
    Running,
    Paused,
}

impl SandboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxState::Running => "running",
            SandboxState::Paused => "paused",
        }
    }
}

/// `lifecycle` of `SandboxDetail` (both keys required when present).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lifecycle {
    #[serde(rename = "autoResume")]
    pub auto_resume: bool,
    #[serde(rename = "onTimeout")]
    pub on_timeout: String,
}

/// Response of `GET /sandboxes/{id}` (docs/protocol.md#sandbox-detail). Timestamps are RFC 3339
/// strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxDetail {
    #[serde(rename = "templateID")]
    pub template_id: String,
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "startedAt")]
    pub started_at: String,
    #[serde(rename = "endAt")]
    pub end_at: String,
    #[serde(rename = "envdVersion")]
    pub envd_version: String,
    #[serde(rename = "cpuCount")]
    pub cpu_count: i64,
    #[serde(rename = "memoryMB")]
    pub memory_mb: i64,
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: i64,
    pub state: SandboxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(
        rename = "envdAccessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub envd_access_token: Option<String>,
    #[serde(rename = "allowInternetAccess", default)]
    pub allow_internet_access: Option<bool>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    #[serde(
        rename = "volumeMounts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_mounts: Option<Vec<HashMap<String, String>>>,
    #[serde(
        rename = "envdUnresponsiveAtPause",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub envd_unresponsive_at_pause: Option<bool>,
    /// Local-runtime extension: a human-readable note on reduced isolation or networking
    /// (e.g. "no user-mode network stack installed; the sandbox has no internet"). Unknown
    /// fields are ignored by the official SDK.
    #[serde(
        rename = "localNotes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub local_notes: Option<Vec<String>>,
}

/// Element of `GET /v2/sandboxes` (docs/protocol.md#sandbox-list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListedSandbox {
    #[serde(rename = "templateID")]
    pub template_id: String,
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "startedAt")]
    pub started_at: String,
    #[serde(rename = "endAt")]
    pub end_at: String,
    #[serde(rename = "cpuCount")]
    pub cpu_count: i64,
    #[serde(rename = "memoryMB")]
    pub memory_mb: i64,
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: i64,
    pub state: SandboxState,
    #[serde(rename = "envdVersion")]
    pub envd_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    #[serde(
        rename = "volumeMounts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_mounts: Option<Vec<HashMap<String, String>>>,
}

/// Element of `GET /sandboxes/{id}/metrics` (docs/protocol.md#sandbox-metrics); all fields
/// required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxMetric {
    /// RFC 3339; deprecated upstream but it is the one the SDK reads.
    pub timestamp: String,
    #[serde(rename = "timestampUnix")]
    pub timestamp_unix: i64,
    #[serde(rename = "cpuCount")]
    pub cpu_count: i64,
    #[serde(rename = "cpuUsedPct")]
    pub cpu_used_pct: f64,
    #[serde(rename = "memUsed")]
    pub mem_used: i64,
    #[serde(rename = "memTotal")]
    pub mem_total: i64,
    #[serde(rename = "memCache")]
    pub mem_cache: i64,
    #[serde(rename = "diskUsed")]
    pub disk_used: i64,
    #[serde(rename = "diskTotal")]
    pub disk_total: i64,
}

/// Error body of every control-plane error status: `{"code": <int>, "message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Error body of the sandbox proxy (docs/protocol.md#edge-proxy-errors): 502 for an unknown sandbox
/// or a closed port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProxyError {
    #[serde(rename = "sandboxId")]
    pub sandbox_id: String,
    pub message: String,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sandbox_v2_body_matches_official_sdk() {
        // 2.63.0, plain `Sandbox.create()` from the code-interpreter package.
        let body = NewSandbox {
            template_id: "code-interpreter-v1".into(),
            metadata: Some(HashMap::new()),
            env_vars: Some(HashMap::new()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"templateID":"code-interpreter-v1","metadata":{},"envVars":{}}"#
        );
    }

    #[test]
    fn new_sandbox_v1_body_parses() {
        let raw = r#"{"templateID":"t","timeout":300,"autoPause":true,"autoResume":{"enabled":true},"secure":false,"allow_internet_access":false,"network":{"allowPublicTraffic":false,"denyOut":["0.0.0.0/0"]},"metadata":{},"envVars":{}}"#;
        let body: NewSandbox = serde_json::from_str(raw).unwrap();
        assert_eq!(body.timeout, Some(300));
        assert_eq!(body.secure, Some(false));
        assert_eq!(body.allow_internet_access, Some(false));
        assert_eq!(body.auto_pause, Some(true));
    }

    #[test]
    fn state_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&SandboxState::Paused).unwrap(),
            "\"paused\""
        );
    }
}
