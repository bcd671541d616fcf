//! Splitting the `/execute` NDJSON body into lines as chunks arrive. Complete lines are parsed
//! straight out of the received chunk; only a line split across chunks is copied (into a
//! carry-over buffer) until its end arrives.
//!
//! Whatever the server sends, one execution's output kept here is bounded: stdout/stderr text
//! past [`MAX_STREAM_BYTES`] and results past [`MAX_RESULT_BYTES`] (each plus
//! [`OUTPUT_LIMIT_SLACK`]) are dropped, with one `stderr` notice, and a line longer than
//! [`MAX_LINE_BYTES`] is skipped without being buffered. Our own server cuts at the same
//! limits first (its notice passes through).

use bytes::{Bytes, BytesMut};
use e2b_wire::execution::{
    output_truncated_notice, OutputLine, StreamCap, MAX_RESULT_BYTES, MAX_STREAM_BYTES,
    OUTPUT_LIMIT_SLACK,
};

use crate::error::{Error, Result};

/// Longest single line buffered; longer ones are skipped.
pub const MAX_LINE_BYTES: usize = MAX_RESULT_BYTES + OUTPUT_LIMIT_SLACK;

/// Incremental NDJSON decoder for code-interpreter output lines.
#[derive(Debug)]
pub struct LineDecoder {
    partial: BytesMut,
    /// Dropping the rest of an over-long line.
    skipping: bool,
    limits: Limits,
}

/// What one execution has delivered so far, against the caps.
#[derive(Debug)]
struct Limits {
    stream: StreamCap,
    max_results: usize,
    max_line: usize,
    result_bytes: usize,
    results_cut: bool,
}

impl Default for LineDecoder {
    fn default() -> Self {
        LineDecoder::with_limits(
            MAX_STREAM_BYTES + OUTPUT_LIMIT_SLACK,
            MAX_RESULT_BYTES + OUTPUT_LIMIT_SLACK,
            MAX_LINE_BYTES,
        )
    }
}

impl LineDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_limits(max_stream: usize, max_results: usize, max_line: usize) -> Self {
        LineDecoder {
            partial: BytesMut::new(),
            skipping: false,
            limits: Limits {
                stream: StreamCap::new(max_stream),
                max_results,
                max_line,
                result_bytes: 0,
                results_cut: false,
            },
        }
    }

    /// Decodes every line completed by `chunk`, appending the parsed lines to `out`.
    /// Keepalives, `end_of_execution` and unknown line types are dropped.
    pub fn push(&mut self, chunk: &Bytes, out: &mut Vec<OutputLine>) -> Result<()> {
        let mut rest: &[u8] = chunk;
        while let Some(pos) = memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(pos);
            rest = &tail[1..];
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                self.decode(line, out)?;
            } else if self.partial.len() + line.len() > self.limits.max_line {
                self.partial.clear();
                self.limits.drop_result(out);
            } else {
                self.partial.extend_from_slice(line);
                let joined = self.partial.split();
                self.decode(&joined, out)?;
            }
        }
        if !rest.is_empty() && !self.skipping {
            if self.partial.len() + rest.len() > self.limits.max_line {
                self.partial.clear();
                self.skipping = true;
                self.limits.drop_result(out);
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        Ok(())
    }

    /// Decodes a final line that had no terminating newline.
    pub fn finish(&mut self, out: &mut Vec<OutputLine>) -> Result<()> {
        if !self.partial.is_empty() && !self.skipping {
            let line = self.partial.split();
            self.decode(&line, out)?;
        }
        Ok(())
    }

    fn decode(&mut self, line: &[u8], out: &mut Vec<OutputLine>) -> Result<()> {
        let mut parsed = Vec::with_capacity(1);
        decode_line(line, &mut parsed)?;
        for l in parsed {
            self.limits.admit(l, line.len(), out);
        }
        Ok(())
    }
}

impl Limits {
    /// Appends `line` (of `raw_len` bytes on the wire) to `out` unless a cap says otherwise.
    fn admit(&mut self, line: OutputLine, raw_len: usize, out: &mut Vec<OutputLine>) {
        match line {
            OutputLine::Stdout { text, timestamp } => self.stream(false, text, timestamp, out),
            OutputLine::Stderr { text, timestamp } => self.stream(true, text, timestamp, out),
            OutputLine::Result(r) => {
                if self.results_cut {
                    return;
                }
                self.result_bytes += raw_len;
                if self.result_bytes > self.max_results {
                    self.drop_result(out);
                } else {
                    out.push(OutputLine::Result(r));
                }
            }
            other => out.push(other),
        }
    }

