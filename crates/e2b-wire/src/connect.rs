//! The Connect protocol as the E2B SDK speaks it to envd (docs/protocol.md#connect-transport): JSON
//! codec only, unary calls with `application/json` bodies, and streams of enveloped messages
//! (`application/connect+json`) ending with an end-of-stream envelope. Pure codec: no I/O.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Content type of unary requests and responses.
pub const UNARY_CONTENT_TYPE: &str = "application/json";
/// Content type of streaming requests and responses (compared exactly by the SDK: no
/// parameters may follow it).
pub const STREAM_CONTENT_TYPE: &str = "application/connect+json";
/// `Connect-Protocol-Version` header name and the only value defined.
pub const PROTOCOL_VERSION_HEADER: &str = "connect-protocol-version";
pub const PROTOCOL_VERSION: &str = "1";

/// Envelope flag: the payload is compressed (never used here).
pub const FLAG_COMPRESSED: u8 = 0x01;
/// Envelope flag: end-of-stream message.
pub const FLAG_END_STREAM: u8 = 0x02;

/// Connect error codes (docs/protocol.md#unary-calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Canceled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

impl Code {
    pub const ALL: [Code; 16] = [
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The wire name (`"not_found"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Canceled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The name Python's `connectrpc.code.Code` renders (`"Code.NOT_FOUND"`), used in the
    /// SDK's generic `SandboxException(f"{code}: {message}")`.
    pub fn python_name(self) -> String {
        format!("Code.{}", self.as_str().to_ascii_uppercase())
    }

    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// HTTP status for a unary error response (standard Connect mapping).
    pub fn http_status(self) -> u16 {
        match self {
            Code::Canceled => 499,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::Unauthenticated => 401,
        }
    }

    /// The code a client derives from an HTTP status when the body is not a Connect error
    /// (docs/protocol.md#non-connect-error-bodies).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::AlreadyExists,
            413 | 429 => Code::ResourceExhausted,
            499 => Code::Canceled,
            500 => Code::Internal,
            501 | 505 => Code::Unimplemented,
            502 | 503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            _ => Code::Unknown,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Connect error: what a unary error body and an end-of-stream `error` carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub code: Code,
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct WireError {
    code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    message: String,
}

impl ConnectError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ConnectError {
            code,
            message: message.into(),
        }
    }

    fn wire(&self) -> WireError {
        WireError {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
        }
    }

    /// Body of a unary error response (`{"code": "...", "message": "..."}`).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.wire()).expect("errors serialise")
    }

    /// Decodes a unary error body if it is a Connect error (a JSON object whose `code` is a
    /// known code name); `None` otherwise.
    pub fn from_json(body: &[u8]) -> Option<ConnectError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Self::from_value(&value)
    }

    fn from_value(value: &Value) -> Option<ConnectError> {
        let obj = value.as_object()?;
        let code = Code::parse(obj.get("code")?.as_str()?)?;
        let message = obj
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Some(ConnectError { code, message })
    }

    /// The error a client builds from a non-Connect error response
    /// (docs/protocol.md#non-connect-error-bodies): an
    /// integer JSON `code` replaces the status, the message is the JSON `message`, else the
    /// body text, else `HTTP <status>`.
    pub fn from_http(status: u16, body: &[u8]) -> ConnectError {
        if let Some(e) = Self::from_json(body) {
            return e;
        }
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let obj = json.as_ref().and_then(Value::as_object);
        let status = obj
            .and_then(|o| o.get("code"))
            .and_then(Value::as_u64)
            .map(|c| c as u16)
            .unwrap_or(status);
        let message = match obj.and_then(|o| o.get("message")).and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => {
                let text = String::from_utf8_lossy(body).trim().to_string();
                if text.is_empty() {
                    format!("HTTP {status}")
                } else {
                    text
                }
            }
        };
        ConnectError {
            code: Code::from_http_status(status),
            message,
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ConnectError {}

/// One envelope: flags, then a 4-byte big-endian length, then the payload.
pub fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + payload.len());
    buf.put_u8(flags);
    buf.put_u32(payload.len() as u32);
    buf.put_slice(payload);
    buf.freeze()
}

/// A message envelope holding `message` as JSON.
pub fn message_envelope(message: &impl Serialize) -> Bytes {
    envelope(0, &serde_json::to_vec(message).expect("messages serialise"))
}

/// The end-of-stream envelope: `{}` on success, `{"error": {...}}` on failure.
pub fn end_stream_envelope(error: Option<&ConnectError>) -> Bytes {
    let payload = match error {
        None => b"{}".to_vec(),
        Some(e) => {
            serde_json::to_vec(&serde_json::json!({ "error": e.wire() })).expect("errors serialise")
        }
    };
    envelope(FLAG_END_STREAM, &payload)
}

/// Parses an end-of-stream payload: `Ok(())` for success, the error otherwise.
pub fn parse_end_stream(payload: &[u8]) -> Result<(), ConnectError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        ConnectError::new(
            Code::Internal,
            format!("invalid end-of-stream message: {e}"),
        )
    })?;
    match value.get("error") {
        None | Some(Value::Null) => Ok(()),
        Some(err) => Err(ConnectError::from_value(err).unwrap_or_else(|| {
            ConnectError::new(
                Code::Unknown,
                err.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("stream ended with an unknown error"),
            )
        })),
    }
}

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub flags: u8,
    pub payload: Bytes,
}

impl Envelope {
    pub fn is_end_stream(&self) -> bool {
        self.flags & FLAG_END_STREAM != 0
    }
}

/// Incremental envelope decoder: feed it body chunks, take complete envelopes out.
#[derive(Debug, Default)]
pub struct EnvelopeDecoder {
    buf: BytesMut,
    max_message: usize,
}

impl EnvelopeDecoder {
    /// `max_message` bounds one payload (a peer cannot make us buffer more).
    pub fn new(max_message: usize) -> Self {
        EnvelopeDecoder {
            buf: BytesMut::new(),
            max_message,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete envelope, if one is buffered.
    pub fn next_envelope(&mut self) -> Result<Option<Envelope>, ConnectError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max_message {
            return Err(ConnectError::new(
                Code::ResourceExhausted,
                format!(
                    "message size {len} is larger than the limit {}",
                    self.max_message
                ),
            ));
        }
        if flags & FLAG_COMPRESSED != 0 {
            return Err(ConnectError::new(
                Code::Internal,
                "compressed messages are not supported (only identity encoding)",
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Envelope { flags, payload }))
    }

    /// Bytes buffered that do not form a complete envelope yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_across_chunk_boundaries() {
        let a = message_envelope(&serde_json::json!({"path": "/tmp"}));
        let b = end_stream_envelope(None);
        assert_eq!(&a[..5], &[0, 0, 0, 0, 15]);
        let mut all = a.to_vec();
        all.extend_from_slice(&b);
        let mut d = EnvelopeDecoder::new(1 << 20);
        let mut got = Vec::new();
        for byte in all {
            d.push(&[byte]);
            while let Some(e) = d.next_envelope().unwrap() {
                got.push(e);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0].payload[..], br#"{"path":"/tmp"}"#);
        assert!(got[1].is_end_stream());
        assert_eq!(parse_end_stream(&got[1].payload), Ok(()));
    }

    #[test]
    fn end_stream_errors() {
        let e = ConnectError::new(Code::NotFound, "process with pid 7 not found");
        let env = end_stream_envelope(Some(&e));
        assert_eq!(env[0], FLAG_END_STREAM);
        assert_eq!(parse_end_stream(&env[5..]), Err(e));
        assert!(parse_end_stream(br#"{"metadata":{"a":["b"]}}"#).is_ok());
    }

    #[test]
    fn oversized_messages_are_refused() {
        let mut d = EnvelopeDecoder::new(4);
        d.push(&envelope(0, b"12345"));
        assert_eq!(d.next_envelope().unwrap_err().code, Code::ResourceExhausted);
    }

    #[test]
    fn errors_from_http() {
        let e = ConnectError::from_http(500, br#"{"code":"not_found","message":"x"}"#);
        assert_eq!(e, ConnectError::new(Code::NotFound, "x"));
        let e = ConnectError::from_http(
            502,
            br#"{"sandboxId":"a","message":"The sandbox was not found","code":502}"#,
        );
        assert_eq!(e.code, Code::Unavailable);
        assert_eq!(e.message, "The sandbox was not found");
        let e = ConnectError::from_http(401, br#"{"code":401,"message":"unauthorized"}"#);
        assert_eq!(e.code, Code::Unauthenticated);
        let e = ConnectError::from_http(418, b"");
        assert_eq!(e, ConnectError::new(Code::Unknown, "HTTP 418"));
        assert_eq!(
            Code::PermissionDenied.python_name(),
            "Code.PERMISSION_DENIED"
        );
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
        }
    }
}
