//! The code-interpreter execution stream (docs/protocol.md#execute-request,
//! docs/protocol.md#execution-stream, docs/protocol.md#result-fields): the `POST /execute` request
//! and the NDJSON lines of its response, plus the MIME-bundle → result mapping the server
//! applies to Jupyter `execute_result` / `display_data` messages.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most stdout + stderr text (UTF-8 bytes) one execution delivers. The local runtime stops
/// forwarding a cell's output past it (the cell keeps running) and our client keeps no more
/// than this plus [`OUTPUT_LIMIT_SLACK`], whatever the server sends (declared difference:
/// upstream has no limit). Either side marks the cut with a `stderr` line
/// [`output_truncated_notice`].
pub const MAX_STREAM_BYTES: usize = 32 << 20;
/// Most bytes of `result` lines (images, HTML, data…) one execution delivers, likewise.
pub const MAX_RESULT_BYTES: usize = 128 << 20;
/// What a client tolerates beyond the limits (so the server's own notice fits).
pub const OUTPUT_LIMIT_SLACK: usize = 64 << 10;
/// Start of every truncation notice (clients recognise a server's notice by it).
pub const OUTPUT_TRUNCATED_PREFIX: &str = "[e2b: output truncated:";

/// The notice that ends an execution's output once `what` ("stdout/stderr", "results")
/// exceeded `limit` bytes.
pub fn output_truncated_notice(what: &str, limit: usize) -> String {
    format!(
        "{OUTPUT_TRUNCATED_PREFIX} this execution produced more than {} MiB of {what}; the \
         rest was discarded]\n",
        limit >> 20
    )
}

/// Cuts one execution's stdout + stderr at a byte cap: text past it is dropped and a single
/// `stderr` notice marks the cut. The runtime (what it forwards) and the client (what it
/// keeps) both use it, so they cut the same way.
#[derive(Debug, Clone)]
pub struct StreamCap {
    limit: usize,
    used: usize,
    cut: bool,
}

impl StreamCap {
    pub fn new(limit: usize) -> Self {
        StreamCap {
            limit,
            used: 0,
            cut: false,
        }
    }

    /// Whether the cap was hit (everything further is dropped).
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// Admits a stdout (`stderr == false`) or stderr chunk and returns the lines to deliver:
    /// the chunk (shortened at a character boundary if it crosses the cap) and, if it did,
    /// the notice. A notice from upstream (text starting with [`OUTPUT_TRUNCATED_PREFIX`])
    /// ends the stream as it is.
    pub fn admit(
        &mut self,
        stderr: bool,
        mut text: String,
        timestamp: String,
    ) -> impl Iterator<Item = OutputLine> {
        let mut lines = [None, None];
        if self.cut {
            return lines.into_iter().flatten();
        }
        if text.starts_with(OUTPUT_TRUNCATED_PREFIX) {
            self.cut = true;
            lines[0] = Some(OutputLine::Stderr { text, timestamp });
            return lines.into_iter().flatten();
        }
        let room = self.limit - self.used;
        let crosses = text.len() > room;
        if crosses {
            let mut end = room;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        self.used += text.len();
        if crosses {
            self.cut = true;
            lines[1] = Some(OutputLine::Stderr {
                text: output_truncated_notice("stdout/stderr", self.limit),
                timestamp: timestamp.clone(),
            });
        }
        if !text.is_empty() {
            lines[0] = Some(if stderr {
                OutputLine::Stderr { text, timestamp }
            } else {
                OutputLine::Stdout { text, timestamp }
            });
        }
        lines.into_iter().flatten()
    }
}

/// Body of `POST /execute`. The official SDK always sends all four keys (`null` when unset).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecutionRequest {
    pub code: String,
    #[serde(default)]
    pub context_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub env_vars: Option<HashMap<String, String>>,
}

/// Body of `POST /contexts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CreateContextRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// A code context as returned by `/contexts`; all three keys are always present (2.11.5
/// indexes them directly).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Context {
    pub id: String,
    pub language: String,
    pub cwd: String,
}

/// One NDJSON line of the `/execute` response. Unknown `type`s parse as [`OutputLine::Unknown`]
/// and must be ignored by clients.
// Lines live only between the wire and their consumer; boxing the big `Result` variant
// would cost an allocation per result for no memory win.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputLine {
    NumberOfExecutions {
        execution_count: i64,
    },
    Stdout {
        text: String,
        timestamp: String,
    },
    Stderr {
        text: String,
        timestamp: String,
    },
    Result(ResultLine),
    Error {
        name: String,
        value: String,
        traceback: String,
    },
    Keepalive,
    EndOfExecution,
    #[serde(other)]
    Unknown,
}

impl OutputLine {
    /// Serialises the line with its terminating `\n`.
    pub fn to_ndjson(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).expect("output lines always serialise");
        out.push(b'\n');
        out
    }
}

/// A `result` line: the MIME bundle split into the fields the SDK's `Result` has. `None`
/// fields are omitted on the wire (`exclude_none`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResultLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpeg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub javascript: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Value>,
    #[serde(default)]
    pub is_main_result: bool,
    #[serde(default)]
    pub extra: Map<String, Value>,
}