    fn stream(&mut self, stderr: bool, text: String, ts: String, out: &mut Vec<OutputLine>) {
        out.extend(self.stream.admit(stderr, text, ts));
    }

    /// Drops a result (too big, or past the cap); the first time, says so.
    fn drop_result(&mut self, out: &mut Vec<OutputLine>) {
        if !self.results_cut {
            self.results_cut = true;
            out.push(OutputLine::Stderr {
                text: output_truncated_notice("results", self.max_results),
                timestamp: chrono_now(),
            });
        }
    }
}

/// Current UTC time in the server's timestamp format.
fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            era * 400 + yoe + 1
        } else {
            era * 400 + yoe
        },
        m,
        d,
    )
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
    use e2b_wire::execution::OUTPUT_TRUNCATED_PREFIX;

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

    fn stdout(text: &str) -> String {
        format!("{{\"type\": \"stdout\", \"text\": \"{text}\", \"timestamp\": \"t\"}}\n")
    }

    fn texts(out: &[OutputLine]) -> Vec<String> {
        out.iter()
            .map(|l| match l {
                OutputLine::Stdout { text, .. } => format!("out:{text}"),
                OutputLine::Stderr { text, .. } => format!("err:{text}"),
                OutputLine::Result(_) => "result".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn stream_output_is_capped_with_a_notice() {
        let mut decoder = LineDecoder::with_limits(8, 1000, 1000);
        let mut out = Vec::new();
        for t in ["12345", "6789", "more"] {
            decoder.push(&Bytes::from(stdout(t)), &mut out).unwrap();
        }
        let t = texts(&out);
        assert_eq!(t[..2], ["out:12345", "out:678"]);
        assert!(t[2].starts_with(&format!("err:{OUTPUT_TRUNCATED_PREFIX}")));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_server_notice_ends_the_stream_output() {
        let mut decoder = LineDecoder::with_limits(1000, 1000, 1000);
        let mut out = Vec::new();
        let notice = output_truncated_notice("stdout/stderr", 32 << 20).replace('\n', "\\n");
        let raw = format!(
            "{}{{\"type\": \"stderr\", \"text\": \"{notice}\", \"timestamp\": \"t\"}}\n{}",
            stdout("a"),
            stdout("b")
        );
        decoder.push(&Bytes::from(raw), &mut out).unwrap();
        let t = texts(&out);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[1].contains("32 MiB"));
    }

    #[test]
    fn results_and_long_lines_are_capped() {
        let result = |n: usize| {
            format!(
                "{{\"type\": \"result\", \"text\": \"{}\", \"is_main_result\": false, \"extra\": {{}}}}\n",
                "x".repeat(n)
            )
        };
        let mut decoder = LineDecoder::with_limits(1000, 150, 120);
        let mut out = Vec::new();
        decoder.push(&Bytes::from(result(10)), &mut out).unwrap();
        // Longer than a line may be, and split across chunks: skipped, not buffered.
        let long = result(500);
        let (a, b) = long.split_at(100);
        decoder
            .push(&Bytes::copy_from_slice(a.as_bytes()), &mut out)
            .unwrap();
        decoder
            .push(&Bytes::copy_from_slice(b.as_bytes()), &mut out)
            .unwrap();
        assert!(decoder.partial.is_empty());
        decoder
            .push(&Bytes::from(stdout("still here")), &mut out)
            .unwrap();
        decoder.push(&Bytes::from(result(10)), &mut out).unwrap();
        let t = texts(&out);
        assert_eq!(t[0], "result");
        assert!(t[1].contains("of results"), "{t:?}");
        assert_eq!(t[2], "out:still here");
        assert_eq!(t.len(), 3, "later results are dropped too: {t:?}");
    }

    #[test]
    fn timestamps_look_like_the_servers() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let now = chrono_now();
        assert!(now.ends_with("+00:00") && now.len() == 32, "{now}");
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
