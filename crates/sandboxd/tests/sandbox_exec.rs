//! Code execution through the agent's code-interpreter API (docs/protocol.md#code-interpreter)
//! against a real ipykernel inside a real sandbox.

mod sandbox_support;

use std::time::{Duration, Instant};

use e2b_wire::execution::OutputLine;
use http_body_util::BodyExt;
use sandbox_support::*;
use serde_json::json;

#[tokio::test]
async fn state_persists_and_outputs_stream() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "exec", true).await;

    let lines = execute(&sbx, "x = 1", None, None).await;
    assert!(main_text(&lines).is_none(), "{lines:?}");
    assert!(
        matches!(lines[0], OutputLine::NumberOfExecutions { .. }),
        "{lines:?}"
    );
    assert_eq!(eval(&sbx, "x += 1; x").await, "2");

    let lines = execute(
        &sbx,
        "import sys\nprint('out')\nprint('err', file=sys.stderr)\n'hello'",
        None,
        None,
    )
    .await;
    assert_eq!(stdout(&lines), "out\n");
    let stderr: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            OutputLine::Stderr { text, timestamp } => Some((text.clone(), timestamp.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(stderr[0].0, "err\n");
    assert!(stderr[0].1.ends_with("+00:00"), "{}", stderr[0].1);
    assert_eq!(main_text(&lines).as_deref(), Some("hello"));

    // display_data is a non-main result; errors carry name, value and a joined traceback.
    let lines = execute(
        &sbx,
        "from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\n1/0",
        None,
        None,
    )
    .await;
    let display = lines
        .iter()
        .find_map(|l| match l {
            OutputLine::Result(r) if !r.is_main_result => Some(r.clone()),
            _ => None,
        })
        .expect("display_data result");
    assert_eq!(display.html.as_deref(), Some("<b>x</b>"));
    let (name, value, traceback) = error(&lines).expect("error line");
    assert_eq!(name, "ZeroDivisionError");
    assert_eq!(value, "division by zero");
    assert!(traceback.contains("ZeroDivisionError"), "{traceback}");
    assert!(
        !traceback.contains("\u{1b}["),
        "no ANSI colours: {traceback:?}"
    );
    let errors = lines
        .iter()
        .filter(|l| matches!(l, OutputLine::Error { .. }))
        .count();
    assert_eq!(errors, 1, "only the first error: {lines:?}");

    // Long containers are not truncated; cwd is the home directory.
    let long = eval(&sbx, "list(range(2000))").await;
    assert!(!long.contains("..."), "truncated: {long}");
    assert!(long.trim_end().ends_with("1999]"), "{long}");
    assert_eq!(eval(&sbx, "import os; os.getcwd()").await, "/home/user");
    sbx.kill().await;
}

#[tokio::test]
async fn env_vars_global_and_per_request() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "envs", true).await;
    assert_eq!(
        eval(&sbx, "import os; os.environ['GLOBAL_VAR']").await,
        "global 'value'"
    );
    assert_eq!(eval(&sbx, "os.environ['E2B_SANDBOX']").await, "true");
    let tricky = "quote ' dq \" backslash \\ newline \n end";
    let lines = execute(
        &sbx,
        "os.environ['TRICKY'] + '|' + os.environ['GLOBAL_VAR']",
        None,
        Some(json!({"TRICKY": tricky, "GLOBAL_VAR": "overridden"})),
    )
    .await;
    let text = main_text(&lines).unwrap_or_else(|| panic!("{lines:?}"));
    // text/plain is a repr: check through Python instead of unescaping here.
    assert!(text.contains("overridden"), "{text}");
    let lines = execute(
        &sbx,
        "print(os.environ['TRICKY'] == 'quote \\' dq \" backslash \\\\ newline \\n end')",
        None,
        Some(json!({"TRICKY": tricky})),
    )
    .await;
    assert_eq!(stdout(&lines), "True\n", "{lines:?}");
    // Restored afterwards: the global value is back, the per-request one is gone.
    assert_eq!(
        eval(&sbx, "os.environ['GLOBAL_VAR']").await,
        "global 'value'"
    );
    assert_eq!(eval(&sbx, "'TRICKY' in os.environ").await, "False");
    sbx.kill().await;
}

