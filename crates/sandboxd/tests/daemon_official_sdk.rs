//! The OFFICIAL E2B Python SDK against the daemon's control plane (create, get_info, list
//! with pagination and the metadata filter, set_timeout, connect, is_running, kill, error
//! mapping), with the stand-in sandbox backend. Needs a Python with the official `e2b`
//! installed, named by `E2B_OFFICIAL_PYTHON`; skipped otherwise.

mod daemon_common;

use daemon_common::*;

const SCRIPT: &str = r#"
import sys
from e2b import Sandbox, SandboxQuery, SandboxState, SandboxException, NotFoundException

sbx = Sandbox.create(template="base", metadata={"a b": "c&d", "x": "y"}, timeout=120)
other = Sandbox.create(template="code-interpreter-v1", metadata={"x": "z"})
assert len(sbx.sandbox_id) == 20, sbx.sandbox_id

info = sbx.get_info()
assert info.sandbox_id == sbx.sandbox_id
assert info.metadata == {"a b": "c&d", "x": "y"}, info.metadata
assert info.state == SandboxState.RUNNING
assert info.template_id == "base"
assert (info.end_at - info.started_at).total_seconds() == 120

found = Sandbox.list(query=SandboxQuery(metadata={"a b": "c&d", "x": "y"})).next_items()
assert [s.sandbox_id for s in found] == [sbx.sandbox_id], found

pages = Sandbox.list(limit=1)
seen = []
while pages.has_next:
    items = pages.next_items()
    assert len(items) <= 1
    seen += [s.sandbox_id for s in items]
assert seen == [other.sandbox_id, sbx.sandbox_id], seen

assert sbx.is_running()
sbx.set_timeout(60)
again = Sandbox.connect(sbx.sandbox_id)
assert again.sandbox_id == sbx.sandbox_id

assert Sandbox.kill(sbx.sandbox_id) is True
assert Sandbox.kill(sbx.sandbox_id) is False
assert not sbx.is_running()
try:
    Sandbox.connect(sbx.sandbox_id)
    raise AssertionError("connect to a killed sandbox succeeded")
except NotFoundException:
    pass
try:
    Sandbox.create(template="no-such-template")
    raise AssertionError("unknown template accepted")
except SandboxException as e:
    assert "no-such-template" in str(e), str(e)
print("OFFICIAL SDK OK")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_drives_the_control_plane() {
    let Some(python) = std::env::var_os("E2B_OFFICIAL_PYTHON") else {
        eprintln!("SKIP official_sdk_drives_the_control_plane: set E2B_OFFICIAL_PYTHON to a Python with the official e2b installed");
        return;
    };
    let d = TestDaemon::fake().await;
    let out = tokio::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .env("E2B_API_URL", &d.url)
        .env("E2B_SANDBOX_URL", &d.url)
        .env("E2B_API_KEY", &d.key)
        .env_remove("E2B_DEBUG")
        .env_remove("E2B_DOMAIN")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OFFICIAL SDK OK"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
