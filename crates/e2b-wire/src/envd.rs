//! envd's `process.Process` and `filesystem.Filesystem` messages
//! (docs/protocol.md#process-messages, docs/protocol.md#filesystem-messages,
//! docs/protocol.md#json-codec) in the proto3 JSON mapping the SDK uses: lowerCamel names out
//! (snake accepted in), default values omitted, `int64` as a string (numbers accepted), `bytes` as
//! padded base64, enums by name (numbers accepted), oneofs as optional fields of which one is set.
//! Unknown fields are ignored.

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Service paths (`/{package}.{Service}/{Method}`).
pub mod paths {
    pub const PROCESS_PREFIX: &str = "/process.Process/";
    pub const FILESYSTEM_PREFIX: &str = "/filesystem.Filesystem/";
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// Integers that arrive as JSON numbers or strings (proto3 JSON accepts both).
mod lenient_int {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(serde_json::Number),
        Str(String),
    }

    fn parse<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Num(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128))
                .ok_or_else(|| de::Error::custom(format!("invalid integer {n}"))),
            Raw::Str(s) => s
                .trim()
                .parse::<i128>()
                .map_err(|_| de::Error::custom(format!("invalid integer {s:?}"))),
        }
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = parse(d)?;
        u32::try_from(v).map_err(|_| de::Error::custom(format!("{v} out of range for uint32")))
    }

    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        u32(d).map(Some)
    }

    pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let v = parse(d)?;
        i32::try_from(v).map_err(|_| de::Error::custom(format!("{v} out of range for int32")))
    }

    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = parse(d)?;
        i64::try_from(v).map_err(|_| de::Error::custom(format!("{v} out of range for int64")))
    }

    /// `int64` is written as a JSON string, as protojson does.
    pub fn ser_i64<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
}

/// `bytes` fields as standard padded base64 (URL-safe and unpadded accepted on input).
mod b64 {
    use super::*;

    pub fn ser<S: Serializer>(v: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        let Some(s) = s else { return Ok(None) };
        decode(&s)
            .map(|v| Some(Bytes::from(v)))
            .map_err(de::Error::custom)
    }

    pub fn decode(s: &str) -> Result<Vec<u8>, String> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let trimmed = s.trim_end_matches('=');
        let padded = {
            let mut p = trimmed.to_string();
            while p.len() % 4 != 0 {
                p.push('=');
            }
            p
        };
        STANDARD
            .decode(&padded)
            .or_else(|_| URL_SAFE.decode(&padded))
            .map_err(|e| format!("invalid base64: {e}"))
    }
}

/// Declares a proto enum serialised by name, deserialised from a name or a number.
macro_rules! proto_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $num:literal => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            #[default]
            $($variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn number(self) -> i32 {
                match self { $($name::$variant => $num),+ }
            }
            pub fn from_number(n: i64) -> Option<Self> {
                match n { $($num => Some($name::$variant),)+ _ => None }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
            pub fn is_unspecified(&self) -> bool {
                self.number() == 0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Raw { Num(i64), Str(String) }
                // Unknown values read as the zero value (proto3 open enums).
                Ok(match Raw::deserialize(d)? {
                    Raw::Num(n) => Self::from_number(n).unwrap_or_default(),
                    Raw::Str(s) => Self::from_name(&s).unwrap_or_default(),
                })
            }
        }
    };
}

// ---------------------------------------------------------------- process.Process

/// `PTY.Size`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtySize {
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub cols: u32,
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub rows: u32,
}

/// `PTY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pty {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<PtySize>,
}

/// `ProcessConfig`: what to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfig {
    #[serde(default)]
    pub cmd: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub envs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// `ProcessSelector`: a pid or a tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSelector {
    #[serde(
        default,
        deserialize_with = "lenient_int::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl ProcessSelector {
    pub fn pid(pid: u32) -> Self {
        ProcessSelector {
            pid: Some(pid),
            tag: None,
        }
    }
}

/// `ProcessInfo` (an item of `ListResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ProcessConfig>,
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `ListResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListResponse {
    #[serde(default)]
    pub processes: Vec<ProcessInfo>,
}

/// `StartRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    #[serde(default)]
    pub process: ProcessConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
}

/// `UpdateRequest` (PTY resize).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    pub process: ProcessSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
}

/// `ProcessEvent.StartEvent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEvent {
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub pid: u32,
}

/// `ProcessEvent.DataEvent` (oneof `output`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataEvent {
    #[serde(default, with = "b64_field", skip_serializing_if = "Option::is_none")]
    pub stdout: Option<Bytes>,
    #[serde(default, with = "b64_field", skip_serializing_if = "Option::is_none")]
    pub stderr: Option<Bytes>,
    #[serde(default, with = "b64_field", skip_serializing_if = "Option::is_none")]
    pub pty: Option<Bytes>,
}

