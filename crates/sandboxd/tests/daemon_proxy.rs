//! The data plane of the daemon: routing by `E2b-Sandbox-Id` / `E2b-Sandbox-Port`, the edge
//! proxy's exact errors (docs/protocol.md#edge-proxy-errors), access tokens
//! (docs/protocol.md#access-token), and streaming in both
//! directions to the agent's unix socket — with the stand-in backend's HTTP agent.

mod daemon_common;

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use daemon_common::*;
use http::Method;
use http_body_util::BodyExt;
use sha2::Digest;

struct Sbx {
    id: String,
    token: Option<String>,
}

async fn sandbox(d: &TestDaemon, body: &str) -> Sbx {
    let resp = d.api(Method::POST, "/sandboxes", Some(body)).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let v = resp.json();
    Sbx {
        id: v["sandboxID"].as_str().unwrap().to_string(),
        token: v["envdAccessToken"].as_str().map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sandbox_is_the_edge_proxys_502() {
    let d = TestDaemon::fake().await;
    let resp = request(
        d.addr,
        Method::POST,
        "/process.Process/Start",
        &[
            ("E2b-Sandbox-Id", "nosuchsandbox0000000"),
            ("E2b-Sandbox-Port", "49983"),
        ],
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(resp.status, 502);
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        resp.json(),
        serde_json::json!({"sandboxId": "nosuchsandbox0000000", "message": "The sandbox was not found", "code": 502})
    );
    assert_eq!(
        resp.text(),
        r#"{"sandboxId":"nosuchsandbox0000000","message":"The sandbox was not found","code":502}"#
    );

    for (headers, missing) in [
        (vec![("E2b-Sandbox-Id", "abc")], "E2b-Sandbox-Port"),
        (vec![("E2b-Sandbox-Port", "49983")], "E2b-Sandbox-Id"),
    ] {
        let resp = request(d.addr, Method::GET, "/health", &headers, None).await;
        assert_eq!(resp.status, 400);
        assert_eq!(
            resp.json(),
            serde_json::json!({"code": 400, "message": format!("Missing header: {missing}")})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envd_port_requires_the_access_token() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"base","secure":true}"#).await;
    let token = s.token.clone().unwrap();
    let envd = |extra: Vec<(&'static str, String)>| {
        let mut h: Vec<(String, String)> = vec![
            ("E2b-Sandbox-Id".into(), s.id.clone()),
            ("E2b-Sandbox-Port".into(), "49983".into()),
        ];
        h.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        h
    };
    let call = |method: Method, path: &'static str, headers: Vec<(String, String)>| {
        let addr = d.addr;
        async move {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            request(addr, method, path, &h, None).await
        }
    };
    let unauthorized = serde_json::json!({
        "code": 401,
        "message": "unauthorized access, please provide a valid access token or method signing if supported"
    });

    let r = call(Method::POST, "/process.Process/List", envd(vec![])).await;
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()));
    let r = call(
        Method::POST,
        "/process.Process/List",
        envd(vec![("X-Access-Token", "wrong".into())]),
    )
    .await;
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()));
    let r = call(Method::GET, "/health", envd(vec![])).await;
    assert_eq!(r.status, 204, "health needs no token");
    let r = call(
        Method::POST,
        "/init",
        envd(vec![("X-Access-Token", token.clone())]),
    )
    .await;
    assert_eq!(r.status, 404, "internal envd paths are refused");
    let r = call(Method::GET, "/files?path=%2Fa", envd(vec![])).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], "missing signature query parameter");

    // With the token: forwarded, minus the token, with the routing headers.
    let r = call(
        Method::POST,
        "/process.Process/List",
        envd(vec![
            ("X-Access-Token", token.clone()),
            ("X-Custom", "kept".into()),
            ("Connection", "keep-alive, X-Hop".into()),
            ("X-Hop", "dropped".into()),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    let headers = &seen["headers"];
    assert!(
        headers.get("x-access-token").is_none(),
        "token not forwarded: {seen}"
    );
    assert!(
        headers.get("x-hop").is_none(),
        "connection-listed header dropped: {seen}"
    );
    assert_eq!(headers["e2b-sandbox-port"], "49983");
    assert_eq!(headers["e2b-sandbox-id"], s.id.as_str());
    assert_eq!(headers["x-custom"], "kept");
    assert_eq!(seen["method"], "POST");

    // A sandbox created with secure=false has no token and everything is open.
    let open = sandbox(&d, r#"{"templateID":"base","secure":false}"#).await;
    assert!(open.token.is_none());
    let r = request(
        d.addr,
        Method::GET,
        "/files?username=user&path=/a%20b",
        &[("E2b-Sandbox-Id", &open.id), ("E2b-Sandbox-Port", "49983")],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    // The agent gets the canonical form of what the daemon parsed.
    assert_eq!(r.json()["uri"], "/files?path=%2Fa+b&username=user");
    // Anything but the canonical spelling is refused before it reaches the agent.
    for spelled in [
        "/files/",
        "//files",
        "/Files",
        "/./files",
        "/files?path=a&path=b",
    ] {
        let r = request(
            d.addr,
            Method::GET,
            spelled,
            &[("E2b-Sandbox-Id", &open.id), ("E2b-Sandbox-Port", "49983")],
            None,
        )
        .await;
        assert!(
            r.status == 404 || r.status == 400,
            "{spelled}: {}",
            r.status
        );
    }

    // Other ports are not open.
    let r = request(
        d.addr,
        Method::GET,
        "/",
        &[("E2b-Sandbox-Id", &s.id), ("E2b-Sandbox-Port", "8080")],
        None,
    )
    .await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json(),
        serde_json::json!({"sandboxId": s.id, "message": "The sandbox is running but port is not open", "port": 8080, "code": 502})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_interpreter_port_checks_the_token_on_execute_only() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"code-interpreter-v1"}"#).await;
    let h = [
        ("E2b-Sandbox-Id", s.id.as_str()),
        ("E2b-Sandbox-Port", "49999"),
    ];
    let r = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!((r.status, r.text().as_str()), (200, "\"OK\""));
    let r = request(d.addr, Method::GET, "/contexts", &h, None).await;
    assert_eq!(r.status, 200, "other paths need no token");
    let r = request(d.addr, Method::POST, "/execute", &h, Some(b"{}".to_vec())).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_streams_and_a_client_disconnect_reaches_the_agent() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"code-interpreter-v1"}"#).await;
    let token = s.token.clone().unwrap();
    let (_, _, log) = d.fake.as_ref().unwrap().find(&s.id);
    let (resp, conn) = open(
        d.addr,
        Method::POST,
        "/execute",
        &[
            ("E2b-Sandbox-Id", &s.id),
            ("E2b-Sandbox-Port", "49999"),
            ("X-Access-Token", &token),
            ("content-type", "application/json"),
        ],
        full(r#"{"code":"while True: pass","context_id":null,"language":null,"env_vars":null}"#),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    // The agent's stream never ends: every line must arrive as it is written.
    let mut body = resp.into_body();
    let mut text = String::new();
    let t0 = std::time::Instant::now();
    while text.matches('\n').count() < 4 {
        let frame = tokio::time::timeout(Duration::from_secs(2), body.frame())
            .await
            .expect("a line within 2 s (no buffering)")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(
        text.starts_with("{\"type\":\"stdout\",\"text\":\"line 0\"}\n"),
        "{text}"
    );
    assert_eq!(log.disconnects.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The client goes away: the agent notices promptly.
    drop(body);
    conn.abort();
    let noticed = eventually(Duration::from_secs(3), || {
        log.disconnects.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    assert!(
        noticed,
        "the agent's response stream was not dropped after the client left"
    );
}

/// A request body fed chunk by chunk.
struct Chunks {
    left: usize,
    chunk: Bytes,
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.chunk.clone()))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_chunked_upload_streams_through() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"base"}"#).await;
    let token = s.token.clone().unwrap();
    let body = Chunks {
        left: 256,
        chunk: Bytes::from(vec![7u8; 64 * 1024]),
    };
    let (resp, _conn) = open(
        d.addr,
        Method::POST,
        "/files?path=big",
        &[
            ("E2b-Sandbox-Id", &s.id),
            ("E2b-Sandbox-Port", "49983"),
            ("X-Access-Token", &token),
        ],
        body.boxed(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let out = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        format!("{{\"bytes\":{}}}", 256 * 64 * 1024)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_agent_socket_is_port_not_open_and_killed_sandbox_is_not_found() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"base","secure":false}"#).await;
    let h = [
        ("E2b-Sandbox-Id", s.id.as_str()),
        ("E2b-Sandbox-Port", "49983"),
    ];
    std::fs::remove_file(d.state_dir.join("run").join(&s.id).join("agent.sock")).unwrap();
    let r = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json(),
        serde_json::json!({"sandboxId": s.id, "message": "The sandbox is running but port is not open", "port": 49983, "code": 502})
    );
    assert_eq!(
        d.api(Method::DELETE, &format!("/sandboxes/{}", s.id), None)
            .await
            .status,
        204
    );
    let r = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["message"], "The sandbox was not found");
}

fn sign(path: &str, op: &str, user: &str, token: &str, exp: Option<i64>) -> String {
    let mut raw = format!("{path}:{op}:{user}:{token}");
    if let Some(e) = exp {
        raw += &format!(":{e}");
    }
    let sig = format!(
        "v1_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(sha2::Sha256::digest(raw.as_bytes()))
    );
    form_urlencoded::byte_serialize(sig.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_files_urls_work_with_and_without_routing_headers() {
    let d = TestDaemon::fake().await;
    let _other = sandbox(&d, r#"{"templateID":"base"}"#).await;
    let s = sandbox(&d, r#"{"templateID":"base"}"#).await;
    let token = s.token.clone().unwrap();
    let exp = chrono::Utc::now().timestamp() + 60;
    let sig = sign("/home/user/a.txt", "read", "user", &token, Some(exp));
    let url = format!(
        "/files?path=%2Fhome%2Fuser%2Fa.txt&username=user&signature={sig}&signature_expiration={exp}"
    );
    // With headers (the SDK's own requests).
    let r = request(
        d.addr,
        Method::GET,
        &url,
        &[("E2b-Sandbox-Id", &s.id), ("E2b-Sandbox-Port", "49983")],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Without headers: what `download_url()` gives a browser; attributed by signature.
    let r = request(d.addr, Method::GET, &url, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["headers"]["e2b-sandbox-id"], s.id.as_str());
    // A write signature does not allow a read; an expired one is refused.
    let write = sign("/home/user/a.txt", "write", "user", &token, None);
    let r = request(
        d.addr,
        Method::GET,
        &format!("/files?path=%2Fhome%2Fuser%2Fa.txt&username=user&signature={write}"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], 401);
    let old = chrono::Utc::now().timestamp() - 5;
    let expired = sign("/a", "read", "", &token, Some(old));
    let r = request(
        d.addr,
        Method::GET,
        &format!("/files?path=%2Fa&signature={expired}&signature_expiration={old}"),
        &[("E2b-Sandbox-Id", &s.id), ("E2b-Sandbox-Port", "49983")],
        None,
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_token_guards_non_envd_ports() {
    let d = TestDaemon::fake().await;
    let resp = d
        .api(
            Method::POST,
            "/v2/sandboxes",
            Some(r#"{"templateID":"code-interpreter-v1","network":{"allowPublicTraffic":false}}"#),
        )
        .await;
    assert_eq!(resp.status, 201);
    let v = resp.json();
    let id = v["sandboxID"].as_str().unwrap();
    let traffic = v["trafficAccessToken"]
        .as_str()
        .expect("traffic token issued");
    let h = [("E2b-Sandbox-Id", id), ("E2b-Sandbox-Port", "49999")];
    let r = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], 403);
    let r = request(
        d.addr,
        Method::GET,
        "/health",
        &[h[0], h[1], ("E2B-Traffic-Access-Token", traffic)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = request(
        d.addr,
        Method::GET,
        "/health",
        &[h[0], ("E2b-Sandbox-Port", "49983")],
        None,
    )
    .await;
    assert_eq!(r.status, 204, "envd is exempt from the traffic token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_is_noticed_while_the_agent_is_silent() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"code-interpreter-v1"}"#).await;
    let token = s.token.clone().unwrap();
    let (_, _, log) = d.fake.as_ref().unwrap().find(&s.id);
    let (resp, conn) = open(
        d.addr,
        Method::POST,
        "/contexts",
        &[
            ("E2b-Sandbox-Id", &s.id),
            ("E2b-Sandbox-Port", "49999"),
            ("X-Access-Token", &token),
        ],
        full("{}"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(resp);
    conn.abort();
    let noticed = eventually(Duration::from_secs(2), || {
        log.disconnects.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    assert!(
        noticed,
        "a silent stream was not dropped after the client left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_is_noticed_before_the_response_head() {
    let d = TestDaemon::fake().await;
    let s = sandbox(&d, r#"{"templateID":"code-interpreter-v1"}"#).await;
    let token = s.token.clone().unwrap();
    let (_, _, log) = d.fake.as_ref().unwrap().find(&s.id);
    let addr = d.addr;
    let id = s.id.clone();
    let client = tokio::spawn(async move {
        open(
            addr,
            Method::POST,
            "/contexts/slow/restart",
            &[
                ("E2b-Sandbox-Id", &id),
                ("E2b-Sandbox-Port", "49999"),
                ("X-Access-Token", &token),
            ],
            full("{}"),
        )
        .await
    });
    assert!(
        eventually(Duration::from_secs(2), || log
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
            == 1)
        .await
    );
    client.abort();
    let noticed = eventually(Duration::from_secs(2), || {
        log.disconnects.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    assert!(
        noticed,
        "a pending request was not dropped after the client left"
    );
}
