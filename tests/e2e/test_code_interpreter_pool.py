"""The warm pool of the daemon: `Sandbox.create()` of the default template takes a ready
sandbox (kernel started); pooled sandboxes are invisible until taken and die with the daemon."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest
from ci_support import daemon_opts
from runtime_helpers import pid_alive, start_daemon, stop_process

from e2b_code_interpreter import Sandbox


def _status(state: dict) -> dict:
    req = urllib.request.Request(state["url"] + "/local/status", headers={"X-API-Key": state["api_key"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_pool(state: dict, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(state).get("warmPool", 0) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"warm pool did not reach {n}: {_status(state)}")


def _init_pids(state_dir) -> list[int]:
    pids = []
    for f in (state_dir / "sandboxes").glob("*.json"):
        try:
            pids.append(json.loads(f.read_text())["initPid"])
        except (OSError, ValueError, KeyError):
            pass
    return pids


@pytest.fixture
def pool_daemon(tmp_path, monkeypatch):
    """A private daemon with a pool of 2."""
    state_dir = tmp_path / "state"
    monkeypatch.setenv("E2B_LOCAL_POOL_SIZE", "2")
    proc, state = start_daemon(state_dir)
    try:
        yield {"proc": proc, "state_dir": state_dir, **state}
    finally:
        stop_process(proc.pid)


def test_pool_serves_create_and_refills(pool_daemon):
    _wait_pool(pool_daemon, 2)
    opts = daemon_opts(pool_daemon)
    assert Sandbox.list(**opts).next_items() == [], "pooled sandboxes are not listed"
    assert _status(pool_daemon)["sandboxes"] == 0

    start = time.monotonic()
    sbx = Sandbox.create(metadata={"who": "pool-test"}, timeout=120, **opts)
    created = time.monotonic() - start
    try:
        first = sbx.run_code("import os; os.environ['E2B_SANDBOX_ID']")
        assert first.text == sbx.sandbox_id, "the pooled sandbox keeps its identity"
        assert first.execution_count == 1, "the warm kernel ran nothing visible"
        info = sbx.get_info()
        assert info.metadata == {"who": "pool-test"}
        assert 100 <= (info.end_at - info.started_at).total_seconds() <= 125
        assert [s.sandbox_id for s in Sandbox.list(**opts).next_items()] == [sbx.sandbox_id]
        assert _status(pool_daemon)["sandboxes"] == 1
        assert created < 5
        _wait_pool(pool_daemon, 2)  # refilled in the background
    finally:
        sbx.kill()


def test_create_with_envs_does_not_use_the_pool(pool_daemon):
    _wait_pool(pool_daemon, 2)
    sbx = Sandbox.create(envs={"ONLY_HERE": "yes"}, **daemon_opts(pool_daemon))
    try:
        assert sbx.run_code("import os; os.environ['ONLY_HERE']").text == "yes"
        status = _status(pool_daemon)
        assert (status["sandboxes"], status["warmPool"]) == (1, 2), "the pool was left alone"
    finally:
        sbx.kill()


def test_pool_sandboxes_die_with_the_daemon(pool_daemon):
    _wait_pool(pool_daemon, 2)
    pids = _init_pids(pool_daemon["state_dir"])
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)
    stop_process(pool_daemon["proc"].pid)
    deadline = time.monotonic() + 30
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in pids)


def test_pool_size_zero_disables_it(tmp_path, monkeypatch):
    state_dir = tmp_path / "state0"
    monkeypatch.setenv("E2B_LOCAL_POOL_SIZE", "0")
    proc, state = start_daemon(state_dir)
    try:
        time.sleep(1)
        assert _status(state)["warmPool"] == 0
        assert _init_pids(state_dir) == []
    finally:
        stop_process(proc.pid)
