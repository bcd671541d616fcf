//! envd's `process.Process` service in a real sandbox: start as a user, output, exit
//! codes, environment, stdin, signals, reconnecting, the retained exit, PTYs and deadlines.

mod envd_support;
mod sandbox_support;

use std::time::{Duration, Instant};

use e2b_wire::connect::Code;
use envd_support::*;
use sandbox_support::{spawn, test_env};
use serde_json::json;

#[tokio::test]
async fn commands_run_as_the_selected_user_with_envd_environment() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "penv", false).await;

    let (out, err, end) = run(&sbx, "echo hello; echo oops >&2; exit 3", None).await;
    assert_eq!(out, "hello\n");
    assert_eq!(err, "oops\n");
    assert_eq!(
        end,
        json!({"exitCode": 3, "exited": true, "status": "exit status 3", "error": "exit status 3"})
    );

    let (out, _, end) = run(
        &sbx,
        "id -un; id -u; id -G; pwd; echo $HOME $USER $LOGNAME; echo $GLOBAL_VAR; echo $E2B_SANDBOX",
        None,
    )
    .await;
    assert_eq!(end, json!({"exited": true, "status": "exit status 0"}));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "user");
    assert_eq!(lines[1], "1000");
    assert!(lines[2].split(' ').any(|g| g == "100"), "{out}");
    assert_eq!(lines[3], "/home/user");
    assert_eq!(lines[4], "/home/user user user");
    assert_eq!(lines[5], "global 'value'");
    assert_eq!(lines[6], "true");

    let (out, _, _) = run(&sbx, "id -u; pwd; echo $HOME", Some("root")).await;
    assert_eq!(out, "0\n/root\n/root\n");

    // Request envs win over the global ones; cwd is resolved for the user.
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/bash", "args": ["-c", "echo $GLOBAL_VAR $X; pwd"], "envs": {"GLOBAL_VAR": "mine", "X": "y"}, "cwd": "/tmp"}}),
        None,
        &[],
    )
    .await;
    let (msgs, end) = s.rest().await;
    end.unwrap();
    let out: Vec<u8> = msgs
        .iter()
        .filter_map(|m| m["event"]["data"]["stdout"].as_str())
        .flat_map(b64)
        .collect();
    assert_eq!(String::from_utf8_lossy(&out), "mine y\n/tmp\n");

    // Errors come in the end-of-stream message.
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/true", "cwd": "/nope"}}),
        None,
        &[],
    )
    .await;
    let (msgs, end) = s.rest().await;
    assert!(msgs.is_empty());
    let e = end.unwrap_err();
    assert_eq!(e.code, Code::InvalidArgument);
    assert_eq!(e.message, "cwd '/nope' does not exist");
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/true"}}),
        Some("mallory"),
        &[],
    )
    .await;
    let e = s.rest().await.1.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::Unauthenticated, "invalid username: 'mallory'")
    );
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/no/such/binary"}}),
        None,
        &[],
    )
    .await;
    let e = s.rest().await.1.unwrap_err();
    assert_eq!(e.code, Code::InvalidArgument, "{e:?}");

    // The agent's own descriptors never reach user code.
    let (out, _, _) = run(
        &sbx,
        "ls /proc/self/fd | sort -n | tr '\\n' ' '",
        Some("root"),
    )
    .await;
    assert_eq!(out.trim(), "0 1 2 3", "{out}");
    sbx.kill().await;
}

