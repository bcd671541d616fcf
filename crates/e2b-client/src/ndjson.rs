//! Splitting the `/execute` NDJSON body into lines as chunks arrive. Complete lines are parsed
//! straight out of the received chunk; only a line split across chunks is copied (into a
//! small carry-over buffer) until its end arrives.

use bytes::{Bytes, BytesMut};
use e2b_wire::execution::OutputLine;

use crate::error::{Error, Result};

/// Incremental NDJSON decoder for code-interpreter output lines.
#[derive(Debug, Default)]
pub struct LineDecoder {
    partial: BytesMut,
}

impl LineDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes every line completed by `chunk`, appending the parsed lines to `out`.
    /// Keepalives, `end_of_execution` and unknown line types are dropped.
    pub fn push(&mut self, chunk: &Bytes, out: &mut Vec<OutputLine>) -> Result<()> {
        let mut rest: &[u8] = chunk;
        while let Some(pos) = memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(pos);
            rest = &tail[1..];
            if self.partial.is_empty() {
                decode_line(line, out)?;
            } else {
                self.partial.extend_from_slice(line);
                let joined = self.partial.split();
                decode_line(&joined, out)?;
            }
        }
        if !rest.is_empty() {
            self.partial.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Decodes a final line that had no terminating newline.
    pub fn finish(&mut self, out: &mut Vec<OutputLine>) -> Result<()> {
        if !self.partial.is_empty() {
            let line = self.partial.split();
            decode_line(&line, out)?;
        }
        Ok(())
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn decode_line(line: &[u8], out: &mut Vec<OutputLine>) -> Result<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let parsed: OutputLine = serde_json::from_slice(line).map_err(|e| {
        Error::sandbox(format!(
            "Invalid output line from the code interpreter ({e}): {}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        ))
    })?;
    match parsed {
        OutputLine::Keepalive | OutputLine::EndOfExecution | OutputLine::Unknown => {}
        other => out.push(other),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&str]) -> Vec<OutputLine> {
        let mut decoder = LineDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder
                .push(&Bytes::copy_from_slice(chunk.as_bytes()), &mut out)
                .unwrap();
        }
        decoder.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn whole_lines() {
        let out = feed(&[
            "{\"type\": \"number_of_executions\", \"execution_count\": 1}\n{\"type\": \"keepalive\"}\n{\"type\": \"result\", \"text\": \"2\", \"is_main_result\": true, \"extra\": {}}\n{\"type\": \"end_of_execution\"}\n",
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            OutputLine::NumberOfExecutions { execution_count: 1 }
        );
        match &out[1] {
            OutputLine::Result(r) => {
                assert_eq!(r.text.as_deref(), Some("2"));
                assert!(r.is_main_result);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn line_split_across_chunks() {
        let out = feed(&[
            "{\"type\": \"stdout\", \"te",
            "xt\": \"hi\\n\", \"timestamp\": \"2024-01-01T00:00:00+00:00\"}",
            "\n{\"type\": \"stderr\", \"text\": \"e\", \"timestamp\": \"t\"}\n{\"type\": \"err",
            "or\", \"name\": \"N\", \"value\": \"V\", \"traceback\": \"T\"}",
        ]);
        assert_eq!(
            out,
            vec![
                OutputLine::Stdout {
                    text: "hi\n".into(),
                    timestamp: "2024-01-01T00:00:00+00:00".into()
                },
                OutputLine::Stderr {
                    text: "e".into(),
                    timestamp: "t".into()
                },
                OutputLine::Error {
                    name: "N".into(),
                    value: "V".into(),
                    traceback: "T".into()
                },
            ]
        );
    }

    #[test]
    fn multibyte_split_and_unknown_types() {
        let text = "{\"type\": \"stdout\", \"text\": \"héllo\", \"timestamp\": \"t\"}\n";
        let bytes = text.as_bytes();
        let cut = text.find('é').unwrap() + 1; // inside the two-byte sequence
        let mut decoder = LineDecoder::new();
        let mut out = Vec::new();
        decoder
            .push(&Bytes::copy_from_slice(&bytes[..cut]), &mut out)
            .unwrap();
        decoder
            .push(&Bytes::copy_from_slice(&bytes[cut..]), &mut out)
            .unwrap();
        decoder
            .push(
                &Bytes::from_static(b"{\"type\": \"new_kind\", \"x\": 1}\n\n"),
                &mut out,
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], OutputLine::Stdout { text, .. } if text == "héllo"));
    }

    #[test]
    fn invalid_line_is_an_error() {
        let mut decoder = LineDecoder::new();
        let mut out = Vec::new();
        let err = decoder
            .push(&Bytes::from_static(b"not json\n"), &mut out)
            .unwrap_err();
        assert!(err.message.contains("Invalid output line"));
    }
}
