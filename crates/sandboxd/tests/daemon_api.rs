//! The control-plane API of the daemon over real HTTP (docs/protocol.md#control-plane,
//! docs/protocol.md#serving-both-versions), with the
//! stand-in sandbox backend so that it runs without namespaces or kernels.

mod daemon_common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use daemon_common::*;
use http::Method;

fn assert_error_json(resp: &Resp, status: u16) -> String {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    assert_eq!(
        resp.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = resp.json();
    assert_eq!(body["code"], status, "body: {body}");
    body["message"]
        .as_str()
        .expect("message is a string")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_required_and_errors_are_json() {
    let d = TestDaemon::fake().await;
    // Health needs no key.
    let health = request(d.addr, Method::GET, "/health", &[], None).await;
    assert_eq!(health.status, 204);

    for (method, path) in [
        (Method::GET, "/v2/sandboxes"),
        (Method::POST, "/v2/sandboxes"),
        (Method::POST, "/sandboxes"),
        (Method::GET, "/sandboxes/abc"),
        (Method::DELETE, "/sandboxes/abc"),
        (Method::POST, "/local/shutdown"),
    ] {
        let none = request(d.addr, method.clone(), path, &[], None).await;
        assert_error_json(&none, 401);
        let wrong = request(
            d.addr,
            method.clone(),
            path,
            &[("X-API-Key", "e2b_0000000000000000000000000000000")],
            None,
        )
        .await;
        assert_error_json(&wrong, 401);
        assert_eq!(wrong.header("should-retry").as_deref(), Some("false"));
    }
    // The daemon is still up: the unauthenticated shutdown was refused.
    assert_eq!(d.api(Method::GET, "/v2/sandboxes", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_on_both_paths() {
    let d = TestDaemon::fake().await;
    // 2.45.1 body.
    let v1 = d
        .api(
            Method::POST,
            "/sandboxes",
            Some(r#"{"templateID":"base","timeout":300,"secure":true,"allow_internet_access":true,"metadata":{"k":"v"},"envVars":{"X":"1"}}"#),
        )
        .await;
    assert_eq!(v1.status, 201, "{}", v1.text());
    let v1 = v1.json();
    let id = v1["sandboxID"].as_str().unwrap();
    assert_eq!(id.len(), 20);
    assert!(id
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(v1["templateID"], "base");
    assert_eq!(v1["clientID"], "6532622b");
    assert_eq!(v1["envdVersion"], e2b_wire::headers::ENVD_VERSION);
    assert!(v1["envdAccessToken"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert!(v1["domain"].is_null());

    let (req, _, _) = d.fake.as_ref().unwrap().find(id);
    assert_eq!(req.template_id, "base");
    assert!(!req.start_kernel);
    assert_eq!(req.envs["X"], "1");
    assert_eq!(req.envs["E2B_SANDBOX"], "true");
    assert_eq!(req.envs["E2B_SANDBOX_ID"], id);
    assert_eq!(req.envs["E2B_TEMPLATE_ID"], "base");

    // 2.63.0 body: no timeout, no secure.
    let v2 = d
        .create(r#"{"templateID":"code-interpreter-v1","metadata":{},"envVars":{}}"#)
        .await;
    assert!(v2["envdAccessToken"].as_str().is_some());
    let (req, _, _) = d
        .fake
        .as_ref()
        .unwrap()
        .find(v2["sandboxID"].as_str().unwrap());
    assert!(req.start_kernel);
    assert!(req.allow_internet_access);
    let info = d
        .api(
            Method::GET,
            &format!("/sandboxes/{}", v2["sandboxID"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    let started =
        chrono::DateTime::parse_from_rfc3339(info["startedAt"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        (end - started).num_seconds(),
        300,
        "absent timeout means 300 s"
    );

    // v1 with secure=false: no token; the alias resolves.
    let open = d
        .api(
            Method::POST,
            "/sandboxes",
            Some(
                r#"{"templateID":"code-interpreter","secure":false,"allow_internet_access":false}"#,
            ),
        )
        .await
        .json();
    assert!(open.get("envdAccessToken").is_none() || open["envdAccessToken"].is_null());
    assert_eq!(open["templateID"], "code-interpreter-v1");
    assert_eq!(open["alias"], "code-interpreter");
    let (req, _, _) = d
        .fake
        .as_ref()
        .unwrap()
        .find(open["sandboxID"].as_str().unwrap());
    assert!(!req.allow_internet_access);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_validation_errors() {
    let d = TestDaemon::fake().await;
    let zero = d
        .api(
            Method::POST,
            "/v2/sandboxes",
            Some(r#"{"templateID":"base","timeout":0}"#),
        )
        .await;
    assert_eq!(
        assert_error_json(&zero, 400),
        "Timeout must be greater than 0"
    );
    let negative = d
        .api(
            Method::POST,
            "/sandboxes",
            Some(r#"{"templateID":"base","timeout":-5}"#),
        )
        .await;
    assert_error_json(&negative, 400);
    let unknown = d
        .api(
            Method::POST,
            "/v2/sandboxes",
            Some(r#"{"templateID":"nope"}"#),
        )
        .await;
    let msg = assert_error_json(&unknown, 404);
    assert!(
        msg.contains("'nope'") && msg.contains("code-interpreter-v1") && msg.contains("base"),
        "{msg}"
    );
    let bad_json = d
        .api(Method::POST, "/v2/sandboxes", Some("{not json"))
        .await;
    assert_error_json(&bad_json, 400);
    let no_body = d.api(Method::POST, "/v2/sandboxes", None).await;
    assert_error_json(&no_body, 400);
    assert_eq!(no_body.header("should-retry").as_deref(), Some("false"));

    d.fake
        .as_ref()
        .unwrap()
        .fail_next
        .lock()
        .unwrap()
        .replace("ipykernel is missing: pip install ipykernel".into());
    let failed = d
        .api(
            Method::POST,
            "/v2/sandboxes",
            Some(r#"{"templateID":"base"}"#),
        )
        .await;
    let msg = assert_error_json(&failed, 500);
    assert!(msg.contains("ipykernel is missing"), "{msg}");
    assert_eq!(failed.header("should-retry").as_deref(), Some("false"));

    // Long timeouts are capped at 24 h.
    let long = d.create(r#"{"templateID":"base","timeout":999999}"#).await;
    let info = d
        .api(
            Method::GET,
            &format!("/sandboxes/{}", long["sandboxID"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    let started =
        chrono::DateTime::parse_from_rfc3339(info["startedAt"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap();
    assert_eq!((end - started).num_seconds(), 24 * 3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_info_reports_the_sandbox() {
    let d = TestDaemon::fake().await;
    let sbx = d
        .create(r#"{"templateID":"base","timeout":120,"metadata":{"owner":"me"},"allow_internet_access":false}"#)
        .await;
    let id = sbx["sandboxID"].as_str().unwrap();
    let resp = d.api(Method::GET, &format!("/sandboxes/{id}"), None).await;
    assert_eq!(resp.status, 200);
    let info = resp.json();
    assert_eq!(info["sandboxID"], id);
    assert_eq!(info["templateID"], "base");
    assert_eq!(info["clientID"], "6532622b");
    assert_eq!(info["state"], "running");
    assert_eq!(info["cpuCount"], 2);
    assert_eq!(info["memoryMB"], 1024);
    assert_eq!(info["diskSizeMB"], 1024);
    assert_eq!(info["allowInternetAccess"], false);
    assert_eq!(info["metadata"]["owner"], "me");
    assert_eq!(info["envdVersion"], e2b_wire::headers::ENVD_VERSION);
    for key in ["startedAt", "endAt"] {
        let t = info[key].as_str().unwrap();
        assert!(t.ends_with('Z'), "{key} = {t}");
    }
    let started =
        chrono::DateTime::parse_from_rfc3339(info["startedAt"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap();
    assert_eq!((end - started).num_seconds(), 120);
    // Parses as the shared wire type.
    let _: e2b_wire::api::SandboxDetail = serde_json::from_slice(&resp.body).unwrap();

    let missing = d
        .api(Method::GET, "/sandboxes/doesnotexist0000000", None)
        .await;
    assert_error_json(&missing, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_paginates_with_next_token() {
    let d = TestDaemon::fake().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = d
            .create(&format!(
                r#"{{"templateID":"base","metadata":{{"n":"{i}"}}}}"#
            ))
            .await;
        ids.push(s["sandboxID"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (order, expected) in [
        ("desc", ids.iter().rev().cloned().collect::<Vec<_>>()),
        ("asc", ids.clone()),
    ] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10 {
            let mut path = format!("/v2/sandboxes?limit=1&order={order}");
            if let Some(t) = &token {
                path += &format!("&nextToken={t}");
            }
            let resp = d.api(Method::GET, &path, None).await;
            assert_eq!(resp.status, 200, "{}", resp.text());
            let page = resp.json();
            assert_eq!(page.as_array().unwrap().len(), 1);
            let item = &page[0];
            for field in [
                "templateID",
                "sandboxID",
                "clientID",
                "startedAt",
                "endAt",
                "cpuCount",
                "memoryMB",
                "diskSizeMB",
                "state",
                "envdVersion",
            ] {
                assert!(!item[field].is_null(), "{field} missing in {item}");
            }
            seen.push(item["sandboxID"].as_str().unwrap().to_string());
            token = resp.header("x-next-token");
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen, expected, "order={order}");
    }
    // Default: everything, newest first, no token.
    let all = d.api(Method::GET, "/v2/sandboxes", None).await;
    assert!(all.header("x-next-token").is_none());
    let all_ids: Vec<_> = all
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandboxID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all_ids, ids.iter().rev().cloned().collect::<Vec<_>>());

    // A cursor of the other order is refused.
    let first = d
        .api(Method::GET, "/v2/sandboxes?limit=1&order=desc", None)
        .await;
    let token = first.header("x-next-token").unwrap();
    let wrong = d
        .api(
            Method::GET,
            &format!("/v2/sandboxes?limit=1&order=asc&nextToken={token}"),
            None,
        )
        .await;
    assert_error_json(&wrong, 400);
    let garbage = d
        .api(Method::GET, "/v2/sandboxes?nextToken=%%%", None)
        .await;
    assert_error_json(&garbage, 400);

    // Filters.
    let paused = d
        .api(Method::GET, "/v2/sandboxes?state=paused", None)
        .await
        .json();
    assert_eq!(paused.as_array().unwrap().len(), 0);
    let running = d
        .api(Method::GET, "/v2/sandboxes?state=running,paused", None)
        .await
        .json();
    assert_eq!(running.as_array().unwrap().len(), 3);
    let bad_state = d
        .api(Method::GET, "/v2/sandboxes?state=sleeping", None)
        .await;
    assert_error_json(&bad_state, 400);
    let by_template = d
        .api(
            Method::GET,
            "/v2/sandboxes?template=code-interpreter-v1",
            None,
        )
        .await
        .json();
    assert_eq!(by_template.as_array().unwrap().len(), 0);
    let future = d
        .api(
            Method::GET,
            "/v2/sandboxes?startedAfter=2999-01-01T00:00:00%2B02:00",
            None,
        )
        .await
        .json();
    assert_eq!(future.as_array().unwrap().len(), 0);
    let past = d
        .api(
            Method::GET,
            "/v2/sandboxes?startedAfter=2000-01-01T00:00:00Z&limit=500",
            None,
        )
        .await
        .json();
    assert_eq!(past.as_array().unwrap().len(), 3);
    // The deprecated v1 list.
    let v1 = d.api(Method::GET, "/sandboxes", None).await.json();
    assert_eq!(v1.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_filter_decodes_the_sdk_triple_encoding() {
    let d = TestDaemon::fake().await;
    let hit = d
        .create(r#"{"templateID":"base","metadata":{"a b":"c&d","x":"y","z":"1"}}"#)
        .await;
    d.create(r#"{"templateID":"base","metadata":{"a b":"c&d","x":"other"}}"#)
        .await;
    d.create(r#"{"templateID":"base","metadata":{}}"#).await;
    // What the SDK sends for metadata={"a b": "c&d", "x": "y"} (docs/protocol.md#metadata-filter).
    let resp = d
        .api(
            Method::GET,
            "/v2/sandboxes?metadata=a%252520b%3Dc%252526d%26x%3Dy",
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let list = resp.json();
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandboxID"].clone())
        .collect();
    assert_eq!(ids, vec![hit["sandboxID"].clone()]);
    // v1 list takes the same parameter.
    let v1 = d
        .api(
            Method::GET,
            "/sandboxes?metadata=a%252520b%3Dc%252526d%26x%3Dy",
            None,
        )
        .await
        .json();
    assert_eq!(v1.as_array().unwrap().len(), 1);
    let malformed = d
        .api(Method::GET, "/v2/sandboxes?metadata=a%3Db%3Dc", None)
        .await;
    assert_error_json(&malformed, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_connect_and_kill() {
    let d = TestDaemon::fake().await;
    let sbx = d.create(r#"{"templateID":"base","timeout":600}"#).await;
    let id = sbx["sandboxID"].as_str().unwrap().to_string();
    let (_, pid, _) = d.fake.as_ref().unwrap().find(&id);
    let end_of = |info: serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap()
    };
    let before = end_of(
        d.api(Method::GET, &format!("/sandboxes/{id}"), None)
            .await
            .json(),
    );

    // Connect only extends.
    let c = d
        .api(
            Method::POST,
            &format!("/v2/sandboxes/{id}/connect"),
            Some(r#"{"timeout":10}"#),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text());
    assert_eq!(c.json()["sandboxID"], id.as_str());
    assert!(c.json()["envdAccessToken"].is_string());
    assert_eq!(
        end_of(
            d.api(Method::GET, &format!("/sandboxes/{id}"), None)
                .await
                .json()
        ),
        before
    );
    let c = d
        .api(
            Method::POST,
            &format!("/sandboxes/{id}/connect"),
            Some(r#"{"timeout":3600}"#),
        )
        .await;
    assert_eq!(c.status, 200);
    assert!(
        end_of(
            d.api(Method::GET, &format!("/sandboxes/{id}"), None)
                .await
                .json()
        ) > before
    );
    let c = d
        .api(Method::POST, &format!("/v2/sandboxes/{id}/connect"), None)
        .await;
    assert_eq!(c.status, 200, "connect without a body: {}", c.text());
    let unknown = d
        .api(
            Method::POST,
            "/v2/sandboxes/nosuchsandbox0000000/connect",
            Some("{}"),
        )
        .await;
    assert_error_json(&unknown, 404);
    let unknown = d
        .api(
            Method::POST,
            "/sandboxes/nosuchsandbox0000000/timeout",
            Some(r#"{"timeout":5}"#),
        )
        .await;
    assert_error_json(&unknown, 404);

    // set_timeout may shorten: the sandbox disappears soon after.
    let t = d
        .api(
            Method::POST,
            &format!("/sandboxes/{id}/timeout"),
            Some(r#"{"timeout":1}"#),
        )
        .await;
    assert_eq!(t.status, 204, "{}", t.text());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        d.api(Method::GET, &format!("/sandboxes/{id}"), None)
            .await
            .status,
        200
    );
    let mut gone = false;
    for _ in 0..100 {
        if d.api(Method::GET, &format!("/sandboxes/{id}"), None)
            .await
            .status
            == 404
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "sandbox outlived its timeout");
    assert!(
        eventually(Duration::from_secs(2), || !pid_alive(pid)).await,
        "its process was killed"
    );

    // Kill: 204 then 404.
    let sbx = d.create(r#"{"templateID":"base"}"#).await;
    let id = sbx["sandboxID"].as_str().unwrap().to_string();
    let (_, pid, _) = d.fake.as_ref().unwrap().find(&id);
    let k = d
        .api(Method::DELETE, &format!("/sandboxes/{id}"), None)
        .await;
    assert_eq!(k.status, 204);
    assert!(!pid_alive(pid) || eventually(Duration::from_secs(2), || !pid_alive(pid)).await);
    let k = d
        .api(Method::DELETE, &format!("/sandboxes/{id}"), None)
        .await;
    assert_error_json(&k, 404);
    assert_eq!(
        d.api(Method::GET, "/v2/sandboxes", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_whose_init_dies_is_forgotten() {
    let d = TestDaemon::fake().await;
    let sbx = d.create(r#"{"templateID":"base"}"#).await;
    let id = sbx["sandboxID"].as_str().unwrap().to_string();
    let (_, pid, _) = d.fake.as_ref().unwrap().find(&id);
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut gone = false;
    for _ in 0..100 {
        if d.api(Method::GET, &format!("/sandboxes/{id}"), None)
            .await
            .status
            == 404
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_and_unknown_endpoints_answer_json() {
    let d = TestDaemon::fake().await;
    let sbx = d.create(r#"{"templateID":"base"}"#).await;
    let id = sbx["sandboxID"].as_str().unwrap();
    for (method, path) in [
        // The stand-in backend has no freezer; real sandboxes pause (tests/security).
        (Method::POST, format!("/sandboxes/{id}/pause")),
        (Method::POST, format!("/sandboxes/{id}/fork")),
        (Method::POST, format!("/sandboxes/{id}/snapshots")),
        (Method::GET, format!("/sandboxes/{id}/metrics")),
        (Method::PUT, format!("/sandboxes/{id}/network")),
    ] {
        let r = d.api(method, &path, Some("{}")).await;
        let msg = assert_error_json(&r, 501);
        assert!(msg.contains("not supported by the local runtime"), "{msg}");
    }
    // Resuming a sandbox that is not paused is a conflict.
    let r = d
        .api(Method::POST, &format!("/sandboxes/{id}/resume"), Some("{}"))
        .await;
    assert_error_json(&r, 409);
    // Unknown sandbox on those paths is a 404 (the SDK maps it to SandboxNotFoundException).
    let r = d
        .api(
            Method::POST,
            "/sandboxes/nosuchsandbox0000000/pause",
            Some("{}"),
        )
        .await;
    assert_error_json(&r, 404);
    let r = d.api(Method::GET, "/no/such/route", None).await;
    assert_error_json(&r, 404);
    let r = d.api(Method::PATCH, "/v2/sandboxes", None).await;
    assert_error_json(&r, 405);
    let r = d
        .api(
            Method::POST,
            &format!("/sandboxes/{id}/refreshes"),
            Some(r#"{"duration":60}"#),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = d.api(Method::GET, "/snapshots", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!([]));
    let r = d.api(Method::DELETE, "/templates/snap%3A1", None).await;
    assert_error_json(&r, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_same_sandbox() {
    let d = TestDaemon::fake().await;
    let body = r#"{"templateID":"base"}"#;
    let headers = [
        ("X-API-Key", d.key.as_str()),
        ("Idempotency-Key", "create-1"),
    ];
    let a = request(
        d.addr,
        Method::POST,
        "/v2/sandboxes",
        &headers,
        Some(body.into()),
    )
    .await;
    let b = request(
        d.addr,
        Method::POST,
        "/v2/sandboxes",
        &headers,
        Some(body.into()),
    )
    .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.json()["sandboxID"], b.json()["sandboxID"]);
    assert_eq!(d.fake.as_ref().unwrap().spawned.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_file_is_private_and_removed_on_shutdown() {
    let mut d = TestDaemon::fake().await;
    let path = d.state_dir.join(e2b_wire::local::STATE_FILE);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir_mode = std::fs::metadata(&d.state_dir)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let state: e2b_wire::local::LocalState =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(state.url, d.url);
    assert_eq!(state.api_key, d.key);
    assert_eq!(state.pid, std::process::id());
    assert!(state.api_key.starts_with("e2b_") && state.api_key.len() == 36);

    // A second daemon on the same state directory is refused while this one runs.
    let mut second = sandboxd::daemon::DaemonConfig::new(
        test_python(),
        sandboxd::sandbox::AgentLauncher::Executable(env!("CARGO_BIN_EXE_sandboxd").into()),
    );
    second.state_dir = d.state_dir.clone();
    second.handle_signals = false;
    let err = sandboxd::daemon::start(second)
        .await
        .err()
        .expect("second daemon refused");
    assert!(format!("{err:#}").contains("already running"), "{err:#}");

    // Shutdown kills the sandboxes and removes state.json.
    let sbx = d.create(r#"{"templateID":"base"}"#).await;
    let (_, pid, _) = d
        .fake
        .as_ref()
        .unwrap()
        .find(sbx["sandboxID"].as_str().unwrap());
    d.stop().await;
    assert!(!path.exists());
    assert!(eventually(Duration::from_secs(2), || !pid_alive(pid)).await);
    // And the lock is free again.
    let again = TestDaemon::start_with(None, |c| c.state_dir = d.state_dir.clone()).await;
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_shutdown_endpoint() {
    let mut d = TestDaemon::fake().await;
    let status = d.api(Method::GET, "/local/status", None).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["pid"], std::process::id());
    let r = d.api(Method::POST, "/local/shutdown", None).await;
    assert_eq!(r.status, 202);
    let handle = d.handle.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle.wait())
        .await
        .expect("daemon stops after /local/shutdown")
        .unwrap();
    assert!(!d.state_dir.join(e2b_wire::local::STATE_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_crashed_daemon_are_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    std::fs::create_dir_all(state_dir.join("sandboxes")).unwrap();
    std::fs::create_dir_all(state_dir.join("run/oldsandbox")).unwrap();
    std::fs::write(state_dir.join("run/oldsandbox/junk"), "x").unwrap();
    let mut orphan = std::process::Command::new("sleep")
        .arg("3600")
        .spawn()
        .unwrap();
    let pid = orphan.id() as i32;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(
        state_dir.join("sandboxes/oldsandbox.json"),
        format!(r#"{{"id":"oldsandbox","initPid":{pid},"startTime":{start}}}"#),
    )
    .unwrap();
    // A record whose pid now belongs to another process (start time differs) is left alone.
    let mut bystander = std::process::Command::new("sleep")
        .arg("3600")
        .spawn()
        .unwrap();
    std::fs::write(
        state_dir.join("sandboxes/reused.json"),
        format!(
            r#"{{"id":"reused","initPid":{},"startTime":1}}"#,
            bystander.id()
        ),
    )
    .unwrap();

    let d = TestDaemon::start_with(Some(Default::default()), |c| {
        c.state_dir = state_dir.clone()
    })
    .await;
    let status = orphan.wait().unwrap();
    assert!(!status.success(), "the orphaned init was killed");
    assert!(
        pid_alive(bystander.id() as i32),
        "an unrelated process survived"
    );
    assert!(!state_dir.join("run/oldsandbox").exists());
    assert!(!state_dir.join("sandboxes/oldsandbox.json").exists());
    drop(d);
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_is_immediate_and_shutdown_waits_for_its_teardown() {
    let mut d = TestDaemon::fake().await;
    let sbx = d.create(r#"{"templateID":"base"}"#).await;
    let id = sbx["sandboxID"].as_str().unwrap().to_string();
    let (_, pid, _) = d.fake.as_ref().unwrap().find(&id);
    let socket = d.state_dir.join("run").join(&id).join("agent.sock");
    assert!(socket.exists());
    let k = d
        .api(Method::DELETE, &format!("/sandboxes/{id}"), None)
        .await;
    assert_eq!(k.status, 204);
    // Gone for the API at once, whatever the teardown is doing.
    assert_error_json(
        &d.api(Method::GET, &format!("/sandboxes/{id}"), None).await,
        404,
    );
    let status = d.api(Method::GET, "/local/status", None).await.json();
    assert!(status["pendingTeardowns"].is_u64(), "{status}");
    d.stop().await;
    assert!(!socket.exists(), "shutdown waited for the teardown");
    assert!(!pid_alive(pid));
}