#[tokio::test]
async fn contexts_are_isolated_and_managed() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "ctx", false).await;
    let (status, body) = call(
        &sbx,
        "POST",
        "/contexts",
        INTERPRETER,
        Some(json!({"cwd": "/tmp"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ctx: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = ctx["id"].as_str().unwrap().to_string();
    assert_eq!(ctx["language"], "python");
    assert_eq!(ctx["cwd"], "/tmp");

    let lines = execute(&sbx, "import os; y = 5; os.getcwd()", Some(&id), None).await;
    assert_eq!(main_text(&lines).as_deref(), Some("/tmp"));
    // The default context is separate.
    let lines = execute(&sbx, "y", None, None).await;
    assert_eq!(error(&lines).unwrap().0, "NameError");

    let (status, body) = call(&sbx, "GET", "/contexts", INTERPRETER, None).await;
    assert_eq!(status, 200);
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    // The new context and the default python one (plus the default javascript one when Deno
    // is installed).
    let python = list.iter().filter(|c| c["language"] == "python").count();
    assert_eq!(python, 2, "{body}");
    assert!(list.iter().any(|c| c["id"] == id.as_str()));

    // Restart loses state.
    let (status, body) = call(
        &sbx,
        "POST",
        &format!("/contexts/{id}/restart"),
        INTERPRETER,
        None,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "null"));
    let lines = execute(&sbx, "y", Some(&id), None).await;
    assert_eq!(error(&lines).unwrap().0, "NameError");
    assert_eq!(
        main_text(&execute(&sbx, "import os; os.getcwd()", Some(&id), None).await).as_deref(),
        Some("/tmp")
    );

    // Errors.
    let (status, body) = call(
        &sbx,
        "POST",
        "/execute",
        INTERPRETER,
        Some(json!({"code": "1", "context_id": id, "language": "python", "env_vars": null})),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Only one of context_id or language can be provided")
    );
    let (status, body) = call(
        &sbx,
        "POST",
        "/execute",
        INTERPRETER,
        Some(json!({"code": "1", "context_id": "nope", "language": null, "env_vars": null})),
    )
    .await;
    assert_eq!((status, body.as_str()), (404, "Context nope not found"));
    let (status, _) = call(
        &sbx,
        "POST",
        "/execute",
        INTERPRETER,
        Some(json!({"nocode": 1})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = call(
        &sbx,
        "POST",
        "/contexts",
        INTERPRETER,
        Some(json!({"language": "cobol"})),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("cobol"), "{body}");

    let (status, body) = call(
        &sbx,
        "DELETE",
        &format!("/contexts/{id}"),
        INTERPRETER,
        None,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "null"));
    let (status, body) = call(
        &sbx,
        "DELETE",
        &format!("/contexts/{id}"),
        INTERPRETER,
        None,
    )
    .await;
    assert_eq!((status, body), (404, format!("Context {id} not found")));
    let (status, _) = call(
        &sbx,
        "POST",
        &format!("/contexts/{id}/restart"),
        INTERPRETER,
        None,
    )
    .await;
    assert_eq!(status, 404);
    sbx.kill().await;
}

/// Dropping the connection mid-execution interrupts the kernel, so the next execution in the
/// same context runs at once.
#[tokio::test]
async fn disconnect_interrupts_the_execution() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "intr", true).await;
    assert_eq!(eval(&sbx, "1").await, "1");
    let body = json!({"code": "import time; time.sleep(30)", "context_id": null, "language": null, "env_vars": null});
    let (res, conn) = send(&sbx, "POST", "/execute", INTERPRETER, Some(body)).await;
    assert_eq!(res.status(), 200);
    let mut res_body = res.into_body();
    // Read the first line (number_of_executions), then give up after 1 s.
    let first = tokio::time::timeout(Duration::from_secs(10), res_body.frame())
        .await
        .unwrap();
    assert!(first.is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(res_body);
    conn.abort();
    let t0 = Instant::now();
    assert_eq!(eval(&sbx, "1+1").await, "2");
    let took = t0.elapsed();
    eprintln!(
        "execution after a disconnect returned in {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    sbx.kill().await;
}

/// A kernel that dies ends the execution with an error, and the context works again after.
#[tokio::test]
async fn kernel_death_is_reported_and_recovered() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "death", true).await;
    assert_eq!(eval(&sbx, "z = 3; z").await, "3");
    let lines = tokio::time::timeout(
        Duration::from_secs(20),
        execute(
            &sbx,
            "print('bye', flush=True); import os; os._exit(1)",
            None,
            None,
        ),
    )
    .await
    .expect("the stream ends");
    let (name, value, _) = error(&lines).unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(name, "ContextRestarting", "{value}");
    assert!(value.contains("died"), "{value}");
    // Same context, fresh kernel.
    let lines = execute(&sbx, "z", None, None).await;
    assert_eq!(error(&lines).unwrap().0, "NameError", "{lines:?}");
    assert_eq!(eval(&sbx, "2*21").await, "42");
    sbx.kill().await;
}

/// Executions in one context queue up; they do not interleave.
#[tokio::test]
async fn executions_in_a_context_are_serialised() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "queue", true).await;
    execute(&sbx, "import time; log = []", None, None).await;
    let a = execute(
        &sbx,
        "log.append('a0'); time.sleep(0.5); log.append('a1')",
        None,
        None,
    );
    let b = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        execute(&sbx, "log.append('b')", None, None).await
    };
    tokio::join!(a, b);
    assert_eq!(eval(&sbx, "','.join(log)").await, "a0,a1,b");
    sbx.kill().await;
}

