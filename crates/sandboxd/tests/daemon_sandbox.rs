//! The daemon with REAL sandboxes: create, run code through the proxy (streamed NDJSON),
//! interrupt on client disconnect, kill. Skipped, with the reason printed, where real
//! sandboxes cannot be made (spawning not implemented yet, not root, no Python with
//! ipykernel — set E2B_TEST_PYTHON). With `E2B_TEST_REQUIRE_SANDBOXES=1` a failed create
//! fails the test instead.

mod daemon_common;

use std::time::{Duration, Instant};

use daemon_common::*;
use http::Method;
use http_body_util::BodyExt;

/// A daemon and a code-interpreter sandbox in it, or `None` (test skipped).
async fn sandbox_or_skip(test: &str) -> Option<(TestDaemon, String, String)> {
    if !test_python().exists() {
        eprintln!(
            "SKIP {test}: no Python at {} (set E2B_TEST_PYTHON)",
            test_python().display()
        );
        return None;
    }
    let d = TestDaemon::real().await;
    let resp = d
        .api(
            Method::POST,
            "/v2/sandboxes",
            Some(r#"{"templateID":"code-interpreter-v1","timeout":120,"metadata":{},"envVars":{"MY_VAR":"hello"}}"#),
        )
        .await;
    if resp.status != 201 {
        assert!(
            std::env::var_os("E2B_TEST_REQUIRE_SANDBOXES").is_none(),
            "{test}: E2B_TEST_REQUIRE_SANDBOXES is set but creating a sandbox failed: {} {}",
            resp.status,
            resp.text()
        );
        eprintln!(
            "SKIP {test}: real sandboxes are not available here: {} {}",
            resp.status,
            resp.text()
        );
        return None;
    }
    let v = resp.json();
    Some((
        d,
        v["sandboxID"].as_str().unwrap().to_string(),
        v["envdAccessToken"].as_str().unwrap().to_string(),
    ))
}

/// Runs code through the proxy and returns the NDJSON lines with the time each arrived.
async fn execute(
    d: &TestDaemon,
    id: &str,
    token: &str,
    code: &str,
) -> Vec<(Duration, serde_json::Value)> {
    let body =
        serde_json::json!({"code": code, "context_id": null, "language": null, "env_vars": null});
    let (resp, _conn) = open(
        d.addr,
        Method::POST,
        "/execute",
        &[
            ("E2b-Sandbox-Id", id),
            ("E2b-Sandbox-Port", "49999"),
            ("X-Access-Token", token),
            ("content-type", "application/json"),
        ],
        full(body.to_string()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let t0 = Instant::now();
    let mut body = resp.into_body();
    let mut buf = String::new();
    let mut lines = Vec::new();
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(60), body.frame())
        .await
        .expect("execution output within 60 s")
    {
        if let Ok(data) = frame.unwrap().into_data() {
            buf.push_str(std::str::from_utf8(&data).unwrap());
            while let Some(nl) = buf.find('\n') {
                let line: String = buf.drain(..=nl).collect();
                lines.push((t0.elapsed(), serde_json::from_str(line.trim()).unwrap()));
            }
        }
    }
    lines
}

fn result_text(lines: &[(Duration, serde_json::Value)]) -> Option<String> {
    lines
        .iter()
        .find(|(_, l)| l["type"] == "result")
        .and_then(|(_, l)| l["text"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_through_the_proxy_streams_lines() {
    let Some((mut d, id, token)) = sandbox_or_skip("execute_through_the_proxy_streams_lines").await
    else {
        return;
    };
    let lines = execute(&d, &id, &token, "1 + 1").await;
    assert_eq!(result_text(&lines).as_deref(), Some("2"), "{lines:?}");
    assert_eq!(lines.last().unwrap().1["type"], "end_of_execution");

    let lines = execute(
        &d,
        &id,
        &token,
        "import os, time\nprint(os.environ.get('MY_VAR'), flush=True)\ntime.sleep(1.5)\nprint('done')",
    )
    .await;
    let first = lines
        .iter()
        .find(|(_, l)| l["type"] == "stdout")
        .expect("stdout");
    assert_eq!(first.1["text"], "hello\n");
    let end = lines.last().unwrap();
    assert!(
        end.0 - first.0 >= Duration::from_millis(1000),
        "the first line arrived only at the end (buffered): {lines:?}"
    );

    // envd health through the proxy, and the 502 after kill.
    let h = [
        ("E2b-Sandbox-Id", id.as_str()),
        ("E2b-Sandbox-Port", "49983"),
    ];
    let health = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!(health.status, 204);
    assert_eq!(
        d.api(Method::DELETE, &format!("/sandboxes/{id}"), None)
            .await
            .status,
        204
    );
    let gone = request(d.addr, Method::GET, "/health", &h, None).await;
    assert_eq!(gone.status, 502);
    assert_eq!(gone.json()["message"], "The sandbox was not found");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_interrupts_the_kernel() {
    let Some((mut d, id, token)) = sandbox_or_skip("client_disconnect_interrupts_the_kernel").await
    else {
        return;
    };
    let body = serde_json::json!({"code": "import time\ntime.sleep(300)", "context_id": null, "language": null, "env_vars": null});
    let (resp, conn) = open(
        d.addr,
        Method::POST,
        "/execute",
        &[
            ("E2b-Sandbox-Id", &id),
            ("E2b-Sandbox-Port", "49999"),
            ("X-Access-Token", &token),
        ],
        full(body.to_string()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(resp);
    conn.abort();

    let t0 = Instant::now();
    let lines = execute(&d, &id, &token, "1 + 1").await;
    assert_eq!(result_text(&lines).as_deref(), Some("2"), "{lines:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    d.stop().await;
}
