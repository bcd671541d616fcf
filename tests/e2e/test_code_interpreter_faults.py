"""Faults (sync API): a kernel that dies gives an error on that call (not a hang) and the
context works again; an output bomb is bounded while it streams and the sandbox stays
usable."""

from __future__ import annotations

import os
import time

import pytest

from e2b_code_interpreter import TimeoutException

TRUNCATED = "[e2b: output truncated:"
LIMIT = 32 << 20  # e2b_wire::execution::MAX_STREAM_BYTES


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import os; os._exit(1)", id="exit"),
        pytest.param("import ctypes; ctypes.string_at(0)", id="segfault"),
    ],
)
def test_kernel_death_is_an_error_and_the_context_comes_back(sandbox, code):
    sandbox.run_code("state = 1")
    start = time.monotonic()
    execution = sandbox.run_code(code, timeout=60)
    assert time.monotonic() - start < 30
    assert execution.error is not None
    assert execution.error.name == "ContextRestarting"
    assert "died" in execution.error.value
    # The context is restarted under the same id (state is lost).
    after = sandbox.run_code("'state' in globals(), 1 + 1")
    assert after.error is None and after.text == "(False, 2)"


def test_kernel_death_in_a_created_context(sandbox):
    context = sandbox.create_code_context(cwd="/tmp")
    execution = sandbox.run_code("import os; os._exit(3)", context=context)
    assert execution.error is not None and execution.error.name == "ContextRestarting"
    assert sandbox.run_code("import os; os.getcwd()", context=context).text == "/tmp"


def test_finite_output_bomb_is_cut_with_a_notice(sandbox):
    # 48 MiB of stdout: more than the 32 MiB one execution keeps.
    execution = sandbox.run_code(
        "import sys\nfor _ in range(4800):\n    sys.stdout.write('x' * 10000 + '\\n')\n'finished'",
        timeout=240,
    )
    assert execution.error is None
    assert execution.text == "finished", "the cell ran to its end"
    total = sum(len(s) for s in execution.logs.stdout)
    assert LIMIT - 20_000 <= total <= LIMIT
    assert any(s.startswith(TRUNCATED) for s in execution.logs.stderr)


def test_endless_output_bomb_streams_bounded_and_is_interrupted(sandbox):
    received = {"bytes": 0, "notices": 0}

    def on_stdout(msg):
        received["bytes"] += len(msg.line)

    def on_stderr(msg):
        if msg.line.startswith(TRUNCATED):
            received["notices"] += 1

    with pytest.raises(TimeoutException):
        sandbox.run_code(
            "while True:\n    print('x' * 10000)", on_stdout=on_stdout, on_stderr=on_stderr, timeout=20
        )
    assert received["bytes"] <= LIMIT
    if received["bytes"] > LIMIT - 20_000:
        assert received["notices"] == 1
    start = time.monotonic()
    assert sandbox.run_code("1 + 1", timeout=60).text == "2"
    assert time.monotonic() - start < 5
    other = sandbox.create_code_context()
    assert sandbox.run_code("print('alive')", context=other).logs.stdout == ["alive\n"]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_output_bomb_with_a_slow_reader_keeps_memory_bounded(sandbox, local_runtime):
    """Backpressure end to end: a slow consumer slows the kernel down; neither the daemon
    (proxy), the agent nor this client buffers the bomb."""
    import json

    record = local_runtime["state_dir"] / "sandboxes" / f"{sandbox.sandbox_id}.json"
    agent_pid = json.loads(record.read_text())["initPid"]
    daemon_pid = local_runtime["pid"]
    before = {p: _rss_mb(p) for p in (daemon_pid, agent_pid, os.getpid())}
    peak = dict(before)
    received = {"bytes": 0}

    def slow(msg):
        received["bytes"] += len(msg.line)
        time.sleep(0.02)
        for p in peak:
            peak[p] = max(peak[p], _rss_mb(p))

    with pytest.raises(TimeoutException):
        sandbox.run_code("while True:\n    print('y' * 100000)", on_stdout=slow, timeout=10)
    growth = {p: peak[p] - before[p] for p in peak}
    assert received["bytes"] > 1_000_000, received
    # The kernel produced far more than was read; nothing on the way kept it.
    assert all(g < 120 for g in growth.values()), growth
    assert sandbox.run_code("1 + 1", timeout=60).text == "2"
