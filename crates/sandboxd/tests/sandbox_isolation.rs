//! Isolation, checked from inside a real sandbox by running code in its kernel
//! (docs/design.md#security-invariants, invariants 1–3, and the root-filesystem layout of
//! docs/platform.md#filesystem), plus what the host sees.

mod sandbox_support;

use sandbox_support::*;

/// Runs Python in the default context and returns its stdout (panics on an error line).
async fn py(sbx: &sandboxd::sandbox::SandboxProcess, code: &str) -> String {
    let lines = execute(sbx, code, None, None).await;
    if let Some(e) = error(&lines) {
        panic!("{code}: {e:?}");
    }
    stdout(&lines)
}

#[tokio::test]
async fn identity_and_namespaces() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "ident", true).await;
    let out = py(
        &sbx,
        "import os, socket, pwd, getpass\n\
         print(os.getuid(), os.getgid(), os.geteuid(), getpass.getuser(), os.environ['HOME'])\n\
         print(socket.gethostname())\n\
         print(os.getppid())\n\
         st = open('/proc/self/status').read()\n\
         print([l.split()[1] for l in st.splitlines() if l.startswith(('NoNewPrivs', 'CapEff'))])",
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000 1000 1000 user /home/user");
    assert_eq!(lines[1], "sandbox");
    assert_eq!(lines[2], "1", "the kernel's parent is the agent, pid 1");
    assert_eq!(
        lines[3], "['0000000000000000', '1']",
        "no capabilities, no_new_privs"
    );

    // Only the sandbox's own processes.
    let out = py(
        &sbx,
        "import os\n\
         pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n\
         print(pids[0], len(pids) < 10)",
    )
    .await;
    assert_eq!(out.trim(), "1 True", "{out}");

    // Host side: ids are mapped to a subordinate range of the sandbox's own; its root is not
    // host root.
    let map = std::fs::read_to_string(format!("/proc/{}/uid_map", sbx.init_pid())).unwrap();
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!((fields[0], fields[2]), ("0", "65536"), "{map}");
    let base: u32 = fields[1].parse().unwrap();
    assert!(base >= 100_000 && (base - 100_000) % 65_536 == 0, "{map}");
    sbx.kill().await;
}

#[tokio::test]
async fn host_files_are_not_visible() {
    let Some(env) = test_env(true) else { return };
    let marker = std::env::temp_dir().join(format!("e2b-host-marker-{}", std::process::id()));
    std::fs::write(&marker, "secret").unwrap();
    let sbx = spawn(&env, "files", true).await;
    let code = format!(
        "import os\n\
         for p in ['/root/.bashrc', '/work/main/Cargo.toml', '/work/shared', {marker:?}, \
                   {run_dir:?}, {socket:?}, '/var/log', '/etc/shadow', '/home/user/.bashrc']:\n\
         \x20   print(p, os.path.exists(p))\n\
         print(sorted(os.listdir('/')))\n\
         print(sorted(os.listdir('/dev')))\n\
         print(open('/run/e2b/.E2B_SANDBOX_ID').read(), open('/run/e2b/.E2B_SANDBOX').read())\n\
         print(open('/etc/passwd').read().splitlines()[1])",
        marker = marker.to_str().unwrap(),
        run_dir = env.rt.run_dir.to_str().unwrap(),
        socket = sbx.agent_socket().to_str().unwrap(),
    );
    let out = py(&sbx, &code).await;
    std::fs::remove_file(&marker).unwrap();
    for line in out.lines().take(9) {
        assert!(
            line.ends_with(" False"),
            "visible inside the sandbox: {line}"
        );
    }
    let lines: Vec<&str> = out.lines().collect();
    for expected in [
        "'bin'", "'dev'", "'etc'", "'home'", "'proc'", "'run'", "'tmp'", "'usr'",
    ] {
        assert!(lines[9].contains(expected), "{}", lines[9]);
    }
    assert_eq!(
        lines[10],
        "['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']"
    );
    let id = sbx
        .agent_socket()
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(lines[11], format!("{id} true"));
    assert_eq!(lines[12], "user:x:1000:1000:user:/home/user:/bin/bash");
    sbx.kill().await;
}

