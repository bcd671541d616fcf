//! The client's one error type. Each [`ErrorKind`] names the upstream Python exception class
//! the SDK raises for that condition (docs/protocol.md#error-mapping), so the bindings only have to
//! look the class up by name; the message texts are the upstream ones.

use std::fmt;

/// Which exception the Python SDK raises. The names match `e2b.exceptions` exactly, except
/// [`ErrorKind::Generic`] (a plain `Exception`) and [`ErrorKind::Connection`] (a transport
/// failure the SDK does not translate; raised as the builtin `ConnectionError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    SandboxException,
    TimeoutException,
    NotFoundException,
    FileNotFoundException,
    SandboxNotFoundException,
    SandboxNotRunningException,
    SandboxUnreachableException,
    AuthenticationException,
    InvalidArgumentException,
    NotEnoughSpaceException,
    RateLimitException,
    ServiceBusyException,
    TemplateException,
    GuestUnresponsiveException,
    /// Plain `Exception` (e.g. "Body of the request is None").
    Generic,
    /// A transport failure that is not mapped to an SDK exception.
    Connection,
}

impl ErrorKind {
    /// The Python class name (in `e2b.exceptions`, or a builtin for the last two kinds).
    pub fn python_class(self) -> &'static str {
        match self {
            ErrorKind::SandboxException => "SandboxException",
            ErrorKind::TimeoutException => "TimeoutException",
            ErrorKind::NotFoundException => "NotFoundException",
            ErrorKind::FileNotFoundException => "FileNotFoundException",
            ErrorKind::SandboxNotFoundException => "SandboxNotFoundException",
            ErrorKind::SandboxNotRunningException => "SandboxNotRunningException",
            ErrorKind::SandboxUnreachableException => "SandboxUnreachableException",
            ErrorKind::AuthenticationException => "AuthenticationException",
            ErrorKind::InvalidArgumentException => "InvalidArgumentException",
            ErrorKind::NotEnoughSpaceException => "NotEnoughSpaceException",
            ErrorKind::RateLimitException => "RateLimitException",
            ErrorKind::ServiceBusyException => "ServiceBusyException",
            ErrorKind::TemplateException => "TemplateException",
            ErrorKind::GuestUnresponsiveException => "GuestUnresponsiveException",
            ErrorKind::Generic => "Exception",
            ErrorKind::Connection => "ConnectionError",
        }
    }
}

/// An error with the exception class to raise, its message, and — where 2.63.0 sets it —
/// the HTTP status (`SandboxException.status_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub status_code: Option<u16>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status_code: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status_code = Some(status);
        self
    }

    pub fn sandbox(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::SandboxException, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgumentException, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TimeoutException, message)
    }

    /// `TimeoutException` for a request that exceeded `request_timeout`.
    pub fn request_timeout() -> Self {
        Self::timeout(REQUEST_TIMEOUT_MESSAGE)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.python_class(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Text of the `TimeoutException` for an exceeded `request_timeout`.
pub const REQUEST_TIMEOUT_MESSAGE: &str =
    "Request timed out — the 'request_timeout' option can be used to increase this timeout";

/// Suffix the SDK appends to a 502 from a sandbox port ("likely due to sandbox timeout").
pub const SANDBOX_TIMEOUT_SUFFIX: &str = "This error is likely due to sandbox timeout. You can modify the sandbox timeout by passing 'timeout' when starting the sandbox or calling '.set_timeout' on the sandbox with the desired timeout.";

/// Python's `repr()` of a `bytes` object, used where upstream formats a raw response body
/// into a message (`f"{status}: {content}"` with `content: bytes`).
pub fn py_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\'' if quote == '\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(py_bytes_repr(b"abc"), "b'abc'");
        assert_eq!(py_bytes_repr(b""), "b''");
        assert_eq!(py_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(py_bytes_repr(b"a'\"b"), "b'a\\'\"b'");
        assert_eq!(py_bytes_repr(b"x\n\xff"), "b'x\\n\\xff'");
    }
}