/// Strips one pair of matching surrounding quotes, as the reference server does for
/// `text/plain` (so the repr `'hello'` becomes `hello`).
pub fn strip_quotes(text: &str) -> &str {
    let b = text.as_bytes();
    if b.len() >= 2
        && ((b[0] == b'\'' && b[b.len() - 1] == b'\'') || (b[0] == b'"' && b[b.len() - 1] == b'"'))
    {
        &text[1..text.len() - 1]
    } else {
        text
    }
}

fn take_string(bundle: &mut Map<String, Value>, key: &str) -> Option<String> {
    match bundle.remove(key)? {
        Value::String(s) => Some(s),
        // Jupyter may split long text into a list of lines.
        Value::Array(parts) => Some(parts.iter().filter_map(|p| p.as_str()).collect()),
        other => Some(other.to_string()),
    }
}

impl ResultLine {
    /// Builds a result from a Jupyter MIME bundle (`content.data`): known MIME types become
    /// fields, the rest goes to `extra` keyed by MIME type (docs/protocol.md#result-fields).
    pub fn from_mime_bundle(mut bundle: Map<String, Value>, is_main_result: bool) -> Self {
        let text = take_string(&mut bundle, "text/plain").map(|t| strip_quotes(&t).to_owned());
        ResultLine {
            text,
            html: take_string(&mut bundle, "text/html"),
            markdown: take_string(&mut bundle, "text/markdown"),
            svg: take_string(&mut bundle, "image/svg+xml"),
            png: take_string(&mut bundle, "image/png"),
            jpeg: take_string(&mut bundle, "image/jpeg"),
            pdf: take_string(&mut bundle, "application/pdf"),
            latex: take_string(&mut bundle, "text/latex"),
            json: bundle.remove("application/json"),
            javascript: take_string(&mut bundle, "application/javascript"),
            data: bundle.remove("e2b/data"),
            chart: bundle.remove("e2b/chart"),
            is_main_result,
            extra: bundle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_cap_cuts_once_at_a_char_boundary() {
        let mut cap = StreamCap::new(9);
        let ts = || "t".to_string();
        let a: Vec<_> = cap.admit(false, "12345".into(), ts()).collect();
        assert_eq!(
            a,
            [OutputLine::Stdout {
                text: "12345".into(),
                timestamp: ts()
            }]
        );
        // "678é0ab": room 4 falls inside 'é' (2 bytes at 3..5), so cut at 3.
        let b: Vec<_> = cap.admit(true, "678é0ab".into(), ts()).collect();
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0],
            OutputLine::Stderr {
                text: "678".into(),
                timestamp: ts()
            }
        );
        assert!(
            matches!(&b[1], OutputLine::Stderr { text, .. } if text.starts_with(OUTPUT_TRUNCATED_PREFIX))
        );
        assert!(cap.is_cut());
        assert_eq!(cap.admit(false, "more".into(), ts()).count(), 0);
    }

    #[test]
    fn stream_cap_passes_an_upstream_notice_and_stops() {
        let mut cap = StreamCap::new(100);
        let notice = output_truncated_notice("stdout/stderr", 1 << 20);
        let lines: Vec<_> = cap.admit(false, notice.clone(), "t".into()).collect();
        assert_eq!(
            lines,
            [OutputLine::Stderr {
                text: notice,
                timestamp: "t".into()
            }]
        );
        assert_eq!(cap.admit(false, "x".into(), "t".into()).count(), 0);
    }

    #[test]
    fn quotes_are_stripped_once() {
        assert_eq!(strip_quotes("'hello'"), "hello");
        assert_eq!(strip_quotes("\"a\""), "a");
        assert_eq!(strip_quotes("'a\""), "'a\"");
        assert_eq!(strip_quotes("'"), "'");
        assert_eq!(strip_quotes("2"), "2");
    }

    #[test]
    fn lines_round_trip() {
        let line = OutputLine::Stdout {
            text: "hi\n".into(),
            timestamp: "2024-01-01T00:00:00.123456+00:00".into(),
        };
        let raw = line.to_ndjson();
        assert_eq!(raw.last(), Some(&b'\n'));
        let back: OutputLine = serde_json::from_slice(&raw).unwrap();
        assert_eq!(back, line);
        let end: OutputLine = serde_json::from_str(r#"{"type": "end_of_execution"}"#).unwrap();
        assert_eq!(end, OutputLine::EndOfExecution);
    }

    #[test]
    fn unknown_types_are_tolerated() {
        let line: OutputLine =
            serde_json::from_str(r#"{"type": "something_new", "x": 1}"#).unwrap();
        assert_eq!(line, OutputLine::Unknown);
    }

    #[test]
    fn result_from_bundle() {
        let bundle: Map<String, Value> = serde_json::from_str(
            r#"{"text/plain": "'x'", "image/png": "iVBOR", "application/vnd.custom": {"a": 1}}"#,
        )
        .unwrap();
        let r = ResultLine::from_mime_bundle(bundle, true);
        assert_eq!(r.text.as_deref(), Some("x"));
        assert_eq!(r.png.as_deref(), Some("iVBOR"));
        assert!(r.extra.contains_key("application/vnd.custom"));
        let wire = serde_json::to_string(&OutputLine::Result(r)).unwrap();
        assert!(wire.starts_with(r#"{"type":"result","text":"x""#), "{wire}");
        assert!(!wire.contains("html"));
    }
}