mod b64_field {
    pub use super::b64::de as deserialize;
    pub use super::b64::ser as serialize;
}

/// `ProcessEvent.EndEvent`: Go `os.ProcessState` semantics (docs/protocol.md#exit-status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndEvent {
    #[serde(
        default,
        rename = "exitCode",
        alias = "exit_code",
        deserialize_with = "lenient_int::i32",
        skip_serializing_if = "is_zero_i32"
    )]
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub exited: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Empty messages (`KeepAlive`, `{}` responses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `ProcessEvent` (oneof `event`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EndEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<Empty>,
}

/// `StartResponse` / `ConnectResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEventResponse {
    #[serde(default)]
    pub event: ProcessEvent,
}

impl ProcessEventResponse {
    pub fn start(pid: u32) -> Self {
        Self::of(ProcessEvent {
            start: Some(StartEvent { pid }),
            ..Default::default()
        })
    }

    pub fn data(data: DataEvent) -> Self {
        Self::of(ProcessEvent {
            data: Some(data),
            ..Default::default()
        })
    }

    pub fn end(end: EndEvent) -> Self {
        Self::of(ProcessEvent {
            end: Some(end),
            ..Default::default()
        })
    }

    pub fn keepalive() -> Self {
        Self::of(ProcessEvent {
            keepalive: Some(Empty {}),
            ..Default::default()
        })
    }

    fn of(event: ProcessEvent) -> Self {
        ProcessEventResponse { event }
    }
}

/// `ProcessInput` (oneof `input`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInput {
    #[serde(default, with = "b64_field", skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Bytes>,
    #[serde(default, with = "b64_field", skip_serializing_if = "Option::is_none")]
    pub pty: Option<Bytes>,
}

/// `SendInputRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendInputRequest {
    #[serde(default)]
    pub process: ProcessSelector,
    #[serde(default)]
    pub input: ProcessInput,
}

/// `StreamInputRequest.StartEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInputStart {
    #[serde(default)]
    pub process: ProcessSelector,
}

/// `StreamInputRequest.DataEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInputData {
    #[serde(default)]
    pub input: ProcessInput,
}

/// `StreamInputRequest` (oneof `event`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInputRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StreamInputStart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<StreamInputData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<Empty>,
}

proto_enum! {
    /// `Signal`.
    Signal {
        Unspecified = 0 => "SIGNAL_UNSPECIFIED",
        Sigterm = 15 => "SIGNAL_SIGTERM",
        Sigkill = 9 => "SIGNAL_SIGKILL",
    }
}

/// `SendSignalRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSignalRequest {
    #[serde(default)]
    pub process: ProcessSelector,
    #[serde(default, skip_serializing_if = "Signal::is_unspecified")]
    pub signal: Signal,
}

/// `CloseStdinRequest` / `ConnectRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRequest {
    #[serde(default)]
    pub process: ProcessSelector,
}

// ---------------------------------------------------------------- filesystem.Filesystem

proto_enum! {
    /// `FileType`.
    FileType {
        Unspecified = 0 => "FILE_TYPE_UNSPECIFIED",
        File = 1 => "FILE_TYPE_FILE",
        Directory = 2 => "FILE_TYPE_DIRECTORY",
        Symlink = 3 => "FILE_TYPE_SYMLINK",
    }
}

proto_enum! {
    /// `EventType`.
    EventType {
        Unspecified = 0 => "EVENT_TYPE_UNSPECIFIED",
        Create = 1 => "EVENT_TYPE_CREATE",
        Write = 2 => "EVENT_TYPE_WRITE",
        Remove = 3 => "EVENT_TYPE_REMOVE",
        Rename = 4 => "EVENT_TYPE_RENAME",
        Chmod = 5 => "EVENT_TYPE_CHMOD",
    }
}