#[tokio::test]
async fn stdin_signals_reconnect_and_retained_exit() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "pio", false).await;

    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/bash", "args": ["-l", "-c", "cat"]}, "stdin": true}),
        None,
        &[("keepalive-ping-interval", "1".into())],
    )
    .await;
    let pid = s.next().await.unwrap()["event"]["start"]["pid"]
        .as_u64()
        .unwrap();
    let list = unary(&sbx, "/process.Process/List", json!({}), None)
        .await
        .unwrap();
    let found = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .cloned()
        .unwrap();
    assert_eq!(found["config"]["args"], json!(["-l", "-c", "cat"]));
    unary(
        &sbx,
        "/process.Process/SendInput",
        json!({"process": {"pid": pid}, "input": {"stdin": enc(b"ping\n")}}),
        None,
    )
    .await
    .unwrap();
    let m = s.next().await.unwrap();
    assert_eq!(
        b64(m["event"]["data"]["stdout"].as_str().unwrap()),
        b"ping\n"
    );
    // Silence brings keepalives.
    let m = s.next().await.unwrap();
    assert_eq!(m, json!({"event": {"keepalive": {}}}));

    // A second subscriber sees new output only; input can also stream in.
    let mut c = stream(
        &sbx,
        "/process.Process/Connect",
        json!({"process": {"pid": pid}}),
        None,
        &[],
    )
    .await;
    assert_eq!(c.next().await.unwrap()["event"]["start"]["pid"], json!(pid));
    let mut si = client_stream(
        &sbx,
        "/process.Process/StreamInput",
        vec![
            json!({"start": {"process": {"pid": pid}}}),
            json!({"data": {"input": {"stdin": enc(b"ab")}}}),
            json!({"keepalive": {}}),
            json!({"data": {"input": {"stdin": enc(b"cd\n")}}}),
        ],
    )
    .await;
    let (msgs, end) = si.rest().await;
    assert_eq!(msgs, vec![json!({})]);
    end.unwrap();
    let mut got = Vec::new();
    while got != b"abcd\n" {
        let m = c.next().await.unwrap();
        if let Some(d) = m["event"]["data"]["stdout"].as_str() {
            got.extend(b64(d));
        }
    }
    // Dropping the first stream (disconnect) leaves the process running.
    s.task.abort();
    drop(s);
    tokio::time::sleep(Duration::from_millis(100)).await;
    unary(
        &sbx,
        "/process.Process/CloseStdin",
        json!({"process": {"pid": pid}}),
        None,
    )
    .await
    .unwrap();
    let (_, end) = c.rest().await;
    end.unwrap();
    // The exit is retained for a late Connect.
    let mut late = stream(
        &sbx,
        "/process.Process/Connect",
        json!({"process": {"pid": pid}}),
        None,
        &[],
    )
    .await;
    let (msgs, end) = late.rest().await;
    end.unwrap();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[1]["event"]["end"]["status"], "exit status 0");

    // Unknown pids.
    let e = unary(
        &sbx,
        "/process.Process/SendSignal",
        json!({"process": {"pid": 999_999}, "signal": "SIGNAL_SIGKILL"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!((e.0, e.1.code), (404, Code::NotFound));
    let mut c = stream(
        &sbx,
        "/process.Process/Connect",
        json!({"process": {"pid": 999_999}}),
        None,
        &[],
    )
    .await;
    assert_eq!(c.rest().await.1.unwrap_err().code, Code::NotFound);
    let mut si = client_stream(
        &sbx,
        "/process.Process/StreamInput",
        vec![json!({"start": {"process": {"pid": 999_999}}})],
    )
    .await;
    assert_eq!(si.rest().await.1.unwrap_err().code, Code::NotFound);

    // Kill ends the stream at once with the signal status, even with a child holding stdout.
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/bash", "args": ["-c", "sleep 600 & sleep 600"]}, "stdin": false}),
        None,
        &[],
    )
    .await;
    let pid = s.next().await.unwrap()["event"]["start"]["pid"]
        .as_u64()
        .unwrap();
    let e = unary(
        &sbx,
        "/process.Process/SendInput",
        json!({"process": {"pid": pid}, "input": {"stdin": enc(b"x")}}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.1.message,
        "error writing to stdin: stdin not enabled or closed"
    );
    unary(
        &sbx,
        "/process.Process/SendSignal",
        json!({"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"}),
        None,
    )
    .await
    .unwrap();
    let (msgs, end) = s.rest().await;
    end.unwrap();
    assert_eq!(
        msgs.last().unwrap()["event"]["end"],
        json!({"exitCode": -1, "status": "signal: killed", "error": "signal: killed"})
    );
    sbx.kill().await;
}

#[tokio::test]
async fn deadline_is_the_process_lifetime() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "pdl", false).await;
    let t0 = Instant::now();
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/bash", "args": ["-c", "echo $$ > /tmp/pid; sleep 600"]}, "stdin": false}),
        None,
        &[("connect-timeout-ms", "1000".into())],
    )
    .await;
    let (_, end) = s.rest().await;
    assert_eq!(end.unwrap_err().code, Code::DeadlineExceeded);
    assert!(t0.elapsed() < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (out, _, _) = run(
        &sbx,
        "kill -0 $(cat /tmp/pid) 2>/dev/null && echo alive || echo gone",
        None,
    )
    .await;
    assert_eq!(out, "gone\n");
    sbx.kill().await;
}

#[tokio::test]
async fn pty_is_a_real_terminal() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "ppty", false).await;
    let mut s = stream(
        &sbx,
        "/process.Process/Start",
        json!({"process": {"cmd": "/bin/bash", "args": ["-i", "-l"], "envs": {"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}}, "pty": {"size": {"cols": 100, "rows": 30}}}),
        None,
        &[],
    )
    .await;
    let pid = s.next().await.unwrap()["event"]["start"]["pid"]
        .as_u64()
        .unwrap();
    let send = |data: &'static [u8]| {
        let sbx = &sbx;
        async move {
            unary(
                sbx,
                "/process.Process/SendInput",
                json!({"process": {"pid": pid}, "input": {"pty": enc(data)}}),
                None,
            )
            .await
            .unwrap();
        }
    };
    let mut screen = Vec::new();
    let wait_for = async |s: &mut Stream, needle: &str, screen: &mut Vec<u8>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !String::from_utf8_lossy(screen).contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in {:?}",
                String::from_utf8_lossy(screen)
            );
            let m = s.next().await.expect("pty output");
            if let Some(d) = m["event"]["data"]["pty"].as_str() {
                screen.extend(b64(d));
            }
        }
    };
    send(b"tty; stty size; printf '\\033[31mRED\\033[0m\\n'; echo done-$((0+1))\n").await;
    wait_for(&mut s, "done-1\r\n", &mut screen).await;
    let text = String::from_utf8_lossy(&screen).into_owned();
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("30 100"), "{text}");
    assert!(text.contains("\u{1b}[31mRED\u{1b}[0m"), "{text}");
    // Resize.
    unary(
        &sbx,
        "/process.Process/Update",
        json!({"process": {"pid": pid}, "pty": {"size": {"cols": 120, "rows": 40}}}),
        None,
    )
    .await
    .unwrap();
    screen.clear();
    send(b"stty size; echo done-$((1+1))\n").await;
    wait_for(&mut s, "done-2\r\n", &mut screen).await;
    assert!(String::from_utf8_lossy(&screen).contains("40 120"));
    // Wrong input kinds and close_stdin on a PTY.
    let e = unary(
        &sbx,
        "/process.Process/SendInput",
        json!({"process": {"pid": pid}, "input": {"stdin": enc(b"x")}}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.1.code, Code::Internal);
    let e = unary(
        &sbx,
        "/process.Process/CloseStdin",
        json!({"process": {"pid": pid}}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.1.code, Code::Unknown);
    send(b"exit 7\n").await;
    let (msgs, end) = s.rest().await;
    end.unwrap();
    assert_eq!(msgs.last().unwrap()["event"]["end"]["exitCode"], 7);
    sbx.kill().await;
}
