//! Connect-protocol helpers for the `envd_*` tests: unary and streaming calls straight to a
//! real sandbox's agent socket (port header 49983), as the SDK makes them.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use e2b_wire::connect::{
    envelope, message_envelope, parse_end_stream, ConnectError, EnvelopeDecoder,
};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sandboxd::sandbox::SandboxProcess;
use serde_json::Value;
use tokio::sync::mpsc;

pub fn basic(user: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:"))
    )
}

async fn connection(
    sbx: &SandboxProcess,
) -> (
    hyper::client::conn::http1::SendRequest<
        http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
    >,
    tokio::task::JoinHandle<()>,
) {
    let stream = tokio::net::UnixStream::connect(sbx.agent_socket())
        .await
        .expect("connect to the agent");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, task)
}

fn builder(method: &str, path: &str, headers: &[(&str, String)]) -> hyper::http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "sandbox")
        .header("e2b-sandbox-port", "49983");
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b
}

/// A unary RPC: `Ok(response JSON)` or the Connect error of the body.
pub async fn unary(
    sbx: &SandboxProcess,
    path: &str,
    body: Value,
    user: Option<&str>,
) -> Result<Value, (u16, ConnectError)> {
    let (mut sender, _task) = connection(sbx).await;
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(u) = user {
        headers.push(("authorization", basic(u)));
    }
    let req = builder("POST", path, &headers)
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap();
    let res = sender.send_request(req).await.expect("request");
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        ct,
        "application/json",
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    if status == 200 {
        Ok(serde_json::from_slice(&bytes).expect("JSON"))
    } else {
        Err((
            status,
            ConnectError::from_json(&bytes).expect("a Connect error body"),
        ))
    }
}

/// A server stream being read.
pub struct Stream {
    res: Response<Incoming>,
    decoder: EnvelopeDecoder,
    pub task: tokio::task::JoinHandle<()>,
    pub ended: Option<Result<(), ConnectError>>,
}

impl Stream {
    /// The next message, `None` at the end (then `ended` holds the end-of-stream result).
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(env) = self.decoder.next_envelope().expect("valid envelopes") {
                if env.is_end_stream() {
                    self.ended = Some(parse_end_stream(&env.payload));
                    return None;
                }
                return Some(serde_json::from_slice(&env.payload).expect("JSON message"));
            }
            if self.ended.is_some() {
                return None;
            }
            match tokio::time::timeout(Duration::from_secs(30), self.res.body_mut().frame())
                .await
                .expect("stream idle for 30 s")
            {
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.decoder.push(&d);
                    }
                }
                _ => return None,
            }
        }
    }

    /// Every remaining message and the end-of-stream result.
    pub async fn rest(&mut self) -> (Vec<Value>, Result<(), ConnectError>) {
        let mut out = Vec::new();
        while let Some(m) = self.next().await {
            out.push(m);
        }
        (out, self.ended.clone().expect("an end-of-stream envelope"))
    }
}

/// Opens a server-streaming RPC.
pub async fn stream(
    sbx: &SandboxProcess,
    path: &str,
    body: Value,
    user: Option<&str>,
    extra: &[(&str, String)],
) -> Stream {
    let (mut sender, task) = connection(sbx).await;
    let mut headers = vec![
        ("content-type", "application/connect+json".to_string()),
        ("connect-protocol-version", "1".to_string()),
    ];
    if let Some(u) = user {
        headers.push(("authorization", basic(u)));
    }
    headers.extend(extra.iter().cloned());
    let req = builder("POST", path, &headers)
        .body(Full::new(message_envelope(&body)).boxed())
        .unwrap();
    let res = sender.send_request(req).await.expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/connect+json");
    Stream {
        res,
        decoder: EnvelopeDecoder::new(64 << 20),
        task,
        ended: None,
    }
}

/// A client-streaming RPC (`StreamInput`): sends `messages` as envelopes, then ends the body.
pub async fn client_stream(sbx: &SandboxProcess, path: &str, messages: Vec<Value>) -> Stream {
    let (mut sender, task) = connection(sbx).await;
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(16);
    for m in messages {
        tx.send(Ok(Frame::data(envelope(0, m.to_string().as_bytes()))))
            .await
            .unwrap();
    }
    drop(tx);
    let body = StreamBody::new(tokio_stream(rx)).boxed();
    let req = builder(
        "POST",
        path,
        &[("content-type", "application/connect+json".to_string())],
    )
    .body(body)
    .unwrap();
    let res = sender.send_request(req).await.expect("request");
    assert_eq!(res.status(), 200);
    Stream {
        res,
        decoder: EnvelopeDecoder::new(64 << 20),
        task,
        ended: None,
    }
}

fn tokio_stream<T>(mut rx: mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Runs a command through `Start` and returns (stdout, stderr, end event).
pub async fn run(sbx: &SandboxProcess, cmd: &str, user: Option<&str>) -> (String, String, Value) {
    let mut s = stream(
        sbx,
        "/process.Process/Start",
        serde_json::json!({"process": {"cmd": "/bin/bash", "args": ["-l", "-c", cmd]}, "stdin": false}),
        user,
        &[],
    )
    .await;
    let (msgs, end) = s.rest().await;
    end.unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut end_event = Value::Null;
    assert!(
        msgs[0]["event"]["start"]["pid"].as_u64().is_some(),
        "{msgs:?}"
    );
    for m in &msgs[1..] {
        let ev = &m["event"];
        if let Some(d) = ev["data"]["stdout"].as_str() {
            out.extend(b64(d));
        } else if let Some(d) = ev["data"]["stderr"].as_str() {
            err.extend(b64(d));
        } else if !ev["end"].is_null() {
            end_event = ev["end"].clone();
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        end_event,
    )
}

pub fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub fn enc(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A raw HTTP request to envd (for `/files`).
pub async fn http(
    sbx: &SandboxProcess,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> (u16, hyper::HeaderMap, Bytes) {
    let (mut sender, _task) = connection(sbx).await;
    let req = builder(method, path, headers)
        .body(Full::new(body).boxed())
        .unwrap();
    let res = sender.send_request(req).await.expect("request");
    let status = res.status().as_u16();
    let h = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, h, bytes)
}