/// `google.protobuf.Timestamp`, written as RFC 3339 in UTC with nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// `2024-05-01T12:00:00.123456789Z` (fraction trimmed to 3, 6 or 9 digits, as protojson).
    pub fn to_rfc3339(&self) -> String {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        if self.nanos != 0 {
            if self.nanos % 1_000_000 == 0 {
                out.push_str(&format!(".{:03}", self.nanos / 1_000_000));
            } else if self.nanos % 1_000 == 0 {
                out.push_str(&format!(".{:06}", self.nanos / 1_000));
            } else {
                out.push_str(&format!(".{:09}", self.nanos));
            }
        }
        out.push('Z');
        out
    }

    /// Parses RFC 3339 (`Z` or a numeric offset).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let (date, rest) = s.split_once(['T', 't', ' '])?;
        let mut dp = date.splitn(3, '-');
        let y: i64 = dp.next()?.parse().ok()?;
        let mo: u32 = dp.next()?.parse().ok()?;
        let d: u32 = dp.next()?.parse().ok()?;
        let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
            (t, 0i64)
        } else {
            let idx = rest.rfind(['+', '-'])?;
            let (t, off) = rest.split_at(idx);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (
                t,
                sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
            )
        };
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, b),
            None => (time, ""),
        };
        let mut tp = hms.splitn(3, ':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next()?.parse().ok()?;
        let se: i64 = tp.next()?.parse().ok()?;
        let nanos = if frac.is_empty() {
            0
        } else {
            let digits: String = frac.chars().take(9).collect();
            let n: u32 = digits.parse().ok()?;
            n * 10u32.pow(9 - digits.len() as u32)
        };
        let days = days_from_civil(y, mo, d);
        Some(Timestamp {
            seconds: days * 86_400 + h * 3600 + mi * 60 + se - offset,
            nanos,
        })
    }
}

// Howard Hinnant's civil-date algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| de::Error::custom(format!("invalid timestamp {s:?}")))
    }
}

/// `EntryInfo` (semantics: docs/protocol.md#entry-info).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryInfo {
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "FileType::is_unspecified"
    )]
    pub file_type: FileType,
    #[serde(default)]
    pub path: String,
    #[serde(
        default,
        deserialize_with = "lenient_int::i64",
        serialize_with = "lenient_int::ser_i64",
        skip_serializing_if = "is_zero_i64"
    )]
    pub size: i64,
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub mode: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub permissions: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(
        default,
        alias = "modified_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_time: Option<Timestamp>,
    #[serde(
        default,
        alias = "symlink_target",
        skip_serializing_if = "Option::is_none"
    )]
    pub symlink_target: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, alias = "is_symlink", skip_serializing_if = "is_false")]
    pub is_symlink: bool,
}

/// `StatRequest` / `MakeDirRequest` / `RemoveRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRequest {
    #[serde(default)]
    pub path: String,
}

/// `StatResponse` / `MakeDirResponse` / `MoveResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

/// `MoveRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRequest {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub destination: String,
}

/// `ListDirRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirRequest {
    #[serde(default)]
    pub path: String,
    #[serde(
        default,
        deserialize_with = "lenient_int::u32",
        skip_serializing_if = "is_zero_u32"
    )]
    pub depth: u32,
}

/// `ListDirResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDirResponse {
    #[serde(default)]
    pub entries: Vec<EntryInfo>,
}

/// `WatchDirRequest` / `CreateWatcherRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchRequest {
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub recursive: bool,
    #[serde(default, alias = "include_entry", skip_serializing_if = "is_false")]
    pub include_entry: bool,
    #[serde(
        default,
        alias = "allow_network_mounts",
        skip_serializing_if = "is_false"
    )]
    pub allow_network_mounts: bool,
}

/// `FilesystemEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesystemEvent {
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "EventType::is_unspecified"
    )]
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

/// `WatchDirResponse` (oneof `event`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchDirResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Empty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<Empty>,
}

/// `CreateWatcherResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWatcherResponse {
    #[serde(default, rename = "watcherId", alias = "watcher_id")]
    pub watcher_id: String,
}

/// `GetWatcherEventsRequest` / `RemoveWatcherRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherRequest {
    #[serde(default, rename = "watcherId", alias = "watcher_id")]
    pub watcher_id: String,
}

/// `GetWatcherEventsResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetWatcherEventsResponse {
    #[serde(default)]
    pub events: Vec<FilesystemEvent>,
}

