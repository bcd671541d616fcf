"""Sandbox lifecycle against the local runtime: create, connect, info, list, timeout, kill."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from e2b_code_interpreter import (
    Sandbox,
    SandboxNotFoundException,
    SandboxState,
    TimeoutException,
)


def test_context_manager_kills_on_exit(local_runtime):
    with Sandbox.create() as sbx:
        sandbox_id = sbx.sandbox_id
        assert sbx.is_running()
    assert Sandbox.kill(sandbox_id) is False  # already gone


def test_sandbox_id_shape(sandbox):
    assert len(sandbox.sandbox_id) == 20
    assert sandbox.sandbox_id.isalnum() and sandbox.sandbox_id.lower() == sandbox.sandbox_id


def test_get_info_and_metadata(local_runtime):
    with Sandbox.create(metadata={"owner": "tests"}, timeout=120) as sbx:
        info = sbx.get_info()
        assert info.sandbox_id == sbx.sandbox_id
        assert info.template_id == "code-interpreter-v1"
        assert info.metadata == {"owner": "tests"}
        assert info.state == SandboxState.RUNNING
        assert 100 <= (info.end_at - info.started_at).total_seconds() <= 121
        same = Sandbox.get_info(sbx.sandbox_id)
        assert same.sandbox_id == sbx.sandbox_id


def test_list_paginates_and_filters(local_runtime):
    from e2b import SandboxQuery

    tag = f"list-{time.monotonic_ns()}"
    created = [Sandbox.create(metadata={"tag": tag, "a b": "c&d"}) for _ in range(3)]
    try:
        paginator = Sandbox.list(query=SandboxQuery(metadata={"tag": tag, "a b": "c&d"}), limit=2)
        seen = []
        while paginator.has_next:
            page = paginator.next_items()
            assert len(page) <= 2
            seen.extend(s.sandbox_id for s in page)
        assert sorted(seen) == sorted(s.sandbox_id for s in created)
        with pytest.raises(Exception, match="No more items to fetch"):
            paginator.next_items()
    finally:
        for s in created:
            s.kill()


def test_set_timeout_expires_the_sandbox(local_runtime):
    sbx = Sandbox.create()
    sbx.set_timeout(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sbx.is_running():
        time.sleep(0.2)
    assert not sbx.is_running()
    assert Sandbox.kill(sbx.sandbox_id) is False


def test_run_code_after_kill_raises(local_runtime):
    sbx = Sandbox.create()
    assert sbx.kill() is True
    with pytest.raises(TimeoutException):
        sbx.run_code("1")


def test_unknown_sandbox(local_runtime):
    with pytest.raises(SandboxNotFoundException):
        Sandbox.connect("nosuchsandbox0000000")
    with pytest.raises(SandboxNotFoundException):
        Sandbox.get_info("nosuchsandbox0000000")
    assert Sandbox.kill("nosuchsandbox0000000") is False


def test_connect_from_another_process(local_runtime):
    script = (
        "from e2b_code_interpreter import Sandbox\n"
        "s = Sandbox.create()\n"
        "s.run_code('shared = 41')\n"
        "print(s.sandbox_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    sandbox_id = out.stdout.strip().splitlines()[-1]
    sbx = Sandbox.connect(sandbox_id)
    try:
        assert sbx.run_code("shared + 1").text == "42"
    finally:
        sbx.kill()