#[tokio::test]
async fn system_dirs_are_read_only_and_home_is_writable() {
    let Some(env) = test_env(true) else { return };
    let sbx = spawn(&env, "rofs", true).await;
    let python = env.rt.python.to_str().unwrap();
    let code = format!(
        "import os, errno\n\
         for p in ['/usr/e2b-test', '/etc/e2b-test', '/e2b-test', '/run/e2b/x', '/bin/e2b-test', \
                   {python:?} + '-e2b-test']:\n\
         \x20   try:\n\
         \x20       open(p, 'w').write('x'); print(p, 'WRITABLE')\n\
         \x20   except OSError as e:\n\
         \x20       print(p, errno.errorcode[e.errno])\n\
         for p in ['/tmp/ok', '/home/user/ok', '/dev/shm/ok']:\n\
         \x20   open(p, 'w').write('x'); print(p, os.stat(p).st_uid)\n\
         open('/dev/null', 'w').write('x')\n\
         print(os.stat('/home/user').st_uid, oct(os.stat('/tmp').st_mode & 0o7777))"
    );
    let out = py(&sbx, &code).await;
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines[..6] {
        assert!(
            line.ends_with("EROFS") || line.ends_with("EACCES"),
            "writable: {line}"
        );
    }
    assert_eq!(
        &lines[6..9],
        ["/tmp/ok 1000", "/home/user/ok 1000", "/dev/shm/ok 1000"]
    );
    assert_eq!(lines[9], "1000 0o1777");
    sbx.kill().await;
}

#[tokio::test]
async fn network_is_only_loopback() {
    let Some(env) = test_env(true) else { return };
    // A host service on loopback must not be reachable from inside.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sbx = spawn(&env, "net", true).await;
    let code = format!(
        "import socket, os\n\
         print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]))\n\
         print(sorted(os.listdir('/sys/class/net')) if os.path.isdir('/sys/class/net') else ['lo'])\n\
         s = socket.socket()\n\
         s.settimeout(2)\n\
         try:\n\
         \x20   s.connect(('127.0.0.1', {port})); print('CONNECTED')\n\
         except OSError as e:\n\
         \x20   print(type(e).__name__)\n\
         # Loopback itself is up and usable inside.\n\
         srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n\
         c = socket.create_connection(srv.getsockname(), timeout=2); print('lo ok')"
    );
    let out = py(&sbx, &code).await;
    drop(listener);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "['lo']");
    assert_eq!(lines[1], "['lo']");
    assert_eq!(lines[2], "ConnectionRefusedError");
    assert_eq!(lines[3], "lo ok");
    sbx.kill().await;
}

/// The Python launcher execs the interpreter inside the sandbox and hands it the extension as
/// fd 5; with a file that is not an extension, spawn fails with Python's own error.
#[tokio::test]
async fn python_launcher_reports_a_bad_extension() {
    let Some(env) = test_env(false) else { return };
    let bogus = std::env::temp_dir().join(format!("not-an-extension-{}.so", std::process::id()));
    std::fs::write(&bogus, "not ELF").unwrap();
    let mut rt = env.rt.clone();
    rt.agent = sandboxd::sandbox::AgentLauncher::PythonExtension {
        python: rt.python.clone(),
        extension: bogus.clone(),
    };
    let err = sandboxd::sandbox::SandboxProcess::spawn(&rt, request(&unique_id("pyext"), false))
        .await
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&bogus).unwrap();
    assert!(err.contains("/proc/self/fd/5"), "{err}");
    assert!(err.contains("ImportError"), "{err}");
    // Nothing left behind.
    assert_eq!(std::fs::read_dir(&env.rt.run_dir).unwrap().count(), 0);
}
