"""Invariant 7 (docs/design.md#invariant-7-cleanup) and docs/design.md#lifecycle: kill, timeout
and daemon death leave nothing behind; pause
freezes the cgroup and resume brings the same sandbox back. Counts are taken on the host."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sec_helpers import CGROUP, run

CYCLES = int(os.environ.get("E2B_SEC_LEAK_CYCLES", "200"))


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(p))
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _in_cgroups(parent: str) -> int:
    """Processes (anywhere on the host) that sit in one of this daemon's sandbox cgroups."""
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if f"/{parent}/" in Path(f"/proc/{p}/cgroup").read_text():
                    n += 1
            except OSError:
                pass
    return n


def snapshot(runtime) -> dict[str, int]:
    parent = runtime.cgroup_parent
    unix = Path("/proc/net/unix").read_text()
    return {
        "processes": len(_descendants(runtime.pid)),
        "processes_in_sandbox_cgroups": _in_cgroups(parent),
        "mounts": len(Path("/proc/self/mountinfo").read_text().splitlines()),
        "daemon_mounts": len(
            Path(f"/proc/{runtime.pid}/mountinfo").read_text().splitlines()
        ),
        "cgroups": sum(
            1
            for ctl in ("memory", "pids", "cpu", "freezer", "unified")
            for d in (CGROUP / ctl / parent).glob("*")
            if d.is_dir()
        ),
        "unix_sockets": unix.count(str(runtime.run_dir())),
        "run_dir_files": sum(
            len(files) + len(dirs) for _, dirs, files in os.walk(runtime.run_dir())
        ),
        "fds": len(os.listdir(f"/proc/{runtime.pid}/fd")),
    }