/// A print loop does not make the agent buffer without bound: with the client not reading,
/// the agent stops reading the kernel (whose PUB socket then drops at its high-water mark).
#[tokio::test]
async fn print_bomb_applies_backpressure() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "bomb", true).await;
    let rss = |pid: i32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let before = rss(sbx.init_pid());
    let body = json!({"code": "while True: print('x' * 100)", "context_id": null, "language": null, "env_vars": null});
    let (res, conn) = send(&sbx, "POST", "/execute", INTERPRETER, Some(body)).await;
    assert_eq!(res.status(), 200);
    let mut samples = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        samples.push(rss(sbx.init_pid()));
    }
    eprintln!("agent RSS: idle {before} KiB; with a stalled infinite print loop: {samples:?} KiB");
    let max = *samples.iter().max().unwrap();
    assert!(max < 256 * 1024, "agent RSS {max} KiB");
    // Still responsive: read a bit, then hang up; the loop is interrupted.
    let mut body = res.into_body();
    let mut got = 0;
    while got < 1 << 20 {
        match tokio::time::timeout(Duration::from_secs(10), body.frame()).await {
            Ok(Some(Ok(f))) => got += f.into_data().map(|d| d.len()).unwrap_or(0),
            other => panic!("stream stalled: {other:?}"),
        }
    }
    drop(body);
    conn.abort();
    let t0 = Instant::now();
    assert_eq!(eval(&sbx, "1+1").await, "2");
    eprintln!(
        "next execution after hanging up on a print loop: {} ms",
        t0.elapsed().as_millis()
    );
    sbx.kill().await;
}

/// Kernel ready time, execute round trip and idle memory (printed).
#[tokio::test]
async fn kernel_timings() {
    let Some(env) = test_env(true) else { return };
    let t0 = Instant::now();
    let sbx = spawn(&env, "timing", false).await;
    let spawned = t0.elapsed();
    let t1 = Instant::now();
    let (status, body) = call(&sbx, "POST", "/contexts", INTERPRETER, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let kernel_ready = t1.elapsed();
    let ctx: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = ctx["id"].as_str().unwrap().to_string();
    execute(&sbx, "x = 1", Some(&id), None).await;
    let mut samples = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let lines = execute(&sbx, "x += 1; x", Some(&id), None).await;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(main_text(&lines).is_some());
    }
    let p50 = percentile(&mut samples, 0.5);
    let p90 = percentile(&mut samples, 0.9);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = |pid: i32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    let agent = rss(sbx.init_pid());
    // The kernel: the child of the agent.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", sbx.init_pid()))
        .unwrap_or_default();
    let kernel: u64 = children
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(rss)
        .sum();
    eprintln!(
        "spawn {} ms; kernel ready {} ms; execute round trip p50 {p50:.2} ms p90 {p90:.2} ms; \
         idle RSS agent {:.1} MiB, kernel {:.1} MiB",
        spawned.as_millis(),
        kernel_ready.as_millis(),
        agent as f64 / 1024.0,
        kernel as f64 / 1024.0
    );
    sbx.kill().await;
}
