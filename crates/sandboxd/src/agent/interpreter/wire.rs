//! Jupyter messaging wire format (messaging spec 5.3): multipart frames
//! `[ids…, "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers…]`, signed
//! with HMAC-SHA256 over the four JSON frames.
//!
//! We speak it ourselves over the pure-Rust `zeromq` crate rather than through runtimed's
//! `jupyter-protocol`/`jupyter-zmq-client`: those model every message as a typed enum and
//! target TCP connection files, while we need a handful of message types, raw access to MIME
//! bundles (passed through untouched to `ResultLine`), tolerance of kernel-specific fields,
//! and `ipc://` sockets. The whole codec is this file.

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

const DELIMITER: &[u8] = b"<IDS|MSG>";

/// Most JSON values (array elements, object members, scalars) one message may hold. Parsed,
/// each costs 32 bytes or more whatever its size on the wire (`[0,0,…]` is 2 bytes a value),
/// so this bounds the memory a message takes once decoded at ~32 MiB beyond its bytes.
pub const MAX_JSON_VALUES: usize = 1 << 20;

/// Signs and parses messages for one kernel connection.
#[derive(Clone)]
pub struct Session {
    key: Vec<u8>,
    session_id: String,
}

/// A decoded incoming message: the parts the agent uses.
#[derive(Debug)]
pub struct Incoming {
    pub msg_type: String,
    /// `parent_header.msg_id`, the request this message answers.
    pub parent_id: Option<String>,
    /// `header.date` as sent by the kernel.
    pub date: Option<String>,
    pub content: Map<String, Value>,
    /// Share of the output byte budget this message holds until it is written out (or
    /// dropped); see `kernel::OUTPUT_BUDGET`.
    pub budget: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Size of the message's frames on the wire, in bytes.
    pub size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed Jupyter message: {0}")]
    Malformed(&'static str),
    #[error("bad message signature")]
    BadSignature,
    #[error("invalid JSON in a Jupyter message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a Jupyter message with more than {MAX_JSON_VALUES} JSON values ({0} bytes)")]
    TooLarge(usize),
}

type HmacSha256 = Hmac<Sha256>;

impl Session {
    pub fn new(key: Vec<u8>) -> Self {
        Session {
            key,
            session_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    /// Builds a request; returns its `msg_id` and frames.
    pub fn request(
        &self,
        msg_type: &str,
        content: &(impl serde::Serialize + ?Sized),
    ) -> (String, Vec<Bytes>) {
        let msg_id = uuid::Uuid::new_v4().to_string();
        let header = json!({
            "msg_id": msg_id,
            "username": "e2b",
            "session": self.session_id,
            "msg_type": msg_type,
            "version": "5.3",
            "date": now_iso(),
        });
        let parts = [
            serde_json::to_vec(&header).expect("json"),
            b"{}".to_vec(),
            b"{}".to_vec(),
            serde_json::to_vec(content).expect("json"),
        ];
        let mut mac = self.mac();
        for p in &parts {
            mac.update(p);
        }
        let sig = hex(&mac.finalize().into_bytes());
        let mut frames = Vec::with_capacity(6);
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(sig));
        frames.extend(parts.into_iter().map(Bytes::from));
        (msg_id, frames)
    }

    /// Verifies and parses a message received on any channel.
    pub fn decode(&self, frames: &[Bytes]) -> Result<Incoming, WireError> {
        let at = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or(WireError::Malformed("no <IDS|MSG> delimiter"))?;
        let rest = &frames[at + 1..];
        if rest.len() < 5 {
            return Err(WireError::Malformed(
                "fewer than five frames after the delimiter",
            ));
        }
        let sig = unhex(&rest[0]).ok_or(WireError::BadSignature)?;
        let mut mac = self.mac();
        for p in &rest[1..5] {
            mac.update(p);
        }
        mac.verify_slice(&sig)
            .map_err(|_| WireError::BadSignature)?;
        if rest[1..5].iter().map(|f| json_values(f)).sum::<usize>() > MAX_JSON_VALUES {
            return Err(WireError::TooLarge(frames.iter().map(|f| f.len()).sum()));
        }
        let header: Map<String, Value> = serde_json::from_slice(&rest[1])?;
        let parent: Map<String, Value> = serde_json::from_slice(&rest[2])?;
        let content: Value = serde_json::from_slice(&rest[4])?;
        Ok(Incoming {
            msg_type: header
                .get("msg_type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            parent_id: parent
                .get("msg_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            date: header
                .get("date")
                .and_then(Value::as_str)
                .map(str::to_string),
            content: match content {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            budget: None,
            size: frames.iter().map(|f| f.len()).sum(),
        })
    }
}

/// About how many values a JSON text holds: commas and opening brackets outside strings,
/// plus one (exact for arrays; an object member counts once). One pass, nothing allocated.
pub fn json_values(raw: &[u8]) -> usize {
    let (mut n, mut in_string, mut escaped) = (1, false, false);
    for &b in raw {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' => n += 1,
                _ => {}
            }
        }
    }
    n
}

/// Current UTC time as ISO 8601 with microseconds and `+00:00`.
pub fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// The wire timestamp for a kernel date: ISO 8601 ending in `+00:00`, as the reference
/// server's pydantic re-serialisation produces.
pub fn wire_timestamp(date: Option<&str>) -> String {
    match date {
        Some(d) => match d.strip_suffix('Z') {
            Some(base) => format!("{base}+00:00"),
            None => d.to_string(),
        },
        None => now_iso(),
    }
}

/// A random 256-bit key, hex encoded (the form connection files carry).
pub fn random_key() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let val = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_signature() {
        let s = Session::new(b"secret".to_vec());
        let (id, mut frames) = s.request("kernel_info_request", &json!({}));
        // Make it look like a reply to itself: parent_header = our header.
        frames[3] = frames[2].clone();
        let mut mac = s.mac();
        for p in &frames[2..6] {
            mac.update(p);
        }
        frames[1] = Bytes::from(hex(&mac.finalize().into_bytes()));
        let topic = Bytes::from_static(b"kernel.abc.status");
        let mut with_topic = vec![topic];
        with_topic.extend(frames.iter().cloned());
        let m = s.decode(&with_topic).unwrap();
        assert_eq!(m.msg_type, "kernel_info_request");
        assert_eq!(m.parent_id.as_deref(), Some(id.as_str()));
        assert!(m.date.unwrap().ends_with("+00:00"));
    }

    #[test]
    fn tampered_messages_are_rejected() {
        let s = Session::new(b"secret".to_vec());
        let (_, mut frames) = s.request("execute_request", &json!({"code": "1"}));
        frames[5] = Bytes::from_static(b"{\"code\": \"2\"}");
        assert!(matches!(s.decode(&frames), Err(WireError::BadSignature)));
        let other = Session::new(b"other".to_vec());
        let (_, frames) = other.request("execute_request", &json!({}));
        assert!(matches!(s.decode(&frames), Err(WireError::BadSignature)));
        assert!(s.decode(&frames[1..]).is_err());
    }

    #[test]
    fn value_bombs_are_refused_before_parsing() {
        assert_eq!(json_values(b"[0,0,0]"), 4);
        assert_eq!(json_values(br#"{"a":"x,[{\",y","b":[1,{}]}"#), 6);
        let s = Session::new(b"k".to_vec());
        let (_, mut frames) = s.request("display_data", &json!({}));
        let bomb = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES));
        frames[5] = Bytes::from(bomb);
        let mut mac = s.mac();
        for p in &frames[2..6] {
            mac.update(p);
        }
        frames[1] = Bytes::from(hex(&mac.finalize().into_bytes()));
        assert!(matches!(s.decode(&frames), Err(WireError::TooLarge(_))));
        // A big message of few values (an image) is fine.
        let (_, mut frames) = s.request("display_data", &json!({}));
        frames[5] = Bytes::from(
            serde_json::to_vec(&json!({"data": {"image/png": "A".repeat(8 << 20)}})).unwrap(),
        );
        let mut mac = s.mac();
        for p in &frames[2..6] {
            mac.update(p);
        }
        frames[1] = Bytes::from(hex(&mac.finalize().into_bytes()));
        assert!(s.decode(&frames).is_ok());
    }

    #[test]
    fn timestamps_end_in_utc_offset() {
        assert_eq!(
            wire_timestamp(Some("2024-01-01T00:00:00.123456Z")),
            "2024-01-01T00:00:00.123456+00:00"
        );
        assert_eq!(
            wire_timestamp(Some("2024-01-01T00:00:00.1+00:00")),
            "2024-01-01T00:00:00.1+00:00"
        );
        assert!(wire_timestamp(None).ends_with("+00:00"));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(
            unhex(hex(&[0, 1, 0xab, 0xff]).as_bytes()).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert!(unhex(b"zz").is_none());
        assert_eq!(random_key().len(), 64);
    }
}