def _pool_ready(runtime, limit: float = 15.0) -> None:
    """Waits until the warm pool (`e2b-local serve` keeps one sandbox ready) is refilled, so
    a refill during the count is not taken for a leak."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status = runtime.api("GET", "/local/status")[1] or {}
        if status.get("warmPool", 1) >= 1:
            return
        time.sleep(0.1)


def _settle(runtime, want: dict[str, int], limit: float = 10.0) -> dict[str, int]:
    runtime.teardowns_done(limit)
    deadline = time.monotonic() + limit
    while True:
        now = snapshot(runtime)
        if all(now[k] <= want[k] for k in want) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def test_create_kill_cycles_leak_nothing(root_runtime):
    rt = root_runtime
    from e2b import Sandbox

    # Warm-up: one-time daemon resources (the idmap user namespace, …) are not leaks.
    Sandbox.create(template="base", **rt.opts).kill()
    _pool_ready(rt)
    before = _settle(rt, snapshot(rt))
    t0 = time.monotonic()
    for i in range(CYCLES):
        # Half with the user-mode network, half without: both paths must clean up.
        sbx = Sandbox.create(
            template="base", allow_internet_access=(i % 2 == 0), **rt.opts
        )
        assert sbx.kill()
    after = _settle(rt, before)
    took = time.monotonic() - t0
    leaks = {k: after[k] - before[k] for k in before}
    print(
        f"\nleak test: {CYCLES} create/kill cycles in {took:.1f} s; before {before}; after {after}; "
        f"delta {leaks}"
    )
    assert all(v <= 0 for v in leaks.values()), leaks


def test_timeout_removes_everything(root_runtime):
    rt = root_runtime
    from e2b import Sandbox

    _pool_ready(rt)
    before = _settle(rt, snapshot(rt))
    sbx = Sandbox.create(template="base", timeout=1, **rt.opts)
    dirs = rt.cgroup_dirs(sbx.sandbox_id)
    assert dirs
    time.sleep(2.0)
    after = _settle(rt, before)
    assert all(after[k] <= before[k] for k in before), (before, after)
    assert not any(d.exists() for d in dirs.values())
    assert rt.api("GET", f"/sandboxes/{sbx.sandbox_id}")[0] == 404


def test_daemon_crash_leaves_no_orphans_and_restart_cleans_up(tmp_path):
    """A SIGKILLed daemon takes its sandboxes (and their slirp4netns) with it; the next daemon
    on the same state directory removes cgroups and runtime directories left behind."""
    if os.geteuid() != 0:
        pytest.skip("root-mode test")
    from sec_helpers import Runtime, rmdir_tree, serve, stop_process, wait_for_state

    parent = f"e2b-sec/crash-{os.getpid()}"
    # No warm pool: the restarted daemon would refill it, and its sandbox's cgroups are not
    # leftovers.
    env = dict(
        os.environ,
        E2B_LOCAL_STATE_DIR=str(tmp_path),
        E2B_LOCAL_CGROUP_PARENT=parent,
        E2B_LOCAL_POOL_SIZE="0",
    )
    proc = serve([sys.executable, "-m", "e2b._local", "serve"], tmp_path, env, None)
    try:
        st = wait_for_state(tmp_path, proc)
        rt = Runtime("root", tmp_path, proc.pid, st["url"], st["api_key"], parent)
        from e2b import Sandbox

        boxes = [
            Sandbox.create(template="base", allow_internet_access=True, **rt.opts)
            for _ in range(2)
        ]
        inits = [
            json.loads((tmp_path / "sandboxes" / f"{b.sandbox_id}.json").read_text())[
                "initPid"
            ]
            for b in boxes
        ]
        helpers = [
            p
            for p in _descendants(proc.pid)
            if Path(f"/proc/{p}/comm").read_text().strip() == "slirp4netns"
        ]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            os.path.exists(f"/proc/{p}") for p in inits + helpers
        ):
            time.sleep(0.05)
        alive = [
            p
            for p in inits + helpers
            if os.path.exists(f"/proc/{p}")
            and "Z" not in Path(f"/proc/{p}/stat").read_text().split(")")[1][:3]
        ]
        assert alive == [], f"orphans after the daemon died: {alive}"
        # Restart: leftovers of the dead daemon are cleaned and reported.
        proc = serve([sys.executable, "-m", "e2b._local", "serve"], tmp_path, env, None)
        wait_for_state(tmp_path, proc)
        leftover_cgroups = [
            d
            for ctl in ("memory", "pids", "cpu", "freezer", "unified")
            for d in (CGROUP / ctl / parent).glob("*")
            if d.is_dir()
        ]
        assert leftover_cgroups == []
        assert list((tmp_path / "run").iterdir()) == []
        assert "cleanup after a previous daemon" in (tmp_path / "serve.log").read_text()
    finally:
        stop_process(proc.pid)
        for ctl in ("memory", "pids", "cpu", "freezer", "unified"):
            rmdir_tree(CGROUP / ctl / parent)


def test_clean_stop_removes_the_parent_cgroups(tmp_path):
    """A daemon stopped cleanly removes the cgroup directories it created for itself."""
    if os.geteuid() != 0:
        pytest.skip("root-mode test")
    from sec_helpers import Runtime, serve, stop_process, wait_for_state

    parent = f"e2b-sec/stop-{os.getpid()}"
    env = dict(os.environ, E2B_LOCAL_STATE_DIR=str(tmp_path), E2B_LOCAL_CGROUP_PARENT=parent)
    proc = serve([sys.executable, "-m", "e2b._local", "serve"], tmp_path, env, None)
    try:
        st = wait_for_state(tmp_path, proc)
        rt = Runtime("root", tmp_path, proc.pid, st["url"], st["api_key"], parent)
        from e2b import Sandbox

        Sandbox.create(template="base", **rt.opts)  # left running: the stop must kill it
        assert any((CGROUP / ctl / parent).is_dir() for ctl in ("memory", "pids", "cpu", "freezer"))
    finally:
        stop_process(proc.pid)
    left = [CGROUP / ctl / parent for ctl in ("memory", "pids", "cpu", "freezer", "unified")]
    assert [d for d in left if d.exists()] == []


def test_pause_freezes_and_connect_resumes(runtime):
    from e2b_code_interpreter import Sandbox

    sbx = runtime.create(timeout=3)
    try:
        run(sbx, "kept = 'still here'")
        assert sbx.pause() is True
        assert sbx.pause() is False  # already paused: 409
        info = sbx.get_info()
        assert info.state.value == "paused"
        listed = runtime.api("GET", "/v2/sandboxes?state=paused")[1]
        assert sbx.sandbox_id in [s["sandboxID"] for s in listed]
        assert sbx.sandbox_id not in [
            s["sandboxID"] for s in runtime.api("GET", "/v2/sandboxes?state=running")[1]
        ]
        dirs = runtime.cgroup_dirs(sbx.sandbox_id)
        if "unified" in dirs:
            assert "frozen 1" in (dirs["unified"] / "cgroup.events").read_text()
        else:
            assert (dirs["freezer"] / "freezer.state").read_text().strip() == "FROZEN"
        # A paused sandbox does not time out (as upstream): wait past its 3 s timeout.
        time.sleep(4)
        assert runtime.api("GET", f"/sandboxes/{sbx.sandbox_id}")[0] == 200
        # Connect resumes it (201) with its memory intact.
        status, _ = runtime.api(
            "POST", f"/sandboxes/{sbx.sandbox_id}/connect", {"timeout": 60}
        )
        assert status == 201
        same = Sandbox.connect(sbx.sandbox_id, **runtime.opts)
        assert same.get_info().state.value == "running"
        assert run(same, "print(kept)").strip() == "still here"
    finally:
        sbx.kill()
