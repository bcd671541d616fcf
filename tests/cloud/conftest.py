"""The cloud tier: the SDK in cloud mode — an API key, `E2B_API_URL` and `E2B_SANDBOX_URL` —
against a real E2B-protocol server on loopback, the way every user of a cloud-only build
(macOS, Windows, aarch64 Linux) uses it.

The server is a local-runtime daemon private to the session (as `e2b-local env` points any
SDK at one), reached through a `TrafficRecorder` relay that records every request. The daemon
runs on `E2B_TEST_DAEMON_PYTHON`, else on this interpreter if its build has the runtime:
scripts/cloud-only.sh runs this tier with the cloud-only build, which cannot run a daemon, and
points it at the full build's. Every other host is refused: `HTTPS_PROXY`/`HTTP_PROXY` name a
refusing recorder.

With `E2B_TEST_CLOUD_API_KEY` set (the release workflow's runners without a runtime: macOS,
Windows, aarch64 and musl Linux), the server is the real E2B cloud instead (domain
`E2B_TEST_CLOUD_DOMAIN`, default e2b.app), and the checks of recorded traffic are left out.
With neither, the tier is skipped, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_helpers import stop_process, wait_for_state
from traffic_recorder import TrafficRecorder


def daemon_python():
    """A Python whose e2b build has the local runtime, or `None`."""
    if os.environ.get("E2B_TEST_DAEMON_PYTHON"):
        return os.environ["E2B_TEST_DAEMON_PYTHON"]
    from e2b import _native

    return sys.executable if _native.LOCAL_RUNTIME else None


def start_server(python: str, state_dir: Path) -> tuple:
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(state_dir)
    with open(state_dir / "serve.log", "ab") as log:
        proc = subprocess.Popen([python, "-m", "e2b._local", "serve"], env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return proc, wait_for_state(state_dir, proc)
    except BaseException:
        stop_process(proc.pid)
        raise


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    """A cloud for this session: `{"url", "api_key", "relay", "proxy", "domain"}`; `url` and
    the recorders are `None` on the real E2B cloud."""
    if os.environ.get("E2B_TEST_CLOUD_API_KEY"):
        yield {"url": None, "api_key": os.environ["E2B_TEST_CLOUD_API_KEY"], "relay": None, "proxy": None,
               "domain": os.environ.get("E2B_TEST_CLOUD_DOMAIN") or "e2b.app"}
        return
    python = daemon_python()
    if python is None:
        pytest.skip("no E2B-protocol server: this build has no local runtime and neither "
                    "E2B_TEST_DAEMON_PYTHON nor E2B_TEST_CLOUD_API_KEY is set")
    proc, state = start_server(python, tmp_path_factory.mktemp("cloud-server"))
    relay = TrafficRecorder(upstream=state["url"])
    proxy = TrafficRecorder()
    try:
        yield {"url": relay.url, "api_key": state["api_key"], "relay": relay, "proxy": proxy, "domain": None}
    finally:
        relay.close()
        proxy.close()
        stop_process(proc.pid)


@pytest.fixture
def cloud_env(cloud, monkeypatch, tmp_path):
    """This process configured for the cloud; a local runtime would show in a state directory
    that must stay absent."""
    for var in ("E2B_DOMAIN", "E2B_DEBUG", "E2B_LOCAL"):
        monkeypatch.delenv(var, raising=False)
    for var in ("E2B_API_URL", "E2B_SANDBOX_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("E2B_API_KEY", cloud["api_key"])
    monkeypatch.setenv("E2B_LOCAL_STATE_DIR", str(tmp_path / "no-local-runtime"))
    if cloud["domain"]:
        monkeypatch.setenv("E2B_DOMAIN", cloud["domain"])
    if cloud["relay"] is not None:
        monkeypatch.setenv("E2B_API_URL", cloud["url"])
        monkeypatch.setenv("E2B_SANDBOX_URL", cloud["url"])
        for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(var, cloud["proxy"].url)
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(var, "127.0.0.1,localhost")
        cloud["relay"].reset()
        cloud["proxy"].reset()
    yield cloud
    assert not (tmp_path / "no-local-runtime").exists()
    if cloud["proxy"] is not None:
        assert cloud["proxy"].connections() == 0, cloud["proxy"].requests()