/// One item of the `POST /files` response (docs/protocol.md#files-upload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteInfo {
    pub path: String,
    pub name: String,
    #[serde(rename = "type")]
    pub entry_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Plain-HTTP error body of envd (`{"code": 404, "message": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpError {
    pub code: u16,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_request_accepts_sdk_json() {
        let raw = r#"{"process": {"cmd": "/bin/bash", "args": ["-l", "-c", "echo hello"], "envs": {"X": "y"}, "cwd": "/tmp"}, "stdin": false}"#;
        let req: StartRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(req.process.cmd, "/bin/bash");
        assert_eq!(req.process.cwd.as_deref(), Some("/tmp"));
        assert_eq!(req.stdin, Some(false));
        assert!(req.pty.is_none());
        let pty: StartRequest = serde_json::from_str(
            r#"{"process":{"cmd":"x"},"pty":{"size":{"cols":"80","rows":24}}}"#,
        )
        .unwrap();
        assert_eq!(
            pty.pty.unwrap().size.unwrap(),
            PtySize { cols: 80, rows: 24 }
        );
    }

    #[test]
    fn events_serialise_like_envd() {
        let end = ProcessEventResponse::end(EndEvent {
            exit_code: 0,
            exited: true,
            status: "exit status 0".into(),
            error: None,
        });
        assert_eq!(
            serde_json::to_value(&end).unwrap(),
            json!({"event": {"end": {"exited": true, "status": "exit status 0"}}})
        );
        let data = ProcessEventResponse::data(DataEvent {
            stdout: Some(Bytes::from_static(b"hi\n")),
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"event":{"data":{"stdout":"aGkK"}}}"#
        );
        let back: ProcessEventResponse =
            serde_json::from_str(r#"{"event":{"data":{"stdout":"aGkK"}},"extra":1}"#).unwrap();
        assert_eq!(back, data);
        let ka = serde_json::to_string(&ProcessEventResponse::keepalive()).unwrap();
        assert_eq!(ka, r#"{"event":{"keepalive":{}}}"#);
        let e: EndEvent = serde_json::from_str(
            r#"{"exit_code":"-1","status":"signal: killed","error":"signal: killed"}"#,
        )
        .unwrap();
        assert_eq!(e.exit_code, -1);
    }

    #[test]
    fn signal_and_selector() {
        let req: SendSignalRequest =
            serde_json::from_str(r#"{"process":{"pid":4242},"signal":"SIGNAL_SIGKILL"}"#).unwrap();
        assert_eq!(req.process.pid, Some(4242));
        assert_eq!(req.signal, Signal::Sigkill);
        let req: SendSignalRequest =
            serde_json::from_str(r#"{"process":{"pid":"7"},"signal":15}"#).unwrap();
        assert_eq!(req.signal, Signal::Sigterm);
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"process":{"pid":7},"signal":"SIGNAL_SIGTERM"}"#
        );
    }

    #[test]
    fn entry_info_round_trip() {
        let e = EntryInfo {
            name: "a.txt".into(),
            file_type: FileType::File,
            path: "/home/user/a.txt".into(),
            size: 5,
            mode: 0o644,
            permissions: "-rw-r--r--".into(),
            owner: "user".into(),
            group: "user".into(),
            modified_time: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
            }),
            symlink_target: None,
            metadata: BTreeMap::new(),
            is_symlink: false,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["size"], json!("5"));
        assert_eq!(v["type"], json!("FILE_TYPE_FILE"));
        assert_eq!(v["modifiedTime"], json!("2023-11-14T22:13:20.123456789Z"));
        assert!(v.get("isSymlink").is_none());
        let back: EntryInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        let snake: EntryInfo = serde_json::from_str(
            r#"{"name":"l","type":2,"path":"/l","size":3,"modified_time":"2023-11-14T23:13:20+01:00","is_symlink":true,"symlink_target":"/t"}"#,
        )
        .unwrap();
        assert_eq!(snake.file_type, FileType::Directory);
        assert!(snake.is_symlink);
        assert_eq!(snake.modified_time.unwrap().seconds, 1_700_000_000);
        assert_eq!(snake.symlink_target.as_deref(), Some("/t"));
    }

    #[test]
    fn timestamps() {
        for (secs, nanos, text) in [
            (0, 0, "1970-01-01T00:00:00Z"),
            (951_782_400, 500_000_000, "2000-02-29T00:00:00.500Z"),
            (-1, 1_000, "1969-12-31T23:59:59.000001Z"),
        ] {
            let t = Timestamp {
                seconds: secs,
                nanos,
            };
            assert_eq!(t.to_rfc3339(), text);
            assert_eq!(Timestamp::parse_rfc3339(text), Some(t));
        }
    }

    #[test]
    fn watch_messages() {
        let req: WatchRequest =
            serde_json::from_str(r#"{"path":"/tmp","recursive":true,"include_entry":true}"#)
                .unwrap();
        assert!(req.recursive && req.include_entry && !req.allow_network_mounts);
        let r = WatchDirResponse {
            filesystem: Some(FilesystemEvent {
                name: "a".into(),
                event_type: EventType::Create,
                entry: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"filesystem":{"name":"a","type":"EVENT_TYPE_CREATE"}}"#
        );
        let c: CreateWatcherResponse = serde_json::from_str(r#"{"watcher_id":"w1"}"#).unwrap();
        assert_eq!(c.watcher_id, "w1");
    }
}
